import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { describe, it } from "node:test";
import { call } from "../../src/cli/client.js";
import { fetchMembers, type MemberRow } from "../../src/cli/members.js";
import { detectionBoundMs } from "../../src/membership/config.js";
import { realConfig } from "../../src/server/membership-driver.js";
import { cleanUpAfter, type RunningNode, startNode, tempDir, waitFor } from "./harness.js";

/**
 * Five real node processes on loopback: they find each other through --join, detect a
 * SIGKILLed member within the derived bound, survive a 2 s SIGSTOP without declaring
 * the paused member dead, take a restarted member back under its old id, and drop
 * unauthenticated datagrams.
 */

const n = 5;
/** The bound from the loopback config's parameters (see realConfig): 4.6 s for N = 5. */
const boundMs = detectionBoundMs(realConfig(true), n);
/** Our observation lags the truth by one poll (100 ms) and the RESP round trips. */
const pollSlackMs = 300;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function members(node: RunningNode): Promise<MemberRow[]> {
  return fetchMembers({ host: "127.0.0.1", port: node.port });
}

/** The state `node` holds for member `id`, or undefined. */
async function stateOf(node: RunningNode, id: string): Promise<string | undefined> {
  return (await members(node)).find((m) => m.id === id)?.state;
}

async function infoField(node: RunningNode, field: string): Promise<string | undefined> {
  const reply = await call({ host: "127.0.0.1", port: node.port }, ["INFO", "membership"]);
  const text = String((reply as { value: unknown }).value);
  return new RegExp(`^${field}:(.*)$`, "m").exec(text)?.[1]?.trim();
}

/** Log records about `id` with the given event, from every node's log. */
function events(nodes: RunningNode[], id: string, event: string): string[] {
  const out: string[] = [];
  for (const node of nodes) {
    for (const line of node.logs) {
      if (line.includes(`"event":"${event}"`) && line.includes(`"member":"${id}"`)) out.push(line);
    }
  }
  return out;
}

describe("membership between real processes", { timeout: 90_000 }, () => {
  const dirs: string[] = [];
  const nodes: RunningNode[] = [];
  cleanUpAfter(nodes, dirs);

  it("joins, detects a crash, tolerates a pause, takes a restart back", async () => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const dir = tempDir("homeostat-members-");
      dirs.push(dir);
      const seed = nodes[0];
      const extra = seed === undefined ? [] : ["--join", `127.0.0.1:${seed.port}`];
      nodes.push(await startNode(dir, [...extra, "--zone", `z${i % 2}`]));
    }
    const converged = await waitFor("5 alive members everywhere", 25_000, async () => {
      for (const node of nodes) {
        const rows = await members(node);
        if (rows.filter((m) => m.state === "alive").length !== n) return false;
      }
      return true;
    });
    const ids = (await members(nodes[0] as RunningNode)).map((m) => m.id);
    const rows = await members(nodes[1] as RunningNode);
    assert.ok(rows.some((m) => m.client === `127.0.0.1:${nodes[0]?.port}` && m.zone === "z0"));
    const idOf = async (node: RunningNode) => {
      const id = await infoField(node, "node_id");
      assert.ok(id !== undefined && ids.includes(id));
      return id;
    };

    // An unauthenticated datagram is dropped and counted; the node keeps serving.
    const target = nodes[0] as RunningNode;
    const bus = Number(await infoField(target, "bus_address").then((a) => a?.split(":")[1]));
    const before = Number(await infoField(target, "dropped_unauthenticated"));
    const socket = createSocket("udp4");
    for (const payload of [Buffer.from("hello"), Buffer.alloc(200, 7), Buffer.alloc(0)]) {
      await new Promise<void>((r) => socket.send(payload, bus, "127.0.0.1", () => r()));
    }
    socket.close();
    await waitFor("forged datagrams counted", 2000, async () => {
      return Number(await infoField(target, "dropped_unauthenticated")) >= before + 2;
    });
    assert.deepEqual(await call({ host: "127.0.0.1", port: target.port }, ["PING"]), {
      kind: "simple",
      value: "PONG",
    });

    // SIGKILL one: every other member marks it dead within the bound.
    const victim = nodes[4] as RunningNode;
    const victimId = await idOf(victim);
    const killedAt = performance.now();
    await victim.kill();
    const others = nodes.slice(0, 4);
    await waitFor("the killed member dead everywhere", boundMs * 2, async () => {
      for (const node of others) if ((await stateOf(node, victimId)) !== "dead") return false;
      return true;
    });
    const detectedMs = performance.now() - killedAt;
    assert.ok(
      detectedMs <= boundMs + pollSlackMs,
      `dead everywhere after ${detectedMs.toFixed(0)} ms, bound ${boundMs} ms`,
    );

    // SIGSTOP another for 2 s: suspected, refuted once it runs again, never dead.
    const paused = nodes[3] as RunningNode;
    const pausedId = await idOf(paused);
    paused.proc.kill("SIGSTOP");
    await sleep(2000);
    paused.proc.kill("SIGCONT");
    const refutedMs = await waitFor("the paused member alive everywhere", 10_000, async () => {
      for (const node of nodes.slice(0, 4)) {
        if ((await stateOf(node, pausedId)) !== "alive") return false;
      }
      return true;
    });
    await sleep(1000); // let any late verdict arrive before checking there was none
    for (const node of nodes.slice(0, 4)) assert.equal(await stateOf(node, pausedId), "alive");
    assert.deepEqual(events(nodes, pausedId, "dead"), [], "the paused member was declared dead");
    const suspected = events(nodes, pausedId, "suspect").length;
    assert.ok(suspected > 0, "the paused member was never suspected");
    assert.ok(Number(await infoField(paused, "refutations")) >= 1, "no refutation");

    // Restart the killed one on its data folder: same id, alive again everywhere.
    const restarted = await startNode(victim.dir, ["--join", `127.0.0.1:${nodes[0]?.port}`]);
    nodes[4] = restarted;
    nodes.push(victim); // keep the old handle for cleanup
    assert.equal(await idOf(restarted), victimId);
    const rejoinedMs = await waitFor("the restarted member alive everywhere", 25_000, async () => {
      for (const node of nodes.slice(0, 5)) {
        const all = await members(node);
        if (all.filter((m) => m.state === "alive").length !== n) return false;
        if (all.find((m) => m.id === victimId)?.state !== "alive") return false;
      }
      return true;
    });
    const totalMs = performance.now() - t0;
    process.stdout.write(
      `# converged ${converged.toFixed(0)} ms; dead everywhere ${detectedMs.toFixed(0)} ms ` +
        `(bound ${boundMs} ms); pause: suspected in ${suspected} log lines, alive everywhere ` +
        `${refutedMs.toFixed(0)} ms after SIGCONT, never dead; rejoined ${rejoinedMs.toFixed(0)} ms; ` +
        `total ${totalMs.toFixed(0)} ms\n`,
    );
  });
});
