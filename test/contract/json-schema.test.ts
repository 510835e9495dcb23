import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  contractJsonSchema,
  contractJsonSchemaText,
  contractSchemaPath,
} from "../../src/contract/json-schema.js";

/** The repository root, from this test compiled to dist/test/contract/. */
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

describe("contract JSON Schema", () => {
  it("is checked in exactly as the generator writes it now", () => {
    const checkedIn = readFileSync(resolve(root, contractSchemaPath), "utf8");
    assert.ok(
      checkedIn === contractJsonSchemaText(),
      `${contractSchemaPath} is stale: run npx tsc -p . && node dist/scripts/contract-schema.js`,
    );
  });

  it("gives editors descriptions, defaults and closed objects", () => {
    const schema = contractJsonSchema() as {
      $schema: string;
      additionalProperties: boolean;
      properties: Record<string, { default?: unknown; properties?: Record<string, unknown> }>;
    };
    assert.equal(schema.$schema, "http://json-schema.org/draft-07/schema#");
    assert.equal(schema.additionalProperties, false);
    const durability = schema.properties.durability?.properties as Record<
      string,
      { default: unknown; description: string }
    >;
    assert.equal(durability.replicas?.default, 3);
    assert.match(durability.replicas?.description ?? "", /Copies of each shard/);
    const availability = schema.properties.availability?.properties as Record<
      string,
      { default: unknown; pattern: string }
    >;
    // Durations are text in the file; the editor sees the text default and its pattern.
    assert.equal(availability.deadNodeAfter?.default, "5m");
    assert.ok(new RegExp(availability.deadNodeAfter?.pattern ?? "").test("1h30m"));
  });
});
