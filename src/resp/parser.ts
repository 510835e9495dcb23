/**
 * Streaming parser for client requests: RESP multibulk (`*N\r\n$len\r\n...`) and inline
 * commands (a line split with Redis's quoting rules), RESP2 and RESP3 alike.
 *
 * No I/O and no per-command promise: `feed(chunk)` calls the handler once per command, in
 * order. Complete commands are parsed in place inside the chunk; only an unfinished one is
 * copied into the parser's own buffer, and the rest of it is copied from the next chunk just
 * until that command is complete, after which parsing returns to the chunk itself.
 *
 * Every buffer the parser owns is bounded by `RequestLimits`, and it never allocates from a
 * length a peer declared: its buffer grows with the bytes that actually arrived.
 *
 * Deliberate differences from Redis 7.0, all on input no real client sends:
 * - the two bytes after a length line's `\r` and after bulk data must be `\r\n`
 *   (Redis skips them unchecked); otherwise the frame's length is reported invalid;
 * - a NUL byte is an ordinary byte (Redis's C string search stalls on it);
 * - an inline line or length line longer than the bound is refused even when it arrives in
 *   one read (Redis refuses it only when it spans reads): the result never depends on how
 *   the input was split.
 */

import { assert } from "../core/assert.js";
import { ProtocolError, type ProtocolErrorCode } from "./errors.js";
import type { Args } from "./types.js";

export { ProtocolError } from "./errors.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export interface RequestLimits {
  /** Largest bulk argument, bytes (Redis proto-max-bulk-len). */
  readonly maxBulkBytes: number;
  /** Most arguments in one multibulk command. */
  readonly maxArrayLength: number;
  /** Longest inline command line, and longest `*N`/`$N` length line (PROTO_INLINE_MAX_SIZE). */
  readonly maxInlineBytes: number;
  /**
   * Most bytes held in the parser's buffer: a command that does not arrive in one chunk may
   * not exceed it, nor may what is received while paused (client-query-buffer-limit).
   * A command that arrives whole in one chunk is parsed in place and not held.
   */
  readonly maxBufferBytes: number;
}

export const REQUEST_LIMITS_DEFAULT: RequestLimits = {
  // Redis's default proto-max-bulk-len: the largest string value Redis accepts.
  maxBulkBytes: 512 * MiB,
  // Redis before 7.0 refused more than 1024*1024 arguments; a bound keeps the offset arrays
  // (8 bytes per argument) at 8 MiB per connection.
  maxArrayLength: 1024 * 1024,
  // Redis's PROTO_INLINE_MAX_SIZE.
  maxInlineBytes: 64 * KiB,
  // Redis's default client-query-buffer-limit.
  maxBufferBytes: 1 * GiB,
};

/**
 * Offsets are Int32: no bound may let a frame reach 2 GiB. The largest proto-max-bulk-len
 * and client-query-buffer-limit a node takes (server/settings.ts).
 */
export const MAX_BUFFER_BYTES_LIMIT = 2 ** 31 - 2;
/** Redis refuses a multibulk count above INT_MAX whatever the configuration. */
const INT_MAX = 2 ** 31 - 1;
/** Before AUTH, Redis allows only small commands, so an anonymous peer cannot make it buffer much. */
const UNAUTH_MAX_ARRAY_LENGTH = 10;
const UNAUTH_MAX_BULK_BYTES = 16384;

/** First allocation of the unfinished-command buffer: one typical socket read. */
const TAIL_MIN_BYTES = 16 * KiB;
/** A buffer grown beyond this for one big command is dropped once that command is done. */
const TAIL_KEEP_MAX_BYTES = 256 * KiB;
/** While completing a command from a new chunk, copy this much at first, doubling each round. */
const TAIL_STEP_MIN_BYTES = 4 * KiB;
const OFFSETS_MIN = 64;
/** Offset arrays grown beyond this for one wide command are shrunk once it is done. */
const OFFSETS_KEEP_MAX = 4096;
const SCRATCH_MIN_BYTES = 256;

const CR = 13;
const LF = 10;
const STAR = 42;
const DOLLAR = 36;
const DQUOTE = 34;
const SQUOTE = 39;
const BACKSLASH = 92;

/** Frame-function results; a non-negative result is the position after the frame. */
const NEED_MORE = -1;
const FAILED = -2;

const TYPE_NONE = 0;
const TYPE_MULTIBULK = 1;
const TYPE_INLINE = 2;

