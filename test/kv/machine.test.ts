import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { type MemoryGroupLog, MemoryRaftLogs } from "../../src/cluster/memory-logs.js";
import { type GroupMachine, MultiRaft } from "../../src/cluster/multi-raft.js";
import { keyHashSlot } from "../../src/cluster/slots.js";
import { AssertionError } from "../../src/core/assert.js";
import { SeededRandom } from "../../src/core/random.js";
import {
  copyArgs,
  decodeLogCommand,
  encodeClientCommand,
  encodeLogCommand,
  type LogCommand,
  logArgsMax,
  ProposalLost,
  ReadAborted,
  ShardMachine,
} from "../../src/kv/machine.js";
import { encodeTransaction, type TransactionBody } from "../../src/kv/transaction.js";
import {
  type ConfState,
  type Entry,
  lanConfig,
  type NodeId,
  type Snapshot,
} from "../../src/raft/index.js";
import type { Reply } from "../../src/resp/types.js";
import {
  ALL_SLOTS,
  LmdbShardSpace,
  MemoryShardSpace,
  type ShardSpace,
  type SlotRange,
} from "../../src/storage/shard-store.js";
import { err, ok, type Plain, plain, START_MS, TestArgs } from "./helpers.js";

const b = (s: string) => Buffer.from(s, "latin1");

function command(args: readonly (string | Buffer)[], nowMs = START_MS, seed = 1): LogCommand {
  return {
    kind: "command",
    nowMs,
    seed,
    args: args.map((a) => (typeof a === "string" ? b(a) : a)),
  };
}

function entryOf(index: number, term: number, data: Uint8Array): Entry {
  return { index, term, type: "normal", data };
}

/** A command entry; `nowMs` defaults to START_MS + index, so time moves with the log. */
function cmd(index: number, term: number, args: string[], nowMs = START_MS + index): Entry {
  return entryOf(index, term, encodeLogCommand(command(args, nowMs, index)));
}

const noop = (index: number, term: number): Entry => entryOf(index, term, new Uint8Array(0));

function memoryMachine(
  space = new MemoryShardSpace(keyHashSlot),
  shard = 1,
  slots: readonly SlotRange[] = ALL_SLOTS,
) {
  return new ShardMachine({ store: space.openShard(shard, slots) });
}

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "homeostat-machine-"));
  tempDirs.push(dir);
  return dir;
}
after(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

/** Runs a read-only command through read() and reads(), as a leader would. */
async function readNow(m: ShardMachine, args: string[], nowMs = START_MS + 1_000_000) {
  const id = m.newReadId();
  const p = m.read(id, args.map(b), nowMs);
  m.reads([{ id, index: m.applied }]);
  return plain(await p);
}

describe("log entry codec", () => {
  it("round-trips commands and expiry cycles", () => {
    const cases: LogCommand[] = [
      command(["SET", "k", "v"], START_MS, 0xffff_ffff),
      command(["SET", Buffer.from([0, 255, 13, 10]), Buffer.alloc(0)], 0, 0),
      command(
        Array.from({ length: 300 }, (_, i) => `arg${i}`),
        Number.MAX_SAFE_INTEGER,
      ),
      { kind: "expire", nowMs: START_MS, keys: [b("a"), b(""), b("{t}x")] },
    ];
    for (const c of cases) {
      const d = decodeLogCommand(encodeLogCommand(c));
      assert.ok(d.ok, d.ok ? "" : d.error);
      if (c.kind === "command" && d.value.kind === "command") {
        assert.equal(d.value.nowMs, c.nowMs);
        assert.equal(d.value.seed, c.seed);
        assert.deepEqual(
          d.value.args.map((a) => Buffer.from(a)),
          c.args.map((a) => Buffer.from(a)),
        );
      } else if (c.kind === "expire" && d.value.kind === "expire") {
        assert.equal(d.value.nowMs, c.nowMs);
        assert.deepEqual(
          d.value.keys.map((a) => Buffer.from(a)),
          c.keys.map((a) => Buffer.from(a)),
        );
      } else {
        assert.fail("kind changed");
      }
    }
  });

  it("encodes a parsed command the same way, copying its arguments", () => {
    const args = new TestArgs(["set", "key", Buffer.from([1, 2, 3])]);
    const encoded = encodeClientCommand(args, START_MS, 42);
    args.invalidate();
    assert.deepEqual(
      encoded,
      encodeLogCommand(command(["set", "key", Buffer.from([1, 2, 3])], START_MS, 42)),
    );
    const copies = copyArgs(new TestArgs(["get", "k"]));
    assert.deepEqual(copies.map(String), ["get", "k"]);
  });

  it("rejects every truncation, trailing bytes, unknown versions and kinds, bad counts", () => {
    const expire: LogCommand = { kind: "expire", nowMs: 1, keys: [b("k1"), b("k2")] };
    for (const c of [command(["SET", "key", "value"]), expire]) {
      const full = encodeLogCommand(c);
      for (let n = 0; n < full.length; n++) {
        assert.equal(decodeLogCommand(full.subarray(0, n)).ok, false, `prefix of ${n} bytes`);
      }
      assert.equal(decodeLogCommand(Buffer.concat([full, Buffer.from([0])])).ok, false);
      const badVersion = Buffer.from(full);
      badVersion[0] = 9;
      assert.equal(decodeLogCommand(badVersion).ok, false);
      const badKind = Buffer.from(full);
      badKind[1] = 77;
      assert.equal(decodeLogCommand(badKind).ok, false);
    }
    const noArgs = Buffer.from(encodeLogCommand(command(["PING"])));
    noArgs.writeUInt32BE(0, 14);
    assert.equal(decodeLogCommand(noArgs.subarray(0, 18)).ok, false);
    // A huge argument count in a short entry is refused before anything is allocated.
    noArgs.writeUInt32BE(logArgsMax, 14);
    const d = decodeLogCommand(noArgs);
    assert.ok(!d.ok && /truncated/.test(d.error));
    noArgs.writeUInt32BE(logArgsMax + 1, 14);
    assert.equal(decodeLogCommand(noArgs).ok, false);
    const noKeys = Buffer.from(encodeLogCommand(expire));
    noKeys.writeUInt32BE(0, 10);
    assert.equal(decodeLogCommand(noKeys).ok, false);
    // nowMs past 2^53.
    const late = Buffer.from(encodeLogCommand(command(["PING"])));
    late.writeUInt32BE(0xffff_ffff, 2);
    assert.equal(decodeLogCommand(late).ok, false);
  });

  it("never throws on garbage, and round-trips any command", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const d = decodeLogCommand(bytes);
        if (d.ok) assert.deepEqual(encodeLogCommand(d.value), bytes);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 20 }), { minLength: 1, maxLength: 8 }),
        fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        fc.nat({ max: 0xffff_ffff }),
        (args, nowMs, seed) => {
          const d = decodeLogCommand(encodeLogCommand({ kind: "command", nowMs, seed, args }));
          assert.ok(d.ok && d.value.kind === "command");
          assert.equal(d.value.nowMs, nowMs);
          assert.equal(d.value.seed, seed);
          assert.deepEqual(
            d.value.args.map((a) => Buffer.from(a)),
            args.map((a) => Buffer.from(a)),
          );
        },
      ),
    );
  });
});

