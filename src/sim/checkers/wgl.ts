import { assert } from "../../core/assert.js";
import type { Operation } from "./history.js";
import { LinearizedSet } from "./linearized-set.js";
import { type Model, type StepResult, UNKNOWN, type Unknown } from "./model.js";

/**
 * The search of Wing and Gong as improved by Lowe ("Testing for linearizability", 2017):
 * a depth-first search for a linearization of one partition's history, memoising each
 * (set of operations linearized, model state) it has been in, since the rest of the search
 * depends on nothing else. Two additions: read-only operations are placed without
 * branching (Search.tryReads), and the cache stores the linearized sets as small
 * snapshots (LinearizedSet). docs/linearizability.md explains it all at length.
 */

/** Limits on one partition's search. */
export interface SearchLimits {
  /** Model steps (attempts to linearize an operation) before giving up. */
  readonly stepsMax: number;
  /**
   * 32-bit words the cache may hold before giving up: each entry's linearized-set snapshot
   * plus cacheEntryOverheadWords for the objects around it (model states not counted).
   */
  readonly cacheWordsMax: number;
}

export type SearchOutcome =
  | { readonly verdict: "linearizable"; readonly steps: number }
  | {
      readonly verdict: "not-linearizable";
      readonly steps: number;
      /** Local index of the operation whose return no legal order gets past. */
      readonly blocked: number;
      /** A longest legal order found, covering every operation returned before that. */
      readonly linearized: readonly number[];
      /** The model state after `linearized`, described. */
      readonly state: string;
      /** Local indices of operations called before that return and not in `linearized`. */
      readonly pending: readonly number[];
    }
  | { readonly verdict: "unknown"; readonly steps: number; readonly exhausted: "steps" | "cache" };

/**
 * A call or a return, in a doubly linked list in time order. Linearizing an operation
 * lifts its call and return out of the list; backtracking puts them back where they were
 * (the entries keep their own prev/next, as in Knuth's dancing links).
 */
interface Entry {
  /** Local index of the operation. */
  readonly op: number;
  /** The operation's member number in the LinearizedSet (set on calls). */
  member: number;
  readonly isCall: boolean;
  /** A call the model says leaves every state as it is (Model.readOnly). */
  readOnly: boolean;
  /** Index in time order: the search's progress is the position of a return it reached. */
  position: number;
  /** A call's return (null when the outcome is unknown: it never has to be reached). */
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

/** The search stack, persistent: keeping the top keeps the whole path, at no cost. */
interface Frame<S> {
  readonly call: Entry;
  /** The model state before this operation. */
  readonly state: S;
  readonly parent: Frame<S> | null;
  /** A read-only call placed without trying the alternatives: see Search.tryReads. */
  readonly forced: boolean;
}

/** One (linearized set, state) pair; entries whose hashes collide are chained. */
interface CacheEntry<S> {
  readonly set: string;
  readonly state: S;
  readonly next: CacheEntry<S> | null;
}

/**
 * What a cache entry costs beside its snapshot, in 32-bit words: the entry object and the
 * map's slot, about 80 bytes on V8 (measured with process.memoryUsage over a million
 * entries: about 110 bytes per entry with a 28-byte snapshot).
 */
export const cacheEntryOverheadWords = 20;

/** The (linearized set, state) pairs the search has been in. */
class Cache<S> {
  private readonly entries = new Map<number, CacheEntry<S>>();
  words = 0;

  constructor(private readonly model: Pick<Model<S, never, never>, "hash" | "equal">) {}

