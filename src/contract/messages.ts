/**
 * Schema issues in plain words: what the field takes, what the file says instead, and for
 * an unknown field, the field that was probably meant.
 */
import type { z } from "zod";
import { allFields, fieldNamesAt, valueAt } from "./fields.js";
import { closest } from "./suggest.js";

/** Longest stretch of a bad value repeated in a message; a contract value is short. */
const quotedCharsMax = 60;

/** A path as the docs write it: "durability.replicas", "alerts.channels[0].url". */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const step of path) {
    if (typeof step === "number") text += `[${step}]`;
    else text += text === "" ? String(step) : `.${String(step)}`;
  }
  return text;
}

/** What the file says instead of what was expected, as the end of a sentence. */
function got(value: unknown): string {
  if (value === undefined) return "but it is missing";
  if (value === null) return "got an empty value (write one, or remove the line for the default)";
  if (Array.isArray(value)) return "got a list";
  if (typeof value === "object") return "got a mapping";
  if (typeof value === "string") {
    const shown = value.length > quotedCharsMax ? `${value.slice(0, quotedCharsMax)}...` : value;
    return `got ${JSON.stringify(shown)}`;
  }
  return `got ${String(value)}`;
}

/**
 * The message for one issue other than an unknown field. The schema's own messages say what
 * a field takes ("expected an integer from 1 to 7"); this adds what the file has.
 */
export function issueMessage(issue: z.core.$ZodIssue, data: unknown): string {
  // Duration messages come from its parser, which already quotes the text it rejects.
  if (issue.code === "custom" || (issue.code === "invalid_format" && issue.format === "regex")) {
    return issue.message;
  }
  return `${issue.message}, ${got(valueAt(data, issue.path))}`;
}

/** How to say where a field belongs, from its home path. */
function placeText(home: string): string {
  if (home === "") return "at the top level";
  if (home.endsWith("[]")) return `in an entry of '${home.slice(0, -2)}'`;
  return `under '${home}'`;
}

/**
 * The message for a field the schema does not know, with the likeliest intended one: a
 * near miss here, the same field written at the wrong level, or a near miss elsewhere.
 */
export function unknownFieldMessage(
  key: string,
  path: readonly PropertyKey[],
  data: unknown,
): string {
  const known = fieldNamesAt(path, data);
  const near = closest(key, known);
  if (near !== undefined) return `unknown field '${key}' (did you mean '${near}'?)`;
  const places = allFields();
  const exact = places.find((place) => place.name === key);
  if (exact !== undefined) {
    return `unknown field '${key}' here (it belongs ${placeText(exact.home)})`;
  }
  const elsewhere = closest(
    key,
    places.map((place) => place.name),
  );
  const place = places.find((candidate) => candidate.name === elsewhere);
  if (place !== undefined) {
    return `unknown field '${key}' (did you mean '${place.name}' ${placeText(place.home)}?)`;
  }
  const list = known.length > 0 ? `; the fields here are ${known.join(", ")}` : "";
  return `unknown field '${key}'${list}`;
}
