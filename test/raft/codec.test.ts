import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SeededRandom } from "../../src/core/random.js";
import { messageBytes } from "../../src/raft/codec.js";
import {
  decodeConfChange,
  decodeMessage,
  encodeConfChange,
  encodeMessage,
  type Message,
} from "../../src/raft/index.js";

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const max = 1 << 20;

const samples: Message[] = [
  {
    type: "app",
    from: 1,
    to: 2,
    term: 7,
    index: 10,
    logTerm: 6,
    commit: 9,
    entries: [
      { term: 6, index: 11, type: "normal", data: bytes("set a 1") },
      { term: 7, index: 12, type: "conf", data: encodeConfChange({ type: "remove", node: 3 }) },
      { term: 7, index: 13, type: "normal", data: new Uint8Array(0) },
    ],
  },
  {
    type: "app",
    from: 1,
    to: 2,
    term: 2 ** 40,
    index: 2 ** 52,
    logTerm: 1,
    commit: 0,
    entries: [],
  },
  {
    type: "app-resp",
    from: 2,
    to: 1,
    term: 7,
    index: 10,
    reject: true,
    hintIndex: 8,
    hintTerm: 5,
  },
  { type: "vote", from: 3, to: 1, term: 8, index: 12, logTerm: 7, pre: true, transfer: false },
  { type: "vote", from: 3, to: 1, term: 8, index: 12, logTerm: 7, pre: false, transfer: true },
  { type: "vote-resp", from: 1, to: 3, term: 8, pre: true, reject: false },
  { type: "heartbeat", from: 1, to: 2, term: 7, commit: 9, context: 42 },
  { type: "heartbeat-resp", from: 2, to: 1, term: 7, context: 42 },
  {
    type: "snap",
    from: 1,
    to: 2,
    term: 7,
    meta: { index: 100, term: 6, conf: { voters: [1, 2, 3], learners: [4] } },
    offset: 16,
    totalBytes: 40,
    chunk: bytes("0123456789abcdef"),
  },
  { type: "snap-resp", from: 2, to: 1, term: 7, index: 100, offset: 32, reject: false },
  { type: "timeout-now", from: 1, to: 2, term: 7 },
];

describe("raft codec", () => {
  it("round-trips every message type", () => {
    for (const m of samples) {
      const encoded = encodeMessage(m);
      assert.equal(messageBytes(m), encoded.length, `${m.type}: messageBytes`);
      const decoded = decodeMessage(encoded, max);
      assert.ok(decoded.ok, `${m.type}: ${decoded.ok ? "" : decoded.error}`);
      assert.deepEqual(decoded.value, m);
    }
  });

  it("round-trips configuration changes and rejects bad ones", () => {
    for (const cc of [
      { type: "add-voter", node: 4 },
      { type: "add-learner", node: 0xffff_ffff },
      { type: "remove", node: 1 },
    ] as const) {
      const d = decodeConfChange(encodeConfChange(cc));
      assert.ok(d.ok);
      assert.deepEqual(d.value, cc);
    }
    assert.equal(decodeConfChange(new Uint8Array([9, 0, 0, 0, 1])).ok, false);
    assert.equal(decodeConfChange(new Uint8Array([0, 0, 0, 0, 0])).ok, false);
    assert.equal(decodeConfChange(new Uint8Array([0, 0, 0])).ok, false);
  });

  it("rejects every truncation, trailing bytes and oversized input without throwing", () => {
    for (const m of samples) {
      const b = encodeMessage(m);
      for (let cut = 0; cut < b.length; cut++) {
        assert.equal(decodeMessage(b.subarray(0, cut), max).ok, false, `${m.type} cut at ${cut}`);
      }
      const longer = new Uint8Array(b.length + 1);
      longer.set(b);
      assert.equal(decodeMessage(longer, max).ok, false);
      assert.equal(decodeMessage(b, b.length - 1).ok, false);
    }
  });

  it("never throws on garbled input (bit flips, random bytes)", () => {
    const rnd = new SeededRandom(99);
    for (let i = 0; i < 20_000; i++) {
      const base = encodeMessage(samples[rnd.int(samples.length)] as Message);
      const b = base.slice();
      for (let flips = 1 + rnd.int(4); flips > 0; flips--) b[rnd.int(b.length)] ^= 1 << rnd.int(8);
      const r = decodeMessage(b, max);
      if (r.ok) assert.doesNotThrow(() => encodeMessage(r.value));
    }
    for (let i = 0; i < 5_000; i++) {
      const b = new Uint8Array(rnd.int(80));
      for (let k = 0; k < b.length; k++) b[k] = rnd.int(256);
      if (b.length > 0 && rnd.int(2) === 0) b[0] = 1;
      decodeMessage(b, max);
    }
  });

  it("rejects lying counts and lengths before allocating", () => {
    // An append claiming 65,536 entries in a few bytes.
    const m = encodeMessage(samples[1] as Message);
    const view = new DataView(m.buffer, m.byteOffset);
    view.setUint32(m.length - 4, 65_536);
    const r = decodeMessage(m, max);
    assert.equal(r.ok, false);
    // A term beyond 2^53.
    const hb = encodeMessage(samples[6] as Message);
    hb[10] = 0xff;
    assert.equal(decodeMessage(hb, max).ok, false);
  });
});
