/**
 * The wire format of one batch of raft traffic from one node to another: everything the
 * raft groups of node A have for node B after one flush (multi-raft.ts), in one frame.
 * decodeEnvelope never throws: bad input yields { ok: false, error }.
 *
 * envelope = version:u8 from:u32 to:u32 count:u32 item{count}
 * item     = kind:u8 group:u32 body
 *   kind 0 message         length:u32 message         (raft/codec.ts, whole)
 *   kind 1 heartbeat       term:uvar commit:uvar context:uvar
 *   kind 2 heartbeat-resp  term:uvar context:uvar
 * uvar     = unsigned LEB128: 7 bits a byte, low bits first, high bit set on every byte
 *            but the last; minimal (no trailing zero byte), at most 8 bytes, below 2^53
 *
 * from/to are raft node ids: a node uses one id in every group it is a member of, so a
 * message's own from/to always equal the envelope's. That is what makes a heartbeat
 * compact: a raft-codec heartbeat is 34 bytes (version, type, from, to, term, commit,
 * context at fixed width) plus 9 of item header; as a record it is the 5-byte item header
 * and three small varints — 8 to 12 bytes (a response 7 to 9) for a group whose term stays
 * below 128 and whose commit index and read-round counter stay below 2^21. Heartbeats are most of an idle
 * cluster's raft traffic (one per group per follower per heartbeat interval, and one
 * answer), so their size is the idle cost per group. Every other message is rare or
 * carries entries, whose size dwarfs the fixed-width header, and goes whole.
 *
 * Decoding is all or nothing: one bad item rejects the envelope. A garbled item means a
 * garbled frame (or a buggy peer), and nothing after it can be trusted either.
 */
import { assert } from "../core/assert.js";
import { ByteReader, ByteWriter, DecodeError, pooledCopy } from "../core/bytes.js";
import { reliableBytesMax } from "../core/transport.js";
import { type DecodeResult, decodeMessage, messageBytes, writeMessage } from "../raft/codec.js";
import type { Message, NodeId } from "../raft/types.js";

export const envelopeVersion = 1;
/** version, from, to, count. */
export const envelopeHeaderBytes = 1 + 4 + 4 + 4;
/** kind, group. */
export const itemHeaderBytes = 1 + 4;
/**
 * Items in one envelope. A node hosts at most a few thousand groups (a 16,384-slot key
 * space in shards of a few slots each, three replicas spread over many nodes), and one
 * flush has a handful of messages per group for one peer; 65,536 covers ten thousand
 * groups' heartbeats with room, and the encoder splits beyond it anyway.
 */
export const envelopeItemsMax = 65_536;
/**
 * Bytes in one envelope: the transport's reliable message bound (17 MiB), so one envelope
 * is one transport message. The largest single item — an append of max(maxMsgBytes,
 * maxEntryBytes) plus its headers, at least 1 MiB under reliableBytesMax by
 * validateConfig — always fits alone.
 */
export const envelopeBytesMax = reliableBytesMax;
/** The smallest item: a heartbeat response with one-byte term and context. */
const itemBytesMin = itemHeaderBytes + 2;
/** A uvar holds 7 bits a byte; 8 bytes hold 56 bits, enough for any value below 2^53. */
const uvarBytesMax = 8;

const kindMessage = 0;
const kindHeartbeat = 1;
const kindHeartbeatResp = 2;

export interface EnvelopeItem {
  /** The raft group (shard) the message belongs to. */
  group: number;
  /** Its from/to equal the envelope's. */
  message: Message;
}

export interface Envelope {
  from: NodeId;
  to: NodeId;
  items: EnvelopeItem[];
}

export interface DecodeEnvelopeOptions {
  /** Default envelopeBytesMax. */
  bytesMax?: number;
  /**
   * Largest whole message item (raft/codec.ts messageBytesMax of the receiver's raft
   * config). Default: whatever fits in the envelope.
   */
  messageBytesMax?: number;
}

// ---- varints -------------------------------------------------------------------------------

export function uvarBytes(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n += 1;
  }
  return n;
}

