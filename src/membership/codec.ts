/**
 * The wire format: a small hand-written binary codec, so every field has a named bound
 * and a garbled or hostile datagram is rejected by checks we can read, not by a general
 * decoder's defaults. Authentication and encryption wrap these bytes in the transport.
 *
 * frame   = magic:u8 version:u8 count:u8 message{count}
 * message = type:u8 fields   (integers big-endian; str8/str16 = length:u8|u16 + UTF-8)
 *
 * A datagram carries one probe message (ping, ping-req, ack, nack) and piggybacked
 * broadcasts (alive, suspect, dead) up to datagramBytesMax; a stream frame carries one
 * push-pull. Any malformed part rejects the whole frame.
 */
import { ByteReader, ByteWriter, DecodeError } from "../core/bytes.js";
import { fnv1a32Bytes } from "../core/hash.js";
import type { MemberState, NodeMeta } from "./types.js";

export const frameMagic = 0xb5;
export const frameVersion = 1;
export const frameHeaderBytes = 3;
/** Messages in one frame: the count is one byte. */
export const frameMessagesMax = 255;

/** Member ids: a UUID or a host name fits with room to spare. */
export const idBytesMax = 128;
/** Transport addresses: "host:port", a DNS name or an IPv6 literal with zone fits. */
export const addressBytesMax = 256;
export const zoneBytesMax = 64;
export const metaAddressesMax = 4;
export const capacityEntriesMax = 8;
export const capacityKeyBytesMax = 32;
/** Encoded metadata, as memberlist's MetaMaxSize: small enough to gossip in a datagram. */
export const metaBytesMax = 512;

/** state:u8 id address meta incarnation:u32 — one push-pull entry at its largest. */
export const memberRecordBytesMax = 1 + (2 + idBytesMax) + (2 + addressBytesMax) + metaBytesMax + 4;
/** An alive message at its largest; suspect and dead are smaller. */
export const broadcastBytesMax = 1 + 4 + (2 + idBytesMax) + (2 + addressBytesMax) + metaBytesMax;
/** A ping-req at its largest (the largest probe message). */
export const probeMessageBytesMax = 1 + 4 + (2 + idBytesMax) + (2 + addressBytesMax) + 1;
/** A datagram must hold a probe message and the largest broadcast. */
export const datagramBytesMin = frameHeaderBytes + probeMessageBytesMax + broadcastBytesMax;

const Type = {
  ping: 1,
  pingReq: 2,
  ack: 3,
  nack: 4,
  alive: 5,
  suspect: 6,
  dead: 7,
  pushPull: 8,
} as const;

const stateCodes: MemberState[] = ["alive", "suspect", "dead", "left"];

/**
 * The part of the member table a periodic push-pull covers: the members whose idHash h
 * has (h − start) mod 2³² < span. A join's push-pull has no window (the whole table).
 */
export interface PushPullWindow {
  start: number;
  /** 1 ≤ span < 2³²; the whole ring is "no window". */
  span: number;
}

/** Buckets of `span` ids the ring holds: ceil(2³² / span). */
export function digestBuckets(span: number): number {
  return Math.ceil(2 ** 32 / span);
}

export interface PushPullEntry {
  id: string;
  address: string;
  meta: NodeMeta;
  incarnation: number;
  state: MemberState;
}

export type Message =
  /** A probe; targetId lets a reused address tell it is not the one probed. */
  | { type: "ping"; seq: number; targetId: string }
  /** "Please probe target for me" (SWIM's ping-req), nack wanted as Lifeguard says. */
  | { type: "ping-req"; seq: number; targetId: string; targetAddress: string; wantNack: boolean }
  | { type: "ack"; seq: number }
  /** From an indirect prober: "I could not reach the target either, but I am here". */
  | { type: "nack"; seq: number }
  | { type: "alive"; incarnation: number; id: string; address: string; meta: NodeMeta }
  | { type: "suspect"; incarnation: number; id: string; from: string }
  /** from === id: the member left gracefully. */
  | { type: "dead"; incarnation: number; id: string; from: string }
  | {
      type: "push-pull";
      join: boolean;
      reply: boolean;
      window: PushPullWindow | null;
      /**
       * With a window: a digest of each bucket of the ring (bucket i holds the members
       * whose idHash h has floor(h / span) = i), so the peer can tell which parts of its
       * table differ from ours and send them too (membership.ts, repairBuckets).
       */
      digests: Uint32Array | null;
      entries: PushPullEntry[];
    };

export type Broadcast = Extract<Message, { type: "alive" | "suspect" | "dead" }>;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

