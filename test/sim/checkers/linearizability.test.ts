import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { SeededRandom } from "../../../src/core/random.js";
import {
  type CheckResult,
  type ClientId,
  type Counterexample,
  checkLinearizability,
  HistoryError,
  HistoryRecorder,
  type KvInput,
  type KvOutput,
  kvModel,
  type Model,
  type Operation,
  type RegisterInput,
  type RegisterOutput,
  registerModel,
  returned,
  UNKNOWN,
  unknownOutcome,
} from "../../../src/sim/checkers/linearizability.js";
import { LinearizedSet } from "../../../src/sim/checkers/linearized-set.js";

// ---------------------------------------------------------------- helpers

type RegisterOp = Operation<RegisterInput, RegisterOutput>;
type KvOp = Operation<KvInput, KvOutput>;

const get = (key: string): RegisterInput & KvInput => ({ op: "get", key });
const set = (key: string, value: string): RegisterInput & KvInput => ({ op: "set", key, value });
const incr = (key: string): KvInput => ({ op: "incr", key });

/** A returned operation: client, input, [call, return], output. */
function ok<I, O>(
  client: ClientId,
  input: I,
  call: number,
  ret: number,
  output: O,
): Operation<I, O> {
  return returned(client, input, call, ret, output);
}

function lost<I>(client: ClientId, input: I, call: number): Operation<I, never> {
  return unknownOutcome(client, input, call);
}

function check<S, I, O>(model: Model<S, I, O>, history: readonly Operation<I, O>[]): CheckResult {
  return checkLinearizability(model, history);
}

function assertLinearizable<S, I, O>(model: Model<S, I, O>, history: readonly Operation<I, O>[]) {
  const result = check(model, history);
  assert.equal(result.verdict, "linearizable", result.message);
}

function assertViolation<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  operation?: number,
): Counterexample {
  const result = check(model, history);
  assert.equal(result.verdict, "not-linearizable", result.message);
  assert.ok(result.verdict === "not-linearizable");
  if (operation !== undefined) {
    assert.equal(result.counterexample.operation, operation, result.message);
  }
  assert.ok(result.counterexample.pending.includes(result.counterexample.operation));
  return result.counterexample;
}

// ---------------------------------------------------------------- hand-written histories

