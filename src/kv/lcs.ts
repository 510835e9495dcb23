import { array, bulk, integer, map } from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";
import { isReply, lookup } from "./db.js";
import { errorReply, NOT_INTEGER, SYNTAX } from "./errors.js";
import { parseI64 } from "./numbers.js";
import type { CommandHandler } from "./types.js";

/**
 * LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]: the longest common
 * subsequence of two strings (a missing key is the empty string), its length, or the
 * matching ranges. Which subsequence, and which ranges, is fixed by the classic dynamic
 * program and the walk back through its table — preferring to drop a byte of key2 on a
 * tie — so every reply is Redis's, byte for byte.
 */

const BYTES_PER_REDIS_CELL = 4;

interface LcsOptions {
  len: boolean;
  idx: boolean;
  withMatchLen: boolean;
  /** Ranges shorter than this are left out of IDX (0 keeps all). */
  minMatchLen: bigint;
}

function parseOptions(args: Args): LcsOptions | Reply {
  const o: LcsOptions = { len: false, idx: false, withMatchLen: false, minMatchLen: 0n };
  for (let j = 3; j < args.length; j++) {
    if (args.is(j, "idx")) {
      o.idx = true;
    } else if (args.is(j, "len")) {
      o.len = true;
    } else if (args.is(j, "withmatchlen")) {
      o.withMatchLen = true;
    } else if (args.is(j, "minmatchlen") && j + 1 < args.length) {
      const n = parseI64(args.buf(++j));
      if (n === undefined) return NOT_INTEGER;
      o.minMatchLen = n < 0n ? 0n : n;
    } else {
      return SYNTAX;
    }
  }
  return o;
}

/**
 * The dynamic program's answer, kept small: the LCS length, and for each table cell
 * (i, j), i, j >= 1, one bit — whether the walk back steps up (drops a[i-1]) when
 * a[i-1] != b[j-1]. Redis keeps the whole table of 32-bit lengths; one bit per cell is
 * all the walk needs, so this uses 1/32 of its memory for the same walk.
 */
interface LcsTable {
  length: number;
  up: Uint8Array;
}

function buildTable(a: Buffer, b: Buffer): LcsTable {
  const up = new Uint8Array(Math.ceil((a.length * b.length) / 8));
  let prev = new Uint32Array(b.length + 1);
  let row = new Uint32Array(b.length + 1);
  let byte = 0;
  let mask = 1;
  for (let i = 1; i <= a.length; i++) {
    const ai = a[i - 1] as number;
    for (let j = 1; j <= b.length; j++) {
      if (ai === b[j - 1]) {
        row[j] = (prev[j - 1] as number) + 1;
      } else {
        const above = prev[j] as number;
        const left = row[j - 1] as number;
        if (above > left) {
          row[j] = above;
          up[byte] = (up[byte] as number) | mask;
        } else {
          row[j] = left;
        }
      }
      mask <<= 1;
      if (mask === 0x100) {
        mask = 1;
        byte++;
      }
    }
    [prev, row] = [row, prev];
  }
  return { length: prev[b.length] as number, up };
}

function stepsUp(table: LcsTable, columns: number, i: number, j: number): boolean {
  const cell = (i - 1) * columns + (j - 1);
  return (((table.up[Math.floor(cell / 8)] as number) >> (cell % 8)) & 1) === 1;
}

/** One IDX entry: [[aStart, aEnd], [bStart, bEnd]] plus the length WITHMATCHLEN. */
function matchReply(aEnd: number, bEnd: number, length: number, withLen: boolean): Reply {
  const aStart = aEnd - length + 1;
  const bStart = bEnd - length + 1;
  const entry = [array([integer(aStart), integer(aEnd)]), array([integer(bStart), integer(bEnd)])];
  if (withLen) entry.push(integer(length));
  return array(entry);
}

/**
 * Walks back from the table's corner, collecting the subsequence from its end and each
 * run of consecutive matches, last run first (Redis's order).
 */
function walkBack(a: Buffer, b: Buffer, table: LcsTable, o: LcsOptions): [Buffer, Reply[]] {
  const lcs = Buffer.alloc(table.length);
  const matches: Reply[] = [];
  let k = table.length;
  let run = 0;
  let runAEnd = 0;
  let runBEnd = 0;
  const closeRun = () => {
    const keep = o.minMatchLen === 0n || BigInt(run) >= o.minMatchLen;
    if (o.idx && keep) matches.push(matchReply(runAEnd, runBEnd, run, o.withMatchLen));
    run = 0;
  };
  let i = a.length;
  let j = b.length;
  while (i > 0 && j > 0) {
    if (a[i - 1] === b[j - 1]) {
      lcs[--k] = a[i - 1] as number;
      if (run === 0) {
        runAEnd = i - 1;
        runBEnd = j - 1;
      }
      run++;
      i--;
      j--;
      if (i === 0 || j === 0) closeRun();
    } else {
      if (stepsUp(table, b.length, i, j)) i--;
      else j--;
      if (run > 0) closeRun();
    }
  }
  return [lcs, matches];
}

const lcs: CommandHandler = (ctx, args) => {
  const va = lookup(ctx, args.buf(1));
  const vb = lookup(ctx, args.buf(2));
  if ((va !== undefined && va.type !== "string") || (vb !== undefined && vb.type !== "string")) {
    return errorReply("LCS_NOT_STRINGS");
  }
  const o = parseOptions(args);
  if (isReply(o)) return o;
  if (o.len && o.idx) return errorReply("LCS_LEN_AND_IDX");
  const a = va?.data ?? Buffer.alloc(0);
  const b = vb?.data ?? Buffer.alloc(0);
  // Redis refuses when its table of 32-bit lengths would outgrow proto-max-bulk-len; the
  // same bound, though this table is smaller, keeps replies identical and the work finite.
  if ((a.length + 1) * (b.length + 1) * BYTES_PER_REDIS_CELL > ctx.maxBulkBytes) {
    return errorReply("LCS_TOO_LARGE");
  }
  const table = buildTable(a, b);
  if (o.len) return integer(table.length);
  const [sequence, matches] = walkBack(a, b, table, o);
  if (!o.idx) return bulk(sequence);
  return map([
    [bulk("matches"), array(matches)],
    [bulk("len"), integer(table.length)],
  ]);
};

export const LCS_HANDLERS: ReadonlyMap<string, CommandHandler> = new Map([["lcs", lcs]]);
