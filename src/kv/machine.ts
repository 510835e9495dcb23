import { assert } from "../core/assert.js";
import { ByteReader, ByteWriter, DecodeError, pooledBytes } from "../core/bytes.js";
import { type Random, SeededRandom } from "../core/random.js";
import type { DecodeResult } from "../raft/codec.js";
import type { Entry, NodeId, RaftState, ReadState, Snapshot } from "../raft/types.js";
import { ArrayArgs } from "../resp/args.js";
import * as R from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";
import type { AppliedMark, ShardStore } from "../storage/shard-store.js";
import {
  type FrozenWalk,
  type StoredValue,
  VALUE_TYPE_CODES,
  VALUE_TYPES_BY_CODE,
} from "../storage/types.js";
import {
  arityAccepts,
  COMMAND_SPECS,
  type CommandSpec,
  keyIndexesOf,
  runSpec,
} from "./command-table.js";
import { isExpired } from "./db.js";
import { unknownCommand, wrongArity } from "./errors.js";
import { KV_HANDLERS } from "./handlers.js";
import { NOTIFY_EXPIRED, type Notifier, notifyKey } from "./notify.js";
import { decodeTransaction, fingerprint, sameFingerprint } from "./transaction.js";
import type { ExecContext } from "./types.js";

/**
 * One shard's Redis key space as a raft state machine. The raft host (cluster/multi-raft.ts)
 * drives it through apply / restore / snapshot / reads / roleChanged; the server talks to
 * it through expect() (the reply to a proposed command) and read() (a read-index read).
 *
 * A client command reaches the log as a `LogCommand`: its arguments, the time the leader
 * gave it, and a seed. Every replica runs it through the same path as the single-node
 * server (command table, arity, the handler in KV_HANDLERS) with that time and a Random
 * seeded from that seed, so every replica computes the same state and the same reply — an
 * error reply included: a command that fails fails on every replica, and is still applied.
 *
 * Durability and restart. The keys live in a ShardStore (storage/shard-store.ts), which
 * commits each batch of writes together with this machine's applied index and time (the
 * `AppliedMark`) and does NOT sync: raft's log, synced before anything is acknowledged, is
 * the durable record. After a crash the store reopens at some committed batch, and this
 * machine with it, at the batch's applied index; the host then hands it the group's stored
 * snapshot (restore) and the committed entries after it (apply). So:
 *
 *   - apply skips entries at or below the applied index: their effects are in the store;
 *   - restore ignores a snapshot at or below the applied index: the store is already
 *     past it, and the entries after the snapshot that it holds are skipped in turn.
 *
 * Entries that write nothing (GETs that were proposed, failed commands, no-ops) do not
 * move the stored mark; re-applying them after a crash changes nothing. The command time
 * applied is max(entry's time, the last one applied), so TTLs never move backwards when
 * leadership passes to a node whose clock is behind; that time is stored with the mark and
 * carried in snapshots, so it is replicated state like the keys.
 *
 * A storage failure (disk full, I/O error) rolls the store back to what it had committed,
 * which is behind what this machine applied. The machine then fails: pending reads and
 * proposals are rejected, and apply/restore/snapshot/reads throw, which makes the host
 * unusable (MultiRaft.flush): the node recreates it from its logs and reopens the shards,
 * as after a crash.
 */

// ---- the log entry codec -------------------------------------------------------------------

/**
 * What a shard's log carries (an entry's data):
 *   - "command": a client command, with the leader's time `nowMs` and a `seed` for the
 *     Random of commands that draw (RANDOMKEY, later SPOP and kin);
 *   - "expire": the active expiry cycle, run as a logged command so that every replica
 *     deletes the same keys. The leader picks them (ShardMachine.expiredKeys) and the
 *     entry names them, as a Redis master sends DELs for the keys it expires: which keys
 *     a bounded "delete N expired keys" finds depends on a store's layout and on what it
 *     has flushed, so replicas running one would delete different keys.
 */
export type LogCommand =
  | {
      readonly kind: "command";
      readonly nowMs: number;
      readonly seed: number;
      /** The argument vector, the command name first. */
      readonly args: readonly Uint8Array[];
    }
  | {
      readonly kind: "expire";
      readonly nowMs: number;
      /** The keys to delete if they are expired at nowMs (the leader's expiredKeys). */
      readonly keys: readonly Uint8Array[];
    };

/**
 * entry   = version:u8 kind:u8 nowMs:u64 body          (big-endian)
 * command = seed:u32 argc:u32 (length:u32 bytes){argc}
 * expire  = count:u32 (length:u32 bytes){count}
 */
export const logEntryVersion = 1;
const kindCommand = 1;
const kindExpire = 2;
/** Redis's limit on a request's argument count (a multibulk of 1,048,576 items). */
export const logArgsMax = 1024 * 1024;
/** One expiry entry names at most this many keys: bounds the work of one entry. */
export const logExpireKeysMax = 100_000;
const headerBytes = 1 + 1 + 8;
const u32Bound = 0x1_0000_0000;

