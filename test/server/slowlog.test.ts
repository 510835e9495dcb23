import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { ArrayArgs } from "../../src/resp/args.js";
import { entryArgs, SlowLog } from "../../src/server/slowlog.js";
import { nodeForSuite } from "./harness.js";

const args = (...parts: (string | Buffer)[]) =>
  new ArrayArgs(parts.map((p) => (typeof p === "string" ? Buffer.from(p) : p)));
const text = (bufs: readonly Buffer[]) => bufs.map((b) => b.toString());

describe("the slow log's entries", () => {
  it("keep at most 32 arguments of at most 128 bytes, as Redis's", () => {
    const many = Array.from({ length: 31 }, (_, i) => String(i + 3));
    const kept = text(entryArgs(args("sadd", "set", ...many)));
    assert.equal(kept.length, 32);
    assert.equal(kept[31], "... (2 more arguments)");
    assert.equal(kept[30], "31");
    const long = text(entryArgs(args("set", "k", "A".repeat(129))));
    assert.equal(long[2], `${"A".repeat(128)}... (1 more bytes)`);
  });

  it("redact passwords: AUTH, HELLO's AUTH, CONFIG SET requirepass", () => {
    assert.deepEqual(text(entryArgs(args("auth", "user", "pw"))), [
      "auth",
      "(redacted)",
      "(redacted)",
    ]);
    assert.deepEqual(text(entryArgs(args("hello", "3", "AUTH", "u", "p", "SETNAME", "n"))), [
      "hello",
      "3",
      "AUTH",
      "(redacted)",
      "(redacted)",
      "SETNAME",
      "n",
    ]);
    assert.deepEqual(text(entryArgs(args("config", "set", "requirepass", "s", "hz", "10"))), [
      "config",
      "set",
      "requirepass",
      "(redacted)",
      "hz",
      "10",
    ]);
  });

  it("log what reaches the threshold, newest first, within the length", () => {
    const log = new SlowLog();
    const at = 1_700_000_000_123;
    log.record([Buffer.from("fast")], 99, 100, 2, "a:1", "", at);
    log.record([Buffer.from("off")], 500, -1, 2, "a:1", "", at);
    for (const n of ["one", "two", "three"])
      log.record([Buffer.from(n)], 100, 100, 2, "a:1", "x", at);
    assert.equal(log.length, 2);
    const reply = log.reply(-1);
    assert.equal(reply.kind, "array");
    const first = (reply as { value: readonly { value: readonly unknown[] }[] }).value[0]?.value;
    assert.deepEqual(first?.slice(0, 3), [
      { kind: "integer", value: 2 },
      { kind: "integer", value: 1_700_000_000 },
      { kind: "integer", value: 100 },
    ]);
    log.reset();
    assert.equal(log.length, 0);
  });
});

for (const mode of ["--standalone", "--cluster"] as const) {
  describe(`SLOWLOG on a node (${mode})`, () => {
    const suite = nodeForSuite([mode]);
    let client: Redis;

    before(async () => {
      client = await suite.connect();
    });

    it("logs commands past the threshold with their client, and forgets on RESET", async () => {
      await client.config("SET", "slowlog-log-slower-than", "0");
      await client.client("SETNAME", "writer");
      await client.call("slowlog", "reset");
      await client.set("k", "v");
      await client.get("k");
      const entries = (await client.call("slowlog", "get", "-1")) as unknown[][];
      const set = entries.find((e) => (e[3] as string[])[0] === "set");
      assert.ok(set !== undefined, JSON.stringify(entries));
      assert.deepEqual(set[3], ["set", "k", "v"]);
      assert.ok((set[2] as number) > 0, "a write's duration covers its sync");
      assert.match(set[4] as string, /^127\.0\.0\.1:\d+$/);
      assert.equal(set[5], "writer");
      assert.ok(((await client.call("slowlog", "len")) as number) >= 3);
      await client.config("SET", "slowlog-log-slower-than", "-1");
      await client.call("slowlog", "reset");
      await client.set("k", "w");
      assert.equal(await client.call("slowlog", "len"), 0);
      await client.config("SET", "slowlog-log-slower-than", "10000");
    });
  });
}
