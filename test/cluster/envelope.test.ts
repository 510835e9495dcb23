import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  decodeEnvelope,
  type Envelope,
  EnvelopeBuilder,
  type EnvelopeItem,
  encodeEnvelope,
  envelopeHeaderBytes,
  envelopeItemsMax,
  itemHeaderBytes,
} from "../../src/cluster/envelope.js";
import { SeededRandom } from "../../src/core/random.js";
import { encodeMessage, type Message } from "../../src/raft/index.js";

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const safe = fc.maxSafeNat();
/** Records with Object's prototype, so deepEqual can compare them with decoded ones. */
const rec = <T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> =>
  fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
/** Mostly small numbers (as in a real cluster), sometimes anything up to 2^53. */
const num = fc.oneof(fc.nat(200), fc.nat(70_000), safe);
const id = fc.integer({ min: 1, max: 0xffff_ffff });
const data = fc.uint8Array({ maxLength: 40 });

const entry = rec({
  term: num,
  index: num,
  type: fc.constantFrom("normal" as const, "conf" as const),
  data,
});
const conf = rec({
  voters: fc.uniqueArray(fc.integer({ min: 1, max: 1000 }), { maxLength: 7 }),
  learners: fc.uniqueArray(fc.integer({ min: 1001, max: 2000 }), { maxLength: 3 }),
});

/** Any message from `from` to `to`, structurally valid for the raft codec. */
function messageArb(from: number, to: number): fc.Arbitrary<Message> {
  const head = { from: fc.constant(from), to: fc.constant(to), term: num };
  return fc.oneof(
    rec({
      type: fc.constant("app" as const),
      ...head,
      index: num,
      logTerm: num,
      commit: num,
      entries: fc.array(entry, { maxLength: 4 }),
    }),
    rec({
      type: fc.constant("app-resp" as const),
      ...head,
      index: num,
      reject: fc.boolean(),
      hintIndex: num,
      hintTerm: num,
    }),
    rec({
      type: fc.constant("vote" as const),
      ...head,
      index: num,
      logTerm: num,
      pre: fc.boolean(),
      transfer: fc.boolean(),
    }),
    rec({
      type: fc.constant("vote-resp" as const),
      ...head,
      pre: fc.boolean(),
      reject: fc.boolean(),
    }),
    rec({ type: fc.constant("heartbeat" as const), ...head, commit: num, context: num }),
    rec({ type: fc.constant("heartbeat-resp" as const), ...head, context: num }),
    rec({
      type: fc.constant("snap" as const),
      ...head,
      meta: rec({ index: num, term: num, conf }),
      offset: fc.nat(1 << 30),
      extra: fc.nat(1 << 20),
      chunk: data,
    }).map(({ extra, ...m }) => ({ ...m, totalBytes: m.offset + m.chunk.length + extra })),
    rec({
      type: fc.constant("snap-resp" as const),
      ...head,
      index: num,
      offset: num,
      reject: fc.boolean(),
    }),
    rec({ type: fc.constant("timeout-now" as const), ...head }),
  );
}

const envelopeArb: fc.Arbitrary<Envelope> = fc.tuple(id, id).chain(([from, to]) =>
  rec({
    from: fc.constant(from),
    to: fc.constant(to),
    items: fc.array(rec({ group: fc.nat(0xffff_ffff), message: messageArb(from, to) }), {
      maxLength: 12,
    }),
  }),
);

const hb = (group: number, term: number, commit: number, context: number): EnvelopeItem => ({
  group,
  message: { type: "heartbeat", from: 1, to: 2, term, commit, context },
});

const samples: Envelope[] = [
  { from: 1, to: 2, items: [] },
  {
    from: 1,
    to: 2,
    items: [
      hb(0, 3, 17, 42),
      {
        group: 7,
        message: { type: "heartbeat-resp", from: 1, to: 2, term: 3, context: 2 ** 52 },
      },
      {
        group: 0xffff_ffff,
        message: {
          type: "app",
          from: 1,
          to: 2,
          term: 4,
          index: 9,
          logTerm: 3,
          commit: 8,
          entries: [{ term: 4, index: 10, type: "normal", data: bytes("set k v") }],
        },
      },
      { group: 3, message: { type: "timeout-now", from: 1, to: 2, term: 4 } },
    ],
  },
];