const EMPTY = Buffer.alloc(0);
/** Shared by every parser: used and released within one lower() call. */
const FOLD_SCRATCH = Buffer.alloc(64);
/** lower() remembers this many recent short results (module-wide: one thread). */
const LOWER_CACHE_SLOTS = 256;
const LOWER_CACHE_MAX_BYTES = 32;
const LOWER_CACHE: (string | undefined)[] = new Array(LOWER_CACHE_SLOTS).fill(undefined);

/**
 * One parsed command. The parser reuses this object and its arrays for every command: it is
 * valid only until the handler returns, and so are the Buffers `buf(i)` and `frame()` return
 * (they are views of the socket chunk or of the parser's buffer). Copy what must outlive it.
 */
export class ParsedCommand implements Args {
  length = 0;
  /** Buffer holding the arguments; argument i is [base + starts[i], base + ends[i]). */
  buffer: Buffer = EMPTY;
  base = 0;
  starts: Int32Array = new Int32Array(OFFSETS_MIN);
  ends: Int32Array = new Int32Array(OFFSETS_MIN);
  /** The whole frame as received: [frameStart, frameEnd) of frameBuffer. */
  frameBuffer: Buffer = EMPTY;
  frameStart = 0;
  frameEnd = 0;
  /** Whether the frame was an inline command rather than a multibulk one. */
  inline = false;

  buf(i: number): Buffer {
    this.check(i);
    return this.buffer.subarray(this.base + this.starts[i], this.base + this.ends[i]);
  }

  str(i: number): string {
    this.check(i);
    return this.buffer.toString("utf8", this.base + this.starts[i], this.base + this.ends[i]);
  }

  lower(i: number): string {
    this.check(i);
    return lowerWord(this.buffer, this.base + this.starts[i], this.base + this.ends[i]);
  }

  is(i: number, word: string): boolean {
    this.check(i);
    const s = this.base + this.starts[i];
    const n = this.base + this.ends[i] - s;
    if (n !== word.length) return false;
    const b = this.buffer;
    for (let k = 0; k < n; k++) {
      let c = b[s + k];
      if (c >= 65 && c <= 90) c |= 32;
      if (c !== word.charCodeAt(k)) return false;
    }
    return true;
  }

  byteLength(i: number): number {
    this.check(i);
    return this.ends[i] - this.starts[i];
  }

  /** The raw bytes of the whole command as received (a view, valid until the handler returns). */
  frame(): Buffer {
    return this.frameBuffer.subarray(this.frameStart, this.frameEnd);
  }

  /** All arguments as fresh strings: for tests and logs, not for the hot path. */
  toStrings(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.length; i++) out.push(this.str(i));
    return out;
  }

  private check(i: number): void {
    if (!(i >= 0 && i < this.length)) {
      throw new RangeError(`argument ${i} out of range (${this.length} arguments)`);
    }
  }
}

/**
 * Called once per command (the parser passes a `ParsedCommand`, an `Args` with the frame's
 * bytes besides). Returning `false` pauses the parser (for a blocked client, as
 * Redis stops reading a blocked client's buffer): later input is held, within
 * `maxBufferBytes`, until `resume()`.
 */
export type CommandHandler = (command: ParsedCommand) => unknown;

export class RequestParser {
  readonly limits: RequestLimits;
  /** The command object handed to the handler; reused. */
  private readonly cmd = new ParsedCommand();

  /** Unparsed input kept across chunks: [0, tailLen). Holds one unfinished frame unless paused. */
  private tail: Buffer = EMPTY;
  private tailLen = 0;
  /** Unescaped arguments of a quoted inline command. */
  private scratch: Buffer = EMPTY;

  private failure: ProtocolError | undefined = undefined;
  private paused = false;
  /** True while feed/resume runs: catches re-entry and use after a handler threw. */
  private busy = false;
  private authRequired = false;
  private argcFastMax: number;
  private bulkFastMax: number;

  // State of the unfinished frame, as offsets from its first byte so it survives being moved.
  private type = TYPE_NONE;
  /** Where parsing resumes. */
  private rel = 0;
  /** Where the search for a line end resumes (0: from the line start). */
  private scan = 0;
  /** Declared argument count; -1 until the `*N` line is read. */
  private argc = -1;
  /** Arguments parsed so far. */
  private n = 0;
  /** Length of the bulk whose data comes next; -1 while its `$N` line is unread. */
  private bulkLen = -1;
  /** Number parsed by the last length line. */
  private lineValue = 0;