describe("shard machine: applying", () => {
  it("runs commands as the single-node server does, errors included", async () => {
    const m = memoryMachine();
    const replies = [
      m.expect(1, 1),
      m.expect(2, 1),
      m.expect(3, 1),
      m.expect(4, 1),
      m.expect(5, 1),
      m.expect(6, 1),
    ];
    m.apply([
      cmd(1, 1, ["SET", "k", "10"]),
      cmd(2, 1, ["INCRBY", "k", "5"]),
      cmd(3, 1, ["APPEND", "k", "x"]),
      cmd(4, 1, ["INCR", "k"]),
      cmd(5, 1, ["GET"]),
      cmd(6, 1, ["NOSUCH", "a"]),
    ]);
    assert.deepEqual((await Promise.all(replies)).map(plain), [
      ok,
      15,
      3,
      err("ERR value is not an integer or out of range"),
      err("ERR wrong number of arguments for 'get' command"),
      err("ERR unknown command 'NOSUCH', with args beginning with: 'a' "),
    ]);
    assert.equal(m.applied, 6);
    assert.deepEqual(await readNow(m, ["GET", "k"]), "15x");
  });

  it("advances over no-ops and conf entries, and answers garbage entries with an error", async () => {
    const m = memoryMachine();
    const conf = m.expect(2, 1);
    const bad = m.expect(3, 1);
    m.apply([
      noop(1, 1),
      { index: 2, term: 1, type: "conf", data: new Uint8Array([1, 2, 3]) },
      entryOf(3, 1, new Uint8Array([1, 1, 0])),
      cmd(4, 1, ["SET", "a", "1"]),
    ]);
    assert.equal(m.applied, 4);
    assert.deepEqual(plain(await conf), ok);
    assert.match(String((plain(await bad) as { error: string }).error), /^ERR undecodable/);
    assert.equal(m.stats.entriesUndecodable, 1);
    assert.equal(m.store.size(), 1);
  });

  it("measures TTLs against the entry's time, never going back", async () => {
    const m = memoryMachine();
    m.apply([cmd(1, 1, ["SET", "k", "v", "PX", "100"], 1000)]);
    // A new leader whose clock is behind: the time applied stays at 1000.
    m.apply([cmd(2, 1, ["SET", "j", "v", "PX", "100"], 500)]);
    assert.equal(m.lastNowMs, 1000);
    assert.equal(m.store.get(b("j"))?.expireAtMs, 1100);
    assert.deepEqual(await readNow(m, ["PTTL", "k"], 1050), 50);
    assert.deepEqual(await readNow(m, ["GET", "k"], 1100), null);
    // The expiry cycle runs as an entry: every replica deletes the same keys.
    m.apply([cmd(3, 1, ["SET", "forever", "v"], 1000)]);
    const expired = m.expiredKeys(1200, 10);
    assert.deepEqual(expired.map(String), ["j", "k"]);
    const cycle = m.expect(4, 1);
    const keys = [...expired, b("forever"), b("missing")];
    m.apply([entryOf(4, 1, encodeLogCommand({ kind: "expire", nowMs: 1200, keys }))]);
    assert.equal(plain(await cycle), 2);
    assert.equal(m.store.size(), 1);
  });

  it("draws randomness from the entry's seed", async () => {
    const replies: Plain[][] = [];
    for (let r = 0; r < 2; r++) {
      const m = memoryMachine();
      const entries = [cmd(1, 1, ["MSET", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"])];
      for (let i = 2; i <= 20; i++) entries.push(cmd(i, 1, ["RANDOMKEY"]));
      const ps = entries.map((e) => m.expect(e.index, 1));
      m.apply(entries);
      replies.push((await Promise.all(ps)).map(plain));
    }
    assert.deepEqual(replies[0], replies[1]);
    assert.ok(new Set(replies[0]?.slice(1)).size > 1, "RANDOMKEY drew one key only");
  });

  it("refuses keys outside the shard's slots", async () => {
    const low: SlotRange[] = [{ from: 0, to: 8191 }];
    const m = memoryMachine(undefined, 1, low);
    const foreign = ["a", "b", "c", "d", "e"].find((k) => keyHashSlot(b(k)) > 8191) as string;
    const own = ["a", "b", "c", "d", "e"].find((k) => keyHashSlot(b(k)) <= 8191) as string;
    const p = m.expect(1, 1);
    m.apply([cmd(1, 1, ["MSET", own, "1", foreign, "2"])]);
    assert.match((plain(await p) as { error: string }).error, /^TRYAGAIN slot \d+ is not served/);
    assert.equal(m.store.size(), 0);
    assert.match(((await readNow(m, ["GET", foreign])) as { error: string }).error, /^TRYAGAIN/);
  });

  it("is a GroupMachine as the multi-raft host sees it", () => {
    const gm: GroupMachine = memoryMachine();
    assert.equal(typeof gm.apply, "function");
  });
});

// ---- determinism -------------------------------------------------------------------------

const keyArb = fc.constantFrom("a", "b", "c", "{t}x", "{t}y");
const opArb: fc.Arbitrary<{ args: string[] | null; dtMs: number }> = fc.record({
  args: fc.oneof(
    fc
      .tuple(keyArb, fc.string({ maxLength: 4 }), fc.option(fc.integer({ min: 1, max: 60 })))
      .map(([k, v, px]) => (px === null ? ["SET", k, v] : ["SET", k, v, "PX", String(px)])),
    keyArb.map((k) => ["GET", k]),
    fc.array(keyArb, { minLength: 1, maxLength: 3 }).map((ks) => ["DEL", ...ks]),
    keyArb.map((k) => ["INCR", k]),
    fc.tuple(keyArb, fc.integer({ min: -5, max: 60 })).map(([k, s]) => ["PEXPIRE", k, String(s)]),
    fc.tuple(keyArb, fc.string({ maxLength: 3 })).map(([k, v]) => ["APPEND", k, v]),
    fc.constant<string[]>(["DBSIZE"]),
    fc.constant<string[]>(["RANDOMKEY"]),
    // Scripts: what Lua leaves to its implementation (random numbers, a table's address,
    // the order of pairs) and the command's time must come out the same on every replica.
    keyArb.map((k) => [
      "EVAL",
      "redis.call('SET', KEYS[1], math.random(1000) .. tostring({}) .. redis.call('TIME')[2]) " +
        "return redis.call('GET', KEYS[1])",
      "1",
      k,
    ]),
    keyArb.map((k) => [
      "EVAL",
      "local t = {} for i = 1, 6 do t['f' .. i] = i end local s = '' " +
        "for f, v in pairs(t) do s = s .. f .. v end redis.call('APPEND', KEYS[1], s) " +
        "return cjson.encode(t)",
      "1",
      k,
    ]),
    keyArb.map((k) => ["EVAL", "return redis.pcall('INCR', KEYS[1])", "1", k]),
    fc.constant<string[]>(["EVAL", "error('failed')", "0"]),
    fc.constant<string[] | null>(null), // a leader's no-op
  ),
  // Mostly forward; now and then a leader whose clock is behind.
  dtMs: fc.integer({ min: -20, max: 30 }),
});

interface Run {
  replies: Plain[];
  image: Uint8Array;
  applied: number;
  lastNowMs: number;
  size: number;
}

async function runOn(m: ShardMachine, entries: Entry[], cuts: number[]): Promise<Run> {
  const pending = entries.filter((e) => e.data.length > 0).map((e) => m.expect(e.index, e.term));
  let at = 0;
  for (const cut of cuts) {
    if (at >= entries.length) break;
    m.apply(entries.slice(at, at + cut));
    at += cut;
  }
  if (at < entries.length) m.apply(entries.slice(at));
  const replies = (await Promise.all(pending)).map(plain);
  return {
    replies,
    image: m.snapshot(),
    applied: m.applied,
    lastNowMs: m.lastNowMs,
    size: m.store.size(),
  };
}

function buildEntries(ops: { args: string[] | null; dtMs: number }[]): Entry[] {
  let nowMs = START_MS;
  return ops.map((op, i) => {
    nowMs += op.dtMs;
    if (op.args === null) return noop(i + 1, 1);
    if (i % 7 === 6) {
      const keys = ["a", "b", "{t}x"].map(b);
      return entryOf(i + 1, 1, encodeLogCommand({ kind: "expire", nowMs, keys }));
    }
    return entryOf(i + 1, 1, encodeLogCommand(command(op.args, nowMs, i * 7919)));
  });
}

describe("shard machine: replicas agree", () => {
  it("three replicas (memory, memory, LMDB) given the same entries, batched differently, reply and end alike", async () => {
    const lmdb = new LmdbShardSpace({ path: tempDir(), slotOf: keyHashSlot });
    let shard = 0;
    const cutsArb = fc.array(fc.integer({ min: 1, max: 6 }), { maxLength: 40 });
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(opArb, { minLength: 1, maxLength: 60 }),
          cutsArb,
          cutsArb,
          cutsArb,
          async (ops, c1, c2, c3) => {
            const entries = buildEntries(ops);
            shard++;
            const machines = [
              memoryMachine(),
              memoryMachine(),
              new ShardMachine({ store: lmdb.openShard(shard, ALL_SLOTS) }),
            ];
            const runs = [
              await runOn(machines[0] as ShardMachine, entries, c1),
              await runOn(machines[1] as ShardMachine, entries, c2),
              await runOn(machines[2] as ShardMachine, entries, c3),
            ];
            for (const m of machines) await m.close();
            lmdb.dropShard(shard);
            const [first, ...rest] = runs as [Run, ...Run[]];
            for (const r of rest) {
              assert.deepEqual(r.replies, first.replies);
              assert.deepEqual(Buffer.from(r.image), Buffer.from(first.image));
              assert.equal(r.applied, first.applied);
              assert.equal(r.lastNowMs, first.lastNowMs);
              assert.equal(r.size, first.size);
            }
          },
        ),
        { numRuns: 60 },
      );
    } finally {
      await lmdb.close();
    }
  });
});