/** Encodes a command for the log. Throws (a programmer error) on out-of-range fields. */
export function encodeLogCommand(cmd: LogCommand): Uint8Array {
  assert(Number.isSafeInteger(cmd.nowMs) && cmd.nowMs >= 0, "log entry: bad nowMs");
  const expire = cmd.kind === "expire";
  const parts = expire ? cmd.keys : cmd.args;
  const count = parts.length;
  assert(count >= 1 && count <= (expire ? logExpireKeysMax : logArgsMax), "log entry: bad count");
  let size = headerBytes + (expire ? 4 : 8);
  for (const a of parts) size += 4 + a.length;
  // A slice of Node's pool, not a buffer of its own: no malloc, no zero fill, no DataView
  // (a ByteWriter's were 1% of a node's CPU at 50 writers). The entry dies young: the
  // raft log keeps what it caches as views of its own frames.
  const out = pooledBytes(size);
  out[0] = logEntryVersion;
  out[1] = expire ? kindExpire : kindCommand;
  putU32(out, 2, Math.floor(cmd.nowMs / u32Bound));
  putU32(out, 6, cmd.nowMs >>> 0);
  let at = headerBytes;
  if (!expire) {
    assert(
      Number.isInteger(cmd.seed) && cmd.seed >= 0 && cmd.seed < u32Bound,
      "log entry: bad seed",
    );
    at = putU32(out, at, cmd.seed);
  }
  at = putU32(out, at, count);
  for (const a of parts) {
    at = putU32(out, at, a.length);
    out.set(a, at);
    at += a.length;
  }
  return out;
}

/** Writes `v` (a u32) big-endian at `at`; returns the offset after it. */
function putU32(b: Uint8Array, at: number, v: number): number {
  b[at] = v >>> 24;
  b[at + 1] = v >>> 16;
  b[at + 2] = v >>> 8;
  b[at + 3] = v;
  return at + 4;
}

/**
 * A client command as the server parsed it (its `Args` die when the handler returns, so
 * they are copied here). `seed` is a u32 the leader draws from its Random.
 */
export function encodeClientCommand(args: Args, nowMs: number, seed: number): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < args.length; i++) parts.push(args.buf(i));
  return encodeLogCommand({ kind: "command", nowMs, seed, args: parts });
}

/** A ByteReader that hands out views (Buffers) instead of copies. */
class ViewReader extends ByteReader {
  take(n: number): Buffer {
    this.need(n);
    const b = this.bytes;
    // A Buffer's subarray is a Buffer already, made without Buffer.from's checks.
    const v =
      b instanceof Buffer
        ? b.subarray(this.offset, this.offset + n)
        : Buffer.from(b.buffer, b.byteOffset + this.offset, n);
    this.offset += n;
    return v;
  }
}

/**
 * Decodes an entry's data. Never throws: garbage, truncation, trailing bytes, an unknown
 * version or kind and counts past their bounds give { ok: false, error }. A command's
 * arguments are VIEWS into `bytes` (apply runs them without copying); copy to keep them.
 */
export function decodeLogCommand(bytes: Uint8Array): DecodeResult<LogCommand> {
  try {
    const r = new ViewReader(bytes);
    const version = r.u8();
    if (version !== logEntryVersion) throw new DecodeError(`unknown entry version ${version}`);
    const kind = r.u8();
    const nowMs = r.u64();
    let value: LogCommand;
    if (kind === kindCommand) {
      const seed = r.u32();
      value = { kind: "command", nowMs, seed, args: readParts(r, logArgsMax) };
    } else if (kind === kindExpire) {
      value = { kind: "expire", nowMs, keys: readParts(r, logExpireKeysMax) };
    } else {
      throw new DecodeError(`unknown entry kind ${kind}`);
    }
    if (r.remaining !== 0) throw new DecodeError("trailing bytes");
    return { ok: true, value };
  } catch (e) {
    if (e instanceof DecodeError) return { ok: false, error: e.message };
    throw e;
  }
}

/** count:u32 (length:u32 bytes){count}, 1 ≤ count ≤ max, as views. */
function readParts(r: ViewReader, max: number): Uint8Array[] {
  const count = r.u32();
  if (count === 0 || count > max) throw new DecodeError(`bad count ${count}`);
  // Each part takes at least its 4-byte length: refuse before allocating.
  if (count * 4 > r.remaining) throw new DecodeError("truncated");
  // Sized at once: an array grown by push from empty holds room for 17.
  const parts = new Array<Uint8Array>(count);
  for (let i = 0; i < count; i++) parts[i] = r.take(r.u32());
  return parts;
}

/**
 * Internal commands that reach a shard as a client command's argument vector: HOMEOSTAT
 * TRANSACTION <body> (a MULTI/EXEC, kv/transaction.ts), logged and applied as one entry,
 * HOMEOSTAT FINGERPRINT <key>... (WATCH), a read of the keys' fingerprints, and HOMEOSTAT
 * SLOTKEYS <slot> [<max>] (CLUSTER COUNTKEYSINSLOT and GETKEYSINSLOT), a read of the
 * count of a slot's keys, or of up to max of them.
 */
export function isInternal(args: Args, sub: "transaction" | "fingerprint" | "slotkeys"): boolean {
  return args.length >= 3 && args.is(0, "homeostat") && args.is(1, sub);
}
const fingerprintRead = "homeostat|fingerprint";
const slotKeysRead = "homeostat|slotkeys";