/** A ByteWriter with varints and the count patch an envelope needs once it is complete. */
class EnvelopeWriter extends ByteWriter {
  uvar(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`not a safe uvar: ${v}`);
    while (v >= 0x80) {
      this.u8((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.u8(v);
  }

  patchU32(at: number, v: number): void {
    this.view.setUint32(at, v);
  }
}

function readUvar(r: ByteReader): number {
  let v = 0;
  let scale = 1;
  for (let i = 0; i < uvarBytesMax; i++) {
    const b = r.u8();
    v += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) {
      // A zero last byte after others is a second spelling of a shorter number.
      if (b === 0 && i > 0) throw new DecodeError("non-minimal varint");
      if (!Number.isSafeInteger(v)) throw new DecodeError("varint beyond 2^53");
      return v;
    }
    scale *= 0x80;
  }
  throw new DecodeError("varint too long");
}

// ---- encoding ------------------------------------------------------------------------------

/**
 * An envelope of at least this many bytes is handed out in the builder's own buffer, and
 * the builder starts a new one: copying a big append (a SET of megabytes) costs more
 * than a fresh buffer does.
 */
const envelopeTakenBytesMin = 1024 * 1024;

/**
 * Builds the envelopes for one destination: items go in in the order added, and a new
 * envelope starts whenever the next item would take the current one past bytesMax or
 * itemsMax. One builder per peer is reused flush after flush (its buffer stays).
 *
 * Adding a message whose from/to differ from the builder's, or one that cannot fit in an
 * empty envelope, is a programmer error and throws RangeError.
 */
export class EnvelopeBuilder {
  private w: EnvelopeWriter;
  private readonly done: Uint8Array[] = [];
  private count = 0;

  constructor(
    readonly from: NodeId,
    readonly to: NodeId,
    readonly bytesMax = envelopeBytesMax,
    readonly itemsMax = envelopeItemsMax,
  ) {
    if (from <= 0 || to <= 0) throw new RangeError("envelope: node ids must be positive");
    if (bytesMax < envelopeHeaderBytes + itemBytesMin || itemsMax < 1) {
      throw new RangeError("envelope: bounds too small");
    }
    this.w = new EnvelopeWriter(1024);
    this.startEnvelope();
  }

  /** Items in the envelope being built (not yet taken by finish()). */
  get pending(): number {
    return this.count;
  }

  /** Bytes of buffer held: the largest envelope built so far (a host may drop a big one). */
  get capacity(): number {
    return this.w.capacity;
  }

  add(group: number, m: Message): void {
    if (m.from !== this.from || m.to !== this.to) {
      throw new RangeError(`envelope ${this.from}→${this.to}: message ${m.from}→${m.to}`);
    }
    if (m.type === "heartbeat") {
      const size = itemHeaderBytes + uvarBytes(m.term) + uvarBytes(m.commit) + uvarBytes(m.context);
      this.makeRoom(size);
      this.header(kindHeartbeat, group);
      this.w.uvar(m.term);
      this.w.uvar(m.commit);
      this.w.uvar(m.context);
    } else if (m.type === "heartbeat-resp") {
      this.makeRoom(itemHeaderBytes + uvarBytes(m.term) + uvarBytes(m.context));
      this.header(kindHeartbeatResp, group);
      this.w.uvar(m.term);
      this.w.uvar(m.context);
    } else {
      // Written in place: no buffer of its own to fill, copy and drop (2–3% of a leader's
      // CPU under load).
      const size = messageBytes(m);
      this.makeRoom(itemHeaderBytes + 4 + size);
      this.header(kindMessage, group);
      this.w.u32(size);
      const at = this.w.length;
      writeMessage(this.w, m);
      assert(this.w.length - at === size, `envelope: ${m.type} took other than its size`);
    }
  }

  /** The envelopes built since the last finish(), in order; the builder starts afresh. */
  finish(): Uint8Array[] {
    if (this.count > 0) this.closeEnvelope();
    return this.done.splice(0);
  }

  private header(kind: number, group: number): void {
    this.w.u8(kind);
    this.w.u32(group);
    this.count += 1;
  }

  private makeRoom(itemBytes: number): void {
    if (envelopeHeaderBytes + itemBytes > this.bytesMax) {
      throw new RangeError(`envelope: an item of ${itemBytes} bytes cannot fit`);
    }
    if (this.count === 0) return;
    if (this.w.length + itemBytes > this.bytesMax || this.count >= this.itemsMax) {
      this.closeEnvelope();
    }
  }

  private startEnvelope(): void {
    this.w.reset();
    this.w.u8(envelopeVersion);
    this.w.u32(this.from);
    this.w.u32(this.to);
    this.w.u32(0);
    this.count = 0;
  }

