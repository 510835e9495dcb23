import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { runScript } from "./script.js";

// The build copies only .ts to dist: read the scripts from the source tree
// (dist/test/raft/ → test/raft/scripts).
const here = dirname(fileURLToPath(import.meta.url));
const dir = resolve(here, "../../../test/raft/scripts");

describe("raft interaction scripts", () => {
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith(".txt"))
    .sort()) {
    it(file, () => runScript(readFileSync(join(dir, file), "utf8"), file));
  }
});