  /** The handler of the feed or resume call under way. */
  private onCommand: CommandHandler = noHandler;

  constructor(limits: Partial<RequestLimits> = {}) {
    this.limits = { ...REQUEST_LIMITS_DEFAULT, ...limits };
    const { maxBulkBytes, maxArrayLength, maxInlineBytes, maxBufferBytes } = this.limits;
    for (const [name, v] of Object.entries(this.limits)) {
      assert(Number.isSafeInteger(v) && v >= 0, `RequestParser: ${name} must be an integer >= 0`);
    }
    assert(
      maxBufferBytes <= MAX_BUFFER_BYTES_LIMIT,
      "RequestParser: maxBufferBytes must be < 2 GiB",
    );
    assert(maxBulkBytes <= MAX_BUFFER_BYTES_LIMIT, "RequestParser: maxBulkBytes must be < 2 GiB");
    assert(maxArrayLength <= INT_MAX, "RequestParser: maxArrayLength must be <= INT_MAX");
    assert(maxInlineBytes <= MAX_BUFFER_BYTES_LIMIT, "RequestParser: maxInlineBytes too big");
    this.argcFastMax = maxArrayLength;
    this.bulkFastMax = maxBulkBytes;
  }

  /**
   * Before the client authenticates, Redis refuses commands of more than 10 arguments or
   * with an argument over 16 KiB ("unauthenticated multibulk/bulk length"). Set true while a
   * password is required and not yet given.
   */
  setAuthRequired(required: boolean): void {
    this.authRequired = required;
    this.argcFastMax = required
      ? Math.min(UNAUTH_MAX_ARRAY_LENGTH, this.limits.maxArrayLength)
      : this.limits.maxArrayLength;
    this.bulkFastMax = required
      ? Math.min(UNAUTH_MAX_BULK_BYTES, this.limits.maxBulkBytes)
      : this.limits.maxBulkBytes;
  }

  /**
   * Parses `chunk`, calling the handler for each complete command. Returns the protocol
   * error, if any: commands before the bad frame have been delivered, and from then on the
   * parser refuses input (it returns the same error). The chunk may be reused by the caller
   * once this returns.
   */
  feed(chunk: Buffer, onCommand: CommandHandler): ProtocolError | undefined {
    if (this.failure !== undefined) return this.failure;
    assert(!this.busy, "RequestParser: feed re-entered, or used after a handler threw");
    if (chunk.length === 0) return undefined;
    this.busy = true;
    this.onCommand = onCommand;
    if (this.paused) {
      if (this.tailLen + chunk.length > this.limits.maxBufferBytes) {
        this.fail("QUERY_BUFFER_LIMIT");
      } else {
        this.append(chunk, 0, chunk.length);
      }
    } else if (this.tailLen === 0) {
      this.parseChunk(chunk, 0);
    } else {
      this.completeTail(chunk);
    }
    this.onCommand = noHandler;
    this.busy = false;
    return this.failure;
  }

  /** Whether a handler paused the parser. */
  isPaused(): boolean {
    return this.paused;
  }

  /** Continues after a handler returned false: delivers the held commands. */
  resume(onCommand: CommandHandler): ProtocolError | undefined {
    if (this.failure !== undefined) return this.failure;
    assert(!this.busy, "RequestParser: resume re-entered, or used after a handler threw");
    if (!this.paused) return undefined;
    this.paused = false;
    this.busy = true;
    this.onCommand = onCommand;
    // While paused the tail starts at a frame boundary: parse it like a chunk, in place.
    const rest = this.drain(this.tail, 0, this.tailLen);
    if (this.failure === undefined) {
      this.tail.copyWithin(0, rest, this.tailLen);
      this.tailLen -= rest;
      if (this.tail.length > TAIL_KEEP_MAX_BYTES && this.tailLen < TAIL_KEEP_MAX_BYTES / 2) {
        // What piled up while paused is parsed: give back the buffer it needed.
        const small = Buffer.allocUnsafe(Math.max(this.tailLen, TAIL_MIN_BYTES));
        this.tail.copy(small, 0, 0, this.tailLen);
        this.tail = small;
      }
    }
    this.onCommand = noHandler;
    this.busy = false;
    return this.failure;
  }