// ---- proposals and reads -----------------------------------------------------------------

describe("shard machine: proposals", () => {
  it("resolves a proposal when its index applies with its term", async () => {
    const m = memoryMachine();
    const p = m.expect(2, 3);
    m.apply([noop(1, 3)]);
    assert.equal(m.proposalsPending, 1);
    m.apply([cmd(2, 3, ["SET", "x", "1"])]);
    assert.deepEqual(plain(await p), ok);
    assert.equal(m.proposalsPending, 0);
  });

  it("fails a proposal when another term's entry lands at its index", async () => {
    const m = memoryMachine();
    const p = m.expect(1, 2);
    m.apply([cmd(1, 3, ["SET", "x", "other leader"])]);
    await assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof ProposalLost);
      assert.equal(e.reason, "term-mismatch");
      assert.equal(e.index, 1);
      return true;
    });
  });

  it("aborts reads when leadership is lost; a proposal then waits for the entry at its index", async () => {
    const m = memoryMachine();
    const mine = m.expect(1, 4);
    const overwritten = m.expect(2, 4);
    const id = m.newReadId();
    const r = m.read(id, [b("GET"), b("x")], START_MS);
    m.roleChanged({ role: "follower", term: 5, lead: 2 });
    await assert.rejects(
      r,
      (e: unknown) => e instanceof ReadAborted && e.reason === "leadership-lost",
    );
    assert.equal(m.proposalsPending, 2);
    // Applied here as a follower: index 1 is our entry (same term), index 2 the new leader's.
    m.apply([cmd(1, 4, ["SET", "x", "1"]), cmd(2, 5, ["SET", "x", "2"])]);
    assert.deepEqual(plain(await mine), ok);
    await assert.rejects(overwritten, (e: unknown) => {
      assert.ok(e instanceof ProposalLost);
      assert.equal(e.reason, "term-mismatch");
      assert.ok(e.didNotRun);
      return true;
    });
    assert.equal(m.proposalsPending + m.readsPending, 0);
  });

  it("gives up an orphaned proposal at the second dropOrphans after leadership is lost", async () => {
    const m = memoryMachine();
    const p = m.expect(1, 4);
    let settled = false;
    p.catch(() => undefined).finally(() => {
      settled = true;
    });
    m.dropOrphans(); // still leading: nothing is an orphan yet
    m.roleChanged({ role: "follower", term: 5, lead: 2 });
    m.dropOrphans(); // orphaned in this round: kept
    await Promise.resolve();
    assert.equal(settled, false);
    assert.equal(m.proposalsPending, 1);
    m.dropOrphans();
    await assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof ProposalLost);
      assert.equal(e.reason, "leadership-lost");
      assert.equal(e.didNotRun, false);
      return true;
    });
    assert.equal(m.proposalsPending, 0);
  });

  it("settles proposals of older terms when leading again in a newer one", async () => {
    const m = memoryMachine();
    const kept = m.expect(1, 4);
    const lost = m.expect(2, 4);
    m.roleChanged({ role: "follower", term: 5, lead: 2 });
    m.roleChanged({ role: "leader", term: 6, lead: 1 });
    // Our entry at 2 was overwritten while following: leading now, we propose anew at 2.
    const current = m.expect(2, 6);
    await assert.rejects(lost, (e: unknown) => (e as ProposalLost).didNotRun);
    m.apply([cmd(1, 4, ["SET", "a", "1"]), cmd(2, 6, ["SET", "a", "2"])]);
    assert.deepEqual(plain(await kept), ok);
    assert.deepEqual(plain(await current), ok);
    // The same index and term twice is a programmer error.
    void m.expect(3, 6).catch(() => undefined);
    assert.throws(() => m.expect(3, 6), AssertionError);
  });

  it("refuses an index already applied, and fails all on close", async () => {
    const m = memoryMachine();
    m.apply([noop(1, 1)]);
    await assert.rejects(
      m.expect(1, 1),
      (e: unknown) => (e as ProposalLost).reason === "already-applied",
    );
    assert.throws(() => {
      void m.expect(5, 1).catch(() => undefined);
      void m.expect(5, 1);
    }, AssertionError);
    const p = m.expect(9, 1);
    const r = m.read(m.newReadId(), [b("DBSIZE")], START_MS);
    await m.close();
    await assert.rejects(p, (e: unknown) => (e as ProposalLost).reason === "closed");
    await assert.rejects(r, (e: unknown) => (e as ReadAborted).reason === "closed");
  });

  it("bounds the proposals it waits for", async () => {
    const m = new ShardMachine({
      store: new MemoryShardSpace(keyHashSlot).openShard(1, ALL_SLOTS),
      proposalsPendingMax: 2,
    });
    const ps = [m.expect(1, 1), m.expect(2, 1)];
    await assert.rejects(
      m.expect(3, 1),
      (e: unknown) => (e as ProposalLost).reason === "too-many-waiters",
    );
    m.apply([noop(1, 1), noop(2, 1)]);
    await Promise.all(ps);
  });
});

