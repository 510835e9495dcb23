import { ByteReader, ByteWriter, DecodeError } from "../core/bytes.js";
import { sha256 } from "../core/hash.js";
import type { DecodeResult } from "../raft/codec.js";
import type { StoredValue } from "../storage/types.js";
import { isExpired } from "./db.js";

/**
 * MULTI/EXEC transactions and WATCH, the parts both the single node and a shard's state
 * machine use (server/transactions.ts queues; kv/machine.ts runs a transaction as one
 * log entry).
 *
 * WATCH compares values, not modifications. A watched key is remembered by a fingerprint
 * of what it held when WATCH ran (its type, expiry and bytes; nothing when it did not
 * exist or had expired), and EXEC runs only if every watched key still has that
 * fingerprint at the moment the transaction runs. Redis aborts on any write to a watched
 * key, even one that puts back the same value; a fingerprint cannot see such a write.
 * For WATCH's use, check-and-set (read, compute, write in MULTI), both are safe: what
 * the client computed from is still what the key holds. The fingerprint is what lets a
 * sharded cluster check a watch on every replica alike: the leader that answered WATCH
 * may be gone by EXEC, and a replica keeps no history of which keys were written when.
 */

/** One watched key and its fingerprint when watched (null: absent). */
export interface Watch {
  readonly key: Uint8Array;
  readonly fingerprint: Uint8Array | null;
}

/**
 * A transaction as a shard runs it: the watches to check, then the queued commands (each
 * an argument vector, the name first), all in one log entry, so applied at once.
 */
export interface TransactionBody {
  readonly watches: readonly Watch[];
  readonly commands: readonly (readonly Uint8Array[])[];
}

/**
 * The fingerprint of a key's value at `nowMs`: null when it is absent or expired. It is
 * part of the log's format: a transaction entry carries fingerprints, and a replica that
 * replays the entry after an upgrade must compute the same ones (a change here needs a
 * new bodyVersion).
 */
export function fingerprint(value: StoredValue | undefined, nowMs: number): Uint8Array | null {
  if (value === undefined || isExpired(value, nowMs)) return null;
  const expiry = Buffer.alloc(8);
  expiry.writeDoubleBE(value.expireAtMs);
  return sha256([value.type, expiry, value.data]);
}

export function sameFingerprint(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return Buffer.compare(a, b) === 0;
}

/** Bounds a decoder enforces before allocating. */
const watchesMax = 1024 * 1024;
const commandsMax = 1024 * 1024;
const argsMax = 1024 * 1024;
const bodyVersion = 1;

/**
 * body    = version:u8 watches:u32 watch* commands:u32 command*      (big-endian)
 * watch   = keyLength:u32 key present:u8 [fingerprint: 32 bytes]
 * command = argc:u32 (length:u32 bytes){argc}
 */
export function encodeTransaction(body: TransactionBody): Uint8Array {
  const w = new ByteWriter(64);
  w.u8(bodyVersion);
  w.u32(body.watches.length);
  for (const watch of body.watches) {
    w.u32(watch.key.length);
    w.raw(watch.key);
    w.u8(watch.fingerprint === null ? 0 : 1);
    if (watch.fingerprint !== null) w.raw(watch.fingerprint);
  }
  w.u32(body.commands.length);
  for (const args of body.commands) {
    w.u32(args.length);
    for (const a of args) {
      w.u32(a.length);
      w.raw(a);
    }
  }
  return w.take();
}

/** Never throws: garbage, truncation and counts past their bounds give { ok: false }. */
export function decodeTransaction(bytes: Uint8Array): DecodeResult<TransactionBody> {
  try {
    const r = new ByteReader(bytes);
    const version = r.u8();
    if (version !== bodyVersion) throw new DecodeError(`unknown transaction version ${version}`);
    const watchCount = bounded(r.u32(), watchesMax, r.remaining / 5);
    const watches: Watch[] = [];
    for (let i = 0; i < watchCount; i++) {
      const key = r.bytesOf(r.u32());
      const present = r.u8();
      if (present > 1) throw new DecodeError("bad watch");
      watches.push({ key, fingerprint: present === 1 ? r.bytesOf(32) : null });
    }
    const commandCount = bounded(r.u32(), commandsMax, r.remaining / 4);
    const commands: Uint8Array[][] = [];
    for (let i = 0; i < commandCount; i++) {
      const argc = bounded(r.u32(), argsMax, r.remaining / 4);
      if (argc === 0) throw new DecodeError("a command without a name");
      const args: Uint8Array[] = [];
      for (let j = 0; j < argc; j++) args.push(r.bytesOf(r.u32()));
      commands.push(args);
    }
    if (r.remaining !== 0) throw new DecodeError("trailing bytes");
    return { ok: true, value: { watches, commands } };
  } catch (e) {
    if (e instanceof DecodeError) return { ok: false, error: e.message };
    throw e;
  }
}

/** A count read from the wire, refused past `max` or past what the bytes left could hold. */
function bounded(n: number, max: number, fits: number): number {
  if (n > max || n > fits) throw new DecodeError(`bad count ${n}`);
  return n;
}