/** HOMEOSTAT SLOTKEYS's slot and bound (undefined: the count), or null if malformed. */
export function slotKeysArgs(args: Args): { slot: number; max: number | undefined } | null {
  if (args.length !== 3 && args.length !== 4) return null;
  const slot = Number(args.str(2));
  const max = args.length === 4 ? Number(args.str(3)) : undefined;
  if (!Number.isInteger(slot) || slot < 0 || slot >= 16_384) return null;
  if (max !== undefined && !(Number.isSafeInteger(max) && max >= 0)) return null;
  return { slot, max };
}

/** A fresh u32 seed for a LogCommand. */
export function drawSeed(random: Random): number {
  return random.int(u32Bound);
}

/** Copies of a parsed command's arguments, to outlive the parser's buffer (for read()). */
export function copyArgs(args: Args): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < args.length; i++) out.push(Buffer.from(args.buf(i)));
  return out;
}

/** A Random seeded from an entry, made only if the command draws. */
class EntryRandom implements Random {
  private seed = 0;
  private inner: SeededRandom | null = null;
  reseed(seed: number): void {
    this.seed = seed;
    this.inner = null;
  }
  next(): number {
    this.inner ??= new SeededRandom(this.seed);
    return this.inner.next();
  }
  int(bound: number): number {
    this.inner ??= new SeededRandom(this.seed);
    return this.inner.int(bound);
  }
}

// ---- the snapshot image --------------------------------------------------------------------

/**
 * image = version:u8 nowMs:u64 count:u64 key{count}
 * key   = length:u32 bytes type:u8 expireAtMs:f64 length:u32 data
 *
 * Every stored key, those expired but not yet removed included: a replica restored from the
 * image must hold exactly what the leader held (DBSIZE counts them, RANDOMKEY draws them).
 * Keys come in the order the store's frozen walk hands them out (on LMDB: the committed
 * keys in the order they are stored, then the writes not committed yet), which restoring
 * does not depend on.
 */
const imageVersion = 1;
/** The smallest key record: empty key, type, expiry, empty data. */
const imageKeyBytesMin = 4 + 1 + 8 + 4;

/** Keys imaged per slice when snapshot() builds the whole image at once. */
const imageSliceKeys = 4096;

/**
 * A shard's image as of when it began, built a slice of keys at a time while the shard goes
 * on applying entries (a frozen walk of its store: KeyStore.freeze). Structurally the
 * host's SnapshotJob (cluster/multi-raft.ts).
 */
export class ImageJob {
  private readonly w = new ByteWriter(64 * 1024);
  private count = 0;

  constructor(
    private readonly walk: FrozenWalk,
    nowMs: number,
  ) {
    this.w.u8(imageVersion);
    this.w.u64(nowMs);
    this.w.u64(walk.size);
  }

  /** Why the image cannot be completed (the store was cleared or rolled back), or null. */
  get aborted(): string | null {
    return this.walk.aborted;
  }

  /** Images up to `keys` more keys; the image once every key is in, else null. */
  step(keys: number): Uint8Array | null {
    const w = this.w;
    for (const { key, value } of this.walk.next(keys)) {
      w.u32(key.length);
      w.raw(key);
      w.u8(VALUE_TYPE_CODES[value.type]);
      w.f64(value.expireAtMs);
      w.u32(value.data.length);
      w.raw(value.data);
      this.count++;
    }
    if (!this.walk.done) return null;
    assert(this.count === this.walk.size, "shard machine: key count changed while imaging");
    return w.done();
  }

  cancel(): void {
    this.walk.close();
  }
}

/** Walks an image, handing each key to `visit`; throws DecodeError on a bad one. */
function readImage(bytes: Uint8Array, visit: (key: Buffer, value: StoredValue) => void): number {
  const r = new ViewReader(bytes);
  const version = r.u8();
  if (version !== imageVersion) throw new DecodeError(`unknown image version ${version}`);
  const nowMs = r.u64();
  const count = r.u64();
  if (count * imageKeyBytesMin > r.remaining) throw new DecodeError("truncated");
  for (let i = 0; i < count; i++) {
    const key = r.take(r.u32());
    const type = VALUE_TYPES_BY_CODE[r.u8()];
    if (type === undefined) throw new DecodeError("unknown value type");
    const expireAtMs = r.f64();
    if (expireAtMs < 0) throw new DecodeError("negative expiry");
    const data = r.take(r.u32());
    visit(toBuffer(key), { type, expireAtMs, data: toBuffer(data) });
  }
  if (r.remaining !== 0) throw new DecodeError("trailing bytes");
  return nowMs;
}

