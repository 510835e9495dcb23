import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

/** The built CLI (dist/src/cli/main.js), from this test compiled to dist/test/contract/. */
const CLI = resolve(dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");

const dir = mkdtempSync(join(tmpdir(), "homeostat-contract-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const validate = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, "contract", "validate", ...args], {
    encoding: "utf8",
    timeout: 15000,
  });

describe("homeostat contract validate", () => {
  it("prints the effective contract of a valid file and exits 0", () => {
    const path = file(
      "good.yaml",
      "durability:\n  replicas: 5\nperformance:\n  read: { p99: 10ms }\n",
    );
    const r = validate(path);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(lines[0], `${path}: valid`);
    assert.match(r.stdout, /durability: +5 replicas per shard, spread over zones, sync always/);
    assert.match(r.stdout, /availability: +target 99\.9%, a node silent for 5m/);
    assert.match(r.stdout, /performance: +read p99 10ms/);
    assert.match(r.stdout, /alerts: +log/);
    assert.match(r.stdout, /note: performance objectives are stored but not acted on yet/);
  });

  it("prints the effective contract as JSON with --json", () => {
    const r = validate("--json", file("empty.yaml", ""));
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      version: 1,
      durability: { replicas: 3, spreadOverZones: true, sync: "always" },
      availability: { target: 0.999, deadNodeAfter: "5m" },
      performance: {},
      alerts: { channels: [{ type: "log" }] },
    });
  });

  it("prints every error as FILE:LINE:COLUMN to stderr and exits 1", () => {
    const path = file("bad.yaml", "version: 1\ndurability:\n  replicas: 0\n  replica: 3\n");
    const r = validate(path);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      `${path}:3:13 durability.replicas: expected an integer from 1 to 7, got 0\n` +
        `${path}:4:3 durability.replica: unknown field 'replica' (did you mean 'replicas'?)\n` +
        `${path}: invalid (2 errors)\n`,
    );
    const syntax = validate("--json", file("syntax.yaml", "durability: [\n"));
    assert.equal(syntax.status, 1);
    assert.equal(syntax.stdout, "");
    assert.match(syntax.stderr, /syntax\.yaml:2:1 YAML syntax error/);
  });

  it("says why it cannot read a file and exits 2", () => {
    const missing = validate(join(dir, "missing.yaml"));
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /cannot read contract file .*missing\.yaml: no such file/);
    const folder = validate(dir);
    assert.equal(folder.status, 2);
    assert.match(folder.stderr, /it is a directory, not a file/);
  });
});
