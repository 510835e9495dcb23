import assert from "node:assert/strict";
import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  DirectAppender,
  directBlockBytes,
  directWriteBytesMax,
} from "../../src/storage/direct-append.js";
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
  it("appends across block edges, and after writes too big for it, the file reading as written", (t) => {
    const size = 4 * 1024 * 1024;
    const path = zeroFile(size);
    const a = DirectAppender.open(path);
    if (a === null) return t.skip("this file system has no O_DIRECT");
    const expected = Buffer.alloc(size);
    try {
      a.resume(0, new Uint8Array(0));
      let at = 0;
      // Ends and starts at, before and after block edges; the biggest direct write; two
      // too big for one, written through the page cache as the raft log does.
      const big = directWriteBytesMax + 1;
      const sizes = [
        1,
        100,
        3995,
        1,
        4096,
        4095,
        2,
        8191,
        5000,
        directWriteBytesMax,
        7,
        big,
        4089,
      ].concat([12_345, big + 4096, 1]);
      const cached = openSync(path, "r+");
      for (const [k, n] of sizes.entries()) {
        const data = blob(n, k + 1);
        assert.equal(a.position, at);
        if (a.fits(n)) {
          assert.equal(a.append(data), true);
        } else {
          writeSync(cached, data, 0, n, at);
          a.passed(data);
        }
        expected.set(data, at);
        at += n;
        assert.deepEqual(readFileSync(path), expected, `after write ${k} (${n} bytes)`);
      }
      closeSync(cached);
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

  it("the appender of the next file takes over the memory, and writes only its file", (t) => {
    const first = zeroFile(16 * 1024);
    const second = zeroFile(16 * 1024);
    const a = DirectAppender.open(first);
    if (a === null) return t.skip("this file system has no O_DIRECT");
    a.resume(0, new Uint8Array(0));
    const one = blob(5000, 1);
    assert.equal(a.append(one), true);
    a.close();
    const b = DirectAppender.open(second, a) as DirectAppender;
    try {
      b.resume(0, new Uint8Array(0));
      const two = blob(3000, 2);
      assert.equal(b.append(two), true);
      const expected = Buffer.alloc(16 * 1024);
      expected.set(two, 0);
      assert.deepEqual(readFileSync(second), expected);
      expected.fill(0).set(one, 0);
      assert.deepEqual(readFileSync(first), expected);
    } finally {
      b.close();
    }
  });

  it("a file that is not there is an error, not a fallback", () => {
    assert.throws(() => DirectAppender.open(join(root, "missing")), { code: "ENOENT" });
  });
});
