import type { GroupMachine, GroupStatus } from "../cluster/multi-raft.js";
import { ByteReader, ByteWriter, DecodeError } from "../core/bytes.js";
import { SeededRandom } from "../core/random.js";
import { arityAccepts, COMMAND_SPECS } from "../kv/command-table.js";
import { unknownCommand, wrongArity } from "../kv/errors.js";
import { KV_HANDLERS } from "../kv/handlers.js";
import type { ExecContext } from "../kv/types.js";
import type { Entry, ReadState, Snapshot } from "../raft/index.js";
import * as R from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";
import { MemoryStore } from "../storage/memory.js";
import type { StoredValue } from "../storage/types.js";
import type { ShardReplica } from "./cluster-router.js";

/** The version byte of a command entry and of a snapshot image. */
const commandVersion = 1;
const imageVersion = 1;
/** Arguments of one command in the log: Redis's own limit on a command's arity is far above any real one. */
const argsMax = 1 << 20;

/** A proposal whose outcome this replica cannot know (leadership moved, or a snapshot covered it). */
export class ProposalLost extends Error {
  override name = "ProposalLost";
}

/**
 * A client command as a log entry: the arguments, the leader's clock when it proposed
 * (every replica measures TTLs against this, so they agree on expiry), and a seed for
 * commands that draw randomness.
 */
export function encodeCommandEntry(
  args: readonly Buffer[],
  nowMs: number,
  seed: number,
): Uint8Array {
  const w = new ByteWriter();
  w.u8(commandVersion);
  w.f64(nowMs);
  w.u32(seed >>> 0);
  w.u32(args.length);
  for (const a of args) {
    w.u32(a.length);
    w.raw(a);
  }
  return w.done();
}

export interface CommandEntry {
  args: Buffer[];
  nowMs: number;
  seed: number;
}

