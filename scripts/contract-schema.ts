// Writes schema/contract.schema.json from the contract's zod schema (src/contract/schema.ts).
// Run it after changing the schema; test/contract/json-schema.test.ts fails until you do.
//
//   npx tsc -p . && node dist/scripts/contract-schema.js           # write the file
//   npx tsc -p . && node dist/scripts/contract-schema.js --check   # exit 1 if it is stale

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { contractJsonSchemaText, contractSchemaPath } from "../src/contract/json-schema.js";
import { parseOptions } from "./lib/options.js";
import { repoRoot } from "./lib/proc.js";

function main(): number {
  const file = path.join(repoRoot(), contractSchemaPath);
  const text = contractJsonSchemaText();
  const { values } = parseOptions(
    { check: { type: "boolean", default: false } },
    `Usage: node dist/scripts/contract-schema.js [--check]

Writes ${contractSchemaPath} from the contract's schema (src/contract/schema.ts).

Options:
  --check      write nothing; exit 1 if the file is out of date
  -h, --help   this text`,
  );
  if (values.check === true) {
    let current = "";
    try {
      current = readFileSync(file, "utf8");
    } catch {
      // A missing file is stale too; the message below says how to create it.
    }
    if (current === text) return 0;
    process.stderr.write(
      `${contractSchemaPath} is out of date; run: node dist/scripts/contract-schema.js\n`,
    );
    return 1;
  }
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  process.stdout.write(`wrote ${contractSchemaPath}\n`);
  return 0;
}

process.exitCode = main();