  /** The error that stopped the parser, if any. */
  error(): ProtocolError | undefined {
    return this.failure;
  }

  /** Input bytes held: an unfinished command, or everything received while paused. */
  bufferedBytes(): number {
    return this.tailLen;
  }

  /** Bytes of every buffer the parser owns, whatever their use. */
  retainedBytes(): number {
    return (
      this.tail.length + this.scratch.length + this.cmd.starts.byteLength + this.cmd.ends.byteLength
    );
  }

  // ---- chunk and tail management ----

  /** Parses `chunk` from `from` in place; keeps what is left (an unfinished frame, or the rest when paused). */
  private parseChunk(chunk: Buffer, from: number): void {
    const rest = this.paused ? from : this.drain(chunk, from, chunk.length);
    if (this.failure !== undefined || rest === chunk.length) return;
    const len = chunk.length - rest;
    if (len > this.limits.maxBufferBytes) {
      this.fail("QUERY_BUFFER_LIMIT");
      return;
    }
    this.tailLen = 0;
    this.append(chunk, rest, len);
  }

  /**
   * The tail holds an unfinished frame. Copy from `chunk` just enough to finish it (what its
   * current bulk still needs, or a growing step when unknown), then parse the rest of the
   * chunk in place. Bytes copied past the frame's end are not lost: they are still in the
   * chunk, and parsing resumes there.
   */
  private completeTail(chunk: Buffer): void {
    const end = chunk.length;
    const maxBuffer = this.limits.maxBufferBytes;
    let cpos = 0;
    let step = TAIL_STEP_MIN_BYTES;
    for (;;) {
      const need = this.bulkLen >= 0 ? this.rel + this.bulkLen + 2 - this.tailLen : 0;
      // Never hold more than one byte beyond the bound: that byte proves the frame too big.
      const n = Math.min(end - cpos, Math.max(need, step), maxBuffer + 1 - this.tailLen);
      this.append(chunk, cpos, n);
      cpos += n;
      if (step < GiB) step *= 2;
      const next = this.frame(this.tail, 0, this.tailLen);
      if (next === FAILED) return;
      if (next === NEED_MORE) {
        if (this.tailLen > maxBuffer) {
          this.fail("QUERY_BUFFER_LIMIT");
          return;
        }
        if (cpos === end) return;
        continue;
      }
      if (next > maxBuffer) {
        // Complete, but it was held whole in our buffer: the bound counts every byte held.
        this.fail("QUERY_BUFFER_LIMIT");
        return;
      }
      const resumeAt = cpos - (this.tailLen - next);
      this.tailLen = 0;
      this.finishFrame(this.tail, 0, next);
      if (this.tail.length > TAIL_KEEP_MAX_BYTES) this.tail = EMPTY;
      this.parseChunk(chunk, resumeAt);
      return;
    }
  }

  /**
   * Appends src[from, from + n) to the tail. Capacity doubles with what arrived (so copies
   * stay linear), never past the bound, and not past the end of the bulk being read plus a
   * little: a 300 MB value does not get a 512 MB buffer.
   */
  private append(src: Buffer, from: number, n: number): void {
    const required = this.tailLen + n;
    if (required > this.tail.length) {
      let cap = Math.max(required, this.tail.length * 2, TAIL_MIN_BYTES);
      if (this.bulkLen >= 0) {
        cap = Math.min(cap, Math.max(required, this.rel + this.bulkLen + 2 + TAIL_MIN_BYTES));
      }
      cap = Math.min(cap, this.limits.maxBufferBytes + 1);
      assert(cap >= required, "RequestParser: tail growth beyond the buffer bound");
      const grown = Buffer.allocUnsafe(cap);
      this.tail.copy(grown, 0, 0, this.tailLen);
      this.tail = grown;
    }
    src.copy(this.tail, this.tailLen, from, from + n);
    this.tailLen = required;
  }

  // ---- frames ----

  /**
   * Delivers every complete frame of buf[start, end). Returns where the unparsed bytes
   * begin: an unfinished frame (whose state is then kept relative to its start), or the
   * first frame not parsed because a handler paused.
   */
  private drain(buf: Buffer, start: number, end: number): number {
    let fs = start;
    while (fs < end && !this.paused) {
      const next = this.frame(buf, fs, end);
      if (next < 0) return fs;
      this.finishFrame(buf, fs, next);
      fs = next;
    }
    return fs;
  }

