import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { GlobPattern, globMatch } from "../../src/kv/glob.js";

const b = (s: string) => Buffer.from(s, "latin1");
const match = (p: string, s: string, nocase = false) => globMatch(b(p), b(s), nocase);

/**
 * A deliberately naive oracle: the pattern semantics written as plain recursion straight
 * from the rules (exponential in the worst case, fine for short inputs).
 */
function oracle(p: Uint8Array, s: Uint8Array, nocase = false): boolean {
  const low = (c: number) => (nocase && c >= 65 && c <= 90 ? c + 32 : c);
  if (s.length === 0) return p.length === 0;
  const rec = (pi: number, si: number): boolean => {
    if (pi === p.length) return si === s.length;
    const c = p[pi] as number;
    if (c === 0x2a) {
      for (let k = si; k <= s.length; k++) if (rec(pi + 1, k)) return true;
      return false;
    }
    if (si === s.length) return false;
    const sc = s[si] as number;
    if (c === 0x3f) return rec(pi + 1, si + 1);
    if (c === 0x5b) {
      let i = pi + 1;
      const not = p[i] === 0x5e;
      if (not) i++;
      let hit = false;
      for (;;) {
        if (i >= p.length) break;
        if (p[i] === 0x5c && p.length - i >= 2) {
          if (p[i + 1] === sc) hit = true;
          i += 2;
        } else if (p[i] === 0x5d) {
          i++;
          break;
        } else if (p.length - i >= 3 && p[i + 1] === 0x2d) {
          let lo = p[i] as number;
          let hi = p[i + 2] as number;
          if (lo > hi) [lo, hi] = [hi, lo];
          if (low(sc) >= low(lo) && low(sc) <= low(hi)) hit = true;
          i += 3;
        } else {
          if (low(p[i] as number) === low(sc)) hit = true;
          i++;
        }
      }
      return hit !== not && rec(i, si + 1);
    }
    if (c === 0x5c && p.length - pi >= 2) {
      return low(p[pi + 1] as number) === low(sc) && rec(pi + 2, si + 1);
    }
    return low(c) === low(sc) && rec(pi + 1, si + 1);
  };
  return rec(0, 0);
}

/**
 * Redis's search as its rules describe it, depth limit included, for the alphabet
 * `a b ? *`: recurse at each run of stars unless it ends the pattern, try the rest at
 * each later position, and once the rest fails from every position, give up everywhere
 * (a later start for an earlier star could only do worse). A search more than 1000
 * stars deep is refused.
 */
function depthLimitedOracle(p: string, s: string): boolean {
  let giveUp = false;
  const search = (pi: number, si: number, depth: number): boolean => {
    if (depth > 1000) return false;
    while (pi < p.length && si < s.length) {
      if (p[pi] === "*") {
        while (p[pi + 1] === "*") pi++;
        if (pi === p.length - 1) return true;
        for (let k = si; k < s.length; k++) {
          if (search(pi + 1, k, depth + 1)) return true;
          if (giveUp) return false;
        }
        giveUp = true;
        return false;
      }
      if (p[pi] !== "?" && p[pi] !== s[si]) return false;
      pi++;
      si++;
      if (si === s.length) while (p[pi] === "*") pi++;
    }
    return pi === p.length && si === s.length;
  };
  return search(0, 0, 0);
}

