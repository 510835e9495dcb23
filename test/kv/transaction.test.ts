import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  decodeTransaction,
  encodeTransaction,
  fingerprint,
  sameFingerprint,
  type TransactionBody,
} from "../../src/kv/transaction.js";
import type { StoredValue } from "../../src/storage/types.js";

const b = (s: string) => Buffer.from(s, "latin1");
const str = (data: string, expireAtMs = 0): StoredValue => ({
  type: "string",
  data: b(data),
  expireAtMs,
});

describe("transaction body codec", () => {
  it("round-trips watches and commands", () => {
    const body: TransactionBody = {
      watches: [
        { key: b("{u}a"), fingerprint: fingerprint(str("1"), 0) },
        { key: b(""), fingerprint: null },
      ],
      commands: [[b("SET"), b("{u}a"), Buffer.from([0, 13, 10, 255])], [b("PING")]],
    };
    const d = decodeTransaction(encodeTransaction(body));
    assert.ok(d.ok, d.ok ? "" : d.error);
    assert.deepEqual(
      d.value.watches.map((w) => [Buffer.from(w.key), w.fingerprint && Buffer.from(w.fingerprint)]),
      body.watches.map((w) => [Buffer.from(w.key), w.fingerprint && Buffer.from(w.fingerprint)]),
    );
    assert.deepEqual(
      d.value.commands.map((c) => c.map((a) => Buffer.from(a))),
      body.commands.map((c) => c.map((a) => Buffer.from(a))),
    );
  });

  it("refuses every truncation, trailing bytes, a bad version and a command without a name", () => {
    const full = encodeTransaction({
      watches: [{ key: b("k"), fingerprint: fingerprint(str("v"), 0) }],
      commands: [[b("GET"), b("k")]],
    });
    for (let n = 0; n < full.length; n++) {
      assert.equal(decodeTransaction(full.subarray(0, n)).ok, false, `prefix of ${n} bytes`);
    }
    assert.equal(decodeTransaction(Buffer.concat([full, Buffer.from([0])])).ok, false);
    const badVersion = Buffer.from(full);
    badVersion[0] = 2;
    assert.equal(decodeTransaction(badVersion).ok, false);
    const empty = encodeTransaction({ watches: [], commands: [[]] });
    assert.equal(decodeTransaction(empty).ok, false);
  });

  it("never throws on garbage", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const d = decodeTransaction(bytes);
        if (d.ok) assert.deepEqual(Buffer.from(encodeTransaction(d.value)), Buffer.from(bytes));
      }),
      { numRuns: 2000 },
    );
  });
});

describe("fingerprints", () => {
  it("are null for an absent or expired key, and change with value, expiry or type", () => {
    assert.equal(fingerprint(undefined, 10), null);
    assert.equal(fingerprint(str("v", 10), 10), null);
    const base = fingerprint(str("v", 0), 10);
    assert.ok(base !== null && base.length === 32);
    assert.ok(sameFingerprint(base, fingerprint(str("v", 0), 99)));
    assert.ok(!sameFingerprint(base, fingerprint(str("w", 0), 10)));
    assert.ok(!sameFingerprint(base, fingerprint(str("v", 20), 10)));
    assert.ok(!sameFingerprint(fingerprint(str("v", 20), 10), fingerprint(str("v", 21), 10)));
    assert.ok(!sameFingerprint(base, null));
    assert.ok(sameFingerprint(null, null));
  });
});
