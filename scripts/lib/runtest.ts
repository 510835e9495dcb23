// Reading the Redis Tcl test suite's output (`./runtest`) and our skip list.

import { existsSync, readFileSync } from "node:fs";

export interface FailedTest {
  name: string;
  file: string;
  /** The assertion message and, for errors, the Tcl stack. */
  detail: string;
}

export interface RuntestResult {
  passed: string[];
  failed: FailedTest[];
  /** Skipped by --skiptest (our skip list). */
  skipped: string[];
  /** Not run by the suite itself: denied tags, singledb, external server. */
  ignored: { name: string; reason: string }[];
  /** Tcl errors outside a test: the test client died and later tests did not run. */
  exceptions: string[];
  timedOut: boolean;
  /** "The End" was printed: the suite ran to its end. */
  finished: boolean;
}

// Colours are off when TERM has no "xterm" in it; strip them anyway.
// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour escapes start with ESC.
const ANSI = /\x1b\[[0-9;]*m/g;
const RECORD = /^\[(ok|err|skip|ignore|exception|TIMEOUT|ready|\d+\/\d+ done)\]: ?(.*)$/;

export function parseRuntestOutput(text: string): RuntestResult {
  const res: RuntestResult = {
    passed: [],
    failed: [],
    skipped: [],
    ignored: [],
    exceptions: [],
    timedOut: false,
    finished: false,
  };
  const lines = text.replace(ANSI, "").split("\n");
  let i = 0;
  // Lines after an [err] or [exception] record up to the next record belong to it.
  const takeDetail = (): string => {
    const detail: string[] = [];
    while (i < lines.length && !isBoundary(lines[i])) detail.push(lines[i++]);
    return detail.join("\n").trimEnd();
  };
  while (i < lines.length) {
    const line = lines[i++];
    if (line.trim() === "The End") {
      res.finished = true;
      // The summary after it repeats the failures; they were counted already.
      break;
    }
    const m = RECORD.exec(line);
    if (!m) continue;
    const [, kind, rest] = m;
    if (kind === "ok") {
      res.passed.push(rest.replace(/ \(\d+ ms\)$/, ""));
    } else if (kind === "err") {
      const nm = /^(.*) in (tests\/\S+\.tcl)$/.exec(rest);
      res.failed.push({
        name: nm ? nm[1] : rest,
        file: nm ? nm[2] : "",
        detail: takeDetail(),
      });
    } else if (kind === "skip") {
      res.skipped.push(rest);
    } else if (kind === "ignore") {
      const k = rest.lastIndexOf(": ");
      res.ignored.push(
        k >= 0 ? { name: rest.slice(0, k), reason: rest.slice(k + 2) } : { name: "", reason: rest },
      );
    } else if (kind === "exception") {
      res.exceptions.push([rest, takeDetail()].filter((s) => s !== "").join("\n"));
    } else if (kind === "TIMEOUT") {
      res.timedOut = true;
    }
  }
  return res;
}

function isBoundary(line: string): boolean {
  return RECORD.test(line) || /^Testing unit\//.test(line) || line.trim() === "The End";
}

export interface SkipEntry {
  name: string;
  reason: string;
  line: number;
}

/**
 * Reads the skip list: one test name per line (exactly as runtest prints it, or
 * `/regexp`), each preceded directly by one or more `# reason` comment lines.
 * A comment block followed by a blank line is a free comment (file header).
 */
export function readSkipFile(file: string): SkipEntry[] {
  if (!existsSync(file)) return [];
  const entries: SkipEntry[] = [];
  const errors: string[] = [];
  let reason: string[] = [];
  readFileSync(file, "utf8")
    .split("\n")
    .forEach((raw, idx) => {
      const line = raw.trimEnd();
      if (line.trim() === "") {
        reason = [];
      } else if (line.startsWith("#")) {
        reason.push(line.replace(/^#\s?/, ""));
      } else {
        if (reason.length === 0) {
          errors.push(`${file}:${idx + 1}: "${line}" has no "# reason" comment line above it`);
        }
        entries.push({ name: line, reason: reason.join(" "), line: idx + 1 });
        reason = [];
      }
    });
  if (errors.length > 0) throw new Error(errors.join("\n"));
  return entries;
}