  private frame(buf: Buffer, fs: number, end: number): number {
    if (this.type === TYPE_NONE) this.type = buf[fs] === STAR ? TYPE_MULTIBULK : TYPE_INLINE;
    return this.type === TYPE_MULTIBULK ? this.multibulk(buf, fs, end) : this.inline(buf, fs, end);
  }

  /** Resets the frame state and hands the command (if it has arguments) to the handler. */
  private finishFrame(buf: Buffer, fs: number, next: number): void {
    const cmd = this.cmd;
    cmd.inline = this.type === TYPE_INLINE;
    this.type = TYPE_NONE;
    this.rel = 0;
    this.scan = 0;
    this.argc = -1;
    this.n = 0;
    this.bulkLen = -1;
    if (cmd.length > OFFSETS_KEEP_MAX || cmd.starts.length > OFFSETS_KEEP_MAX) {
      // A wide command grew the offset arrays; give the memory back after it.
      if (cmd.length > 0) this.deliver(cmd, buf, fs, next);
      cmd.starts = new Int32Array(OFFSETS_MIN);
      cmd.ends = new Int32Array(OFFSETS_MIN);
      cmd.length = 0;
      return;
    }
    if (cmd.length > 0) this.deliver(cmd, buf, fs, next);
  }

  private deliver(cmd: ParsedCommand, buf: Buffer, fs: number, next: number): void {
    cmd.frameBuffer = buf;
    cmd.frameStart = fs;
    cmd.frameEnd = next;
    if (this.onCommand(cmd) === false) this.paused = true;
  }

  /** `*N\r\n` then N times `$len\r\n<len bytes>\r\n`. */
  private multibulk(buf: Buffer, fs: number, end: number): number {
    const cmd = this.cmd;
    let p = fs + this.rel;
    if (this.argc < 0) {
      const next = this.countLine(buf, fs, p, end);
      if (next < 0) return next;
      p = next;
      if (this.lineValue <= 0) {
        // Redis skips `*0` and `*-1` requests.
        cmd.length = 0;
        return p;
      }
      this.argc = this.lineValue;
    }
    const argc = this.argc;
    let starts = cmd.starts;
    let ends = cmd.ends;
    let n = this.n;
    let len = this.bulkLen;
    while (n < argc) {
      if (len < 0) {
        const next = this.bulkLine(buf, fs, p, end);
        if (next < 0) {
          this.rel = p - fs;
          this.n = n;
          this.bulkLen = -1;
          return next;
        }
        len = this.lineValue;
        p = next;
      }
      if (end - p < len + 2) {
        this.rel = p - fs;
        this.n = n;
        this.bulkLen = len;
        return NEED_MORE;
      }
      if (buf[p + len] !== CR || buf[p + len + 1] !== LF) return this.fail("INVALID_BULK_LENGTH");
      if (n === starts.length) {
        this.growOffsets(Math.min(argc, n * 2));
        starts = cmd.starts;
        ends = cmd.ends;
      }
      starts[n] = p - fs;
      p += len;
      ends[n] = p - fs;
      p += 2;
      n++;
      len = -1;
    }
    cmd.buffer = buf;
    cmd.base = fs;
    cmd.length = n;
    return p;
  }

  /** The `*N` line at `ls`: the position after it (N in lineValue), or NEED_MORE or FAILED. */
  private countLine(buf: Buffer, fs: number, ls: number, end: number): number {
    // Fast path: complete and plainly valid, 1 to 7 digits.
    let q = ls + 1;
    let v = 0;
    let c = q < end ? buf[q] : 0;
    if (c >= 49 && c <= 57) {
      v = c - 48;
      for (q++; q < end && q - ls < 8; q++) {
        c = buf[q];
        if (c < 48 || c > 57) break;
        v = v * 10 + c - 48;
      }
      if (v <= this.argcFastMax && q + 1 < end && buf[q] === CR && buf[q + 1] === LF) {
        this.lineValue = v;
        return q + 2;
      }
    }
    return this.countLineChecked(buf, fs, ls, end);
  }

