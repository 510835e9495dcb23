/**
 * Contract text in, a contract or every error out. No I/O: the caller reads the file.
 *
 * Every error carries the line and column of the offending node in the source, so a user
 * (or an editor) goes straight to it, and says what to write instead.
 */
import { LineCounter, parseDocument, type YAMLError } from "yaml";
import { formatPath, issueMessage, unknownFieldMessage } from "./messages.js";
import { locate, positionOf } from "./positions.js";
import { type Contract, contractSchema } from "./schema.js";

/** One thing wrong with a contract file. */
export interface ContractError {
  /** The file's name as the caller gave it, for messages. */
  file: string;
  /** 1-based line of the offending node in the source. */
  line: number;
  /** 1-based column of the offending node in the source. */
  column: number;
  /** The field at fault, e.g. "durability.replicas"; "" for the file as a whole. */
  path: string;
  /** Why it is wrong, in plain words, and what to write instead where that helps. */
  message: string;
}

export type ParseResult = { ok: true; contract: Contract } | { ok: false; errors: ContractError[] };

/**
 * Largest contract text accepted, in characters. A full contract is well under 4 KiB;
 * the bound keeps a wrong file (a log, a binary) from being parsed at all.
 */
export const contractLengthMax = 64 * 1024;

/**
 * Most errors reported for one file. Past this, the rest are usually echoes of the first
 * ones (a wrong indent shifts every line after it).
 */
export const contractErrorsMax = 50;

/**
 * YAML aliases expanded at most, against "billion laughs" files that expand a few lines
 * into gigabytes. A contract has no reason for more than a handful.
 */
const aliasCountMax = 100;

/** Parses contract text (YAML); an empty file is the default contract. */
export function parseContract(text: string, fileName = "contract.yaml"): ParseResult {
  const error = (line: number, column: number, path: string, message: string): ContractError => ({
    file: fileName,
    line,
    column,
    path,
    message,
  });
  if (text.length > contractLengthMax) {
    const message =
      `the file has ${text.length} characters; a contract has at most ${contractLengthMax} ` +
      "(is this the right file?)";
    return { ok: false, errors: [error(1, 1, "", message)] };
  }

  const lines = new LineCounter();
  const document = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
  });
  if (document.errors.length > 0) {
    const errors = document.errors.map((e) => {
      const { line, column } = positionOf(lines, e.pos[0]);
      return error(line, column, "", syntaxMessage(e, text));
    });
    return { ok: false, errors: errors.slice(0, contractErrorsMax) };
  }

  let data: unknown;
  try {
    data = document.toJS({ maxAliasCount: aliasCountMax }) ?? {};
  } catch (e) {
    // yaml throws (rather than reporting) for aliases it cannot or will not expand.
    return {
      ok: false,
      errors: [error(1, 1, "", `YAML: ${e instanceof Error ? e.message : String(e)}`)],
    };
  }

  const parsed = contractSchema.safeParse(data);
  if (parsed.success) return { ok: true, contract: parsed.data };

  const errors: ContractError[] = [];
  for (const issue of parsed.error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        const { line, column } = locate(document, lines, issue.path, key);
        const message = unknownFieldMessage(key, issue.path, data);
        errors.push(error(line, column, formatPath([...issue.path, key]), message));
      }
    } else {
      const { line, column } = locate(document, lines, issue.path);
      errors.push(error(line, column, formatPath(issue.path), issueMessage(issue, data)));
    }
  }
  errors.sort((a, b) => a.line - b.line || a.column - b.column);
  return { ok: false, errors: errors.slice(0, contractErrorsMax) };
}

/** A YAML syntax error in words that say what to do; yaml's own text for the rare ones. */
function syntaxMessage(e: YAMLError, text: string): string {
  switch (e.code) {
    case "DUPLICATE_KEY":
      // The error spans only the key's first character; the key runs to its colon.
      return `field '${keyAt(text, e.pos[0])}' is written twice in this mapping; keep one`;
    case "MULTIPLE_DOCS":
      return "a contract file holds one YAML document; remove this '---' and what follows, or merge them";
    case "TAB_AS_INDENT":
      return "YAML does not allow tabs for indentation; indent with spaces";
    default:
      return `YAML syntax error: ${e.message}`;
  }
}

/** The mapping key written at `offset`: up to its ':' or the end of the line. */
function keyAt(text: string, offset: number): string {
  const line = text.slice(offset).split("\n", 1)[0] ?? "";
  return (/^(.*?):(\s|$)/.exec(line)?.[1] ?? line).trim();
}

/**
 * Errors as compilers print them, one a line: `contract.yaml:3:13 durability.replicas:
 * expected an integer from 1 to 7, got 0`. `fileName` overrides the name each error holds.
 */
export function formatErrors(errors: readonly ContractError[], fileName?: string): string {
  return errors
    .map((e) => {
      const where = `${fileName ?? e.file}:${e.line}:${e.column}`;
      return e.path === "" ? `${where} ${e.message}` : `${where} ${e.path}: ${e.message}`;
    })
    .join("\n");
}