class Writer extends ByteWriter {
  str(s: string, max: number, lengthBytes: 1 | 2): void {
    if (s.length <= max && isAscii(s)) {
      // The common case (ids, addresses, zones): one byte per character, no encoder call.
      if (lengthBytes === 1) this.u8(s.length);
      else this.u16(s.length);
      this.reserve(s.length);
      for (let i = 0; i < s.length; i++) this.bytes[this.length + i] = s.charCodeAt(i);
      this.length += s.length;
      return;
    }
    const b = textEncoder.encode(s);
    if (b.length > max) throw new RangeError(`string of ${b.length} bytes exceeds ${max}`);
    if (lengthBytes === 1) this.u8(b.length);
    else this.u16(b.length);
    this.raw(b);
  }
}

class Reader extends ByteReader {
  /** A Buffer view of the bytes, made on first use, for native Latin-1 decoding. */
  private buffer: Buffer | null = null;

  str(max: number, lengthBytes: 1 | 2): string {
    const n = lengthBytes === 1 ? this.u8() : this.u16();
    if (n > max) throw new DecodeError("string too long");
    this.need(n);
    const s = this.decodeString(this.offset, n);
    this.offset += n;
    return s;
  }

  /** Skips a string, checking only its length against the bytes left. */
  skipStr(lengthBytes: 1 | 2): void {
    const n = lengthBytes === 1 ? this.u8() : this.u16();
    this.need(n);
    this.offset += n;
  }

  /** Skips what readMeta would read, checking only lengths: where the metadata ends. */
  metaEnd(): number {
    const start = this.offset;
    this.skipStr(1);
    const addresses = this.u8();
    for (let i = 0; i < addresses && i <= metaAddressesMax; i++) this.skipStr(2);
    const capacities = this.u8();
    for (let i = 0; i < capacities && i <= capacityEntriesMax; i++) {
      this.skipStr(1);
      this.need(8);
      this.offset += 8;
    }
    this.need(4);
    const end = this.offset + 4;
    this.offset = start;
    return end;
  }

  /** The bytes from the current position to `end`, as a Latin-1 string (a cache key). */
  latin1(end: number): string {
    return this.latin1From(this.offset, end);
  }

  /** UTF-8 at [offset, offset + n); plain ASCII up to a bound takes the Latin-1 fast path. */
  private decodeString(offset: number, n: number): string {
    const bytes = this.bytes;
    if (n <= asciiFastPathBytesMax) {
      let ascii = true;
      for (let i = offset; i < offset + n; i++) {
        if ((bytes[i] as number) > 0x7f) {
          ascii = false;
          break;
        }
      }
      if (ascii) return this.latin1From(offset, offset + n);
    }
    return textDecoder.decode(bytes.subarray(offset, offset + n));
  }

  latin1From(start: number, end: number): string {
    // Buffer is a global (no import, no I/O); its native Latin-1 decoding is many times
    // faster than building the string in JavaScript.
    this.buffer ??= Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    return this.buffer.toString("latin1", start, end);
  }

  get source(): Uint8Array {
    return this.bytes;
  }

  slice(start: number, end: number): Uint8Array {
    return this.bytes.slice(start, end);
  }
}

/**
 * Encoded metadata by the metadata object: decoded metadata is shared (readMeta's cache)
 * and a member's own changes only with updateMeta, so push-pull entries and alive messages
 * reuse one encoding. Weak, so it holds nothing alive.
 */
const metaBytes = new WeakMap<NodeMeta, Uint8Array>();

function writeMeta(w: Writer, meta: NodeMeta): void {
  let bytes = metaBytes.get(meta);
  if (bytes === undefined) {
    const own = new Writer();
    encodeMeta(own, meta);
    bytes = own.done();
    // Only frozen metadata can be cached by identity: a caller may change its own object.
    if (isDeeplyFrozen(meta)) metaBytes.set(meta, bytes);
  }
  w.raw(bytes);
}

function isDeeplyFrozen(meta: NodeMeta): boolean {
  return Object.isFrozen(meta) && Object.isFrozen(meta.addresses) && Object.isFrozen(meta.capacity);
}

/** A frozen copy of `meta` (arrays and maps too), safe to share and to cache by identity. */
export function frozenMeta(meta: NodeMeta): NodeMeta {
  if (isDeeplyFrozen(meta)) return meta;
  return Object.freeze({
    zone: meta.zone,
    addresses: Object.freeze([...meta.addresses]) as string[],
    capacity: Object.freeze({ ...meta.capacity }),
    version: meta.version,
  });
}

