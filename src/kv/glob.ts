/**
 * Redis's glob-style matching (KEYS, SCAN MATCH, CONFIG GET...), on bytes, with the same
 * reading of every pattern, malformed ones included:
 *
 * - `*` any run of bytes, `?` any one byte, `\x` the byte x;
 * - `[abc]`, `[^abc]`, `[a-z]` (a reversed range `[z-a]` is swapped), `\` escapes inside
 *   brackets, and an unterminated `[` class runs to the end of the pattern;
 * - a trailing lone `\` matches a `\`;
 * - the empty string matches only the empty pattern (even `*` does not match it: KEYS and
 *   SCAN treat a pattern of exactly `*` as "everything" before calling the matcher).
 *
 * Protection against blow-up: Redis's matcher recurses at each `*` and once took
 * exponential time on patterns like `a*a*a*a*...b`; Redis 7 cut the search short when the
 * rest of a pattern cannot match anywhere. This matcher never recurses: the pattern is
 * compiled to one-byte tokens and stars, then matched with the classic single-backtrack
 * scan — on a failure, only the most recent star absorbs one more byte. That is exact,
 * because every non-star token consumes exactly one byte, and it bounds the work to
 * O(pattern tokens × subject bytes) with constant stack, whatever the input.
 *
 * Redis also bounds its recursion (CVE-2024-31228, in 7.0.15 as shipped by Debian and in
 * 7.2.6+): a search nested more than `STAR_DEPTH_MAX` stars deep gives up, and the pattern
 * then matches nothing. Which subjects that refuses is part of the reply (KEYS shows it),
 * so this matcher refuses exactly the same ones; see `abortAt`.
 *
 * One deliberate difference: bytes compare as unsigned (0x00..0xff) in ranges, where Redis
 * on x86 compares them as signed chars, so `[a-\xff]` means what it says.
 */

/** A compiled pattern token. Every kind but STAR matches exactly one byte. */
type Kind = "star" | "any" | "literal" | "class";

interface Token {
  readonly kind: Kind;
  /** For Literal: the byte (lower-cased when matching without case). */
  readonly byte: number;
  /** For Class: membership of the subject byte (lower-cased when matching without case). */
  readonly set: Uint8Array | undefined;
  /** For Class without case: escaped members, which Redis compares exactly even then. */
  readonly exact: Uint8Array | undefined;
  /** For Class: `[^...]`. */
  readonly negated: boolean;
}

const STAR: Token = { kind: "star", byte: 0, set: undefined, exact: undefined, negated: false };
const ANY: Token = { kind: "any", byte: 0, set: undefined, exact: undefined, negated: false };

/**
 * How many stars deep Redis's recursive matcher may search (util.c, stringmatchlen): the
 * search below the 1001st star of a pattern is refused. Counted in star runs, as `**`
 * is one star.
 */
const STAR_DEPTH_MAX = 1000;

const CH_STAR = 0x2a;
const CH_QUESTION = 0x3f;
const CH_OPEN = 0x5b;
const CH_CLOSE = 0x5d;
const CH_CARET = 0x5e;
const CH_BACKSLASH = 0x5c;
const CH_DASH = 0x2d;

function lower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
}

/** A pattern compiled once, to match many subjects (KEYS, SCAN). */
export class GlobPattern {
  private readonly tokens: readonly Token[];
  /** Empty pattern: matches only the empty subject. */
  private readonly empty: boolean;
  /**
   * The token index of the star past Redis's depth limit, when it is not the last token;
   * -1 when there is none. Reaching it with subject bytes left means Redis gives up.
   *
   * Why reaching that token is the exact condition: Redis's search commits at each star.
   * Once the run of one-byte tokens after a star matches at its leftmost place and the
   * next star is reached with bytes left, that star's loop decides the whole answer (a
   * failure there sets its "skip longer matches" flag, which ends every outer loop too).
   * So Redis reaches star number STAR_DEPTH_MAX + 1 exactly when each run before it
   * matches at its leftmost place with bytes to spare — which is when this scan passes
   * that star's token. A last star matches any rest before Redis recurses, so it is
   * exempt; any other is where every deeper attempt is refused, and the flag turns those
   * refusals into "no match".
   */
  private readonly abortAt: number;

  constructor(
    pattern: Uint8Array,
    private readonly nocase = false,
  ) {
    this.tokens = compile(pattern, nocase);
    this.empty = pattern.length === 0;
    this.abortAt = starPastDepthLimit(this.tokens);
  }

