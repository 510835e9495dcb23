import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { call } from "../../src/cli/client.js";
import { fetchMembers, type MemberRow } from "../../src/cli/members.js";
import { cleanUpAfter, type RunningNode, startNode, tempDir, waitFor } from "./harness.js";

/**
 * Graceful leave between real processes: a member stopped with SIGTERM tells the others
 * it left (recorded `left`, never `dead`), exits 0, and when restarted on its data folder
 * comes back `alive` under the same id with a higher incarnation.
 */

const n = 3;

async function members(node: RunningNode): Promise<MemberRow[]> {
  return fetchMembers({ host: "127.0.0.1", port: node.port });
}

async function nodeId(node: RunningNode): Promise<string> {
  const reply = await call({ host: "127.0.0.1", port: node.port }, ["INFO", "membership"]);
  const id = /^node_id:(\S+)/m.exec(String((reply as { value: unknown }).value))?.[1];
  assert.ok(id !== undefined, "INFO membership has no node_id");
  return id;
}

/** Every node in `nodes` lists `count` alive members, `id` among them. */
async function allAlive(nodes: RunningNode[], count: number, id: string): Promise<boolean> {
  for (const node of nodes) {
    const rows = await members(node);
    if (rows.filter((m) => m.state === "alive").length !== count) return false;
    if (rows.find((m) => m.id === id)?.state !== "alive") return false;
  }
  return true;
}

/** Log records of `event` about member `id`, from the given nodes' logs. */
function events(nodes: RunningNode[], id: string, event: string): string[] {
  return nodes.flatMap((node) =>
    node.logs.filter((l) => l.includes(`"event":"${event}"`) && l.includes(`"member":"${id}"`)),
  );
}

describe("graceful leave between real processes", { timeout: 30_000 }, () => {
  const dirs: string[] = [];
  const nodes: RunningNode[] = [];
  cleanUpAfter(nodes, dirs);

  it("a SIGTERMed member is left everywhere, exits 0, and rejoins alive under its id", async () => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const dir = tempDir("homeostat-leave-");
      dirs.push(dir);
      // The last joins through every earlier member at once (one comma-separated --join).
      const seeds = nodes.map((x) => `127.0.0.1:${x.port}`).join(",");
      nodes.push(await startNode(dir, seeds === "" ? [] : ["--join", seeds]));
    }
    const [first, second, leaver] = nodes as [RunningNode, RunningNode, RunningNode];
    const leaverId = await nodeId(leaver);
    const converged = await waitFor("3 alive members everywhere", 10_000, () =>
      allAlive(nodes, n, leaverId),
    );
    const incarnationBefore = (await members(first)).find((m) => m.id === leaverId)?.incarnation;
    assert.ok(incarnationBefore !== undefined);

    const stoppedAt = performance.now();
    assert.equal(await leaver.stop(), 0, leaver.logs.slice(-5).join("\n"));
    const exitMs = performance.now() - stoppedAt;
    const others = [first, second];
    const leftMs = await waitFor("the stopped member left everywhere", 3000, async () => {
      for (const node of others) {
        if ((await members(node)).find((m) => m.id === leaverId)?.state !== "left") return false;
      }
      return true;
    });
    assert.deepEqual(events(others, leaverId, "dead"), [], "the leaver was declared dead");
    assert.equal(events(others, leaverId, "left").length, others.length);

    // Back on its data folder: the same id, alive again everywhere, above its old self.
    const back = await startNode(leaver.dir, ["--join", `127.0.0.1:${first.port}`]);
    nodes.push(back);
    assert.equal(await nodeId(back), leaverId);
    const running = [first, second, back];
    const rejoinedMs = await waitFor("the restarted member alive everywhere", 10_000, () =>
      allAlive(running, n, leaverId),
    );
    for (const node of running) {
      const row = (await members(node)).find((m) => m.id === leaverId);
      assert.ok((row?.incarnation ?? 0) > incarnationBefore, `incarnation ${row?.incarnation}`);
    }
    process.stdout.write(
      `# converged ${converged.toFixed(0)} ms; SIGTERM to exit ${exitMs.toFixed(0)} ms; ` +
        `left everywhere ${leftMs.toFixed(0)} ms after exit; rejoined ${rejoinedMs.toFixed(0)} ms; ` +
        `total ${(performance.now() - t0).toFixed(0)} ms\n`,
    );
  });
});