  /** The `$len` line at `ls`: the position after it (len in lineValue), or NEED_MORE or FAILED. */
  private bulkLine(buf: Buffer, fs: number, ls: number, end: number): number {
    // Fast path: complete and plainly valid, 1 to 10 digits.
    if (ls + 3 < end && buf[ls] === DOLLAR) {
      let q = ls + 1;
      let c = buf[q];
      if (c === 48 && buf[q + 1] === CR && buf[q + 2] === LF) {
        this.lineValue = 0;
        return q + 3;
      }
      if (c >= 49 && c <= 57) {
        let v = c - 48;
        for (q++; q < end && q - ls < 11; q++) {
          c = buf[q];
          if (c < 48 || c > 57) break;
          v = v * 10 + c - 48;
        }
        if (v <= this.bulkFastMax && q + 1 < end && buf[q] === CR && buf[q + 1] === LF) {
          this.lineValue = v;
          return q + 2;
        }
      }
    }
    return this.bulkLineChecked(buf, fs, ls, end);
  }

  /** The `*N` line, with every check Redis makes, in Redis's order. */
  private countLineChecked(buf: Buffer, fs: number, ls: number, end: number): number {
    const r = this.findCR(buf, fs, ls, end, "TOO_BIG_MBULK_COUNT");
    if (r < 0) return r;
    const v = parseStrictInteger(buf, ls + 1, r);
    if (Number.isNaN(v) || v > INT_MAX || v > this.limits.maxArrayLength) {
      return this.fail("INVALID_MULTIBULK_LENGTH");
    }
    if (this.authRequired && v > UNAUTH_MAX_ARRAY_LENGTH) {
      return this.fail("UNAUTHENTICATED_MULTIBULK_LENGTH");
    }
    if (buf[r + 1] !== LF) return this.fail("INVALID_MULTIBULK_LENGTH");
    this.scan = 0;
    this.lineValue = v;
    return r + 2;
  }

  /** The `$len` line, with every check Redis makes, in Redis's order. */
  private bulkLineChecked(buf: Buffer, fs: number, ls: number, end: number): number {
    const r = this.findCR(buf, fs, ls, end, "TOO_BIG_BULK_COUNT");
    if (r < 0) return r;
    if (buf[ls] !== DOLLAR) {
      this.failure = ProtocolError.expectedDollar(buf[ls]);
      this.release();
      return FAILED;
    }
    const v = parseStrictInteger(buf, ls + 1, r);
    if (Number.isNaN(v) || v < 0 || v > this.limits.maxBulkBytes) {
      return this.fail("INVALID_BULK_LENGTH");
    }
    if (this.authRequired && v > UNAUTH_MAX_BULK_BYTES) {
      return this.fail("UNAUTHENTICATED_BULK_LENGTH");
    }
    if (buf[r + 1] !== LF) return this.fail("INVALID_BULK_LENGTH");
    this.scan = 0;
    this.lineValue = v;
    return r + 2;
  }

  /**
   * Position of the `\r` ending the length line at `ls`, once the byte after it has arrived
   * too. Like Redis, refuses a line whose `\r` is not within maxInlineBytes of its start.
   * Resumes its search where the last call stopped, so a slow line costs linear time.
   */
  private findCR(
    buf: Buffer,
    fs: number,
    ls: number,
    end: number,
    tooBig: ProtocolErrorCode,
  ): number {
    const limit = Math.min(end, ls + this.limits.maxInlineBytes + 1);
    for (let i = Math.max(ls, fs + this.scan); i < limit; i++) {
      if (buf[i] !== CR) continue;
      if (i + 1 < end) return i;
      this.scan = i - fs;
      return NEED_MORE;
    }
    if (end - ls > this.limits.maxInlineBytes) return this.fail(tooBig);
    this.scan = end - fs;
    return NEED_MORE;
  }

  /** A line ended by `\n` (or `\r\n`), split as redis-cli and telnet users expect. */
  private inline(buf: Buffer, fs: number, end: number): number {
    const limit = Math.min(end, fs + this.limits.maxInlineBytes + 1);
    const from = fs + this.scan;
    let nl = from < limit ? buf.subarray(from, limit).indexOf(LF) : -1;
    if (nl < 0) {
      if (end - fs > this.limits.maxInlineBytes) return this.fail("TOO_BIG_INLINE");
      this.scan = end - fs;
      return NEED_MORE;
    }
    nl += from;
    let e = nl;
    if (e > fs && buf[e - 1] === CR) e--;
    if (!this.splitInline(buf, fs, e)) return this.fail("UNBALANCED_QUOTES");
    return nl + 1;
  }