describe("shard machine: reads", () => {
  it("serves a read once its read index is applied, against the current state", async () => {
    const m = memoryMachine();
    m.apply([cmd(1, 1, ["SET", "k", "v1"])]);
    const id = m.newReadId();
    const r = m.read(id, [b("GET"), b("k")], START_MS + 10);
    m.apply([cmd(2, 1, ["SET", "k", "v2"])]);
    m.reads([{ id: 999, index: 1 }]); // not registered here: ignored
    m.reads([{ id, index: 2 }]);
    assert.equal(plain(await r), "v2");
    assert.equal(m.stats.readsServed, 1);
  });

  it("counts, lists and scans only its shard", async () => {
    const m = memoryMachine();
    m.apply([cmd(1, 1, ["MSET", "a", "1", "b", "2", "c", "3"])]);
    assert.equal(await readNow(m, ["DBSIZE"]), 3);
    assert.deepEqual(await readNow(m, ["KEYS", "*"]), ["a", "b", "c"]);
    const scan = (await readNow(m, ["SCAN", "0", "COUNT", "100"])) as Plain[];
    assert.deepEqual(scan[0], "0");
    assert.deepEqual([...(scan[1] as string[])].sort(), ["a", "b", "c"]);
  });

  it("counts and lists a slot's keys (HOMEOSTAT SLOTKEYS), its own slots only", async () => {
    const low: SlotRange[] = [{ from: 0, to: 8191 }];
    const m = memoryMachine(undefined, 1, low);
    const slot = keyHashSlot(b("{b}"));
    assert.ok(slot <= 8191);
    m.apply([cmd(1, 1, ["MSET", "{b}1", "1", "{b}2", "2", "{b}3", "3"])]);
    assert.equal(await readNow(m, ["HOMEOSTAT", "SLOTKEYS", String(slot)]), 3);
    assert.deepEqual(
      ((await readNow(m, ["HOMEOSTAT", "SLOTKEYS", String(slot), "5"])) as string[]).sort(),
      ["{b}1", "{b}2", "{b}3"],
    );
    assert.equal(
      ((await readNow(m, ["HOMEOSTAT", "SLOTKEYS", String(slot), "2"])) as string[]).length,
      2,
    );
    assert.equal(await readNow(m, ["HOMEOSTAT", "SLOTKEYS", String(slot + 1)]), 0);
    assert.match(
      ((await readNow(m, ["HOMEOSTAT", "SLOTKEYS", "9000"])) as { error: string }).error,
      /^TRYAGAIN slot 9000 is not served/,
    );
    for (const bad of [["16384"], ["-1"], ["x"], ["1", "-1"], ["1", "2", "3"]]) {
      assert.match(
        ((await readNow(m, ["HOMEOSTAT", "SLOTKEYS", ...bad])) as { error: string }).error,
        /^ERR syntax/,
      );
    }
  });

  it("answers a command that cannot run at once, and refuses writes", async () => {
    const m = memoryMachine();
    assert.deepEqual(
      plain(await m.read(m.newReadId(), [b("GET")], START_MS)),
      err("ERR wrong number of arguments for 'get' command"),
    );
    assert.match(
      (plain(await m.read(m.newReadId(), [b("PING")], START_MS)) as { error: string }).error,
      /^ERR unknown command 'PING'/,
    );
    assert.throws(
      () => m.read(m.newReadId(), [b("SET"), b("k"), b("v")], START_MS),
      AssertionError,
    );
    const id = m.newReadId();
    const r = m.read(id, [b("GET"), b("k")], START_MS);
    assert.equal(m.abandonRead(id), true);
    assert.equal(m.abandonRead(id), false);
    await assert.rejects(r, (e: unknown) => (e as ReadAborted).reason === "abandoned");
  });
});

