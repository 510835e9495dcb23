import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";
import { allFields } from "../../src/contract/fields.js";

/** The repository root, from this test compiled to dist/test/contract/. */
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

it("docs/contract.md documents every field of the schema", () => {
  const docs = readFileSync(resolve(root, "docs/contract.md"), "utf8");
  const missing = allFields()
    .map(({ home, name }) => (home === "" ? name : `${home}.${name}`))
    // The docs describe the three command classes' objectives once, as performance.*.
    .map((path) => path.replace(/^performance\.(read|write|other)\./, "performance.*."))
    .filter((path) => !docs.includes(`| \`${path}\` |`));
  assert.deepEqual(missing, []);
});