function encodeMeta(w: Writer, meta: NodeMeta): void {
  const start = w.length;
  w.str(meta.zone, zoneBytesMax, 1);
  if (meta.addresses.length > metaAddressesMax) throw new RangeError("too many meta addresses");
  w.u8(meta.addresses.length);
  for (const a of meta.addresses) w.str(a, addressBytesMax, 2);
  const entries = Object.entries(meta.capacity);
  if (entries.length > capacityEntriesMax) throw new RangeError("too many capacity hints");
  w.u8(entries.length);
  for (const [key, value] of entries) {
    if (!Number.isFinite(value)) throw new RangeError(`capacity ${key} is not finite`);
    w.str(key, capacityKeyBytesMax, 1);
    w.f64(value);
  }
  w.u32(meta.version);
  if (w.length - start > metaBytesMax) throw new RangeError("metadata exceeds metaBytesMax");
}

/**
 * Decoded metadata by its encoded bytes. Every member gossips the same few metadata
 * records over and over (each alive message and push-pull entry carries one), so decoding
 * them once and sharing the frozen result saves most of the decoding and, in the
 * simulator, most of the memory (N members each holding N records). Bounded: cleared
 * when full. Pure: the result is the same whether or not it came from here.
 */
const metaCache = new Map<string, NodeMeta>();
const metaCacheEntriesMax = 16_384;

function readMeta(r: Reader): NodeMeta {
  const end = r.metaEnd();
  const key = r.latin1(end);
  const cached = metaCache.get(key);
  if (cached !== undefined) {
    r.skipTo(end);
    return cached;
  }
  const meta = Object.freeze(decodeMeta(r));
  if (metaCache.size >= metaCacheEntriesMax) metaCache.clear();
  metaCache.set(key, meta);
  return meta;
}

