/**
 * The contract's JSON Schema, generated from the zod schema so it cannot disagree with the
 * parser. Editors use it to complete and check contract files as they are typed
 * (`# yaml-language-server: $schema=...`). scripts/contract-schema.ts writes it to
 * schema/contract.schema.json; a test fails when that file is stale.
 */
import { z } from "zod";
import { contractSchema } from "./schema.js";

/** Where the generated file lives, relative to the repository root. */
export const contractSchemaPath = "schema/contract.schema.json";

/**
 * The schema of what a file may say (zod's "input" side: durations as text, every field
 * optional with its default), in draft-07, which yaml-language-server and most editors read.
 */
export function contractJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(contractSchema, { io: "input", target: "draft-07" }),
    $comment:
      "Generated from src/contract/schema.ts by scripts/contract-schema.ts; do not edit by hand.",
  };
}

/** The file's exact text: two-space JSON and a final newline. */
export function contractJsonSchemaText(): string {
  return `${JSON.stringify(contractJsonSchema(), null, 2)}\n`;
}
