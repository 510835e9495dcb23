import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { call } from "../../src/cli/client.js";
import { fetchMembers } from "../../src/cli/members.js";
import {
  CLI,
  cleanUpAfter,
  type RunningNode,
  refusingPort,
  startNode,
  tempDir,
  unusedPort,
  waitFor,
} from "./harness.js";

/**
 * --join with several seeds (comma-separated and repeated), some of them down;
 * --advertise-host; and the errors for bad values of either.
 */

const run = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 15000 });

describe("joining through several seeds", { timeout: 30_000, concurrency: true }, () => {
  const dirs: string[] = [];
  const nodes: RunningNode[] = [];
  const start = async (extra: string[]) => {
    const dir = tempDir("homeostat-join-");
    dirs.push(dir);
    const node = await startNode(dir, extra);
    nodes.push(node);
    return node;
  };
  cleanUpAfter(nodes, dirs);

  it("joins through the seeds that answer, past a down one and itself; --advertise-host", async () => {
    const t0 = performance.now();
    const seed = await start([]);
    const down = `127.0.0.1:${await refusingPort()}`;
    const up = `127.0.0.1:${seed.port}`;
    const commaJoiner = await start(["--join", `${down},${up}`]);
    // Listens on every interface, so without --advertise-host it would advertise this
    // machine's first non-internal IPv4 address (or 127.0.0.1 if it has none).
    const repeatJoiner = await start([
      "--join",
      down,
      "--join",
      up,
      "--host",
      "0.0.0.0",
      "--advertise-host",
      "127.0.0.1",
    ]);
    // One seed list for every node names this node too: it skips itself.
    const ownPort = await unusedPort();
    const selfJoiner = await start([
      "--port",
      String(ownPort),
      "--bus-port",
      "0",
      "--join",
      `127.0.0.1:${ownPort},${up}`,
    ]);
    assert.equal(selfJoiner.port, ownPort);
    const cluster = [seed, commaJoiner, repeatJoiner, selfJoiner];
    const joinedMs = await waitFor("4 alive members everywhere", 10_000, async () => {
      for (const node of cluster) {
        const rows = await fetchMembers({ host: "127.0.0.1", port: node.port });
        if (rows.filter((m) => m.state === "alive").length !== cluster.length) return false;
      }
      return true;
    });
    for (const joiner of [commaJoiner, repeatJoiner]) {
      const warned = joiner.logs.some(
        (l) => l.includes("seed not answering; joining through the others") && l.includes(down),
      );
      assert.ok(warned, `no warning about the down seed:\n${joiner.logs.join("\n")}`);
    }
    assert.ok(selfJoiner.logs.some((l) => l.includes("a seed is this node: skipped")));
    assert.ok(!selfJoiner.logs.some((l) => l.includes("seed not answering")));
    const rows = await fetchMembers({ host: "127.0.0.1", port: seed.port });
    const advertised = rows.find((m) => m.client.endsWith(`:${repeatJoiner.port}`));
    assert.equal(advertised?.client, `127.0.0.1:${repeatJoiner.port}`);
    assert.match(advertised?.address ?? "", /^127\.0\.0\.1:\d+$/);
    const reply = await call({ host: "127.0.0.1", port: repeatJoiner.port }, [
      "INFO",
      "membership",
    ]);
    const bus = /^bus_address:(\S+)/m.exec(String((reply as { value: unknown }).value))?.[1];
    assert.equal(bus, advertised?.address);
    process.stdout.write(
      `# joined past a down seed and past itself: 4 alive everywhere ${joinedMs.toFixed(0)} ms after the ` +
        `last start; total ${(performance.now() - t0).toFixed(0)} ms\n`,
    );
  });

  it("with every seed down, serves alone and says so after its retries", async () => {
    const t0 = performance.now();
    const seeds = [`127.0.0.1:${await refusingPort()}`, `127.0.0.1:${await refusingPort()}`];
    const alone = await start(["--join", seeds.join(",")]);
    assert.deepEqual(await call({ host: "127.0.0.1", port: alone.port }, ["PING"]), {
      kind: "simple",
      value: "PONG",
    });
    // Retries back off 250 ms, doubling to 4 s: about 7.8 s for the 6 rounds.
    await waitFor("the give-up log line", 15_000, async () =>
      alone.logs.some((l) => l.includes("could not reach any seed to join")),
    );
    const rows = await fetchMembers({ host: "127.0.0.1", port: alone.port });
    assert.deepEqual(
      rows.map((m) => m.state),
      ["alive"],
    );
    process.stdout.write(
      `# gave up on 2 down seeds after ${(performance.now() - t0).toFixed(0)} ms\n`,
    );
  });

  it("refuses a bad --join or --advertise-host before starting", () => {
    const many = Array.from({ length: 65 }, (_, i) => `127.0.0.1:${i + 1}`);
    const bad: [string[], RegExp][] = [
      [["--join", "localhost"], /argument 'localhost' is invalid.*not HOST:PORT/],
      [["--join", "127.0.0.1:6380,"], /"" is not HOST:PORT/],
      [["--join", "127.0.0.1:6380", "--join", "127.0.0.1:0"], /"127.0.0.1:0" is not HOST:PORT/],
      [["--join", "bad_host:6380"], /"bad_host" is not an IP address or host name/],
      [["--join", many.slice(0, 40).join(","), "--join", many.slice(40).join(",")], /65 seeds/],
      [["--advertise-host", "0.0.0.0"], /0.0.0.0 is a wildcard/],
      [["--advertise-host", "10.0.0.1:80"], /"10.0.0.1:80" is not an IP address or host name/],
      [["--advertise-host", ""], /the host is empty/],
    ];
    // A flag accepted by mistake would start a node: on a free port and a scratch folder.
    const dir = tempDir("homeostat-join-");
    dirs.push(dir);
    for (const [args, message] of bad) {
      const r = run("start", "--port", "0", "--data", dir, ...args);
      assert.equal(r.status, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /error: option '--(join|advertise-host) <[^>]+>' argument/);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stdout, /ready to accept/);
    }
  });
});