  /**
   * The bytes every match must start with (the literal run before the first wildcard),
   * so a caller can seek to it in an ordered key space. Empty when there is none.
   */
  literalPrefix(): Buffer {
    if (this.nocase) return Buffer.alloc(0);
    const bytes: number[] = [];
    for (const t of this.tokens) {
      if (t.kind !== "literal") break;
      bytes.push(t.byte);
    }
    return Buffer.from(bytes);
  }

  matches(subject: Uint8Array): boolean {
    if (subject.length === 0) return this.empty;
    const tokens = this.tokens;
    const n = tokens.length;
    let p = 0;
    let s = 0;
    // Where to resume after the latest star: that star's token index and the subject
    // position it currently absorbs up to.
    let starP = -1;
    let starS = 0;
    while (s < subject.length) {
      const t = p < n ? tokens[p] : undefined;
      if (t !== undefined && t.kind === "star") {
        if (p === this.abortAt) return false;
        starP = p++;
        starS = s;
        continue;
      }
      if (t !== undefined && this.accepts(t, subject[s] as number)) {
        p++;
        s++;
        continue;
      }
      if (starP < 0) return false;
      p = starP + 1;
      s = ++starS;
    }
    while (p < n && (tokens[p] as Token).kind === "star") p++;
    return p === n;
  }

  private accepts(t: Token, c: number): boolean {
    switch (t.kind) {
      case "any":
        return true;
      case "literal":
        return this.nocase ? lower(c) === t.byte : c === t.byte;
      case "class": {
        const inSet = (t.set as Uint8Array)[this.nocase ? lower(c) : c] === 1 || t.exact?.[c] === 1;
        return inSet !== t.negated;
      }
      default:
        return false;
    }
  }
}

/** One-shot match; compile a `GlobPattern` instead when matching many subjects. */
export function globMatch(pattern: Uint8Array, subject: Uint8Array, nocase = false): boolean {
  return new GlobPattern(pattern, nocase).matches(subject);
}

function compile(pattern: Uint8Array, nocase: boolean): Token[] {
  const tokens: Token[] = [];
  const len = pattern.length;
  let i = 0;
  while (i < len) {
    const c = pattern[i] as number;
    if (c === CH_STAR) {
      // Consecutive stars are one star.
      if (tokens[tokens.length - 1] !== STAR) tokens.push(STAR);
      i++;
    } else if (c === CH_QUESTION) {
      tokens.push(ANY);
      i++;
    } else if (c === CH_OPEN) {
      const [token, next] = compileClass(pattern, i + 1, nocase);
      tokens.push(token);
      i = next;
    } else if (c === CH_BACKSLASH && i + 1 < len) {
      tokens.push(literal(pattern[i + 1] as number, nocase));
      i += 2;
    } else {
      tokens.push(literal(c, nocase));
      i++;
    }
  }
  return tokens;
}

/** See `GlobPattern.abortAt`. */
function starPastDepthLimit(tokens: readonly Token[]): number {
  let stars = 0;
  for (let i = 0; i < tokens.length - 1; i++) {
    if (tokens[i] === STAR && ++stars > STAR_DEPTH_MAX) return i;
  }
  return -1;
}

function literal(byte: number, nocase: boolean): Token {
  const b = nocase ? lower(byte) : byte;
  return { kind: "literal", byte: b, set: undefined, exact: undefined, negated: false };
}

/** Compiles the class whose body starts at `i`; returns it and the index after it. */
function compileClass(pattern: Uint8Array, i: number, nocase: boolean): [Token, number] {
  const len = pattern.length;
  const set = new Uint8Array(256);
  const exact = nocase ? new Uint8Array(256) : set;
  const negated = pattern[i] === CH_CARET;
  if (negated) i++;
  while (i < len) {
    const c = pattern[i] as number;
    if (c === CH_BACKSLASH && len - i >= 2) {
      exact[pattern[i + 1] as number] = 1;
      i += 2;
    } else if (c === CH_CLOSE) {
      i++;
      break;
    } else if (len - i >= 3 && pattern[i + 1] === CH_DASH) {
      // As Redis: `[a-]` with the `]` as the range's end is a range up to ']'.
      let start = c;
      let end = pattern[i + 2] as number;
      if (start > end) [start, end] = [end, start];
      if (nocase) {
        start = lower(start);
        end = lower(end);
      }
      for (let b = start; b <= end; b++) set[b] = 1;
      i += 3;
    } else {
      set[nocase ? lower(c) : c] = 1;
      i++;
    }
  }
  // An unterminated class simply ends with the pattern, as in Redis.
  const token: Token = {
    kind: "class",
    byte: 0,
    set,
    exact: nocase ? exact : undefined,
    negated,
  };
  return [token, i];
}
