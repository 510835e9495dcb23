import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

/** dist/scripts, from this test compiled to dist/test/scripts/. */
const scripts = resolve(dirname(fileURLToPath(import.meta.url)), "../../scripts");

function run(
  script: string,
  ...args: string[]
): { status: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [resolve(scripts, script), ...args], {
    encoding: "utf8",
    timeout: 30_000,
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

describe("scripts' command lines", () => {
  it("answer --help with their usage", () => {
    for (const script of [
      "bench-multi-raft.js",
      "bench-raft-log.js",
      "bench-resp.js",
      "contract-schema.js",
    ]) {
      const r = run(script, "--help");
      assert.equal(r.status, 0, script);
      assert.match(r.out, new RegExp(`^Usage: node dist/scripts/${script}`), script);
    }
  });

  it("refuse an unknown option or a bad number in one line, with exit code 2", () => {
    const cases: [string, string[], RegExp][] = [
      ["bench-multi-raft.js", ["--bogus"], /^error: Unknown option '--bogus'/],
      [
        "bench-multi-raft.js",
        ["--nodes", "1"],
        /^error: --nodes must be an integer of at least 2, not "1"\n$/,
      ],
      [
        "bench-raft-log.js",
        ["--rounds", "2.5"],
        /^error: --rounds must be an integer of at least 1, not "2.5"\n$/,
      ],
      [
        "bench-resp.js",
        ["many"],
        /^error: COMMANDS must be an integer of at least 1, not "many"\n$/,
      ],
      ["contract-schema.js", ["--chek"], /^error: Unknown option '--chek'/],
      // Scripts run by runMain: the same line, no stack.
      [
        "bench-cluster.js",
        ["--seconds", "x"],
        /^error: --seconds must be an integer of at least 1, not "x"\n$/,
      ],
      ["bench-cluster.js", ["--bogus"], /^error: Unknown option '--bogus'/],
      [
        "bench-hash.js",
        ["--sizes", "10,x"],
        /^error: --sizes must be an integer of at least 1, not "x"\n$/,
      ],
    ];
    for (const [script, args, message] of cases) {
      const r = run(script, ...args);
      assert.equal(r.status, 2, `${script} ${args.join(" ")}`);
      assert.match(r.err, message, `${script} ${args.join(" ")}`);
      assert.doesNotMatch(r.err, /\n\s+at /, "no stack trace");
      assert.equal(r.out, "", "nothing run");
    }
  });
});
