import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { monitorLine, quoted } from "../../src/server/monitor.js";
import { nodeForSuite, startRedisServer, waitFor } from "./harness.js";

/**
 * MONITOR against a real node over loopback, in both modes: the lines a monitoring client
 * reads, compared with what redis-server writes for the same commands (the time and the
 * client's port aside).
 */

describe("MONITOR's lines", () => {
  it("quote arguments as Redis's sdscatrepr", () => {
    assert.equal(quoted(Buffer.from('a"b\\c')), '"a\\"b\\\\c"');
    assert.equal(
      quoted(Buffer.from([0x01, 0x0a, 0x0d, 0x09, 0x07, 0x08, 0x7f, 0x41])),
      '"\\x01\\n\\r\\t\\a\\b\\x7fA"',
    );
    assert.equal(
      monitorLine(1_700_000_000_000_042, "127.0.0.1:5000", [Buffer.from("get"), Buffer.from("k")]),
      '+1700000000.000042 [0 127.0.0.1:5000] "get" "k"\r\n',
    );
  });
});

/** A raw MONITOR connection: the lines it reads, without their time and port. */
async function monitorOn(port: number): Promise<{ lines: string[]; socket: Socket }> {
  const lines: string[] = [];
  const socket = connect(port, "127.0.0.1");
  let buffered = "";
  socket.on("data", (d: Buffer) => {
    buffered += d.toString("latin1");
    let at = buffered.indexOf("\r\n");
    while (at >= 0) {
      lines.push(buffered.slice(0, at).replace(/^\+\d+\.\d{6} \[0 [\d.]+:\d+\] /, ""));
      buffered = buffered.slice(at + 2);
      at = buffered.indexOf("\r\n");
    }
  });
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  socket.write("MONITOR\r\n");
  await waitFor("MONITOR's OK", 5000, async () => lines[0] === "+OK");
  lines.shift();
  return { lines, socket };
}

/** What a client sends; each command then shows in the monitor (or not: admin, refused). */
async function workload(client: Redis): Promise<void> {
  await client.set("{m}k", 'b"a\\r');
  await client.get("{m}k");
  await client.set("{m}bin", Buffer.from([0x61, 0x01, 0x0a]));
  await client.multi().set("{m}k", "bar").incr("{m}n").exec();
  await client.call("auth", "nobody", "wrong").catch(() => undefined);
  await client.config("SET", "slowlog-max-len", "100");
  await client.call("nosuchcommand").catch(() => undefined);
  await client.del("{m}k", "{m}bin", "{m}n");
}

const EXPECTED = [
  '"set" "{m}k" "b\\"a\\\\r"',
  '"get" "{m}k"',
  '"set" "{m}bin" "a\\x01\\n"',
  '"multi"',
  '"set" "{m}k" "bar"',
  '"incr" "{m}n"',
  '"exec"',
  '"auth" "(redacted)" "(redacted)"',
  '"del" "{m}k" "{m}bin" "{m}n"',
];

for (const mode of ["--standalone", "--cluster"] as const) {
  describe(`MONITOR on a node (${mode})`, () => {
    const suite = nodeForSuite([mode]);
    let client: Redis;

    before(async () => {
      client = await suite.connect();
    });

    it("streams the commands the node runs, as redis-server streams them", async (t) => {
      const ours = await monitorOn(suite.node.port);
      try {
        await workload(client);
        await waitFor(
          "the monitor's lines",
          5000,
          async () => ours.lines.length >= EXPECTED.length,
        );
        assert.deepEqual(ours.lines, EXPECTED);
      } finally {
        ours.socket.destroy();
      }
      const redis = await startRedisServer();
      if (redis === null) {
        t.skip("redis-server is not installed");
        return;
      }
      const theirs = await monitorOn(redis.port);
      try {
        await workload(redis.client);
        await waitFor(
          "redis-server's lines",
          5000,
          async () => theirs.lines.length >= EXPECTED.length,
        );
        assert.deepEqual(theirs.lines, EXPECTED);
      } finally {
        theirs.socket.destroy();
        redis.client.disconnect();
        redis.proc.kill("SIGKILL");
      }
    });
  });
}