// ---- snapshots, restart, storage ---------------------------------------------------------

function fill(m: ShardMachine, count: number, term = 1): void {
  const entries: Entry[] = [];
  for (let i = 1; i <= count; i++) {
    const args =
      i % 3 === 0
        ? ["SET", `key:${i}`, `v${i}`, "PX", String(50 + i)]
        : i % 5 === 0
          ? ["INCR", "counter"]
          : ["SET", `key:${i}`, `v${i}`];
    entries.push(cmd(m.applied + entries.length + 1, term, args));
  }
  m.apply(entries);
}

describe("shard machine: snapshots", () => {
  it("restores a snapshot into a fresh machine: same keys, expiries, time", async () => {
    const a = memoryMachine();
    fill(a, 40);
    // Hashes too: a value of another type in the image and in LMDB's records.
    a.apply([
      cmd(a.applied + 1, 1, ["HSET", "h", "f", "1", "g", "2"]),
      cmd(a.applied + 2, 1, ["HINCRBY", "h", "f", "41"]),
      cmd(a.applied + 3, 1, ["PEXPIRE", "h", "100000000"]),
    ]);
    const image = a.snapshot();
    const snapshot = {
      meta: { index: a.applied, term: 1, conf: { voters: [1], learners: [] } },
      data: image,
    };
    const other = new LmdbShardSpace({ path: tempDir(), slotOf: keyHashSlot });
    const bm = new ShardMachine({ store: other.openShard(1, ALL_SLOTS) });
    fill(bm, 3); // something to be replaced
    bm.restore(snapshot);
    assert.equal(bm.applied, a.applied);
    assert.equal(bm.lastNowMs, a.lastNowMs);
    assert.deepEqual(Buffer.from(bm.snapshot()), Buffer.from(image));
    assert.equal(await readNow(bm, ["GET", "counter"]), await readNow(a, ["GET", "counter"]));
    assert.deepEqual(await readNow(bm, ["HGETALL", "h"]), await readNow(a, ["HGETALL", "h"]));
    assert.deepEqual(await readNow(bm, ["HGET", "h", "f"]), "42");
    assert.equal(bm.store.expiringCount(), a.store.expiringCount());
    await bm.close();
    await other.close();
  });

  it("ignores a snapshot at or below its applied index, refuses a corrupt one whole", async () => {
    const m = memoryMachine();
    fill(m, 10);
    const before = Buffer.from(m.snapshot());
    const conf: ConfState = { voters: [1], learners: [] };
    m.restore({ meta: { index: 5, term: 1, conf }, data: new Uint8Array([1, 2, 3]) });
    assert.equal(m.stats.snapshotsIgnored, 1);
    assert.deepEqual(Buffer.from(m.snapshot()), before);
    const corrupt = Buffer.from(before);
    corrupt.writeUInt32BE(0xffff, 17); // the first key's length
    assert.throws(
      () => m.restore({ meta: { index: 20, term: 1, conf }, data: corrupt }),
      /corrupt/,
    );
    assert.deepEqual(Buffer.from(m.snapshot()), before);
    assert.equal(m.applied, 10);
  });

  it("fails the proposals a restore overtakes", async () => {
    const m = memoryMachine();
    const p = m.expect(3, 1);
    const image = memoryMachine().snapshot();
    m.restore({ meta: { index: 5, term: 2, conf: { voters: [1], learners: [] } }, data: image });
    await assert.rejects(p, (e: unknown) => (e as ProposalLost).reason === "restored");
  });
});

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe("shard machine: durability and restart", () => {
  it("reopens from LMDB at its applied index, and skips what it already applied", async () => {
    const dir = tempDir();
    let space = new LmdbShardSpace({ path: dir, slotOf: keyHashSlot });
    let m = new ShardMachine({ store: space.openShard(1, ALL_SLOTS) });
    const entries = [
      cmd(1, 1, ["SET", "a", "1"]),
      cmd(2, 1, ["INCR", "n"]),
      noop(3, 2),
      cmd(4, 2, ["INCR", "n"]),
      cmd(5, 2, ["SET", "t", "x", "PX", "100000"]),
    ];
    m.apply(entries.slice(0, 3));
    m.apply(entries.slice(3));
    const image = Buffer.from(m.snapshot());
    await m.close();
    await space.close();

    space = new LmdbShardSpace({ path: dir, slotOf: keyHashSlot });
    m = new ShardMachine({ store: space.openShard(1, ALL_SLOTS) });
    assert.equal(m.applied, 5);
    assert.equal(m.lastNowMs, START_MS + 5);
    // The host re-applies the committed log from its start: nothing is applied twice.
    const more = [...entries, cmd(6, 2, ["INCR", "n"])];
    const p = m.expect(6, 2);
    m.apply(more.slice(0, 2));
    m.apply(more.slice(2));
    assert.equal(m.stats.entriesSkipped, 5);
    assert.equal(plain(await p), 3);
    assert.equal(await readNow(m, ["GET", "n"]), "3");
    assert.equal(await readNow(m, ["GET", "a"]), "1");
    assert.equal(m.store.expiringCount(), 1);
    // A stored snapshot older than the store is ignored on restart too.
    m.restore({ meta: { index: 4, term: 2, conf: { voters: [1], learners: [] } }, data: image });
    assert.equal(m.stats.snapshotsIgnored, 1);
    await m.close();
    await space.close();
  });

  it("after a crash, reopens at a committed batch whose mark matches its keys", async () => {
    const space = new MemoryShardSpace(keyHashSlot);
    let m = memoryMachine(space);
    const log: Entry[] = [];
    for (let i = 1; i <= 30; i++) log.push(cmd(i, 1, ["INCR", `c${i % 4}`]));
    m.apply(log.slice(0, 10));
    await settle();
    m.apply(log.slice(10, 20)); // handed to commit, maybe not committed: the crash decides
    space.crash();
    m = memoryMachine(space);
    assert.ok(m.applied === 10 || m.applied === 20, `reopened at ${m.applied}`);
    m.apply(log);
    await settle();
    const fresh = memoryMachine();
    fresh.apply(log);
    assert.deepEqual(Buffer.from(m.snapshot()), Buffer.from(fresh.snapshot()));
  });

  it("stops on a storage failure; reopened, it catches up from the log", async () => {
    const space = new MemoryShardSpace(keyHashSlot);
    let m = memoryMachine(space);
    const log: Entry[] = [];
    for (let i = 1; i <= 12; i++) log.push(cmd(i, 1, ["SET", `k${i}`, String(i)]));
    m.apply(log.slice(0, 4));
    await settle();
    space.backendOf(1)?.failNextCommits(1);
    const id = m.newReadId();
    const r = m.read(id, [b("GET"), b("k1")], START_MS);
    m.apply(log.slice(4, 8));
    await settle();
    assert.ok(m.failed !== null);
    await assert.rejects(r, (e: unknown) => (e as ReadAborted).reason === "failed");
    assert.throws(() => m.apply(log.slice(8)), /No space left/);
    space.crash();
    m = memoryMachine(space);
    assert.equal(m.applied, 4);
    m.apply(log);
    assert.equal(m.store.size(), 12);
  });

  it("keeps two shards apart in one LMDB environment", async () => {
    const dir = tempDir();
    const low: SlotRange[] = [{ from: 0, to: 8191 }];
    const high: SlotRange[] = [{ from: 8192, to: 16383 }];
    const inRange = (r: SlotRange[], n: number) => {
      const out: string[] = [];
      for (let i = 0; out.length < n; i++) {
        const s = keyHashSlot(b(`k${i}`));
        if (s >= (r[0] as SlotRange).from && s <= (r[0] as SlotRange).to) out.push(`k${i}`);
      }
      return out;
    };
    let space: ShardSpace = new LmdbShardSpace({ path: dir, slotOf: keyHashSlot });
    let m1 = new ShardMachine({ store: space.openShard(1, low) });
    let m2 = new ShardMachine({ store: space.openShard(2, high) });
    m1.apply(inRange(low, 7).map((k, i) => cmd(i + 1, 1, ["SET", k, "1"])));
    m2.apply(inRange(high, 3).map((k, i) => cmd(i + 1, 1, ["SET", k, "2"])));
    assert.equal(await readNow(m1, ["DBSIZE"]), 7);
    assert.equal(await readNow(m2, ["DBSIZE"]), 3);
    const p = m2.expect(4, 1);
    m2.apply([cmd(4, 1, ["FLUSHALL"])]);
    assert.deepEqual(plain(await p), ok);
    assert.equal(await readNow(m1, ["DBSIZE"]), 7);
    await m1.close();
    await m2.close();
    await space.close();
    space = new LmdbShardSpace({ path: dir, slotOf: keyHashSlot });
    m1 = new ShardMachine({ store: space.openShard(1, low) });
    m2 = new ShardMachine({ store: space.openShard(2, high) });
    assert.deepEqual([m1.applied, m2.applied], [7, 4]);
    assert.equal(await readNow(m1, ["DBSIZE"]), 7);
    assert.equal(await readNow(m2, ["DBSIZE"]), 0);
    assert.deepEqual(await readNow(m1, ["KEYS", "*"]), [...inRange(low, 7)].sort());
    await m1.close();
    await m2.close();
    await space.close();
  });
});

