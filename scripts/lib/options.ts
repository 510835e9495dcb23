// Command-line options of the scripts: -h/--help prints a script's usage, and an unknown
// option or a bad value ends it with a one-line error and exit code 2 (UsageError; runMain
// prints it without a stack trace) instead of a stack trace or, worse, a run on NaN.

import { type ParseArgsConfig, parseArgs } from "node:util";

/** Bad command-line input: the message is the whole story, no stack trace needed. */
export class UsageError extends Error {
  override name = "UsageError";
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * parseArgs over `options` plus -h/--help, for a script run at the top level: prints
 * `usage` and exits 0 on --help; anything parseArgs refuses exits 2 (exitOnUsageError).
 */
export function parseOptions<O extends Options>(
  options: O,
  usage: string,
  allowPositionals = false,
): ReturnType<typeof parseArgs<{ options: O; allowPositionals: boolean }>> {
  const parsed = exitOnUsageError(() => {
    try {
      return parseArgs({
        options: { ...options, help: { type: "boolean", short: "h" } } as O,
        allowPositionals,
      });
    } catch (e) {
      throw new UsageError(`${(e as Error).message}\n${usage}`);
    }
  });
  if ((parsed.values as { help?: boolean }).help === true) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return parsed;
}

/** `value` of option `name` as an integer of at least `min`; UsageError if it is not. */
export function intArg(name: string, value: string | undefined, min = 1): number {
  const n = Number(value);
  if (value === undefined || value.trim() === "" || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`${name} must be an integer of at least ${min}, not ${show(value)}`);
  }
  return n;
}

/** `value` of option `name` as a number greater than 0; UsageError if it is not. */
export function positiveArg(name: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || value.trim() === "" || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(`${name} must be a number greater than 0, not ${show(value)}`);
  }
  return n;
}

/** Whether `e` is bad command-line input (ours, or what parseArgs refused). */
export function isUsageError(e: unknown): e is Error {
  if (e instanceof UsageError) return true;
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS");
}

/** `f()`, for a script run at the top level: a usage error exits 2 with its message. */
export function exitOnUsageError<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (!isUsageError(e)) throw e;
    process.stderr.write(`error: ${e.message}\n`);
    process.exit(2);
  }
}

function show(value: string | undefined): string {
  return value === undefined ? "nothing" : JSON.stringify(value);
}