  /** Adds the pair unless already present; whether it was added. */
  add(set: LinearizedSet, state: S): boolean {
    const key = (set.hash + Math.imul(this.model.hash(state), 0x9e3779b1)) | 0;
    const first = this.entries.get(key) ?? null;
    const snapshot = set.snapshot();
    for (let seen = first; seen !== null; seen = seen.next) {
      if (seen.set === snapshot && this.model.equal(seen.state, state)) return false;
    }
    this.entries.set(key, { set: snapshot, state, next: first });
    // Two UTF-16 code units per word.
    this.words += snapshot.length / 2 + cacheEntryOverheadWords;
    return true;
  }
}

/** Builds the entry list in time order: its head (a sentinel) and each operation's call. */
function buildList<I, O>(
  ops: readonly Operation<I, O>[],
  set: LinearizedSet,
): { head: Entry; calls: Entry[] } {
  const entries: Entry[] = [];
  const calls: Entry[] = [];
  const time = (e: Entry): number => {
    const op = ops[e.op] as Operation<I, O>;
    return e.isCall || op.outcome === "unknown" ? op.callTime : op.returnTime;
  };
  for (let i = 0; i < ops.length; i++) {
    const call: Entry = {
      op: i,
      member: -1,
      isCall: true,
      readOnly: false,
      position: 0,
      match: null,
      prev: null,
      next: null,
    };
    entries.push(call);
    calls.push(call);
    if ((ops[i] as Operation<I, O>).outcome === "returned") {
      const ret: Entry = {
        op: i,
        member: -1,
        isCall: false,
        readOnly: false,
        position: 0,
        match: call,
        prev: null,
        next: null,
      };
      call.match = ret;
      entries.push(ret);
    }
  }
  // Equal times count as concurrent — calls before returns — so a clock's coarse
  // resolution can never make the checker see an order that did not exist.
  entries.sort((a, b) => time(a) - time(b) || Number(b.isCall) - Number(a.isCall) || a.op - b.op);
  const head: Entry = {
    op: -1,
    member: -1,
    isCall: false,
    readOnly: false,
    position: -1,
    match: null,
    prev: null,
    next: null,
  };
  let last = head;
  let returnedCalls = 0;
  let unknownCalls = 0;
  for (let p = 0; p < entries.length; p++) {
    const e = entries[p] as Entry;
    e.position = p;
    if (e.isCall) {
      // Members in call order: what keeps LinearizedSet's snapshots small.
      e.member =
        e.match !== null ? set.returnedMember(returnedCalls++) : set.unknownMember(unknownCalls++);
    }
    e.prev = last;
    last.next = e;
    last = e;
  }
  return { head, calls };
}

function unlink(e: Entry): void {
  (e.prev as Entry).next = e.next;
  if (e.next !== null) e.next.prev = e.prev;
}

function relink(e: Entry): void {
  (e.prev as Entry).next = e;
  if (e.next !== null) e.next.prev = e;
}

function lift(call: Entry): void {
  unlink(call);
  if (call.match !== null) unlink(call.match);
}

/** Undoes `lift`; lifts must be undone in reverse order for the links to be right. */
function unlift(call: Entry): void {
  if (call.match !== null) relink(call.match);
  relink(call);
}

/** Searches one partition's operations (indices local to `ops`). */
export function searchLinearization<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  limits: SearchLimits,
): SearchOutcome {
  return new Search(model, ops, limits).run();
}

/** Why the search stopped short of a verdict. */
class BudgetExhausted {
  constructor(readonly exhausted: "steps" | "cache") {}
}

class Search<S, I, O> {
  private readonly set: LinearizedSet;
  private readonly head: Entry;
  private readonly calls: readonly Entry[];
  private readonly cache: Cache<S>;
  private state: S;
  private top: Frame<S> | null = null;
  private unlinearizedReturned: number;
  private steps = 0;
  /** The furthest return any path reached, with that path: the failure's explanation. */
  private deepest: { ret: Entry; top: Frame<S> | null; state: S } | null = null;

  constructor(
    private readonly model: Model<S, I, O>,
    private readonly ops: readonly Operation<I, O>[],
    private readonly limits: SearchLimits,
  ) {
    this.unlinearizedReturned = ops.filter((op) => op.outcome === "returned").length;
    this.set = new LinearizedSet(this.unlinearizedReturned, ops.length - this.unlinearizedReturned);
    const { head, calls } = buildList(ops, this.set);
    this.head = head;
    this.calls = calls;
    for (const call of calls) {
      call.readOnly = model.readOnly?.(this.input(call), this.output(call)) ?? false;
    }
    this.cache = new Cache<S>(model);
    this.state = model.init();
  }

  run(): SearchOutcome {
    try {
      // `resume` is where to go on trying writes at the current node: after a backtrack,
      // the call after the one whose subtree failed; null to start a fresh node.
      let resume: Entry | null = null;
      // Unknown outcomes never have to be linearized: done when every returned one is.
      while (this.unlinearizedReturned > 0) {
        const read = resume === null ? this.tryReads() : "none";
        if (read === "placed") continue;
        if (read === "none" && this.tryWrites(resume ?? (this.head.next as Entry))) {
          resume = null;
          continue;
        }
        // This node has no way forward: back up to the last node with choices left.
        const next = this.backtrack();
        if (next === null) return this.failure();
        resume = next;
      }
      return { verdict: "linearizable", steps: this.steps };
    } catch (e) {
      if (e instanceof BudgetExhausted) {
        return { verdict: "unknown", steps: this.steps, exhausted: e.exhausted };
      }
      throw e;
    }
  }