// ---- end to end on the multi-raft host ---------------------------------------------------

interface E2eNode {
  id: NodeId;
  mr: MultiRaft<MemoryGroupLog>;
  machine: ShardMachine;
  logs: MemoryRaftLogs;
  space: MemoryShardSpace;
}

/** Three MultiRaft nodes on a lock-step network, each hosting group 1 as a ShardMachine. */
class Trio {
  readonly nodes: E2eNode[] = [];
  private queue: { from: NodeId; to: NodeId; bytes: Uint8Array }[] = [];
  readonly cut = new Set<NodeId>();
  private readonly random = new SeededRandom(11);
  readonly conf: ConfState = { voters: [1, 2, 3], learners: [] };

  constructor(
    private readonly compactEntries: number,
    /** Keys of a compaction image built per step (MultiRaft.stepImages). */
    private readonly imageSliceKeys = 64,
  ) {
    for (const id of [1, 2, 3]) {
      this.nodes.push(this.start(id, new MemoryRaftLogs(), new MemoryShardSpace(keyHashSlot)));
    }
  }

  /** Node `id` on the given disks: raft logs and key space. */
  private start(id: NodeId, logs: MemoryRaftLogs, space: MemoryShardSpace): E2eNode {
    const send = (to: NodeId, bytes: Uint8Array) => this.queue.push({ from: id, to, bytes });
    const mr = new MultiRaft(id, lanConfig(id), this.random.fork(), logs, send, {
      compactEntries: this.compactEntries,
    });
    const machine = memoryMachine(space);
    mr.addGroup(1, this.conf, machine);
    return { id, mr, machine, logs, space };
  }

  /** Node `id`'s process crashes and starts again on the same disks. */
  restart(id: NodeId): E2eNode {
    const old = this.node(id);
    old.space.crash();
    const node = this.start(id, old.logs.restart(), old.space);
    this.nodes[id - 1] = node;
    return node;
  }

  node(id: NodeId): E2eNode {
    return this.nodes[id - 1] as E2eNode;
  }

  step(): void {
    const inflight = this.queue;
    this.queue = [];
    for (const w of inflight) {
      if (this.cut.has(w.from) || this.cut.has(w.to)) continue;
      this.node(w.to).mr.receive(w.from, w.bytes);
    }
    for (const n of this.nodes) {
      n.mr.tick();
      n.mr.flush();
      n.mr.stepImages(this.imageSliceKeys);
    }
  }

  async until(what: string, done: () => boolean, stepsMax = 300): Promise<void> {
    for (let i = 0; i < stepsMax; i++) {
      if (done()) return;
      this.step();
      await settle();
    }
    assert.fail(`not ${what} after ${stepsMax} steps`);
  }

  /** Node 1 campaigns; the leader once there is one. */
  async elect(): Promise<E2eNode> {
    this.node(1).mr.campaign(1);
    await this.until("a leader", () => this.leader() !== undefined);
    return this.leader() as E2eNode;
  }

  /** Sets keys k0, k1... k`count - 1` to `value` in one entry (MSET) through `leader`. */
  async fill(leader: E2eNode, count: number, value: string): Promise<string[]> {
    const keys = Array.from({ length: count }, (_, i) => `k${i}`);
    await drive(this, this.propose(leader, ["MSET", ...keys.flatMap((k) => [k, value])], START_MS));
    return keys;
  }