describe("envelope codec", () => {
  it("round-trips any envelope (property)", () => {
    fc.assert(
      fc.property(envelopeArb, (env) => {
        const decoded = decodeEnvelope(encodeEnvelope(env));
        assert.ok(decoded.ok, decoded.ok ? "" : decoded.error);
        assert.deepEqual(decoded.value, env);
      }),
      { numRuns: 500 },
    );
  });

  it("splits at the byte and item bounds, keeping every item in order (property)", () => {
    fc.assert(
      fc.property(
        envelopeArb,
        fc.integer({ min: 600, max: 4096 }),
        fc.integer({ min: 1, max: 5 }),
        (env, bytesMax, itemsMax) => {
          const b = new EnvelopeBuilder(env.from, env.to, bytesMax, itemsMax);
          for (const item of env.items) b.add(item.group, item.message);
          const out = b.finish();
          assert.equal(b.pending, 0);
          const items: EnvelopeItem[] = [];
          for (const e of out) {
            assert.ok(e.length <= bytesMax);
            const d = decodeEnvelope(e, { bytesMax });
            assert.ok(d.ok);
            assert.ok(d.value.items.length >= 1 && d.value.items.length <= itemsMax);
            items.push(...d.value.items);
          }
          assert.deepEqual(items, env.items);
          // A fresh envelope starts only when the next item would not fit in this one.
          if (env.items.length <= itemsMax && out.length > 1) {
            assert.ok(out.reduce((n, e) => n + e.length, 0) > bytesMax);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("writes heartbeats as compact records, far below whole messages", () => {
    const m: Message = { type: "heartbeat", from: 1, to: 2, term: 5, commit: 12_345, context: 999 };
    const r: Message = { type: "heartbeat-resp", from: 2, to: 1, term: 5, context: 999 };
    const one = encodeEnvelope({ from: 1, to: 2, items: [{ group: 77, message: m }] });
    const resp = encodeEnvelope({ from: 2, to: 1, items: [{ group: 77, message: r }] });
    // kind + group + term (1) + commit (2) + context (2); kind + group + term + context.
    assert.equal(one.length - envelopeHeaderBytes, 10);
    assert.equal(resp.length - envelopeHeaderBytes, 8);
    assert.equal(encodeMessage(m).length, 34);
    assert.equal(encodeMessage(r).length, 26);
    // 1,000 groups' heartbeats in one envelope: ~10 bytes each.
    const env: Envelope = { from: 1, to: 2, items: [] };
    for (let g = 0; g < 1000; g++) env.items.push(hb(g, 2, 100 + g, 5_000));
    const all = encodeEnvelope(env);
    assert.ok(all.length < 1000 * 11 + envelopeHeaderBytes, `${all.length} bytes`);
  });

  it("rejects every truncation and trailing bytes", () => {
    for (const env of samples) {
      const b = encodeEnvelope(env);
      for (let cut = 0; cut < b.length; cut++) {
        assert.equal(decodeEnvelope(b.subarray(0, cut)).ok, false, `cut at ${cut}`);
      }
      const longer = new Uint8Array(b.length + 1);
      longer.set(b);
      assert.equal(decodeEnvelope(longer).ok, false);
    }
  });

  it("never throws on garbage: random bytes, bit flips, splices (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const r = decodeEnvelope(b);
        if (r.ok) assert.doesNotThrow(() => encodeEnvelope(r.value));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        envelopeArb,
        fc.array(fc.tuple(fc.nat(), fc.nat(7)), { minLength: 1, maxLength: 4 }),
        (env, flips) => {
          const b = encodeEnvelope(env);
          for (const [at, bit] of flips) b[at % b.length] ^= 1 << bit;
          const r = decodeEnvelope(b);
          if (r.ok) assert.doesNotThrow(() => encodeEnvelope(r.value));
        },
      ),
      { numRuns: 2000 },
    );
    const rnd = new SeededRandom(7);
    for (let i = 0; i < 5_000; i++) {
      // A valid header and count, then noise: exercises the item decoders.
      const b = new Uint8Array(13 + rnd.int(60));
      for (let k = 0; k < b.length; k++) b[k] = rnd.int(256);
      b.set([1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1 + rnd.int(3)]);
      b[13] = rnd.int(4);
      decodeEnvelope(b);
    }
  });

  it("enforces its bounds and checks, with a reason", () => {
    const reason = (b: Uint8Array, opts = {}) => {
      const r = decodeEnvelope(b, opts);
      assert.equal(r.ok, false);
      return r.ok ? "" : r.error;
    };
    const good = encodeEnvelope(samples[1] as Envelope);
    assert.equal(reason(good, { bytesMax: good.length - 1 }), "envelope too large");
    const wrongVersion = good.slice();
    wrongVersion[0] = 2;
    assert.equal(reason(wrongVersion), "unknown envelope version");
    const noSender = good.slice();
    noSender.fill(0, 1, 5);
    assert.equal(reason(noSender), "missing sender or recipient");
    // A count above the bound, and a count the bytes cannot hold.
    const header = (count: number, rest: number[] = []) => {
      const b = new Uint8Array(envelopeHeaderBytes + rest.length);
      const v = new DataView(b.buffer);
      b[0] = 1;
      v.setUint32(1, 1);
      v.setUint32(5, 2);
      v.setUint32(9, count);
      b.set(rest, envelopeHeaderBytes);
      return b;
    };
    assert.equal(reason(header(envelopeItemsMax + 1)), "too many items");
    assert.equal(reason(header(1000, [1, 0, 0, 0, 1, 1, 1, 1])), "truncated");
    assert.equal(reason(header(1, [9, 0, 0, 0, 1, 1, 1, 1])), "unknown item kind 9");
    // Varints: a second spelling of 1, nine bytes, and 2^53.
    assert.equal(reason(header(1, [2, 0, 0, 0, 1, 0x81, 0x00, 1])), "non-minimal varint");
    const long = [2, 0, 0, 0, 1, ...new Array(8).fill(0xff), 1, 1];
    assert.equal(reason(header(1, long)), "varint too long");
    const big = [2, 0, 0, 0, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10, 1];
    assert.equal(reason(header(1, big)), "varint beyond 2^53");
    // A whole message addressed otherwise than its envelope.
    const stray = encodeMessage({ type: "timeout-now", from: 3, to: 2, term: 1 });
    const strayItem = [0, 0, 0, 0, 5, 0, 0, 0, stray.length, ...stray];
    assert.equal(reason(header(1, strayItem)), "message addressed otherwise");
    // A message item beyond messageBytesMax; a garbled one names its group.
    const app = encodeEnvelope({ from: 1, to: 2, items: samples[1]?.items.slice(2, 3) ?? [] });
    assert.match(reason(app, { messageBytesMax: 40 }), /group 4294967295: message too large/);
    const garbled = app.slice();
    garbled[envelopeHeaderBytes + itemHeaderBytes + 4 + 1] = 99;
    assert.match(reason(garbled), /unknown message type/);
  });

  it("throws RangeError on programmer errors when encoding", () => {
    const b = new EnvelopeBuilder(1, 2, 1024);
    assert.throws(
      () => b.add(0, { type: "timeout-now", from: 2, to: 1, term: 1 }),
      RangeError,
      "message not from the envelope's sender",
    );
    const big: Message = {
      type: "app",
      from: 1,
      to: 2,
      term: 1,
      index: 0,
      logTerm: 0,
      commit: 0,
      entries: [{ term: 1, index: 1, type: "normal", data: new Uint8Array(2000) }],
    };
    assert.throws(() => b.add(0, big), RangeError, "an item larger than an envelope");
    assert.throws(() => new EnvelopeBuilder(0, 2), RangeError);
    const env: Envelope = { from: 1, to: 2, items: [] };
    for (let g = 0; g < 200; g++) env.items.push(hb(g, 1, 1, 1));
    assert.throws(() => encodeEnvelope(env, 500), RangeError, "more than one envelope");
  });
});