/** Never throws: a bad entry is an error result (it cannot come from our own leader). */
export function decodeCommandEntry(
  data: Uint8Array,
): { ok: true; value: CommandEntry } | { ok: false; error: string } {
  try {
    const r = new ByteReader(data);
    if (r.u8() !== commandVersion) throw new DecodeError("unknown command entry version");
    const nowMs = r.f64();
    const seed = r.u32();
    const count = r.u32();
    if (count < 1 || count > argsMax) throw new DecodeError("bad argument count");
    const args: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const n = r.u32();
      if (n > r.remaining) throw new DecodeError("argument past the end");
      args.push(Buffer.from(r.bytesOf(n)));
    }
    if (r.remaining !== 0) throw new DecodeError("trailing bytes");
    return { ok: true, value: { args, nowMs, seed } };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/** Args over plain buffers, as the handlers read them. */
class BufferArgs implements Args {
  constructor(private readonly a: readonly Buffer[]) {}
  get length(): number {
    return this.a.length;
  }
  buf(i: number): Buffer {
    return this.a[i] as Buffer;
  }
  str(i: number): string {
    return (this.a[i] as Buffer).toString();
  }
  lower(i: number): string {
    return (this.a[i] as Buffer).toString("latin1").toLowerCase();
  }
  is(i: number, word: string): boolean {
    const b = this.a[i];
    return b !== undefined && b.length === word.length && this.lower(i) === word;
  }
  byteLength(i: number): number {
    return (this.a[i] as Buffer).length;
  }
}

interface Waiter {
  term: number;
  resolve(reply: Reply): void;
  reject(err: Error): void;
}

interface PendingRead {
  args: readonly Buffer[];
  resolve(reply: Reply): void;
  reject(err: Error): void;
}

/**
 * One shard's Redis key space, replicated by its raft group (MultiRaft's GroupMachine):
 * every replica applies the same commands with the same time and seed, through the same
 * handlers as a single node (kv/), so they hold the same keys and compute the same
 * replies. The proposer's replica resolves the client's reply when its entry applies.
 *
 * The key space is in memory; what makes it durable is raft's log (synced before any
 * write is acknowledged) and its snapshots, which carry the whole key space: a restart
 * restores the last snapshot and re-applies the log after it. A key space on LMDB of its
 * own, which would spare that replay and hold more than memory, is left to do
 * (docs/cluster.md).
 */
export class ShardMachine implements GroupMachine, ShardReplica {
  readonly store = new MemoryStore();
  private applied = 0;
  private readonly waiting = new Map<number, Waiter>();
  private readonly pendingReads = new Map<number, PendingRead>();
  private readonly ctx: ExecContext;

  constructor(
    private readonly now: () => number,
    maxBulkBytes: number,
  ) {
    this.ctx = { store: this.store, nowMs: 0, random: new SeededRandom(1), maxBulkBytes };
  }

  get appliedIndex(): number {
    return this.applied;
  }

  expect(index: number, term: number): Promise<Reply> {
    return new Promise((resolve, reject) => {
      if (index <= this.applied) {
        reject(new ProposalLost(`entry ${index} was applied before it was awaited`));
        return;
      }
      this.waiting.get(index)?.reject(new ProposalLost(`entry ${index} was overwritten`));
      this.waiting.set(index, { term, resolve, reject });
    });
  }

  read(id: number, args: readonly Buffer[]): Promise<Reply> {
    return new Promise((resolve, reject) => this.pendingReads.set(id, { args, resolve, reject }));
  }

  apply(entries: readonly Entry[]): void {
    for (const e of entries) {
      this.applied = e.index;
      let reply: Reply = R.OK;
      if (e.type === "normal" && e.data.length > 0) {
        const decoded = decodeCommandEntry(e.data);
        reply = decoded.ok
          ? this.run(decoded.value.args, decoded.value.nowMs, decoded.value.seed)
          : R.error(`ERR bad log entry: ${decoded.error}`);
      }
      const w = this.waiting.get(e.index);
      if (w === undefined) continue;
      this.waiting.delete(e.index);
      if (w.term === e.term) w.resolve(reply);
      else w.reject(new ProposalLost(`entry ${e.index} was overwritten by term ${e.term}`));
    }
    // Fold the overlay's layers into the in-memory backend (nothing to sync).
    this.store.flush().catch(() => {});
  }

  reads(reads: readonly ReadState[]): void {
    const nowMs = this.now();
    for (const rs of reads) {
      const p = this.pendingReads.get(rs.id);
      if (p === undefined) continue;
      this.pendingReads.delete(rs.id);
      p.resolve(this.run(p.args, nowMs, 0));
    }
  }

  roleChanged(status: GroupStatus): void {
    if (status.role === "leader") return;
    for (const [i, w] of this.waiting) {
      w.reject(new ProposalLost(`leadership lost before entry ${i} applied`));
    }
    this.waiting.clear();
    for (const p of this.pendingReads.values()) p.reject(new ProposalLost("leadership lost"));
    this.pendingReads.clear();
  }

  snapshot(): Uint8Array {
    const w = new ByteWriter();
    w.u8(imageVersion);
    w.u32(this.store.size());
    for (const key of this.store.keysFrom(undefined)) {
      const v = this.store.get(key) as StoredValue;
      w.u32(key.length);
      w.raw(key);
      w.u32(v.data.length);
      w.raw(v.data);
      w.f64(v.expireAtMs);
    }
    return w.done();
  }

  restore(snapshot: Snapshot): void {
    this.store.clear();
    if (snapshot.data.length > 0) {
      const r = new ByteReader(snapshot.data);
      if (r.u8() !== imageVersion) throw new DecodeError("unknown shard image version");
      const count = r.u32();
      for (let i = 0; i < count; i++) {
        const key = Buffer.from(r.bytesOf(r.u32()));
        const data = Buffer.from(r.bytesOf(r.u32()));
        this.store.set(key, { type: "string", data, expireAtMs: r.f64() });
      }
    }
    this.applied = snapshot.meta.index;
    for (const [i, w] of [...this.waiting]) {
      if (i > this.applied) continue;
      this.waiting.delete(i);
      w.reject(new ProposalLost(`a snapshot covered entry ${i}`));
    }
    this.store.flush().catch(() => {});
  }

  /** Runs one command as the single-node server would: arity, then the kv handler. */
  private run(argv: readonly Buffer[], nowMs: number, seed: number): Reply {
    const args = new BufferArgs(argv);
    const name = args.lower(0);
    const spec = COMMAND_SPECS.get(name);
    const handler = KV_HANDLERS.get(name);
    if (spec === undefined || handler === undefined) return unknownCommand(args);
    if (!arityAccepts(spec.arity, args.length)) return wrongArity(name);
    this.ctx.nowMs = nowMs;
    this.ctx.random = new SeededRandom(seed);
    try {
      return handler(this.ctx, args);
    } catch (err) {
      return R.error(`ERR internal error while running '${name}': ${String(err)}`);
    }
  }
}