  /** `lagging` applies all `leader` has, having restored at least one snapshot on the way. */
  async caughtUpFromSnapshot(lagging: E2eNode, leader: E2eNode): Promise<void> {
    await this.until(
      "the follower caught up",
      () => lagging.machine.applied >= leader.machine.applied,
    );
    assert.ok(lagging.machine.stats.snapshotsRestored >= 1, "no snapshot was installed");
  }

  /** Every replica applies what `leader` has, and their images are byte for byte alike. */
  async converged(leader: E2eNode): Promise<void> {
    await this.until("all applied", () =>
      this.nodes.every((n) => n.machine.applied === leader.machine.applied),
    );
    const image = Buffer.from(leader.machine.snapshot());
    for (const n of this.nodes) assert.deepEqual(Buffer.from(n.machine.snapshot()), image);
  }

  leader(): E2eNode | undefined {
    return this.nodes.find((n) => !this.cut.has(n.id) && n.mr.status(1)?.role === "leader");
  }

  propose(leader: E2eNode, args: string[], nowMs: number): Promise<Reply> {
    const data = encodeLogCommand(command(args, nowMs, 5));
    const r = leader.mr.propose(1, data);
    assert.ok(r.ok, r.ok ? "" : r.reason);
    return leader.machine.expect(r.index, r.term);
  }
}

/** Resolves a promise while stepping the trio. */
async function drive<T>(t: Trio, p: Promise<T>, stepsMax = 100): Promise<T> {
  let done = false;
  let value: T | undefined;
  let failure: unknown;
  p.then(
    (v) => {
      done = true;
      value = v;
    },
    (e: unknown) => {
      done = true;
      failure = e;
    },
  );
  await t.until("settled", () => done, stepsMax);
  if (failure !== undefined) throw failure;
  return value as T;
}

describe("shard machine on the multi-raft host", () => {
  it("3 nodes: writes on the leader are answered, read back by read index, and converge", async () => {
    const t = new Trio(0);
    const leader = await t.elect();
    const writes = [
      t.propose(leader, ["SET", "a", "1"], START_MS),
      t.propose(leader, ["INCR", "a"], START_MS + 1),
      t.propose(leader, ["SET", "b", "x", "PX", "100000"], START_MS + 2),
      t.propose(leader, ["APPEND", "b", "yz"], START_MS + 3),
    ];
    const replies = [];
    for (const w of writes) replies.push(plain(await drive(t, w)));
    assert.deepEqual(replies, [ok, 2, ok, 3]);

    const id = leader.machine.newReadId();
    assert.ok(leader.mr.readIndex(1, id).ok);
    const read = leader.machine.read(id, [b("MGET"), b("a"), b("b")], START_MS + 10);
    assert.deepEqual(plain(await drive(t, read)), ["2", "xyz"]);

    await t.converged(leader);
  });

  it("a follower cut off past compaction catches up from the leader's snapshot", async () => {
    const t = new Trio(8);
    const leader = await t.elect();
    const lagging = t.nodes.find((n) => n !== leader) as E2eNode;
    t.cut.add(lagging.id);
    for (let i = 0; i < 60; i++) {
      const reply = plain(await drive(t, t.propose(leader, ["INCR", `n${i % 3}`], START_MS + i)));
      assert.equal(reply, Math.floor(i / 3) + 1);
    }
    t.cut.delete(lagging.id);
    await t.caughtUpFromSnapshot(lagging, leader);
    assert.equal(await readNow(lagging.machine, ["GET", "n0"]), "20");
    await t.converged(leader);
  });

  it("an image built in slices while writes go on is the state at the index it began at", async () => {
    const t = new Trio(40, 4);
    const leader = await t.elect();
    const keys = await t.fill(leader, 200, "0");
    const lagging = t.nodes.find((n) => n !== leader) as E2eNode;
    const counts = new Map(keys.map((k) => [k, 0]));
    const random = new SeededRandom(3);
    let duringImage = 0;
    for (let i = 0; i < 400; i++) {
      // Connected, the leader compacts every compactEntries; then past a cut-off follower
      // (which will need the snapshot), only once its log is long (laggardLogFactor).
      if (i === 150) t.cut.add(lagging.id);
      const key = keys[random.int(keys.length)] as string;
      if (leader.mr.imagesPending > 0) duringImage++;
      const reply = plain(await drive(t, t.propose(leader, ["INCR", key], START_MS + i)));
      counts.set(key, (counts.get(key) as number) + 1);
      assert.equal(reply, counts.get(key));
    }
    const { imagesBegun, snapshotsTaken, imagesDropped } = leader.mr.stats;
    assert.ok(snapshotsTaken >= 3, `${snapshotsTaken} compactions`);
    assert.equal(imagesBegun - imagesDropped - leader.mr.imagesPending, snapshotsTaken);
    assert.ok(duringImage >= 20, `only ${duringImage} writes while an image was being built`);
    t.cut.delete(lagging.id);
    await t.caughtUpFromSnapshot(lagging, leader);
    // An image holding a write made after its index would count that INCR twice here.
    const values = await readNow(lagging.machine, ["MGET", ...keys]);
    assert.deepEqual(
      values,
      keys.map((k) => String(counts.get(k))),
    );
    await t.converged(leader);
  });

  it("an image under way is given up when the state is cleared; the next one completes", async () => {
    const t = new Trio(20, 1);
    const leader = await t.elect();
    await t.fill(leader, 100, "0");
    let i = 0;
    while (leader.mr.imagesPending === 0) {
      assert.ok(++i < 100, "no compaction began");
      await drive(t, t.propose(leader, ["INCR", "k0"], START_MS + i));
    }
    const taken = leader.mr.stats.snapshotsTaken;
    assert.deepEqual(plain(await drive(t, t.propose(leader, ["FLUSHALL"], START_MS + i))), ok);
    assert.equal(leader.mr.imagesPending, 0);
    assert.equal(leader.mr.stats.imagesDropped, 1);
    assert.match(leader.mr.lastImageError, /group 1: the store was cleared/);
    while (leader.mr.stats.snapshotsTaken === taken) {
      assert.ok(++i < 200, "no compaction after the clear");
      await drive(t, t.propose(leader, ["INCR", "n"], START_MS + i));
    }
    // The stored snapshot is of the clear or after it: "n" at most.
    const snap = leader.mr.raftOf(1)?.log.snapshot() as Snapshot;
    const restored = new ShardMachine({
      store: new MemoryShardSpace(keyHashSlot).openShard(1, ALL_SLOTS),
    });
    restored.restore(snap);
    assert.deepEqual(await readNow(restored, ["KEYS", "k*"]), []);
    assert.ok(((await readNow(restored, ["DBSIZE"])) as number) <= 1);
  });

  it("a big state compacts once the entries since hold as many bytes as it does", async () => {
    const t = new Trio(10);
    const leader = await t.elect();
    const big = "v".repeat(200);
    await t.fill(leader, 200, big);
    let i = 0;
    const incr = async (n: number) => {
      for (let k = 0; k < n; k++) await drive(t, t.propose(leader, ["INCR", "n"], START_MS + ++i));
    };
    await incr(20);
    const stateBytes = leader.machine.dataBytes();
    assert.ok(stateBytes > 40_000, `${stateBytes} bytes`);
    const taken = () => leader.mr.stats.snapshotsTaken + leader.mr.imagesPending;
    const before = taken();
    // 100 entries of ~40 bytes: ten times compactEntries, a tenth of the state's bytes.
    await incr(100);
    assert.equal(taken(), before, "compacted before the log held the state's bytes");
    for (let k = 0; taken() === before; k++) {
      assert.ok(k < 300, "no compaction once the log held the state's bytes");
      await drive(t, t.propose(leader, ["SET", `k${k % 200}`, big], START_MS + ++i));
    }
  });

  it("nodes restarted on their disks skip what their key space holds and converge", async () => {
    const t = new Trio(8);
    let leader = await t.elect();
    let expected = 0;
    const incr = async (n: number) => {
      for (let i = 0; i < n; i++) {
        leader = t.leader() as E2eNode;
        assert.equal(
          plain(await drive(t, t.propose(leader, ["INCR", "n"], START_MS + expected))),
          ++expected,
        );
      }
    };
    await incr(20);
    await t.until("all applied", () =>
      t.nodes.every((n) => n.machine.applied === leader.machine.applied),
    );
    const follower = t.nodes.find((n) => n !== leader) as E2eNode;
    const restarted = t.restart(follower.id);
    // The key space came back at its mark; the host's stored snapshot is not newer.
    assert.ok(restarted.machine.applied > 0);
    await incr(5);
    const { entriesSkipped, snapshotsIgnored } = restarted.machine.stats;
    assert.ok(entriesSkipped > 0, "the host re-applied nothing the key space held");
    assert.ok(snapshotsIgnored > 0, "the stored snapshot was not handed in");
    t.restart(leader.id);
    await t.until("a leader again", () => t.leader() !== undefined);
    await incr(5);
    await t.until("all applied", () =>
      t.nodes.every((n) => n.machine.applied === (t.leader() as E2eNode).machine.applied),
    );
    for (const n of t.nodes) assert.equal(await readNow(n.machine, ["GET", "n"]), String(expected));
    const image = Buffer.from((t.leader() as E2eNode).machine.snapshot());
    for (const n of t.nodes) assert.deepEqual(Buffer.from(n.machine.snapshot()), image);
  });
});