  /** Splits buf[s, e) into arguments; false on unbalanced quotes. */
  private splitInline(buf: Buffer, s: number, e: number): boolean {
    let quoted = false;
    for (let i = s; i < e; i++) {
      const c = buf[i];
      if (c === DQUOTE || c === SQUOTE) {
        quoted = true;
        break;
      }
    }
    const cmd = this.cmd;
    if (!quoted) {
      // Arguments are plain spans of the line: no copy.
      let n = 0;
      let p = s;
      for (;;) {
        while (p < e && isSpace(buf[p])) p++;
        if (p >= e) break;
        const t = p;
        while (p < e && !endsToken(buf[p])) p++;
        n = this.pushArg(n, t - s, p - s);
      }
      cmd.buffer = buf;
      cmd.base = s;
      cmd.length = n;
      return true;
    }
    const n = this.unquote(buf, s, e);
    if (n < 0) return false;
    cmd.buffer = this.scratch;
    cmd.base = 0;
    cmd.length = n;
    return true;
  }

  /**
   * The line's arguments by Redis's sdssplitargs rules (splitArgsInto), written to the
   * scratch buffer; their count, or -1 when unbalanced.
   */
  private unquote(buf: Buffer, s: number, e: number): number {
    if (this.scratch.length < e - s) {
      this.scratch = Buffer.allocUnsafe(Math.max(SCRATCH_MIN_BYTES, e - s));
    }
    let n = 0;
    const ok = splitArgsInto(buf, s, e, this.scratch, (start, end) => {
      n = this.pushArg(n, start, end);
    });
    return ok ? n : -1;
  }

  private pushArg(n: number, start: number, end: number): number {
    const cmd = this.cmd;
    if (n === cmd.starts.length) this.growOffsets(n * 2);
    cmd.starts[n] = start;
    cmd.ends[n] = end;
    return n + 1;
  }

  /** Grows the offset arrays as arguments arrive, never ahead of them. */
  private growOffsets(capacity: number): void {
    const cmd = this.cmd;
    const starts = new Int32Array(capacity);
    const ends = new Int32Array(capacity);
    starts.set(cmd.starts.subarray(0, Math.min(cmd.starts.length, capacity)));
    ends.set(cmd.ends.subarray(0, Math.min(cmd.ends.length, capacity)));
    cmd.starts = starts;
    cmd.ends = ends;
  }

  private fail(code: ProtocolErrorCode): number {
    this.failure = new ProtocolError(code);
    this.release();
    return FAILED;
  }

  /** After an error nothing more is parsed: let the memory go. */
  private release(): void {
    this.tail = EMPTY;
    this.tailLen = 0;
    this.scratch = EMPTY;
    this.cmd.length = 0;
    this.cmd.buffer = EMPTY;
    this.cmd.frameBuffer = EMPTY;
  }
}

/**
 * b[s, e) decoded as Latin-1 with ASCII letters lower-cased (Args.lower). Command names and
 * option words repeat: short ones are answered from a small cache, without allocating.
 */
export function lowerWord(b: Buffer, s: number, e: number): string {
  const n = e - s;
  if (n > LOWER_CACHE_MAX_BYTES) return foldLatin1(b, s, e);
  let h = n;
  for (let k = s; k < e; k++) h = (Math.imul(h, 31) + fold(b[k] as number)) | 0;
  const slot = (h ^ (h >>> 8)) & (LOWER_CACHE_SLOTS - 1);
  const hit = LOWER_CACHE[slot];
  if (hit !== undefined && hit.length === n) {
    let k = 0;
    while (k < n && fold(b[s + k] as number) === hit.charCodeAt(k)) k++;
    if (k === n) return hit;
  }
  const str = foldLatin1(b, s, e);
  LOWER_CACHE[slot] = str;
  return str;
}

/** ASCII lower case; other bytes unchanged (as Redis's strcasecmp in the C locale). */
function fold(c: number): number {
  return c >= 65 && c <= 90 ? c | 32 : c;
}

/** buf[s, e) decoded as Latin-1 with ASCII letters lower-cased. */
function foldLatin1(b: Buffer, s: number, e: number): string {
  let upper = false;
  for (let k = s; k < e; k++) {
    const c = b[k];
    if (c >= 65 && c <= 90) {
      upper = true;
      break;
    }
  }
  if (!upper) return b.toString("latin1", s, e);
  const folded = e - s <= FOLD_SCRATCH.length ? FOLD_SCRATCH : Buffer.allocUnsafe(e - s);
  for (let k = s; k < e; k++) folded[k - s] = fold(b[k]);
  return folded.toString("latin1", 0, e - s);
}

