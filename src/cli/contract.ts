/**
 * `homeostat contract ...`: the service contract from the command line. `validate` works
 * offline, on a file, so a contract can be checked in CI or an editor hook before any
 * cluster sees it.
 */
import { readFileSync, statSync } from "node:fs";
import type { Command } from "commander";
import { contractDocument } from "../contract/document.js";
import { contractLengthMax, formatErrors, parseContract } from "../contract/parse.js";
import { contractNotes, summarizeContract } from "../contract/summary.js";
import { ask, type Target, withTarget } from "./client.js";

/** The file was read and is not a valid contract. */
export const exitInvalid = 1;
/** The file could not be read at all: nothing was validated. */
export const exitUnreadable = 2;

/**
 * Registers the `contract` command group on `group` (made by main.ts). Each subcommand is
 * one `group.command(...)`; the ones that talk to a cluster add main.ts's target options.
 */
export function registerContract(group: Command): void {
  group.summary("The service contract: validate a file, apply it, show it, list its versions.");
  group.description(
    "The service contract: the YAML file that says what the cluster must keep " +
      "(durability, availability, performance, alerts). See docs/contract.md.",
  );
  group
    .command("validate")
    .description(
      "Check a contract file offline: print its effective contract (defaults applied), or " +
        "every error as FILE:LINE:COLUMN FIELD: WHY. Exit 0 valid, 1 invalid, 2 unreadable.",
    )
    .argument("<file>", "contract file (YAML)")
    .option("--json", "print the effective contract as JSON (itself a valid contract file)")
    .action((file: string, opts: { json?: boolean }) => {
      process.exitCode = validate(file, opts.json === true);
    });
  withTarget(group.command("apply"))
    .description(
      "Validate a contract file and apply it to the cluster as its next version (through any " +
        "member); prints the version and whether the nodes present can meet it. An invalid " +
        "file changes nothing (exit 1).",
    )
    .argument("<file>", "contract file (YAML)")
    .action(async (file: string, opts: Target) => {
      const read = readContract(file);
      if (!read.ok) {
        process.stderr.write(`homeostat: cannot read contract file ${file}: ${read.reason}\n`);
        process.exitCode = exitUnreadable;
        return;
      }
      const local = parseContract(read.text, file);
      if (!local.ok) {
        process.stderr.write(`${formatErrors(local.errors)}\n${file}: invalid, not applied\n`);
        process.exitCode = exitInvalid;
        return;
      }
      await ask(opts, ["HOMEOSTAT", "CONTRACT", "APPLY", read.text]);
    });
  withTarget(group.command("show"))
    .description("Print the contract in force: its version, feasibility now, and the file.")
    .action((opts: Target) => ask(opts, ["HOMEOSTAT", "CONTRACT", "SHOW"]));
  withTarget(group.command("history"))
    .description("List the contract's versions kept by the cluster, oldest first.")
    .action((opts: Target) => ask(opts, ["HOMEOSTAT", "CONTRACT", "HISTORY"]));
}

function validate(file: string, json: boolean): number {
  const read = readContract(file);
  if (!read.ok) {
    process.stderr.write(`homeostat: cannot read contract file ${file}: ${read.reason}\n`);
    return exitUnreadable;
  }
  const result = parseContract(read.text, file);
  if (!result.ok) {
    process.stderr.write(`${formatErrors(result.errors)}\n`);
    const count = result.errors.length;
    process.stderr.write(`${file}: invalid (${count} ${count === 1 ? "error" : "errors"})\n`);
    return exitInvalid;
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(contractDocument(result.contract), null, 2)}\n`);
    return 0;
  }
  const summary = summarizeContract(result.contract);
  const width = Math.max(...summary.map(([label]) => label.length)) + 1;
  const lines = [
    `${file}: valid`,
    ...summary.map(([label, text]) => `  ${`${label}:`.padEnd(width)}  ${text}`),
    ...contractNotes(result.contract).map((note) => `note: ${note}`),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}

type ReadResult = { ok: true; text: string } | { ok: false; reason: string };

/**
 * The file's text, or why it cannot be had. A file far too large to be a contract (a log,
 * a disk image given by mistake) is not read at all.
 */
function readContract(file: string): ReadResult {
  try {
    const stat = statSync(file);
    if (stat.isDirectory()) return { ok: false, reason: "it is a directory, not a file" };
    // UTF-8 takes at most 4 bytes a character: anything larger is over the limit for sure.
    if (stat.size > 4 * contractLengthMax) {
      const reason =
        `it has ${stat.size} bytes, far more than a contract (at most ${contractLengthMax} ` +
        "characters); is this the right file?";
      return { ok: false, reason };
    }
    return { ok: true, text: readFileSync(file, "utf8") };
  } catch (err) {
    return { ok: false, reason: describeFsError(err) };
  }
}

function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file (check the path)";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  return err instanceof Error ? err.message : String(err);
}
