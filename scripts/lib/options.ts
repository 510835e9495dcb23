// Command-line options for the scripts that take a few: -h/--help prints the script's
// usage, and an unknown option or a bad value ends the script with a one-line error and
// exit code 2 instead of a stack trace (or, worse, a run on NaN).

import { type ParseArgsConfig, parseArgs } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * parseArgs over `options` plus -h/--help. Prints `usage` and exits 0 on --help; prints
 * the parse error and exits 2 on anything it refuses.
 */
export function parseOptions<O extends Options>(
  options: O,
  usage: string,
  allowPositionals = false,
): ReturnType<typeof parseArgs<{ options: O; allowPositionals: boolean }>> {
  let parsed: ReturnType<typeof parseArgs<{ options: O; allowPositionals: boolean }>>;
  try {
    parsed = parseArgs({
      options: { ...options, help: { type: "boolean", short: "h" } } as O,
      allowPositionals,
    });
  } catch (e) {
    fail(`${(e as Error).message}\n${usage}`);
  }
  if ((parsed.values as { help?: boolean }).help === true) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return parsed;
}

/** `value` of option `name` as an integer of at least `min`, or exit 2 saying so. */
export function intOption(name: string, value: string | undefined, min = 1): number {
  const n = Number(value);
  if (value === undefined || value.trim() === "" || !Number.isSafeInteger(n) || n < min) {
    fail(`${name} must be an integer of at least ${min}, not ${JSON.stringify(value)}`);
  }
  return n;
}

/** `value` of option `name` as a number greater than 0, or exit 2 saying so. */
export function positiveOption(name: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || value.trim() === "" || !Number.isFinite(n) || n <= 0) {
    fail(`${name} must be a number greater than 0, not ${JSON.stringify(value)}`);
  }
  return n;
}

function fail(message: string): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(2);
}
