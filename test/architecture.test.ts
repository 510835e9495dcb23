import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../src");

/** Folders whose code must be deterministic: no I/O, no clock, no ambient randomness. */
const PURE = ["resp", "kv", "membership", "raft", "cluster"];

/** Which folders each layer may import from (DESIGN.md's table). */
const ALLOWED: Record<string, string[]> = {
  core: [],
  resp: ["core"],
  storage: ["core", "raft"],
  membership: ["core"],
  raft: ["core"],
  cluster: ["core", "raft", "storage", "membership", "resp"],
  sim: ["core", "membership", "raft", "cluster", "kv", "storage"],
  kv: ["core", "resp", "storage", "raft"],
  server: ["core", "resp", "storage", "kv", "membership", "raft", "cluster", "contract"],
  contract: ["core"],
  cli: ["core", "resp", "server", "sim", "contract"],
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

/** The source without comments and string contents, so prose does not trip the checks. */
function code(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/\/\/.*$/gm, "")
    .replace(/`(?:\\.|[^`\\])*`/g, "``")
    .replace(/"(?:\\.|[^"\\])*"/g, (m) =>
      m.startsWith('"node:') || m.startsWith('"../') ? m : '""',
    );
}

it("pure folders touch no clock, randomness, timers, process or node modules", () => {
  const forbidden = [
    /from\s+"node:/,
    /\brequire\(/,
    /\bDate\b/,
    /\bsetTimeout\b/,
    /\bsetInterval\b/,
    /\bsetImmediate\b/,
    /\bMath\.random\b/,
    /\bprocess\b/,
    /\bperformance\b/,
  ];
  const problems: string[] = [];
  for (const folder of PURE) {
    for (const file of sources(join(root, folder))) {
      const text = code(readFileSync(file, "utf8"));
      for (const pattern of forbidden) {
        if (pattern.test(text)) problems.push(`${relative(root, file)} uses ${pattern.source}`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

it("layers import only the layers below them", () => {
  const problems: string[] = [];
  for (const [folder, allowed] of Object.entries(ALLOWED)) {
    for (const file of sources(join(root, folder))) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/from\s+"(\.\.?\/[^"]+)"/g)) {
        const target = relative(root, resolve(dirname(file), m[1] as string)).split(
          "/",
        )[0] as string;
        if (target !== folder && !allowed.includes(target)) {
          problems.push(`${relative(root, file)} imports ${m[1]}`);
        }
      }
    }
  }
  assert.deepEqual(problems, []);
});
