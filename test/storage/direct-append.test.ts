import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { DirectAppender, directBlockBytes } from "../../src/storage/direct-append.js";
import { blob } from "./raft-log-helpers.js";

const root = mkdtempSync(join(tmpdir(), "homeostat-direct-"));
after(() => rmSync(root, { recursive: true, force: true }));
let files = 0;

/** A file of `bytes` zeros, as the raft log makes its segments. */
function zeroFile(bytes: number): string {
  const path = join(root, `f${++files}`);
  writeFileSync(path, Buffer.alloc(bytes));
  return path;
}

describe("DirectAppender", () => {
  it("appends across block edges and past its kept memory, the file reading as written", (t) => {
    const size = 2 * 1024 * 1024;
    const path = zeroFile(size);
    const a = DirectAppender.open(path);
    if (a === null) return t.skip("this file system has no O_DIRECT");
    const expected = Buffer.alloc(size);
    try {
      a.resume(0, new Uint8Array(0));
      let at = 0;
      // Ends and starts at, before and after block edges; one write bigger than the
      // 256 KiB the appender keeps between writes, then small ones again.
      const sizes = [1, 100, 3995, 1, 4096, 4095, 2, 8191, 5000, 300_000, 7, 4089, 12_345, 1];
      for (const [k, n] of sizes.entries()) {
        const data = blob(n, k + 1);
        assert.equal(a.position, at);
        assert.equal(a.append(data), true);
        expected.set(data, at);
        at += n;
        assert.deepEqual(readFileSync(path), expected, `after write ${k} (${n} bytes)`);
      }
    } finally {
      a.close();
    }
  });

  it("resumes after bytes already in the file, keeping them", (t) => {
    const path = zeroFile(64 * 1024);
    const before = blob(directBlockBytes + 1000, 9);
    const file = Buffer.alloc(64 * 1024);
    file.set(before, 0);
    writeFileSync(path, file);
    const a = DirectAppender.open(path);
    if (a === null) return t.skip("this file system has no O_DIRECT");
    try {
      a.resume(before.length, before.subarray(directBlockBytes));
      assert.throws(() => a.resume(before.length, before), /don't fit/);
      a.resume(before.length, before.subarray(directBlockBytes));
      const data = blob(5000, 3);
      assert.equal(a.append(data), true);
      file.set(data, before.length);
      assert.deepEqual(readFileSync(path), file);
    } finally {
      a.close();
    }
  });

  it("a file that is not there is an error, not a fallback", () => {
    assert.throws(() => DirectAppender.open(join(root, "missing")), { code: "ENOENT" });
  });
});