/** `u` as a Buffer over the same bytes: itself if it is one. */
function toBuffer(u: Uint8Array): Buffer {
  return u instanceof Buffer ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

// ---- the machine ---------------------------------------------------------------------------

/**
 * Why a proposal has no reply. "term-mismatch" says the command did not run and never will
 * (ProposalLost.didNotRun): the caller may run it again. With any other reason its outcome
 * is unknown, and the caller must treat the command as possibly applied or not:
 *   "term-mismatch"    another term's entry was applied at the proposal's index, or this
 *                      node, leading again, proposed anew at it (an index holds one
 *                      committed entry, and a leader's log holds every committed one);
 *   "leadership-lost"  this node stopped leading the group and did not learn the entry's
 *                      fate before the host gave up on it (dropOrphans);
 *   "restored"         a snapshot replaced the state past the proposal's index;
 *   "already-applied"  expect() came after its index was applied (call it right after
 *                      propose, before the next flush);
 *   "too-many-waiters" proposalsPendingMax are waiting already;
 *   "closed", "failed" the machine was closed, or its storage failed.
 */
export type ProposalLostReason =
  | "term-mismatch"
  | "leadership-lost"
  | "restored"
  | "already-applied"
  | "too-many-waiters"
  | "closed"
  | "failed";

export class ProposalLost extends Error {
  override name = "ProposalLost";
  readonly code = "PROPOSAL_LOST";
  constructor(
    readonly index: number,
    readonly term: number,
    readonly reason: ProposalLostReason,
  ) {
    const outcome = reason === "term-mismatch" ? "not applied" : "outcome unknown";
    super(`proposal at index ${index} (term ${term}): ${outcome} (${reason})`);
  }

  /** The command did not run and never will: running it again runs it once. */
  get didNotRun(): boolean {
    return this.reason === "term-mismatch";
  }
}

/** Why a read was not served. Reads change nothing: the caller may always retry. */
export type ReadAbortedReason =
  | "leadership-lost"
  | "abandoned"
  | "too-many-reads"
  | "duplicate-id"
  | "closed"
  | "failed";

export class ReadAborted extends Error {
  override name = "ReadAborted";
  readonly code = "READ_ABORTED";
  constructor(
    readonly id: number,
    readonly reason: ReadAbortedReason,
  ) {
    super(`read ${id} not served (${reason})`);
  }
}

/** The part of the host's GroupStatus that roleChanged uses. */
export interface RoleStatus {
  readonly role: RaftState;
  readonly term: number;
  readonly lead: NodeId;
}

/**
 * The host's view of a group's state machine (cluster/multi-raft.ts GroupMachine, restated
 * here because kv may not import cluster/).
 */
export interface ReplicatedMachine {
  apply(entries: readonly Entry[]): void;
  restore(snapshot: Snapshot): void;
  snapshot(): Uint8Array;
  beginSnapshot?(): ImageJob;
  reads(reads: readonly ReadState[]): void;
  roleChanged?(status: RoleStatus): void;
}

export interface ShardMachineOptions {
  /** The shard's key space; the machine owns it from now on (close() closes it). */
  store: ShardStore;
  /**
   * proto-max-bulk-len: the largest string APPEND, SETRANGE and SETBIT may build. It decides
   * replies, so every replica of a group must use the same value. Default 512 MiB.
   */
  maxBulkBytes?: number;
  /** Draws for reads (RANDOMKEY on the leader); entries use their own seed. */
  random?: Random;
  /**
   * Proposals waiting for their entry. A waiter costs ~200 bytes; the leader's bound on
   * uncommitted bytes (maxUncommittedBytes) normally stops proposals long before this.
   */
  proposalsPendingMax?: number;
  /** Reads waiting for their read index; each holds its arguments. */
  readsPendingMax?: number;
  /**
   * Where this node's keyspace notifications go (notify.ts), sent while this replica
   * leads its group; none: no notifications.
   */
  notifier?: Notifier;
  /**
   * Told of every command this replica runs that wrote to the store, after it ran (its
   * arguments live for the call only): the node serves the clients blocked on its keys.
   */
  ran?: (name: string, args: Args) => void;
}

/** Totals since creation; read them, never write them. */
export interface ShardMachineStats {
  /** Entries whose effect is now in the state (commands, no-ops and conf entries). */
  entriesApplied: number;
  /** Entries at or below the stored applied index, skipped after a restart. */
  entriesSkipped: number;
  commandsRun: number;
  /** Entries whose data did not decode (answered with an error, on every replica alike). */
  entriesUndecodable: number;
  /** Commands whose handler threw (a bug): answered with an error. */
  handlerFailures: number;
  readsServed: number;
  proposalsLost: number;
  readsAborted: number;
  /** Images begun (snapshot() or beginSnapshot()), those given up on the way included. */
  snapshotsTaken: number;
  snapshotsRestored: number;
  /** Snapshots at or below the applied index, ignored. */
  snapshotsIgnored: number;
}

interface Waiter {
  readonly term: number;
  /** 0 while this node leads in `term`; else the orphan round it stopped in (dropOrphans). */
  orphaned: number;
  readonly resolve: (reply: Reply) => void;
  readonly reject: (e: ProposalLost) => void;
}

interface PendingRead {
  readonly args: ArrayArgs;
  readonly name: string;
  readonly nowMs: number;
  readonly resolve: (reply: Reply) => void;
  readonly reject: (e: ReadAborted) => void;
}

const defaultMaxBulkBytes = 512 * 1024 * 1024;
const defaultProposalsPendingMax = 100_000;
const defaultReadsPendingMax = 100_000;

/**
 * What a shard answers for a key outside its slots. Never seen by a client when routing is
 * right (the server routes by slot); the server maps it to MOVED once it knows the owner.
 */
export function notServedReply(slot: number, shard: number): Reply {
  return R.error(`TRYAGAIN slot ${slot} is not served by shard ${shard}`);
}

function undecodableReply(why: string): Reply {
  return R.error(`ERR undecodable log entry (${why})`);
}

export class ShardMachine implements ReplicatedMachine {
  readonly store: ShardStore;
  readonly stats: ShardMachineStats = {
    entriesApplied: 0,
    entriesSkipped: 0,
    commandsRun: 0,
    entriesUndecodable: 0,
    handlerFailures: 0,
    readsServed: 0,
    proposalsLost: 0,
    readsAborted: 0,
    snapshotsTaken: 0,
    snapshotsRestored: 0,
    snapshotsIgnored: 0,
  };
  /** The last command a handler threw on, and what it threw (diagnostics). */
  lastHandlerFailure: { command: string; error: unknown } | null = null;

  private appliedIndex: number;
  private appliedNowMs: number;
  /** The highest index the host has handed in (apply or restore). */
  private hostIndex = 0;
  private readonly ctx: ExecContext;
  private readonly entryRandom = new EntryRandom();
  private readonly readRandom: Random;
  private readonly waiters = new Map<number, Waiter>();
  private readonly pendingReads = new Map<number, PendingRead>();
  private readonly proposalsPendingMax: number;
  private readonly readsPendingMax: number;
  private nextRead = 1;
  /** Counts the host's dropOrphans calls: a waiter orphaned in an earlier round is dropped. */
  private orphanRound = 1;
  private failure: Error | null = null;
  private closed = false;
  /** A commit of the store is in flight (flush). */
  private flushing = false;
  /** This replica leads its group (roleChanged): its node sends the keyspace events. */
  private leading = false;
  private readonly notifier: Notifier | undefined;
  private readonly ran: ((name: string, args: Args) => void) | undefined;

  constructor(options: ShardMachineOptions) {
    this.store = options.store;
    const mark = this.store.openedAt;
    this.appliedIndex = mark.index;
    this.appliedNowMs = mark.nowMs;
    this.readRandom = options.random ?? new SeededRandom(0);
    this.proposalsPendingMax = options.proposalsPendingMax ?? defaultProposalsPendingMax;
    this.readsPendingMax = options.readsPendingMax ?? defaultReadsPendingMax;
    this.notifier = options.notifier;
    this.ran = options.ran;
    this.ctx = {
      store: this.store,
      nowMs: mark.nowMs,
      random: this.entryRandom,
      maxBulkBytes: options.maxBulkBytes ?? defaultMaxBulkBytes,
      sharded: true,
      // A script's commands run here, on this shard's keys only.
      script: {
        served: (key) => this.store.ownsSlot(this.store.slotOf(key)),
        runs: (name) => KV_HANDLERS.has(name),
        run: (name, args) => this.run(name, args),
      },
    };
    this.store.markWith(() => this.mark());
  }

  /** The index whose effects the state holds (from the store at open, then applied). */
  get applied(): number {
    return this.appliedIndex;
  }

  /**
   * The command time of the last entry applied. A leader proposes max(its clock, this):
   * apply does the same, but a leader that does it too gives TTLs the time it told the
   * client.
   */
  get lastNowMs(): number {
    return this.appliedNowMs;
  }

  get proposalsPending(): number {
    return this.waiters.size;
  }

  get readsPending(): number {
    return this.pendingReads.size;
  }

  /** Why the machine stopped (a storage failure), or null. */
  get failed(): Error | null {
    return this.failure;
  }

  private mark(): AppliedMark {
    return { index: this.appliedIndex, nowMs: this.appliedNowMs };
  }

  // ---- the server's side ---------------------------------------------------------------------

  /**
   * The reply of the command proposed at (index, term), once that entry is applied. Call
   * it right after a successful propose, before the host's next flush. Rejects with
   * ProposalLost when the outcome cannot be known here (see ProposalLostReason).
   */
  expect(index: number, term: number): Promise<Reply> {
    assert(Number.isSafeInteger(index) && index > 0, "shard machine: bad index");
    const older = this.waiters.get(index);
    if (older !== undefined) {
      // Leading again, in a newer term, at an index whose entry of ours was overwritten
      // while we followed: that entry never commits (we lead, so we hold every one that did).
      assert(older.term < term, `shard machine: index ${index} is already expected`);
      this.waiters.delete(index);
      this.stats.proposalsLost++;
      older.reject(new ProposalLost(index, older.term, "term-mismatch"));
    }
    let refused: ProposalLostReason | null = null;
    if (this.closed) refused = "closed";
    else if (this.failure !== null) refused = "failed";
    else if (index <= this.appliedIndex) refused = "already-applied";
    else if (this.waiters.size >= this.proposalsPendingMax) refused = "too-many-waiters";
    if (refused !== null) {
      this.stats.proposalsLost++;
      return Promise.reject(new ProposalLost(index, term, refused));
    }
    return new Promise((resolve, reject) =>
      this.waiters.set(index, { term, orphaned: 0, resolve, reject }),
    );
  }

  /**
   * Up to `limit` keys expired at `nowMs`, oldest first, for the leader's expiry entry
   * (LogCommand "expire"): propose them when there are any, every 1000/hz ms.
   */
  expiredKeys(nowMs: number, limit: number): Buffer[] {
    return this.store.expiredKeys(Math.max(nowMs, this.appliedNowMs), limit);
  }

  /** A fresh id for readIndex and read (unique within this machine). */
  newReadId(): number {
    return this.nextRead++;
  }

  /**
   * Registers a read-only command to run once the read index handed out for `id` is
   * applied (the host calls reads()). Call it with the id given to MultiRaft.readIndex,
   * after that succeeded and before the host's next flush. `args` are kept until then:
   * pass copies (copyArgs). `nowMs` is the time the read is made at (the leader's clock);
   * the read runs at max(nowMs, lastNowMs). A command that cannot run (unknown, wrong
   * arity, a key of another shard) is answered at once. A command that writes is a
   * programmer error: it must be proposed.
   */
  read(id: number, args: readonly Uint8Array[], nowMs: number): Promise<Reply> {
    assert(args.length > 0, "shard machine: a read without a command");
    const cmd = new ArrayArgs(args);
    let name: string;
    if (isInternal(cmd, "fingerprint")) {
      for (let i = 2; i < cmd.length; i++) {
        const refused = this.notServed(cmd.buf(i));
        if (refused !== null) return Promise.resolve(refused);
      }
      name = fingerprintRead;
    } else if (isInternal(cmd, "slotkeys")) {
      const a = slotKeysArgs(cmd);
      if (a === null)
        return Promise.resolve(R.error("ERR syntax: HOMEOSTAT SLOTKEYS <slot> [<max>]"));
      if (!this.store.ownsSlot(a.slot)) {
        return Promise.resolve(notServedReply(a.slot, this.store.shard));
      }
      name = slotKeysRead;
    } else {
      const resolved = this.resolve(cmd);
      if (!("spec" in resolved)) return Promise.resolve(resolved.reply);
      assert(
        resolved.own.flags.includes("readonly") && !resolved.own.flags.includes("write"),
        `shard machine: '${resolved.spec.name}' is not a read-only command; propose it`,
      );
      name = resolved.spec.name;
    }
    let refused: ReadAbortedReason | null = null;
    if (this.closed) refused = "closed";
    else if (this.failure !== null) refused = "failed";
    else if (this.pendingReads.has(id)) refused = "duplicate-id";
    else if (this.pendingReads.size >= this.readsPendingMax) refused = "too-many-reads";
    if (refused !== null) {
      this.stats.readsAborted++;
      return Promise.reject(new ReadAborted(id, refused));
    }
    return new Promise((resolve, reject) =>
      this.pendingReads.set(id, { args: cmd, name, nowMs, resolve, reject }),
    );
  }

  /** Fails a registered read whose readIndex was refused; false if there is none. */
  abandonRead(id: number): boolean {
    const r = this.pendingReads.get(id);
    if (r === undefined) return false;
    this.pendingReads.delete(id);
    this.stats.readsAborted++;
    r.reject(new ReadAborted(id, "abandoned"));
    return true;
  }

  /** Rejects everything pending and closes the store (flushing what it holds). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.loseProposals(() => true, "closed");
    this.abortReads("closed");
    await this.store.close();
  }

  // ---- the host's side -----------------------------------------------------------------------

  apply(entries: readonly Entry[]): void {
    this.checkUsable();
    for (const e of entries) {
      if (e.index > this.hostIndex) this.hostIndex = e.index;
      if (e.index <= this.appliedIndex) {
        this.stats.entriesSkipped++;
        continue;
      }
      assert(
        e.index === this.appliedIndex + 1,
        `shard machine ${this.store.shard}: entry ${e.index} after ${this.appliedIndex}`,
      );
      const reply = e.type === "normal" && e.data.length > 0 ? this.runEntry(e.data) : R.OK;
      this.appliedIndex = e.index;
      this.stats.entriesApplied++;
      this.settle(e.index, e.term, reply);
    }
    this.flush();
  }

  restore(snapshot: Snapshot): void {
    this.checkUsable();
    const index = snapshot.meta.index;
    if (index > this.hostIndex) this.hostIndex = index;
    if (index <= this.appliedIndex) {
      this.stats.snapshotsIgnored++;
      return;
    }
    // Check the whole image before touching the state: a bad one must not half-replace it.
    let nowMs: number;
    try {
      nowMs = readImage(snapshot.data, () => undefined);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      throw new Error(`shard ${this.store.shard}: snapshot at ${index} is corrupt: ${e.message}`);
    }
    this.store.clear();
    readImage(snapshot.data, (key, value) => this.store.set(key, value));
    this.appliedIndex = index;
    this.appliedNowMs = nowMs;
    this.stats.snapshotsRestored++;
    this.loseProposals((at) => at <= index, "restored");
    this.flush();
  }

  /** The shard's stored data bytes (ShardStore.dataBytes): what a new replica copies. */
  dataBytes(): number {
    return this.store.dataBytes();
  }

  snapshot(): Uint8Array {
    const job = this.beginSnapshot();
    for (;;) {
      const image = job.step(imageSliceKeys);
      if (image !== null) return image;
    }
  }

  /**
   * The image as of now, built in slices (ImageJob) while entries go on being applied, so
   * that a big shard does not hold its node's event loop at each compaction.
   */
  beginSnapshot(): ImageJob {
    this.checkUsable();
    // The host labels the image with its own applied index; after a restart the store may
    // be ahead of the host until it has handed in entries up to the store's mark (it only
    // compacts once everything committed is applied, which covers the mark).
    assert(
      this.appliedIndex <= this.hostIndex,
      `shard machine ${this.store.shard}: imaging at ${this.appliedIndex}, host at ${this.hostIndex}`,
    );
    this.stats.snapshotsTaken++;
    return new ImageJob(this.store.freeze(), this.appliedNowMs);
  }

  reads(reads: readonly ReadState[]): void {
    this.checkUsable();
    for (const rs of reads) {
      const r = this.pendingReads.get(rs.id);
      if (r === undefined) continue;
      this.pendingReads.delete(rs.id);
      assert(rs.index <= this.appliedIndex, "shard machine: read served before its index");
      this.stats.readsServed++;
      r.resolve(this.runRead(r));
    }
  }

  /**
   * Not leading any more: every read not yet served loses its read index. A proposal
   * waiting here may or may not commit; it keeps waiting, as an orphan, because this node
   * goes on applying the group's entries: the entry applied at its index settles it, with
   * the command's reply when it is the proposal's own (same index and term), or as not run
   * when it is another. The host bounds that wait with dropOrphans. Leading in a newer
   * term: proposals of older terms are orphans too (they commit with this term's entries,
   * or were overwritten before it).
   */
  roleChanged(status: RoleStatus): void {
    const leading = status.role === "leader";
    this.leading = leading;
    if (!leading) this.abortReads("leadership-lost");
    for (const w of this.waiters.values()) {
      if (w.orphaned === 0 && (!leading || w.term < status.term)) w.orphaned = this.orphanRound;
    }
  }

  /**
   * Gives up on the orphans (see roleChanged) of the rounds before this call: their
   * outcome is unknown ("leadership-lost"). The host calls it every so often, so an orphan
   * waits between one and two periods for the entry at its index to be applied here.
   */
  dropOrphans(): void {
    const round = this.orphanRound;
    this.loseProposals((_, w) => w.orphaned !== 0 && w.orphaned < round, "leadership-lost");
    this.orphanRound++;
  }

  // ---- running commands ----------------------------------------------------------------------

  private runEntry(data: Uint8Array): Reply {
    const decoded = decodeLogCommand(data);
    if (!decoded.ok) {
      this.stats.entriesUndecodable++;
      return undecodableReply(decoded.error);
    }
    const cmd = decoded.value;
    const nowMs = Math.max(cmd.nowMs, this.appliedNowMs);
    this.appliedNowMs = nowMs;
    this.ctx.nowMs = nowMs;
    // Keyspace notifications come from the leader's node only, as from a Redis Cluster
    // master: one message per change, where the clients of the shard's keys are sent.
    this.ctx.notify = this.leading ? this.notifier : undefined;
    if (cmd.kind === "expire") return R.integer(this.deleteExpired(cmd.keys, nowMs));
    this.entryRandom.reseed(cmd.seed);
    this.ctx.random = this.entryRandom;
    const args = new ArrayArgs(cmd.args);
    if (args.length === 3 && isInternal(args, "transaction")) {
      return this.runTransaction(args.buf(2));
    }
    const resolved = this.resolve(args);
    if (!("spec" in resolved)) return resolved.reply;
    return this.run(resolved.spec.name, args);
  }

  /**
   * A MULTI/EXEC transaction (kv/transaction.ts): nothing runs unless every key it names
   * is in this shard; a watched key whose fingerprint changed makes the answer a null
   * array (EXEC aborted); otherwise the commands run one after the other, with no other
   * entry between them, and the answer is the array of their replies.
   */
  private runTransaction(body: Uint8Array): Reply {
    const decoded = decodeTransaction(body);
    if (!decoded.ok) {
      this.stats.entriesUndecodable++;
      return undecodableReply(decoded.error);
    }
    const { watches, commands } = decoded.value;
    const runs = commands.map((parts) => {
      const args = new ArrayArgs(parts);
      return { args, resolved: this.resolve(args) };
    });
    for (const { resolved } of runs) {
      if ("unowned" in resolved) return resolved.reply;
    }
    for (const w of watches) {
      const key = toBuffer(w.key);
      const refused = this.notServed(key);
      if (refused !== null) return refused;
      const now = fingerprint(this.store.get(key), this.ctx.nowMs);
      if (!sameFingerprint(now, w.fingerprint)) return R.NULL_ARRAY;
    }
    return R.array(
      runs.map(({ args, resolved }) =>
        "spec" in resolved ? this.run(resolved.spec.name, args) : resolved.reply,
      ),
    );
  }

  /** TRYAGAIN (notServedReply) when `key` is not in this shard's slots, else null. */
  private notServed(key: Buffer): Reply | null {
    const slot = this.store.slotOf(key);
    return this.store.ownsSlot(slot) ? null : notServedReply(slot, this.store.shard);
  }

  /** The expire entry: each named key of this shard that is expired at `nowMs` goes. */
  private deleteExpired(keys: readonly Uint8Array[], nowMs: number): number {
    let deleted = 0;
    for (const k of keys) {
      const key = toBuffer(k);
      if (!this.store.ownsSlot(this.store.slotOf(key))) continue;
      const value = this.store.get(key);
      if (value !== undefined && isExpired(value, nowMs) && this.store.delete(key)) {
        deleted++;
        notifyKey(this.ctx, NOTIFY_EXPIRED, "expired", key);
      }
    }
    return deleted;
  }

  private runRead(r: PendingRead): Reply {
    this.ctx.nowMs = Math.max(r.nowMs, this.appliedNowMs);
    this.ctx.notify = undefined;
    if (r.name === fingerprintRead) {
      const out: Reply[] = [];
      for (let i = 2; i < r.args.length; i++) {
        const f = fingerprint(this.store.get(r.args.buf(i)), this.ctx.nowMs);
        out.push(f === null ? R.NULL : R.bulk(Buffer.from(f)));
      }
      return R.array(out);
    }
    if (r.name === slotKeysRead) {
      const a = slotKeysArgs(r.args) as { slot: number; max: number | undefined };
      const keys = this.store.keysInSlot(a.slot, a.max ?? Number.POSITIVE_INFINITY);
      return a.max === undefined ? R.integer(keys.length) : R.array(keys.map((k) => R.bulk(k)));
    }
    this.ctx.random = this.readRandom;
    const seq = this.store.writeSeq;
    const reply = this.run(r.name, r.args);
    assert(this.store.writeSeq === seq, `shard machine: read '${r.name}' wrote`);
    return reply;
  }

  /**
   * The dispatcher's checks, as node.ts does them: a known command with a kv handler, its
   * arity, then (the shard's own) every key in one of this shard's slots.
   */
  private resolve(
    args: Args,
  ): { spec: CommandSpec; own: CommandSpec } | { reply: Reply; unowned?: true } {
    const name = args.lower(0);
    const spec = COMMAND_SPECS.get(name);
    if (spec === undefined || !KV_HANDLERS.has(name)) return { reply: unknownCommand(args) };
    if (!arityAccepts(spec.arity, args.length)) return { reply: wrongArity(name) };
    // A container's subcommand (MEMORY USAGE) has its own flags and keys; the handler is
    // the container's, and answers the subcommands it does not have.
    const own = runSpec(spec, args) ?? spec;
    for (const i of keyIndexesOf(own, args)) {
      const refused = this.notServed(args.buf(i));
      if (refused !== null) return { reply: refused, unowned: true };
    }
    return { spec, own };
  }

  private run(name: string, args: Args): Reply {
    this.stats.commandsRun++;
    const handler = KV_HANDLERS.get(name);
    assert(handler !== undefined, `shard machine: no handler for ${name}`);
    try {
      const seq = this.store.writeSeq;
      const reply = handler(this.ctx, args);
      if (this.ran !== undefined && this.store.writeSeq !== seq) this.ran(name, args);
      return reply;
    } catch (error) {
      // A bug, not bad input: the same on every replica, so answering it keeps them equal.
      this.stats.handlerFailures++;
      this.lastHandlerFailure = { command: name, error };
      return R.error(`ERR internal error while running '${name}'`);
    }
  }

  // ---- waiters, durability -------------------------------------------------------------------

  private settle(index: number, term: number, reply: Reply): void {
    const w = this.waiters.get(index);
    if (w === undefined) return;
    this.waiters.delete(index);
    if (w.term === term) {
      w.resolve(reply);
      return;
    }
    this.stats.proposalsLost++;
    w.reject(new ProposalLost(index, w.term, "term-mismatch"));
  }

  private loseProposals(
    which: (index: number, w: Waiter) => boolean,
    reason: ProposalLostReason,
  ): void {
    for (const [index, w] of this.waiters) {
      if (!which(index, w)) continue;
      this.waiters.delete(index);
      this.stats.proposalsLost++;
      w.reject(new ProposalLost(index, w.term, reason));
    }
  }

  private abortReads(reason: ReadAbortedReason): void {
    for (const [id, r] of this.pendingReads) {
      this.stats.readsAborted++;
      r.reject(new ReadAborted(id, reason));
    }
    this.pendingReads.clear();
  }

  /**
   * Commits what apply or restore wrote, with the mark; a failure stops the machine. One
   * commit of the store at a time: while one is in flight (the key space commits at most
   * every second, shardCommitIntervalMs) the writes gather in the store's pending layer,
   * and the next commit, started when it settles, takes them all with the mark of then.
   * Committing at every apply sealed a layer per apply (a Map, a batch and four promises
   * each, and one more layer for every read to look through) for batches the key space
   * would have merged into one transaction anyway.
   */
  private flush(): void {
    if (this.flushing || this.store.writeSeq === this.store.durableSeq) return;
    this.flushing = true;
    this.store.flush().then(
      () => {
        this.flushing = false;
        // Whatever was written since it began is not durable yet: commit it now.
        if (!this.closed) this.flush();
      },
      (e: unknown) => {
        this.flushing = false;
        this.fail(e);
      },
    );
  }

  private fail(e: unknown): void {
    if (this.failure !== null || this.closed) return;
    this.failure = e instanceof Error ? e : new Error(String(e));
    this.loseProposals(() => true, "failed");
    this.abortReads("failed");
  }

  private checkUsable(): void {
    assert(!this.closed, "shard machine: used after close");
    if (this.failure !== null) throw this.failure;
  }
}
