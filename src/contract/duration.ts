/**
 * Durations as people write them in a contract: "250ms", "30s", "5m", "1h", "1h30m".
 *
 * A small parser of our own rather than a library: the grammar is five lines, and the
 * errors must say what to write instead, in the contract's words.
 */

/** Milliseconds per unit, largest first: the order parts must come in ("1h30m", not "30m1h"). */
const unitsMs: ReadonlyArray<readonly [string, number]> = [
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1_000],
  ["ms", 1],
];

/**
 * The longest duration a contract may hold: one year. Nothing the cluster times is longer,
 * and the bound keeps every value a safe integer of milliseconds.
 */
export const durationMsMax = 365 * 24 * 3_600_000;

/**
 * The grammar as a regular expression (ECMAScript syntax, so JSON Schema editors can use it
 * too): one or more parts, each digits and a unit, units largest first and at most once.
 */
export const durationPattern = /^(?=\d)(\d+h)?(\d+m(?!s))?(\d+s)?(\d+ms)?$/;

/** The examples every duration error shows. */
export const durationExamples = '"250ms", "30s", "5m", "1h" or "1h30m"';

export type DurationResult = { ok: true; ms: number } | { ok: false; message: string };

/** Parses a duration; on failure, says what is wrong and what a valid one looks like. */
export function parseDuration(text: string): DurationResult {
  const match = durationPattern.exec(text);
  if (match === null) return { ok: false, message: diagnose(text) };
  let ms = 0;
  for (const part of match.slice(1)) {
    if (part === undefined) continue;
    const unit = /[a-z]+$/.exec(part)?.[0] ?? "";
    const size = unitsMs.find(([name]) => name === unit)?.[1] ?? 0;
    ms += Number(part.slice(0, part.length - unit.length)) * size;
  }
  if (ms > durationMsMax) {
    return { ok: false, message: `"${text}" is longer than the maximum of 8760h (a year)` };
  }
  return { ok: true, ms };
}

/** Why `text` is not a duration, and what to write instead. */
function diagnose(text: string): string {
  const expected = `expected a duration such as ${durationExamples}`;
  if (text.trim() === "") return `${expected}, got nothing`;
  if (/\s/.test(text)) {
    const joined = text.replace(/\s+/g, "");
    const hint = durationPattern.test(joined) ? `"${joined}"` : "it without spaces";
    return `"${text}" has a space; write ${hint}`;
  }
  if (/\d\.\d/.test(text)) {
    return `"${text}" has a fraction; write whole numbers of a smaller unit (e.g. "1m30s", "1500ms")`;
  }
  if (/^\d+$/.test(text)) return `"${text}" has no unit; add one of ms, s, m, h (e.g. "${text}s")`;
  if (/\d$/.test(text)) {
    return `"${text}" ends in a number without a unit; add one (e.g. "1h30m")`;
  }
  for (const [, unit] of text.matchAll(/\d+([a-zA-Z]+)/g)) {
    if (!unitsMs.some(([name]) => name === unit)) {
      return `"${unit}" in "${text}" is not a unit; use ms, s, m or h (e.g. "30s", "5m")`;
    }
  }
  if (/^(\d+[a-z]+)+$/.test(text)) {
    return `the units in "${text}" must each appear once, largest first (e.g. "1h30m")`;
  }
  return `${expected}, got "${text}"`;
}

/** The shortest way to write `ms` in the grammar above: 5400000 → "1h30m", 0 → "0ms". */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0ms";
  let rest = ms;
  let text = "";
  for (const [unit, size] of unitsMs) {
    const count = Math.floor(rest / size);
    if (count > 0) text += `${count}${unit}`;
    rest -= count * size;
  }
  return text;
}