describe("linearizability: hand-written register histories", () => {
  it("an empty history, and a sequential one, are linearizable", () => {
    assertLinearizable(registerModel, []);
    assertLinearizable(registerModel, [
      ok(1, get("x"), 0, 1, null),
      ok(1, set("x", "1"), 2, 3, "OK"),
      ok(2, get("x"), 4, 5, "1"),
      ok(2, set("x", "2"), 6, 7, "OK"),
      ok(1, get("x"), 8, 9, "2"),
    ]);
  });

  it("a stale read after a completed write is not linearizable", () => {
    const history: RegisterOp[] = [
      ok(1, set("x", "1"), 0, 10, "OK"),
      ok(1, set("x", "2"), 20, 30, "OK"),
      ok(2, get("x"), 40, 50, "1"),
    ];
    const c = assertViolation(registerModel, history, 2);
    assert.equal(c.key, "x");
    assert.deepEqual(c.linearized, [0, 1]);
    assert.equal(c.state, '"2"');
    assert.deepEqual(c.pending, [2]);
    // The same read while the second write is still running may see either value.
    assertLinearizable(registerModel, [history[0], history[1], ok(2, get("x"), 25, 35, "1")]);
  });

  it("a read of a value never written is not linearizable", () => {
    assertViolation(
      registerModel,
      [ok(1, set("x", "1"), 0, 10, "OK"), ok(2, get("x"), 5, 15, "3")],
      1,
    );
    assertViolation(registerModel, [ok(2, get("x"), 0, 1, "1")], 0);
  });

  it("concurrent writes may be seen in either order, but not in both", () => {
    const writes: RegisterOp[] = [
      ok(1, set("x", "1"), 0, 10, "OK"),
      ok(2, set("x", "2"), 0, 10, "OK"),
    ];
    for (const seen of ["1", "2"]) {
      assertLinearizable(registerModel, [
        ...writes,
        ok(3, get("x"), 20, 30, seen),
        ok(3, get("x"), 40, 50, seen),
      ]);
    }
    // Once both writes are over, the value cannot change again.
    assertViolation(
      registerModel,
      [...writes, ok(3, get("x"), 20, 30, "1"), ok(4, get("x"), 40, 50, "2")],
      3,
    );
    // While they run, one client may see 1 then 2, another 2 then 1 — but not both.
    const slow: RegisterOp[] = [
      ok(1, set("x", "1"), 0, 100, "OK"),
      ok(2, set("x", "2"), 0, 100, "OK"),
    ];
    const a: RegisterOp[] = [ok(3, get("x"), 10, 20, "1"), ok(3, get("x"), 30, 40, "2")];
    const b: RegisterOp[] = [ok(4, get("x"), 10, 20, "2"), ok(4, get("x"), 30, 40, "1")];
    assertLinearizable(registerModel, [...slow, ...a]);
    assertLinearizable(registerModel, [...slow, ...b]);
    const c = assertViolation(registerModel, [...slow, ...a, ...b]);
    // Both second reads return at 40: the one the search could not get past is one of them.
    assert.ok([3, 5].includes(c.operation));
  });

  it("a write whose outcome is unknown may have taken effect, or not", () => {
    const write = lost(1, set("x", "1"), 0);
    assertLinearizable(registerModel, [write, ok(2, get("x"), 10, 20, "1")]);
    assertLinearizable(registerModel, [write, ok(2, get("x"), 10, 20, null)]);
    // It may take effect long after the client gave up...
    assertLinearizable(registerModel, [
      write,
      ok(2, get("x"), 10, 20, null),
      ok(2, get("x"), 1000, 1010, "1"),
    ]);
    // ...but once seen it stays (nothing else writes), and never before its call.
    assertViolation(
      registerModel,
      [write, ok(2, get("x"), 10, 20, "1"), ok(2, get("x"), 30, 40, null)],
      2,
    );
    assertViolation(registerModel, [ok(2, get("x"), 0, 5, "1"), lost(1, set("x", "1"), 10)], 0);
  });

  it("equal times count as concurrent", () => {
    assertLinearizable(registerModel, [
      ok(1, set("x", "1"), 0, 10, "OK"),
      ok(2, get("x"), 10, 20, null),
    ]);
    assertViolation(
      registerModel,
      [ok(1, set("x", "1"), 0, 10, "OK"), ok(2, get("x"), 11, 20, null)],
      1,
    );
  });

  it("keys are checked separately, and the counterexample names the key", () => {
    const history: RegisterOp[] = [
      ok(1, set("a", "1"), 0, 10, "OK"),
      ok(1, set("b", "1"), 0, 10, "OK"),
      ok(2, get("a"), 20, 30, "1"),
      ok(2, get("b"), 20, 30, null),
      ok(2, get("a"), 40, 50, "1"),
    ];
    const c = assertViolation(registerModel, history, 3);
    assert.equal(c.key, "b");
    const result = check(registerModel, history);
    assert.ok(result.verdict === "not-linearizable");
    assert.match(result.message, /key "b"/);
    assert.match(result.message, /#3 client 2 \[20, 30\] GET b → \(nil\)/);
    assert.match(result.message, /#1 client 1 \[0, 10\] SET b "1" → "OK"/);
    assert.match(result.message, /leaving the state "1"/);
  });
});

describe("linearizability: hand-written Redis string histories", () => {
  it("a lost INCR is not linearizable", () => {
    assertViolation(kvModel, [ok(1, incr("n"), 0, 10, 1), ok(2, incr("n"), 0, 10, 1)]);
    assertLinearizable(kvModel, [
      ok(1, incr("n"), 0, 10, 2),
      ok(2, incr("n"), 0, 10, 1),
      ok(3, get("n"), 20, 30, "2"),
    ]);
    assertViolation(
      kvModel,
      [ok(1, incr("n"), 0, 10, 1), ok(2, incr("n"), 0, 10, 2), ok(3, get("n"), 20, 30, "1")],
      2,
    );
  });

  it("an INCR whose outcome is unknown may have counted, or not", () => {
    const lostIncr = lost(1, incr("n"), 0);
    assertLinearizable(kvModel, [lostIncr, ok(2, incr("n"), 10, 20, 1)]);
    assertLinearizable(kvModel, [lostIncr, ok(2, incr("n"), 10, 20, 2)]);
    assertViolation(kvModel, [lostIncr, ok(2, incr("n"), 10, 20, 3)], 1);
    assertViolation(kvModel, [ok(2, incr("n"), 0, 5, 2), lost(1, incr("n"), 10)], 0);
  });

  it("checks every command of the subset against Redis's replies", () => {
    let t = 0;
    const seq = (input: KvInput, output: KvOutput) => ok(1, input, t++, t++, output);
    const good: KvOp[] = [
      seq({ op: "get", key: "k" }, null),
      seq({ op: "append", key: "k", value: "é" }, 2),
      seq({ op: "append", key: "k", value: "1" }, 3),
      seq({ op: "incr", key: "k" }, { error: "ERR value is not an integer or out of range" }),
      seq({ op: "set", key: "k", value: "9", nx: true }, null),
      seq({ op: "setnx", key: "k", value: "9" }, 0),
      seq({ op: "getset", key: "k", value: "41" }, "é1"),
      seq({ op: "incr", key: "k" }, 42),
      seq({ op: "del", key: "k" }, 1),
      seq({ op: "del", key: "k" }, 0),
      seq({ op: "setnx", key: "k", value: "a" }, 1),
      seq({ op: "del", key: "k" }, 1),
      seq({ op: "set", key: "k", value: "b", nx: true }, "OK"),
      seq({ op: "set", key: "k", value: "007" }, "OK"),
      seq({ op: "incr", key: "k" }, { error: "ERR value is not an integer or out of range" }),
      seq({ op: "set", key: "k", value: "9223372036854775807" }, "OK"),
      seq({ op: "incr", key: "k" }, { error: "ERR increment or decrement would overflow" }),
      seq({ op: "get", key: "k" }, "9223372036854775807"),
    ];
    assertLinearizable(kvModel, good);
    // Every reply above is the only one allowed: change any one and the check fails there.
    const wrong: KvOutput[] = [
      "",
      1,
      4,
      5,
      "OK",
      1,
      "é",
      { error: "ERR" },
      0,
      1,
      0,
      0,
      null,
      null,
      8,
      null,
      0,
      null,
    ];
    assert.equal(wrong.length, good.length);
    for (let i = 0; i < good.length; i++) {
      const op = good[i] as KvOp & { outcome: "returned" };
      const history = good.slice();
      history[i] = { ...op, output: wrong[i] as KvOutput };
      assertViolation(kvModel, history, i);
    }
  });

  it("only one of two concurrent SETNX, SET NX or DEL can win", () => {
    const setnx = (value: string): KvInput => ({ op: "setnx", key: "k", value });
    assertViolation(kvModel, [ok(1, setnx("a"), 0, 10, 1), ok(2, setnx("b"), 0, 10, 1)]);
    assertLinearizable(kvModel, [
      ok(1, setnx("a"), 0, 10, 0),
      ok(2, setnx("b"), 0, 10, 1),
      ok(3, get("k"), 20, 30, "b"),
    ]);
    const setNx = (value: string): KvInput => ({ op: "set", key: "k", value, nx: true });
    assertViolation(kvModel, [ok(1, setNx("a"), 0, 10, "OK"), ok(2, setNx("b"), 0, 10, "OK")]);
    const del: KvInput = { op: "del", key: "k" };
    const history: KvOp[] = [ok(0, set("k", "v"), 0, 5, "OK")];
    assertLinearizable(kvModel, [...history, ok(1, del, 10, 20, 1), ok(2, del, 10, 20, 0)]);
    assertViolation(kvModel, [...history, ok(1, del, 10, 20, 1), ok(2, del, 10, 20, 1)]);
  });

  it("GETSET hands each old value to exactly one caller", () => {
    const getset = (value: string): KvInput => ({ op: "getset", key: "k", value });
    assertLinearizable(kvModel, [
      ok(1, getset("a"), 0, 10, "b"),
      ok(2, getset("b"), 0, 10, null),
      ok(3, get("k"), 20, 30, "a"),
    ]);
    assertViolation(kvModel, [ok(1, getset("a"), 0, 10, null), ok(2, getset("b"), 0, 10, null)]);
  });
});

describe("linearizability: budget, input errors, recorder", () => {
  /** n concurrent writes and a later read of a value none wrote: ~n·2^(n-1) states. */
  function hard(n: number): RegisterOp[] {
    const history: RegisterOp[] = [];
    for (let i = 0; i < n; i++) history.push(ok(i, set("x", `${i}`), 0, 100, "OK"));
    history.push(ok(n, get("x"), 200, 210, "none"));
    return history;
  }

  it("gives up with 'unknown' when the budget runs out, and decides with enough", () => {
    const small = checkLinearizability(registerModel, hard(12), { stepsMax: 1000 });
    assert.equal(small.verdict, "unknown", small.message);
    assert.ok(small.verdict === "unknown");
    assert.deepEqual(small.undecided, ["x"]);
    assert.equal(small.steps, 1000);
    assert.match(small.message, /^unknown: budget exhausted .*"x" \(stepsMax 1000 reached\)/);
    const cache = checkLinearizability(registerModel, hard(12), { cacheWordsMax: 100 });
    assert.equal(cache.verdict, "unknown", cache.message);
    assert.match(cache.message, /cacheWordsMax 100 reached/);
    const decided = checkLinearizability(registerModel, hard(12));
    assert.equal(decided.verdict, "not-linearizable");
    assert.ok(decided.verdict === "not-linearizable");
    assert.equal(decided.counterexample.operation, 12);
    // The search got all 12 writes in before the read; the message lists the last 8.
    assert.equal(decided.counterexample.linearized.length, 12);
    assert.deepEqual(decided.counterexample.pending, [12]);
    const ghosts = Array.from({ length: 10 }, (_, i) => ok(i, get("x"), 0, 10, "ghost"));
    assert.match(check(registerModel, ghosts).message, /\.\.\. and 2 more$/);
    assert.match(decided.message, /\(12 operation\(s\), the last 8 shown\)/);
  });

  it("a violation elsewhere outranks a partition left undecided", () => {
    const history = [...hard(12), ok(99, get("y"), 0, 1, "ghost")];
    const result = checkLinearizability(registerModel, history, { stepsMax: 1000 });
    assert.equal(result.verdict, "not-linearizable", result.message);
    assert.ok(result.verdict === "not-linearizable");
    assert.equal(result.counterexample.key, "y");
  });

  it("refuses malformed histories with HistoryError", () => {
    const bad: RegisterOp[][] = [
      [ok(1, get("x"), 10, 5, null)],
      [ok(1, get("x"), Number.NaN, 5, null)],
      [ok(1, get("x"), 0, Number.POSITIVE_INFINITY, null)],
      [lost(1, get("x"), Number.NEGATIVE_INFINITY)],
    ];
    for (const history of bad) {
      assert.throws(() => check(registerModel, history), HistoryError);
    }
  });

  it("HistoryRecorder records replies, failures and operations still running", () => {
    const recorder = new HistoryRecorder<RegisterInput, RegisterOutput>();
    const a = recorder.invoke("c1", set("x", "1"), 0);
    const b = recorder.invoke("c2", get("x"), 1);
    const c = recorder.invoke("c3", set("x", "2"), 2);
    recorder.invoke("c4", get("x"), 3);
    recorder.ok(a, "OK", 5);
    recorder.fail(c);
    recorder.ok(b, "2", 6);
    assert.throws(() => recorder.ok(a, "OK", 7), /not pending/);
    const history = recorder.history();
    assert.deepEqual(history, [
      ok("c1", set("x", "1"), 0, 5, "OK"),
      ok("c2", get("x"), 1, 6, "2"),
      lost("c3", set("x", "2"), 2),
      lost("c4", get("x"), 3),
    ]);
    assertLinearizable(registerModel, history);
  });

  it("models accept any output for an unknown outcome", () => {
    assert.deepEqual(registerModel.step("1", set("x", "2"), UNKNOWN), { ok: true, next: "2" });
    assert.deepEqual(kvModel.step("1", incr("x"), UNKNOWN), { ok: true, next: "2" });
    assert.deepEqual(kvModel.step("a", incr("x"), UNKNOWN), { ok: true, next: "a" });
  });
});

// ---------------------------------------------------------------- generated histories

/**
 * An independent reference for the Redis string commands (not the model's code): a map
 * of keys to values. Values in these tests are small, so Number arithmetic is exact.
 */
function reference(store: Map<string, string>, input: KvInput): KvOutput {
  const old = store.get(input.key) ?? null;
  switch (input.op) {
    case "get":
      return old;
    case "set":
      if (input.nx && old !== null) return null;
      store.set(input.key, input.value);
      return "OK";
    case "setnx":
      if (old !== null) return 0;
      store.set(input.key, input.value);
      return 1;
    case "getset":
      store.set(input.key, input.value);
      return old;
    case "del":
      return store.delete(input.key) ? 1 : 0;
    case "incr": {
      if (old !== null && !/^(0|-?[1-9][0-9]*)$/.test(old)) return { error: "ERR not integer" };
      const n = Number(old ?? "0") + 1;
      store.set(input.key, String(n));
      return n;
    }
    case "append":
      store.set(input.key, (old ?? "") + input.value);
      return new TextEncoder().encode((old ?? "") + input.value).length;
  }
}

/** What becomes of a generated operation. */
type Fate = "returned" | "lost, took effect" | "lost, never happened";

interface Step<I> {
  readonly input: I;
  readonly client: number;
  /** How long before and after its linearization point the call and return are. */
  readonly before: number;
  readonly after: number;
  readonly fate: Fate;
}

const fate = fc.constantFrom<Fate>(
  "returned",
  "returned",
  "returned",
  "returned",
  "lost, took effect",
  "lost, never happened",
);

function steps<I>(input: fc.Arbitrary<I>, maxLength: number): fc.Arbitrary<Step<I>[]> {
  const step = fc.record({
    input,
    client: fc.nat(9),
    before: fc.nat(60),
    after: fc.nat(60),
    fate,
  });
  return fc.array(step, { maxLength });
}

/** Spacing of linearization points: with intervals up to 60 either side, ~12 overlap. */
const pointGap = 10;

/**
 * A history of a sequential execution: the i-th step takes effect at 100 + 10·i, inside
 * its interval; outputs come from `apply`. Linearizable by construction.
 */
function execute<I, O>(plan: Step<I>[], apply: (input: I) => O): Operation<I, O>[] {
  return plan.map((s, i) => {
    const point = 100 + pointGap * i;
    if (s.fate === "lost, never happened") return unknownOutcome(s.client, s.input, point);
    const output = apply(s.input);
    if (s.fate === "lost, took effect") return unknownOutcome(s.client, s.input, point - s.before);
    return returned(s.client, s.input, point - s.before, point + s.after, output);
  });
}

const keys = fc.constantFrom("a", "b");
const registerInput = (value: fc.Arbitrary<string>): fc.Arbitrary<RegisterInput> =>
  fc.oneof(
    keys.map((key) => get(key)),
    fc.record({ key: keys, value }).map(({ key, value }) => set(key, value)),
  );
const digits = fc.constantFrom("0", "1", "2", "7", "10");
const kvInput: fc.Arbitrary<KvInput> = fc.oneof(
  keys.map((key): KvInput => ({ op: "get", key })),
  fc
    .record({ key: keys, value: digits, nx: fc.boolean() })
    .map((r): KvInput => ({ op: "set", ...r })),
  fc.record({ key: keys, value: digits }).map((r): KvInput => ({ op: "setnx", ...r })),
  fc.record({ key: keys, value: digits }).map((r): KvInput => ({ op: "getset", ...r })),
  fc.record({ key: keys, value: digits }).map((r): KvInput => ({ op: "append", ...r })),
  keys.map((key): KvInput => ({ op: "del", key })),
  keys.map((key): KvInput => ({ op: "incr", key })),
  keys.map((key): KvInput => ({ op: "incr", key })),
);

function registerApply(): (input: RegisterInput) => RegisterOutput {
  const store = new Map<string, string>();
  return (input) => {
    if (input.op === "get") return store.get(input.key) ?? null;
    store.set(input.key, input.value);
    return "OK";
  };
}

function kvApply(): (input: KvInput) => KvOutput {
  const store = new Map<string, string>();
  return (input) => reference(store, input);
}

/** Replaces operation `i`'s output. */
function corrupt<I, O>(history: Operation<I, O>[], i: number, output: O): Operation<I, O>[] {
  const op = history[i];
  assert.ok(op !== undefined && op.outcome === "returned");
  const copy = history.slice();
  copy[i] = { ...op, output };
  return copy;
}

const isReturned = <I, O>(op: Operation<I, O>): op is Operation<I, O> & { outcome: "returned" } =>
  op.outcome === "returned";

/**
 * A corruption of a register read that no linearization can explain, when one exists:
 * (a) a read from the future — the value of a write called after the read returned;
 * (b) a stale read — the value of a write w1 overwritten by a w2 that began after w1
 *     returned and returned before the read began (both returned, so both took effect);
 * (c) a value nobody wrote.
 * Writes carry unique values, so the value read identifies the write.
 */
function registerCorruption(history: RegisterOp[], read: number, kind: number): RegisterOutput {
  const g = history[read];
  assert.ok(g !== undefined && isReturned(g) && g.input.op === "get");
  const writes = history.flatMap((op) =>
    op.input.op === "set" && op.input.key === g.input.key
      ? [op as RegisterOp & { input: { value: string } }]
      : [],
  );
  if (kind === 0) {
    const future = writes.find((w) => w.callTime > g.returnTime);
    if (future !== undefined) return future.input.value;
  }
  if (kind <= 1) {
    for (const w1 of writes.filter(isReturned)) {
      const w2 = writes.find(
        (w) => isReturned(w) && w.callTime > w1.returnTime && w.returnTime < g.callTime,
      );
      if (w2 !== undefined) return w1.input.value;
    }
  }
  return "never written";
}

describe("linearizability: parts", () => {
  it("property: LinearizedSet snapshots are equal exactly when the sets are", () => {
    const changes = fc.record({
      returnedCount: fc.integer({ min: 0, max: 200 }),
      unknownCount: fc.integer({ min: 0, max: 70 }),
      picks: fc.array(fc.nat(), { maxLength: 300 }),
    });
    fc.assert(
      fc.property(changes, ({ returnedCount, unknownCount, picks }) => {
        const set = new LinearizedSet(returnedCount, unknownCount);
        const members = [
          ...Array.from({ length: returnedCount }, (_, i) => set.returnedMember(i)),
          ...Array.from({ length: unknownCount }, (_, i) => set.unknownMember(i)),
        ];
        fc.pre(members.length > 0);
        const reference = new Set<number>();
        const bySnapshot = new Map<string, string>();
        const hashOf = new Map<string, number>();
        // Grow mostly in order, as the search does, with some deletions out of order.
        for (const pick of picks) {
          const m = members[pick % members.length] as number;
          if (reference.has(m)) {
            set.delete(m);
            reference.delete(m);
          } else {
            set.add(m);
            reference.add(m);
          }
          assert.equal(set.has(m), reference.has(m));
          const key = [...reference].sort((a, b) => a - b).join(",");
          const snapshot = set.snapshot();
          const seen = bySnapshot.get(snapshot);
          if (seen !== undefined) assert.equal(seen, key, "one snapshot for two sets");
          bySnapshot.set(snapshot, key);
          const hash = hashOf.get(key);
          if (hash !== undefined) assert.equal(set.hash, hash);
          hashOf.set(key, set.hash);
        }
        const snapshots = new Set(bySnapshot.values());
        assert.equal(snapshots.size, bySnapshot.size, "two snapshots for one set");
      }),
      { numRuns: 300 },
    );
  });

  it("a LinearizedSet holding a prefix of the returned operations snapshots in few words", () => {
    const set = new LinearizedSet(10_000, 100);
    for (let i = 0; i < 9_000; i++) set.add(set.returnedMember(i));
    set.add(set.returnedMember(9_010));
    set.add(set.unknownMember(5));
    // loWord, the words from 9,000 to 9,010 (one or two), the unknown region's 4 words:
    // two UTF-16 code units each.
    assert.ok(set.snapshot().length <= 2 * (1 + 2 + 4), `${set.snapshot().length}`);
  });

  it("property: models' read-only replies leave every state as it is", () => {
    const state = fc.constantFrom<string | null>(null, "", "0", "1", "41", "-3", "abc", "007");
    const output = fc.constantFrom<KvOutput>(null, "OK", "1", 0, 1, 2, 42, { error: "ERR" });
    fc.assert(
      fc.property(state, kvInput, output, fc.boolean(), (s, input, out, lostReply) => {
        const reply = lostReply ? UNKNOWN : out;
        if (kvModel.readOnly?.(input, reply) !== true) return;
        const result = kvModel.step(s, input, reply);
        if (result.ok) assert.equal(result.next, s);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(state, registerInput(fc.constantFrom("1", "2")), output, (s, input, out) => {
        const reply = out as RegisterOutput;
        if (registerModel.readOnly?.(input, reply) !== true) return;
        const result = registerModel.step(s, input, reply);
        if (result.ok) assert.equal(result.next, s);
      }),
    );
  });
});

describe("linearizability: properties", () => {
  it("property: sequential executions in overlapping intervals are linearizable (register)", () => {
    fc.assert(
      fc.property(steps(registerInput(fc.constantFrom("1", "2", "3")), 40), (plan) => {
        assertLinearizable(registerModel, execute(plan, registerApply()));
      }),
      { numRuns: 200 },
    );
  });

  it("property: sequential executions in overlapping intervals are linearizable (strings)", () => {
    fc.assert(
      fc.property(steps(kvInput, 40), (plan) => {
        assertLinearizable(kvModel, execute(plan, kvApply()));
      }),
      { numRuns: 200 },
    );
  });

  it("property: a read from the future, a stale read or a value never written is caught", () => {
    const uniqueValues = steps(registerInput(fc.constant("")), 40).map((plan) =>
      plan.map((s, i) => (s.input.op === "set" ? { ...s, input: set(s.input.key, `v${i}`) } : s)),
    );
    fc.assert(
      fc.property(uniqueValues, fc.nat(), fc.nat(2), (plan, pick, kind) => {
        const history = execute(plan, registerApply());
        const reads = history.flatMap((op, i) =>
          isReturned(op) && op.input.op === "get" ? [i] : [],
        );
        fc.pre(reads.length > 0);
        const read = reads[pick % reads.length] as number;
        const bad = corrupt(history, read, registerCorruption(history, read, kind));
        // Reads change nothing: the history before the read's return stays linearizable,
        // so the search must get exactly as far as that return.
        assertViolation(registerModel, bad, read);
      }),
      { numRuns: 200 },
    );
  });

  it("property: an impossible GET, INCR or APPEND reply is caught (strings)", () => {
    // Values are digits only, so no value ever holds "x" and none is negative: INCR
    // replies an error or at least 1, APPEND at least 1.
    fc.assert(
      fc.property(steps(kvInput, 40), fc.nat(), (plan, pick) => {
        const history = execute(plan, kvApply());
        const targets = history.flatMap((op, i) =>
          isReturned(op) && ["get", "incr", "append"].includes(op.input.op) ? [i] : [],
        );
        fc.pre(targets.length > 0);
        const target = targets[pick % targets.length] as number;
        const op = history[target] as KvOp;
        const bad = corrupt(history, target, op.input.op === "get" ? "x" : 0);
        const c = assertViolation(kvModel, bad, op.input.op === "get" ? target : undefined);
        // A corrupted write may be caught by a later read that saw it, before it returned.
        assert.ok(c.pending.includes(target));
      }),
      { numRuns: 200 },
    );
  });

  it("property: agrees with a brute-force search on small arbitrary histories", (t) => {
    const tally = { linearizable: 0, "not-linearizable": 0, unknown: 0 };
    const timed = fc.record({
      client: fc.nat(3),
      call: fc.nat(20),
      duration: fc.nat(10),
      lost: fc.nat(4).map((n) => n === 0),
    });
    const registerOp = fc
      .tuple(
        timed,
        registerInput(fc.constantFrom("1", "2")).map((i) => ({ ...i, key: "a" })),
        fc.constantFrom<RegisterOutput>(null, "1", "2"),
      )
      .map(([t, input, read]) => toOp(t, input, input.op === "get" ? read : "OK"));
    const kvOp = fc
      .tuple(
        timed,
        kvInput.map((i) => ({ ...i, key: "a" })),
        fc.constantFrom<KvOutput>(null, "OK", "1", "2", "12", 0, 1, 2, 3, { error: "ERR" }),
      )
      .map(([t, input, output]) => toOp(t, input, output));
    function toOp<I, O>(
      t: { client: number; call: number; duration: number; lost: boolean },
      input: I,
      output: O,
    ): Operation<I, O> {
      return t.lost
        ? unknownOutcome(t.client, input, t.call)
        : returned(t.client, input, t.call, t.call + t.duration, output);
    }
    function agree<S, I, O>(model: Model<S, I, O>, history: readonly Operation<I, O>[]): void {
      const result = checkLinearizability(model, history);
      tally[result.verdict]++;
      assert.equal(result.verdict === "linearizable", bruteForce(model, history), result.message);
    }
    fc.assert(
      fc.property(fc.array(registerOp, { maxLength: 7 }), (h) => agree(registerModel, h)),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.array(kvOp, { maxLength: 7 }), (h) => agree(kvModel, h)),
      { numRuns: 500 },
    );
    assert.equal(tally.unknown, 0);
    t.diagnostic(`verdicts: ${JSON.stringify(tally)}`);
  });
});

/**
 * Linearizability by its definition, with no cache and no entry list: is there an order
 * of all returned operations and some unknown ones, each placed only when no operation
 * still unplaced returned before its call, that the model accepts?
 */
function bruteForce<S, I, O>(model: Model<S, I, O>, history: readonly Operation<I, O>[]): boolean {
  const placed = history.map(() => false);
  const minimal = (i: number): boolean =>
    history.every(
      (other, j) =>
        placed[j] ||
        !isReturned(other) ||
        other.returnTime >= (history[i] as Operation<I, O>).callTime,
    );
  const search = (state: S, returnedLeft: number): boolean => {
    if (returnedLeft === 0) return true;
    for (let i = 0; i < history.length; i++) {
      const op = history[i] as Operation<I, O>;
      if (placed[i] || !minimal(i)) continue;
      const result = model.step(state, op.input, isReturned(op) ? op.output : UNKNOWN);
      if (!result.ok) continue;
      placed[i] = true;
      if (search(result.next, returnedLeft - (isReturned(op) ? 1 : 0))) return true;
      placed[i] = false;
    }
    return false;
  };
  return search(model.init(), history.filter(isReturned).length);
}

// ---------------------------------------------------------------- scale

describe("linearizability: scale", () => {
  /**
   * 10 clients, each running one operation at a time (1–20 ms, 0–5 ms apart) on one of
   * `keyCount` keys; each takes effect at a random point of its interval; 2% are lost, half
   * of those having taken effect.
   */
  function workload(opCount: number, keyCount: number, seed: number): KvOp[] {
    const random = new SeededRandom(seed);
    const clients = 10;
    const free = new Array<number>(clients).fill(0);
    const planned: { input: KvInput; client: number; fate: Fate; call: number; ret: number }[] = [];
    const points: number[] = [];
    for (let n = 0; n < opCount; n++) {
      const client = n % clients;
      const call = (free[client] as number) + random.int(6);
      const ret = call + 1 + random.int(20);
      free[client] = ret;
      const key = `k${random.int(keyCount)}`;
      const kinds: KvInput[] = [
        { op: "get", key },
        { op: "get", key },
        { op: "set", key, value: `${random.int(10)}` },
        { op: "incr", key },
        { op: "append", key, value: `${random.int(10)}` },
        { op: "del", key },
        { op: "setnx", key, value: "1" },
        { op: "getset", key, value: "5" },
      ];
      const input = kinds[random.int(kinds.length)] as KvInput;
      const roll = random.int(100);
      const fate: Fate =
        roll === 0 ? "lost, took effect" : roll === 1 ? "lost, never happened" : "returned";
      planned.push({ input, client, fate, call, ret });
      points.push(call + random.next() * (ret - call));
    }
    // Apply in the order of the linearization points to get each reply.
    const store = new Map<string, string>();
    const outputs: KvOutput[] = [];
    const order = planned.map((_, i) => i);
    order.sort((a, b) => (points[a] as number) - (points[b] as number));
    for (const i of order) {
      const p = planned[i] as (typeof planned)[number];
      if (p.fate !== "lost, never happened") outputs[i] = reference(store, p.input);
    }
    return planned.map((p, i) =>
      p.fate === "returned"
        ? returned(p.client, p.input, p.call, p.ret, outputs[i] as KvOutput)
        : unknownOutcome(p.client, p.input, p.call),
    );
  }

  it("10,000 operations over 100 keys, 10 clients: linearizable, and a corruption caught", (t) => {
    const history = workload(10_000, 100, 42);
    let start = performance.now();
    const result = checkLinearizability(kvModel, history);
    const okMs = performance.now() - start;
    assert.equal(result.verdict, "linearizable", result.message);
    const read = history.findIndex(
      (op) => isReturned(op) && op.input.op === "get" && op.callTime > 5000,
    );
    const bad = corrupt(history, read, "x");
    start = performance.now();
    const failed = checkLinearizability(kvModel, bad);
    const badMs = performance.now() - start;
    assert.equal(failed.verdict, "not-linearizable");
    assert.ok(failed.verdict === "not-linearizable");
    assert.equal(failed.counterexample.operation, read);
    t.diagnostic(
      `linearizable in ${okMs.toFixed(0)} ms (${result.steps} steps); ` +
        `violation found in ${badMs.toFixed(0)} ms (${failed.steps} steps)`,
    );
  });

  it("5,000 operations on one hot key, 10 clients", (t) => {
    const history = workload(5_000, 1, 7);
    const start = performance.now();
    const result = checkLinearizability(kvModel, history);
    const ms = performance.now() - start;
    assert.equal(result.verdict, "linearizable", result.message);
    t.diagnostic(`linearizable in ${ms.toFixed(0)} ms (${result.steps} steps)`);
  });
});