describe("shard machine: transactions", () => {
  /** A HOMEOSTAT TRANSACTION entry, as the router proposes an EXEC. */
  function tx(index: number, term: number, body: TransactionBody): Entry {
    const args = ["HOMEOSTAT", "TRANSACTION", Buffer.from(encodeTransaction(body))];
    return entryOf(index, term, encodeLogCommand(command(args, START_MS + index, index)));
  }

  it("runs the queued commands in one entry and answers their replies, errors included", async () => {
    const m = memoryMachine();
    const p = m.expect(1, 1);
    m.apply([
      tx(1, 1, {
        watches: [],
        commands: [
          [b("SET"), b("{t}a"), b("1")],
          [b("INCR"), b("{t}a")],
          [b("INCR"), b("{t}a"), b("extra")],
          [b("GET"), b("{t}a")],
        ],
      }),
    ]);
    assert.deepEqual(plain(await p), [
      ok,
      2,
      err("ERR wrong number of arguments for 'incr' command"),
      "2",
    ]);
  });

  it("answers a null array, running nothing, when a watched key's fingerprint changed", async () => {
    const m = memoryMachine();
    const seen = m.expect(1, 1);
    m.apply([cmd(1, 1, ["SET", "{t}w", "old"])]);
    await seen;
    const id = m.newReadId();
    const read = m.read(id, [b("HOMEOSTAT"), b("FINGERPRINT"), b("{t}w"), b("{t}none")], START_MS);
    m.reads([{ id, index: m.applied }]);
    const got = await read;
    assert.equal(got.kind, "array");
    assert.ok(got.kind === "array");
    const [f, none] = got.value as [Reply, Reply];
    assert.equal(f.kind, "bulk");
    assert.equal(none.kind, "null");
    const watches = [
      { key: b("{t}w"), fingerprint: Buffer.from((f as { value: Buffer }).value) },
      { key: b("{t}none"), fingerprint: null },
    ];
    const body = { watches, commands: [[b("INCR"), b("{t}n")]] };
    const first = m.expect(2, 1);
    m.apply([tx(2, 1, body)]);
    assert.deepEqual(plain(await first), [1]);
    const changed = m.expect(4, 1);
    m.apply([cmd(3, 1, ["SET", "{t}w", "new"]), tx(4, 1, body)]);
    assert.equal((await changed).kind, "nullArray");
    assert.deepEqual(await readNow(m, ["GET", "{t}n"]), "1");
  });

  it("runs nothing when a key is not in the shard's slots", async () => {
    const low: SlotRange[] = [{ from: 0, to: 8191 }];
    const m = memoryMachine(undefined, 1, low);
    const foreign = ["a", "b", "c", "d", "e"].find((k) => keyHashSlot(b(k)) > 8191) as string;
    const own = ["a", "b", "c", "d", "e"].find((k) => keyHashSlot(b(k)) <= 8191) as string;
    const p = m.expect(1, 1);
    m.apply([
      tx(1, 1, {
        watches: [],
        commands: [
          [b("SET"), b(own), b("1")],
          [b("SET"), b(foreign), b("2")],
        ],
      }),
    ]);
    assert.match((plain(await p) as { error: string }).error, /^TRYAGAIN slot \d+ is not served/);
    assert.equal(m.store.size(), 0);
  });

  it("answers an undecodable transaction with an error, on every replica alike", async () => {
    const m = memoryMachine();
    const p = m.expect(1, 1);
    m.apply([cmd(1, 1, ["HOMEOSTAT", "TRANSACTION", "garbage"])]);
    assert.match((plain(await p) as { error: string }).error, /^ERR/);
    assert.equal(m.applied, 1);
  });
});
