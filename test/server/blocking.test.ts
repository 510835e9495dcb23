import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ArrayArgs } from "../../src/resp/args.js";
import * as R from "../../src/resp/reply.js";
import type { Args, Reply } from "../../src/resp/types.js";
import { Blocking, blockingWait } from "../../src/server/blocking.js";
import type { Client } from "../../src/server/client.js";

/**
 * The Blocking class on its own: a fake key space of string arrays stands for the store,
 * and `retry` pops from it the way the list commands do, at once (a standalone node) or
 * after a delay (a routed try on a cluster node).
 */

function fakeClient(id: number): Client {
  return { id, blocked: false } as unknown as Client;
}

function parts(...words: string[]): Buffer[] {
  return words.map((w) => Buffer.from(w));
}

function args(...words: string[]): ArrayArgs {
  return new ArrayArgs(parts(...words));
}

interface Harness {
  lists: Map<string, string[]>;
  blocking: Blocking;
  tries: string[];
  unblocked: number[];
}

function harness(opts: { delayMs?: number; pollMs?: number | null } = {}): Harness {
  const lists = new Map<string, string[]>();
  const tries: string[] = [];
  const unblocked: number[] = [];
  // An empty array stands for a key of another type.
  const pop = (name: string, a: Args): Reply => {
    const keys = name === "blmove" ? [a.str(1)] : blockingWait(name, a).keys;
    for (const key of keys) {
      const list = lists.get(key);
      if (list === undefined) continue;
      if (list.length === 0) {
        return R.error("WRONGTYPE Operation against a key holding the wrong kind of value");
      }
      const v = list.shift() as string;
      if (list.length === 0) lists.delete(key);
      return name === "blmove" ? R.bulk(v) : R.array([R.bulk(key), R.bulk(v)]);
    }
    return name === "blmove" ? R.NULL : R.NULL_ARRAY;
  };
  const blocking = new Blocking(
    (client, name, a) => {
      tries.push(`${client.id}:${name}`);
      const delay = opts.delayMs ?? 0;
      if (delay === 0) return pop(name, a);
      return new Promise((resolve) => setTimeout(() => resolve(pop(name, a)), delay));
    },
    () => Date.now(),
    () => opts.pollMs ?? null,
    (client) => unblocked.push(client.id),
  );
  return { lists, blocking, tries, unblocked };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("blocked clients", () => {
  it("finds each command's keys and timeout", () => {
    assert.deepEqual(blockingWait("blpop", args("blpop", "a", "b", "a", "1.5")), {
      keys: ["a", "b"],
      timeoutMs: 1500,
    });
    assert.deepEqual(blockingWait("blmpop", args("blmpop", "0", "2", "x", "y", "left")), {
      keys: ["x", "y"],
      timeoutMs: 0,
    });
    assert.deepEqual(blockingWait("brpoplpush", args("brpoplpush", "s", "d", "0.001")), {
      keys: ["s"],
      timeoutMs: 1,
    });
    assert.deepEqual(blockingWait("blmove", args("blmove", "s", "d", "left", "right", "2")), {
      keys: ["s"],
      timeoutMs: 2000,
    });
  });

  it("serves the clients of a key one at a time, in the order they blocked", async () => {
    const h = harness();
    const [c1, c2, c3] = [fakeClient(1), fakeClient(2), fakeClient(3)];
    const r1 = h.blocking.block(c1, "blpop", parts("blpop", "q", "0"));
    const r2 = h.blocking.block(c2, "blpop", parts("blpop", "other", "q", "0"));
    const r3 = h.blocking.block(c3, "blpop", parts("blpop", "q", "0"));
    assert.equal(h.blocking.size, 3);
    assert.equal(c1.blocked, true);
    h.lists.set("q", ["a", "b"]);
    h.blocking.signal("q");
    assert.deepEqual(R.array([R.bulk("q"), R.bulk("a")]), await r1);
    assert.deepEqual(R.array([R.bulk("q"), R.bulk("b")]), await r2);
    await sleep(5);
    assert.equal(h.blocking.size, 1, "the third waits on");
    assert.deepEqual(h.unblocked, [1, 2]);
    assert.equal(c1.blocked, false);
    h.blocking.forget(c3);
    h.lists.set("q", ["c"]);
    h.blocking.signal("q");
    await sleep(5);
    assert.deepEqual(h.lists.get("q"), ["c"], "a client that left takes nothing");
    void r3;
  });

  it("answers the timeout's null, but waits for a try under way and keeps what it popped", async () => {
    const h = harness({ delayMs: 40 });
    const c = fakeClient(1);
    const started = Date.now();
    assert.equal(
      (await h.blocking.block(c, "blpop", parts("blpop", "q", "0.03"))).kind,
      "nullArray",
    );
    assert.ok(Date.now() - started >= 25);
    const moved = h.blocking.block(c, "blmove", parts("blmove", "q", "d", "left", "left", "0.02"));
    h.lists.set("q", ["x"]);
    h.blocking.signal("q");
    // The try takes 40 ms, the timeout 20: the element it popped is answered, not lost.
    assert.deepEqual(await moved, R.bulk("x"));
  });

  it("tries every blocked client once a poll interval has passed, without a signal", async () => {
    const h = harness({ pollMs: 20 });
    const popped = h.blocking.block(fakeClient(7), "brpop", parts("brpop", "q", "0"));
    h.lists.set("q", ["late"]);
    assert.deepEqual(await popped, R.array([R.bulk("q"), R.bulk("late")]));
    assert.ok(h.tries.length >= 1);
    h.blocking.close();
  });

  it("keeps a pop blocked when its key holds another type; BLMOVE answers WRONGTYPE", async () => {
    const h = harness();
    const pop = h.blocking.block(fakeClient(1), "blpop", parts("blpop", "q", "0"));
    const move = h.blocking.block(
      fakeClient(2),
      "blmove",
      parts("blmove", "m", "d", "left", "left", "0"),
    );
    h.lists.set("q", []);
    h.lists.set("m", []);
    h.blocking.signal("q");
    h.blocking.signal("m");
    const moved = await move;
    assert.equal(moved.kind, "error");
    await sleep(5);
    assert.equal(h.blocking.size, 1, "BLPOP still blocked");
    h.lists.set("q", ["v"]);
    h.blocking.signal("q");
    assert.deepEqual(await pop, R.array([R.bulk("q"), R.bulk("v")]));
  });

  it("CLIENT UNBLOCK answers null or the UNBLOCKED error", async () => {
    const h = harness();
    const c = fakeClient(1);
    const a = h.blocking.block(c, "blpop", parts("blpop", "q", "0"));
    assert.equal(h.blocking.unblock(c, false), true);
    assert.equal((await a).kind, "nullArray");
    assert.equal(h.blocking.unblock(c, false), false);
    const b = h.blocking.block(c, "blpop", parts("blpop", "q", "0"));
    h.blocking.unblock(c, true);
    assert.deepEqual(await b, R.error("UNBLOCKED client unblocked via CLIENT UNBLOCK"));
  });
});