describe("glob", () => {
  it("stars and question marks", () => {
    assert.ok(match("*", "anything"));
    assert.ok(match("h?llo", "hello"));
    assert.ok(match("h*llo", "hllo"));
    assert.ok(match("h*llo", "heeeello"));
    assert.ok(!match("h?llo", "hllo"));
    assert.ok(match("*a*b*", "xxaxxbxx"));
    assert.ok(!match("*a*b*", "xxbxxaxx"));
    assert.ok(match("a**b", "ab"));
    assert.ok(match("a*", "a"));
    assert.ok(!match("?", "ab"));
  });

  it("the empty subject matches only the empty pattern", () => {
    assert.ok(match("", ""));
    assert.ok(!match("*", ""));
    assert.ok(!match("**", ""));
    assert.ok(!match("", "a"));
  });

  it("classes, negation, ranges, reversed ranges", () => {
    assert.ok(match("h[ae]llo", "hello"));
    assert.ok(match("h[ae]llo", "hallo"));
    assert.ok(!match("h[ae]llo", "hillo"));
    assert.ok(match("h[^e]llo", "hallo"));
    assert.ok(!match("h[^e]llo", "hello"));
    assert.ok(match("h[a-b]llo", "hbllo"));
    assert.ok(!match("h[a-b]llo", "hcllo"));
    assert.ok(match("[z-a]", "m"), "reversed range is swapped");
    assert.ok(match("[a-]", "]"), "a range may end at ']'");
    assert.ok(match("[]", "]") === false);
  });

  it("escapes, unterminated classes, trailing backslash", () => {
    assert.ok(match("a\\*b", "a*b"));
    assert.ok(!match("a\\*b", "axb"));
    assert.ok(match("[\\]]", "]"));
    assert.ok(match("[\\^a]", "^"));
    assert.ok(match("[abc", "b"), "unterminated class runs to the end");
    assert.ok(!match("[abc", "bc"));
    assert.ok(match("a\\", "a\\"), "a lone trailing backslash is literal");
    assert.ok(match("\\", "\\"));
  });

  it("bytes compare unsigned", () => {
    assert.ok(match("[a-\xff]", "\xf0"));
    assert.ok(!match("[a-\xff]", "\x01"));
    assert.ok(match("\xff*", "\xff\x00"));
  });

  it("NOCASE folds ASCII letters, but not escaped class members", () => {
    assert.ok(match("HeLLo*", "hello world", true));
    assert.ok(match("[A-C]x", "bX", true));
    assert.ok(match("[\\A]", "A", true));
    assert.ok(!match("[\\A]", "a", true));
    assert.ok(!match("HeLLo", "hello"));
  });

  it("literal prefixes for seeking", () => {
    const prefix = (p: string) => new GlobPattern(b(p)).literalPrefix().toString("latin1");
    assert.equal(prefix("abc*"), "abc");
    assert.equal(prefix("a\\*b?"), "a*b");
    assert.equal(prefix("*abc"), "");
    assert.equal(prefix("ab[c]"), "ab");
    assert.equal(new GlobPattern(b("abc*"), true).literalPrefix().length, 0);
  });

  it("stays linear on patterns that blow up backtracking matchers", () => {
    const pattern = b(`${"a*".repeat(40)}b`);
    const subject = b("a".repeat(5000));
    const started = performance.now();
    assert.ok(!globMatch(pattern, subject));
    assert.ok(globMatch(b(`${"*a".repeat(40)}*`), b("a".repeat(5000))));
    assert.ok(performance.now() - started < 1000);
  });

  it("gives up past 1000 nested stars, as Redis does (CVE-2024-31228)", () => {
    const started = performance.now();
    // Redis's own regression test: KEYS with this pattern finds nothing.
    assert.ok(!match("*?".repeat(50000), "a".repeat(50000)));
    assert.ok(performance.now() - started < 1000);
    // 1000 stars are searched; the 1001st is refused unless it ends the pattern.
    assert.ok(match("*?".repeat(1000), "a".repeat(5000)));
    assert.ok(match(`${"*?".repeat(1000)}*`, "a".repeat(5000)));
    assert.ok(match(`${"*?".repeat(1000)}***`, "a".repeat(5000)));
    assert.ok(!match(`${"*?".repeat(1000)}*?`, "a".repeat(5000)));
    assert.ok(!match(`${"*?".repeat(1000)}*a`, "a".repeat(1001)));
    // A run of stars counts once.
    assert.ok(match("**?".repeat(1000), "a".repeat(1000)));
    assert.ok(!match(`${"**?".repeat(1000)}**?`, "a".repeat(1001)));
    // Stars only count once reached with bytes left: the subject ends first here.
    assert.ok(match(`${"?*".repeat(1001)}`, "a".repeat(1001)));
    assert.ok(!match(`${"?*".repeat(1001)}a`, "a".repeat(1001)));
    // Escaped stars are literals, not stars.
    assert.ok(match(`${"\\*".repeat(1500)}*x`, `${"*".repeat(1500)}x`));
    // The limit holds without case, and for compiled patterns too.
    const p = new GlobPattern(b(`${"*?".repeat(1001)}`), true);
    assert.ok(!p.matches(b("A".repeat(2000))));
    assert.ok(!p.matches(b("A".repeat(1001))));
  });

  it("property: agrees with Redis's depth-limited search around the limit", () => {
    const segment = fc.constantFrom("*a", "*?", "**?", "*a?", "*??", "?");
    const tail = fc.array(fc.constantFrom("*", "a", "?", "b"), { maxLength: 4 });
    const pattern = fc
      .tuple(fc.array(segment, { minLength: 990, maxLength: 1012 }), tail)
      .map(([segs, t]) => segs.join("") + t.join(""));
    const subject = fc
      .tuple(fc.integer({ min: 900, max: 2600 }), fc.array(fc.nat(2600), { maxLength: 3 }))
      .map(([n, bs]) => {
        const chars = Array.from({ length: n }, () => "a");
        for (const i of bs) if (i < n) chars[i] = "b";
        return chars.join("");
      });
    fc.assert(
      fc.property(pattern, subject, (p, s) => {
        assert.equal(match(p, s), depthLimitedOracle(p, s));
      }),
      { numRuns: 150 },
    );
  });

  it("property: agrees with the naive oracle", () => {
    const alphabet = fc.constantFrom(..."ab*?[]^-\\A".split("").map((c) => c.charCodeAt(0)), 0xff);
    const bytes = fc.array(alphabet, { maxLength: 8 }).map((a) => Uint8Array.from(a));
    fc.assert(
      fc.property(bytes, bytes, fc.boolean(), (p, s, nocase) => {
        assert.equal(globMatch(p, s, nocase), oracle(p, s, nocase));
      }),
      { numRuns: 3000 },
    );
  });
});