function noHandler(): void {
  throw new Error("RequestParser: no handler outside feed/resume");
}

/**
 * Splits buf[s, e) into arguments by Redis's sdssplitargs rules: blanks between them,
 * "..." with \n \r \t \b \a \xHH and \<any> escapes, '...' with \' only, a closing quote
 * followed by a blank or the end. Each argument's bytes go to `out` (at least e − s long)
 * and `push(start, end)` gets its place there. False when the quotes are unbalanced.
 */
export function splitArgsInto(
  buf: Uint8Array,
  s: number,
  e: number,
  out: Uint8Array,
  push: (start: number, end: number) => void,
): boolean {
  let o = 0;
  let p = s;
  for (;;) {
    while (p < e && isSpace(buf[p] as number)) p++;
    if (p >= e) return true;
    const t = o;
    /** The quote a quoted part is in (DQUOTE or SQUOTE), 0 outside one. */
    let quote = 0;
    for (;;) {
      if (quote !== 0) {
        if (p >= e) return false;
        const c = buf[p] as number;
        if (c === quote) {
          if (p + 1 < e && !isSpace(buf[p + 1] as number)) return false;
          p++;
          break;
        }
        if (
          quote === DQUOTE &&
          c === BACKSLASH &&
          p + 3 < e &&
          buf[p + 1] === 120 &&
          isHex(buf[p + 2] as number) &&
          isHex(buf[p + 3] as number)
        ) {
          out[o++] = (hexValue(buf[p + 2] as number) << 4) | hexValue(buf[p + 3] as number);
          p += 4;
        } else if (quote === DQUOTE && c === BACKSLASH && p + 1 < e) {
          out[o++] = unescapeByte(buf[p + 1] as number);
          p += 2;
        } else if (quote === SQUOTE && c === BACKSLASH && p + 1 < e && buf[p + 1] === SQUOTE) {
          out[o++] = SQUOTE;
          p += 2;
        } else {
          out[o++] = c;
          p++;
        }
      } else {
        if (p >= e) break;
        const c = buf[p] as number;
        if (endsToken(c)) break;
        if (c === DQUOTE || c === SQUOTE) quote = c;
        else out[o++] = c;
        p++;
      }
    }
    push(t, o);
  }
}

/** C isspace in the "C" locale: what sdssplitargs skips between arguments. */
function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/** What ends an unquoted argument in sdssplitargs (\v and \f do not). */
function endsToken(c: number): boolean {
  return c === 32 || c === LF || c === CR || c === 9;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

function hexValue(c: number): number {
  if (c <= 57) return c - 48;
  return (c | 32) - 87;
}

function unescapeByte(c: number): number {
  switch (c) {
    case 110: // n
      return LF;
    case 114: // r
      return CR;
    case 116: // t
      return 9;
    case 98: // b
      return 8;
    case 97: // a
      return 7;
    default:
      return c;
  }
}

/**
 * buf[s, e) as a decimal integer with Redis's string2ll strictness: optional '-', no '+',
 * no leading zeros, no blanks, within a signed 64-bit integer. NaN when not valid. Values
 * beyond 2^53 come back rounded, which is enough to compare them against our bounds.
 */
export function parseStrictInteger(buf: Buffer, s: number, e: number): number {
  const len = e - s;
  // LONG_STR_SIZE in Redis: 21 bytes is already too long for a long long.
  if (len <= 0 || len >= 21) return Number.NaN;
  if (len === 1 && buf[s] === 48) return 0;
  let p = s;
  const negative = buf[p] === 45;
  if (negative) {
    p++;
    if (p === e) return Number.NaN;
  }
  let c = buf[p];
  if (c < 49 || c > 57) return Number.NaN;
  let v = c - 48;
  for (p++; p < e; p++) {
    c = buf[p];
    if (c < 48 || c > 57) return Number.NaN;
    v = v * 10 + (c - 48);
  }
  if (e - s - (negative ? 1 : 0) >= 19) {
    // Near the 64-bit bound only exact arithmetic can tell overflow apart.
    const exact = BigInt(buf.toString("latin1", s, e));
    if (exact > 9223372036854775807n || exact < -9223372036854775808n) return Number.NaN;
  }
  return negative ? -v : v;
}