function decodeMeta(r: Reader): NodeMeta {
  const before = r.remaining;
  const zone = r.str(zoneBytesMax, 1);
  const addressCount = r.u8();
  if (addressCount > metaAddressesMax) throw new DecodeError("too many meta addresses");
  const addresses: string[] = [];
  for (let i = 0; i < addressCount; i++) addresses.push(r.str(addressBytesMax, 2));
  const capacityCount = r.u8();
  if (capacityCount > capacityEntriesMax) throw new DecodeError("too many capacity hints");
  // A null-prototype object: a key such as "__proto__" from the wire stays a plain key.
  const capacity: Record<string, number> = Object.create(null);
  for (let i = 0; i < capacityCount; i++) {
    const key = r.str(capacityKeyBytesMax, 1);
    capacity[key] = r.f64();
  }
  const version = r.u32();
  if (before - r.remaining > metaBytesMax) throw new DecodeError("metadata too large");
  return {
    zone,
    addresses: Object.freeze(addresses) as string[],
    capacity: Object.freeze(capacity),
    version,
  };
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Strings this short and plain ASCII skip the (comparatively slow) TextDecoder. */
const asciiFastPathBytesMax = 256;

/**
 * Why `meta` cannot be advertised, or null if it can. For callers handing metadata in
 * (the constructor, updateMeta): an operating error to report, not to assert.
 */
export function metaProblem(meta: NodeMeta): string | null {
  try {
    encodeMeta(new Writer(), meta);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * One Writer reused by every encodeMessage (single-threaded, never re-entered): a fresh
 * one per message allocated a buffer and a view each time, for messages of ~20-60 bytes.
 */
const scratch = new Writer();

export function encodeMessage(m: Message): Uint8Array {
  const w = scratch;
  w.reset();
  switch (m.type) {
    case "ping":
      w.u8(Type.ping);
      w.u32(m.seq);
      w.str(m.targetId, idBytesMax, 2);
      break;
    case "ping-req":
      w.u8(Type.pingReq);
      w.u32(m.seq);
      w.str(m.targetId, idBytesMax, 2);
      w.str(m.targetAddress, addressBytesMax, 2);
      w.u8(m.wantNack ? 1 : 0);
      break;
    case "ack":
    case "nack":
      w.u8(m.type === "ack" ? Type.ack : Type.nack);
      w.u32(m.seq);
      break;
    case "alive":
      w.u8(Type.alive);
      w.u32(m.incarnation);
      w.str(m.id, idBytesMax, 2);
      w.str(m.address, addressBytesMax, 2);
      writeMeta(w, m.meta);
      break;
    case "suspect":
    case "dead":
      w.u8(m.type === "suspect" ? Type.suspect : Type.dead);
      w.u32(m.incarnation);
      w.str(m.id, idBytesMax, 2);
      w.str(m.from, idBytesMax, 2);
      break;
    case "push-pull":
      w.u8(Type.pushPull);
      w.u8(
        (m.join ? 1 : 0) |
          (m.reply ? 2 : 0) |
          (m.window !== null ? 4 : 0) |
          (m.digests !== null ? 8 : 0),
      );
      if (m.window !== null) {
        if (m.window.span < 1) throw new RangeError("push-pull window span must be >= 1");
        w.u32(m.window.start);
        w.u32(m.window.span);
      }
      if (m.digests !== null) {
        if (m.window === null || m.digests.length !== digestBuckets(m.window.span)) {
          throw new RangeError("push-pull digests need a window and one per bucket");
        }
        for (const d of m.digests) w.u32(d);
      }
      w.u32(m.entries.length);
      for (const e of m.entries) {
        const known = entryBytes.get(e);
        if (known !== undefined) {
          w.raw(known);
          continue;
        }
        const start = w.length;
        w.u8(stateCodes.indexOf(e.state));
        w.str(e.id, idBytesMax, 2);
        w.str(e.address, addressBytesMax, 2);
        writeMeta(w, e.meta);
        w.u32(e.incarnation);
        if (Object.isFrozen(e) && isDeeplyFrozen(e.meta)) entryBytes.set(e, w.copyFrom(start));
      }
      break;
  }
  return w.done();
}

/** A frame from already-encoded messages (broadcasts are encoded once, sent many times). */
export function encodeFrame(parts: Uint8Array[]): Uint8Array {
  if (parts.length > frameMessagesMax) throw new RangeError("too many messages in a frame");
  let size = frameHeaderBytes;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  out[0] = frameMagic;
  out[1] = frameVersion;
  out[2] = parts.length;
  let at = frameHeaderBytes;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function readMessage(r: Reader, entriesMax: number): Message {
  const type = r.u8();
  switch (type) {
    case Type.ping:
      return { type: "ping", seq: r.u32(), targetId: r.str(idBytesMax, 2) };
    case Type.pingReq:
      return {
        type: "ping-req",
        seq: r.u32(),
        targetId: r.str(idBytesMax, 2),
        targetAddress: r.str(addressBytesMax, 2),
        wantNack: r.u8() !== 0,
      };
    case Type.ack:
      return { type: "ack", seq: r.u32() };
    case Type.nack:
      return { type: "nack", seq: r.u32() };
    case Type.alive:
    case Type.suspect:
    case Type.dead:
      return readBroadcast(r, type);
    case Type.pushPull:
      return readPushPull(r, entriesMax);
    default:
      throw new DecodeError(`unknown message type ${type}`);
  }
}

function readPushPull(r: Reader, entriesMax: number): Message {
  const flags = r.u8();
  if (flags > 15) throw new DecodeError("bad push-pull flags");
  let window: PushPullWindow | null = null;
  if ((flags & 4) !== 0) {
    window = { start: r.u32(), span: r.u32() };
    if (window.span < 1) throw new DecodeError("empty push-pull window");
  }
  let digests: Uint32Array | null = null;
  if ((flags & 8) !== 0) {
    if (window === null) throw new DecodeError("push-pull digests without a window");
    const buckets = digestBuckets(window.span);
    // One bucket per window's worth of members: entriesMax members need no more.
    if (buckets > Math.max(1, entriesMax)) throw new DecodeError("too many digest buckets");
    digests = new Uint32Array(buckets);
    for (let i = 0; i < buckets; i++) digests[i] = r.u32();
  }
  const count = r.u32();
  if (count > entriesMax) throw new DecodeError("too many push-pull entries");
  const entries: PushPullEntry[] = [];
  for (let i = 0; i < count; i++) entries.push(readEntry(r));
  return {
    type: "push-pull",
    join: (flags & 1) !== 0,
    reply: (flags & 2) !== 0,
    window,
    digests,
    entries,
  };
}

/**
 * Decoded values by the bytes they were decoded from. The same alive, suspect or dead
 * message reaches every member λ·log N times, and the same member record comes in every
 * push-pull, so most decodes are repeats: a hit costs a hash and a compare of the bytes
 * instead of decoding strings and metadata, and allocates nothing. The values are frozen
 * and shared, which in the simulator also shares the id and address strings of N members'
 * N records. A slot per 32-bit hash of the bytes (a collision replaces), bounded and
 * cleared when full. Pure: a value is the same whether or not it came from here.
 */
class DecodedCache<T> {
  private readonly slots = new Map<number, { bytes: Uint8Array; value: T }>();
  private static readonly slotsMax = 65_536;

  get(bytes: Uint8Array, start: number, end: number, hash: number): T | undefined {
    const slot = this.slots.get(hash);
    if (slot === undefined || slot.bytes.length !== end - start) return undefined;
    const b = slot.bytes;
    for (let i = 0; i < b.length; i++) if (b[i] !== bytes[start + i]) return undefined;
    return slot.value;
  }

  set(bytes: Uint8Array, hash: number, value: T): void {
    if (this.slots.size >= DecodedCache.slotsMax) this.slots.clear();
    this.slots.set(hash, { bytes, value });
  }
}

const broadcastCache = new DecodedCache<Broadcast>();
const entryCache = new DecodedCache<PushPullEntry>();
/**
 * The encoding of each frozen push-pull entry: decoded ones keep the bytes they came in,
 * and a member table hands out one frozen entry per (member, state, incarnation)
 * (membership.ts, entryOf), so sending a table is mostly copying bytes.
 */
const entryBytes = new WeakMap<PushPullEntry, Uint8Array>();
/** The bytes each decoded broadcast came in, so relaying it needs no re-encoding. */
const broadcastBytes = new WeakMap<Broadcast, Uint8Array>();

/** A broadcast's encoding: the bytes it arrived in, or a fresh encoding. */
export function encodeBroadcast(b: Broadcast): Uint8Array {
  return broadcastBytes.get(b) ?? encodeMessage(b);
}

function readBroadcast(r: Reader, type: number): Broadcast {
  const start = r.position - 1;
  // Find the end by lengths alone, to look the bytes up before decoding anything.
  r.u32();
  r.skipStr(2);
  r.skipStr(2);
  const end = type === Type.alive ? r.metaEnd() : r.position;
  const hash = fnv1a32Bytes(r.source, start, end);
  const cached = broadcastCache.get(r.source, start, end, hash);
  if (cached !== undefined) {
    r.skipTo(end);
    return cached;
  }
  r.skipTo(start + 1);
  const incarnation = r.u32();
  const id = r.str(idBytesMax, 2);
  const m: Broadcast =
    type === Type.alive
      ? { type: "alive", incarnation, id, address: r.str(addressBytesMax, 2), meta: readMeta(r) }
      : {
          type: type === Type.suspect ? "suspect" : "dead",
          incarnation,
          id,
          from: r.str(idBytesMax, 2),
        };
  if (r.position !== end) throw new DecodeError("broadcast length mismatch");
  Object.freeze(m);
  const bytes = r.slice(start, end);
  broadcastCache.set(bytes, hash, m);
  broadcastBytes.set(m, bytes);
  return m;
}

function readEntry(r: Reader): PushPullEntry {
  const start = r.position;
  r.u8();
  r.skipStr(2);
  r.skipStr(2);
  r.skipTo(r.metaEnd());
  r.u32();
  const end = r.position;
  const hash = fnv1a32Bytes(r.source, start, end);
  const cached = entryCache.get(r.source, start, end, hash);
  if (cached !== undefined) return cached;
  r.skipTo(start);
  const state = stateCodes[r.u8()];
  if (state === undefined) throw new DecodeError("bad member state");
  const id = r.str(idBytesMax, 2);
  const address = r.str(addressBytesMax, 2);
  const meta = readMeta(r);
  const entry: PushPullEntry = Object.freeze({ id, address, meta, incarnation: r.u32(), state });
  if (r.position !== end) throw new DecodeError("entry length mismatch");
  const bytes = r.slice(start, end);
  entryCache.set(bytes, hash, entry);
  entryBytes.set(entry, bytes);
  return entry;
}

/** Decoded messages, or why the frame was rejected. Never throws. */
export function decodeFrame(
  data: Uint8Array,
  entriesMax: number,
): { ok: true; messages: Message[] } | { ok: false; reason: string } {
  try {
    const r = new Reader(data);
    if (r.u8() !== frameMagic) throw new DecodeError("bad magic");
    if (r.u8() !== frameVersion) throw new DecodeError("unknown version");
    const count = r.u8();
    if (count === 0) throw new DecodeError("empty frame");
    const messages: Message[] = [];
    for (let i = 0; i < count; i++) messages.push(readMessage(r, entriesMax));
    if (r.remaining !== 0) throw new DecodeError("trailing bytes");
    return { ok: true, messages };
  } catch (e) {
    // DecodeError, or TypeError from the fatal UTF-8 decoder: both mean garbled input.
    return { ok: false, reason: (e as Error).message };
  }
}