  /**
   * Places the first read-only call that the model accepts here, without trying the
   * others: if some linearization goes on from here, one goes on with that read first —
   * move the read to the front of it; everything it had to follow is placed already, it
   * sees this state, and taking it out of its old place changes no state. So if the
   * search fails after the read, it fails here ("dead"). A partial-order reduction;
   * docs/linearizability.md has the argument at length.
   */
  private tryReads(): "placed" | "none" | "dead" {
    for (let e = this.head.next; e?.isCall; e = e.next) {
      if (!e.readOnly) continue;
      const result = this.step(e);
      if (!result.ok) continue;
      assert(this.model.equal(result.next, this.state), "wgl: a read-only step changed the state");
      return this.place(e, this.state, true) ? "placed" : "dead";
    }
    return "none";
  }

  /** Places the first write from `from` on that the model accepts into a new (set, state). */
  private tryWrites(from: Entry): boolean {
    let e: Entry | null = from;
    for (; e?.isCall; e = e.next) {
      if (e.readOnly) continue;
      const result = this.step(e);
      if (result.ok && this.place(e, result.next, false)) return true;
    }
    // A return: every order of the calls before it has been tried from here.
    assert(e !== null, "wgl: walked past every return with returned operations left");
    if (this.deepest === null || e.position > this.deepest.ret.position) {
      this.deepest = { ret: e, top: this.top, state: this.state };
    }
    return false;
  }

  private step(e: Entry): StepResult<S> {
    if (this.steps === this.limits.stepsMax) throw new BudgetExhausted("steps");
    this.steps++;
    return this.model.step(this.state, this.input(e), this.output(e));
  }

  /** Linearizes `e` leading to `next`, unless (set + e, next) was seen; whether it did. */
  private place(e: Entry, next: S, forced: boolean): boolean {
    if (this.cache.words > this.limits.cacheWordsMax) throw new BudgetExhausted("cache");
    this.set.add(e.member);
    if (!this.cache.add(this.set, next)) {
      this.set.delete(e.member);
      return false;
    }
    this.top = { call: e, state: this.state, parent: this.top, forced };
    this.state = next;
    lift(e);
    if (e.match !== null) this.unlinearizedReturned--;
    return true;
  }

  /**
   * Undoes placements back to the latest one that was a choice among writes; returns the
   * call to try next there, or null when none is left (the history is not linearizable).
   */
  private backtrack(): Entry | null {
    for (;;) {
      const frame = this.top;
      if (frame === null) return null;
      this.top = frame.parent;
      this.state = frame.state;
      this.set.delete(frame.call.member);
      unlift(frame.call);
      if (frame.call.match !== null) this.unlinearizedReturned++;
      if (!frame.forced) {
        // The call was placed before a return still in the list, so one follows it.
        assert(frame.call.next !== null, "wgl: a placed call was last in the list");
        return frame.call.next;
      }
    }
  }

  private input(e: Entry): I {
    return (this.ops[e.op] as Operation<I, O>).input;
  }

  private output(e: Entry): O | Unknown {
    const op = this.ops[e.op] as Operation<I, O>;
    return op.outcome === "returned" ? op.output : UNKNOWN;
  }

  /** The explanation: the furthest return reached, and the path that reached it. */
  private failure(): SearchOutcome {
    const deepest = this.deepest;
    assert(deepest !== null, "wgl: failed without reaching a return");
    const linearized: number[] = [];
    for (let f = deepest.top; f !== null; f = f.parent) linearized.push(f.call.op);
    linearized.reverse();
    const done = new Set(linearized);
    const pending: number[] = [];
    for (const call of this.calls) {
      if (!done.has(call.op) && call.position < deepest.ret.position) pending.push(call.op);
    }
    assert(pending.includes(deepest.ret.op), "wgl: the blocked operation is not pending");
    return {
      verdict: "not-linearizable",
      steps: this.steps,
      blocked: deepest.ret.op,
      linearized,
      state: this.model.describeState(deepest.state),
      pending,
    };
  }
}