  private closeEnvelope(): void {
    this.w.patchU32(envelopeHeaderBytes - 4, this.count);
    if (this.w.length >= envelopeTakenBytesMin) {
      this.done.push(this.w.take());
      this.w = new EnvelopeWriter(1024);
    } else {
      // A copy (the builder's buffer is reused) from Node's pool: no malloc for an
      // envelope under 4 KiB, no zero fill for a bigger one. It dies once sealed.
      this.done.push(pooledCopy(this.w.viewFrom(0)));
    }
    this.startEnvelope();
  }
}

/**
 * Encodes one envelope (for tests and tools; the host uses EnvelopeBuilder). Throws
 * RangeError if it does not fit in one envelope of bytesMax.
 */
export function encodeEnvelope(env: Envelope, bytesMax = envelopeBytesMax): Uint8Array {
  const b = new EnvelopeBuilder(env.from, env.to, bytesMax);
  for (const item of env.items) b.add(item.group, item.message);
  const out = b.finish();
  if (out.length > 1) throw new RangeError("envelope: items exceed one envelope");
  return out[0] ?? emptyEnvelope(env.from, env.to);
}

function emptyEnvelope(from: NodeId, to: NodeId): Uint8Array {
  const w = new EnvelopeWriter(envelopeHeaderBytes);
  w.u8(envelopeVersion);
  w.u32(from);
  w.u32(to);
  w.u32(0);
  return w.done();
}

// ---- decoding ------------------------------------------------------------------------------

/**
 * Decodes one envelope. Structural checks only — lengths, counts, codes, ranges, and that
 * every message is addressed as its envelope is; raft checks what the fields mean.
 */
export function decodeEnvelope(
  bytes: Uint8Array,
  options: DecodeEnvelopeOptions = {},
): DecodeResult<Envelope> {
  const bytesMax = options.bytesMax ?? envelopeBytesMax;
  if (bytes.length > bytesMax) return { ok: false, error: "envelope too large" };
  try {
    return { ok: true, value: readEnvelope(bytes, options.messageBytesMax ?? bytesMax) };
  } catch (e) {
    if (e instanceof DecodeError) return { ok: false, error: e.message };
    throw e;
  }
}

function readEnvelope(bytes: Uint8Array, messageMax: number): Envelope {
  const r = new ByteReader(bytes);
  if (r.u8() !== envelopeVersion) throw new DecodeError("unknown envelope version");
  const from = r.u32();
  const to = r.u32();
  if (from === 0 || to === 0) throw new DecodeError("missing sender or recipient");
  const count = r.u32();
  if (count > envelopeItemsMax) throw new DecodeError("too many items");
  // Each item takes at least itemBytesMin: a count beyond that is a lie, stop early.
  if (count * itemBytesMin > r.remaining) throw new DecodeError("truncated");
  const items: EnvelopeItem[] = [];
  for (let i = 0; i < count; i++) items.push(readItem(r, bytes, from, to, messageMax));
  if (r.remaining !== 0) throw new DecodeError("trailing bytes");
  return { from, to, items };
}

function readItem(
  r: ByteReader,
  bytes: Uint8Array,
  from: NodeId,
  to: NodeId,
  messageMax: number,
): EnvelopeItem {
  const kind = r.u8();
  const group = r.u32();
  switch (kind) {
    case kindHeartbeat: {
      const term = readUvar(r);
      const commit = readUvar(r);
      const context = readUvar(r);
      return { group, message: { type: "heartbeat", from, to, term, commit, context } };
    }
    case kindHeartbeatResp: {
      const term = readUvar(r);
      const context = readUvar(r);
      return { group, message: { type: "heartbeat-resp", from, to, term, context } };
    }
    case kindMessage: {
      const length = r.u32();
      if (length > r.remaining) throw new DecodeError("message longer than the envelope");
      const at = r.position;
      r.skipTo(at + length);
      // decodeMessage copies what it keeps: the result outlives the transport's buffer.
      const decoded = decodeMessage(bytes.subarray(at, at + length), messageMax);
      if (!decoded.ok) throw new DecodeError(`group ${group}: ${decoded.error}`);
      const m = decoded.value;
      if (m.from !== from || m.to !== to) throw new DecodeError("message addressed otherwise");
      return { group, message: m };
    }
    default:
      throw new DecodeError(`unknown item kind ${kind}`);
  }
}
