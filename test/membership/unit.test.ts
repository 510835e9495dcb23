import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { SeededRandom } from "../../src/core/random.js";
import {
  BroadcastQueue,
  datagramBytesMin,
  decodeFrame,
  encodeFrame,
  encodeMessage,
  idHash,
  lanConfig,
  localConfig,
  Membership,
  type MembershipConfig,
  type Message,
  metaBytesMax,
  pushPullWindowSpan,
  retransmitLimit,
  Suspicion,
  suspicionConfirmationsExpected,
  suspicionTimeoutMaxMs,
  suspicionTimeoutMinMs,
  suspicionTimeoutMs,
  validateConfig,
} from "../../src/membership/index.js";
import { metaFor } from "./harness.js";

function node(id: string, config: MembershipConfig = lanConfig, seed = 1): Membership {
  return new Membership(config, { id, address: id, meta: metaFor(1) }, new SeededRandom(seed));
}

function decode(data: Uint8Array): Message[] {
  const d = decodeFrame(data, lanConfig.membersMax);
  assert.ok(d.ok, "decodes");
  return d.messages;
}

/** A push-pull reply telling `m` about members `ids`, all alive. */
function teach(m: Membership, ids: string[], nowMs: number): void {
  const entries = ids.map((id) => ({
    id,
    address: id,
    meta: metaFor(2),
    incarnation: 0,
    state: "alive" as const,
  }));
  const frame = encodeFrame([
    encodeMessage({
      type: "push-pull",
      join: false,
      reply: true,
      window: null,
      digests: null,
      entries,
    }),
  ]);
  m.receive(ids[0] as string, frame, nowMs);
}

describe("membership formulas", () => {
  it("scale with N as documented", () => {
    assert.equal(retransmitLimit(lanConfig, 1), 7, "ln(1 / 0.001)");
    assert.equal(retransmitLimit(lanConfig, 9), 10, "ln(9 / 0.001), above 4 · 1");
    assert.equal(retransmitLimit(lanConfig, 97), 12, "ln(97 / 0.001), above 4 · 2");
    assert.equal(retransmitLimit(lanConfig, 100), 12);
    assert.equal(retransmitLimit(lanConfig, 1000), 16, "4 · 4, above ln(10^6)");
    assert.equal(suspicionTimeoutMinMs(lanConfig, 5), 4000);
    assert.equal(suspicionTimeoutMinMs(lanConfig, 100), 8000);
    assert.equal(suspicionTimeoutMaxMs(lanConfig, 100), 48_000);
    assert.equal(suspicionConfirmationsExpected(lanConfig, 3), 0);
    assert.equal(suspicionConfirmationsExpected(lanConfig, 100), 2);
    assert.equal(pushPullWindowSpan(lanConfig, 64), null, "whole table while N <= a window");
    assert.equal(pushPullWindowSpan(lanConfig, 65), Math.floor((2 ** 32 * 64) / 65));
    assert.equal(pushPullWindowSpan(lanConfig, 10_000), Math.floor((2 ** 32 * 64) / 10_000));
  });

  it("Lifeguard suspicion shrinks from max to min with the log of confirmations", () => {
    assert.equal(suspicionTimeoutMs(1000, 6000, 2, 0), 6000);
    assert.equal(
      suspicionTimeoutMs(1000, 6000, 2, 1),
      Math.floor(6000 - (5000 * Math.log(2)) / Math.log(3)),
    );
    assert.equal(suspicionTimeoutMs(1000, 6000, 2, 2), 1000);
    assert.equal(suspicionTimeoutMs(1000, 6000, 0, 0), 1000);
    const s = new Suspicion("a", 100, 1000, 6000, 2);
    assert.equal(s.deadlineMs, 6100);
    assert.equal(s.confirm("a"), false, "the accuser does not confirm itself");
    assert.equal(s.confirm("b"), true);
    assert.ok(s.deadlineMs < 6100 && s.deadlineMs > 1100);
    assert.equal(s.confirm("b"), false, "one confirmation per member");
    assert.equal(s.confirm("c"), true);
    assert.equal(s.deadlineMs, 1100);
    assert.equal(s.confirm("d"), false, "beyond expected nothing changes");
  });

  it("presets are valid and bad configs are refused", () => {
    validateConfig(lanConfig);
    validateConfig(localConfig);
    assert.throws(() => validateConfig({ ...lanConfig, probeTimeoutMs: 1000 }));
    assert.throws(() => validateConfig({ ...lanConfig, datagramBytesMax: datagramBytesMin - 1 }));
    assert.throws(() => validateConfig({ ...lanConfig, streamBytesMax: 1024 }));
  });

  it("docs/membership.md names every parameter", () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const doc = readFileSync(resolve(here, "../../../docs/membership.md"), "utf8");
    const missing = Object.keys(lanConfig).filter((k) => !doc.includes(`\`${k}\``));
    assert.deepEqual(missing, []);
  });
});

describe("membership codec", () => {
  const samples: Message[] = [
    { type: "ping", seq: 7, targetId: "n1" },
    {
      type: "ping-req",
      seq: 0xffff_ffff,
      targetId: "n2",
      targetAddress: "10.0.0.2:7946",
      wantNack: true,
    },
    { type: "ack", seq: 1 },
    { type: "nack", seq: 2 },
    { type: "alive", incarnation: 3, id: "ñ", address: "[::1]:1", meta: metaFor(4) },
    { type: "suspect", incarnation: 4, id: "n1", from: "n2" },
    { type: "dead", incarnation: 5, id: "n1", from: "n1" },
    {
      type: "push-pull",
      join: true,
      reply: false,
      window: null,
      digests: null,
      entries: [{ id: "n1", address: "n1", meta: metaFor(1), incarnation: 9, state: "suspect" }],
    },
    {
      type: "push-pull",
      join: false,
      reply: true,
      window: { start: 0xffff_fff0, span: 0x20 },
      digests: null,
      entries: [{ id: "n2", address: "n2", meta: metaFor(2), incarnation: 1, state: "left" }],
    },
    {
      type: "push-pull",
      join: false,
      reply: false,
      window: { start: 5, span: 0x4000_0000 },
      digests: new Uint32Array([1, 0xffff_ffff, 0, 7]),
      entries: [],
    },
  ];

  it("round-trips every message kind", () => {
    for (const m of samples) {
      const frame = encodeFrame([encodeMessage(m)]);
      assert.deepEqual(JSON.parse(JSON.stringify(decode(frame))), JSON.parse(JSON.stringify([m])));
    }
  });

  it("rejects every truncation and refuses oversized metadata", () => {
    for (const m of samples) {
      const frame = encodeFrame([encodeMessage(m)]);
      for (let cut = 0; cut < frame.length; cut++) {
        assert.equal(decodeFrame(frame.subarray(0, cut), 100).ok, false, `${m.type} cut at ${cut}`);
      }
    }
    const big = { ...metaFor(1), zone: "z".repeat(65) };
    assert.throws(() =>
      encodeMessage({ type: "alive", incarnation: 0, id: "a", address: "a", meta: big }),
    );
    const many = {
      ...metaFor(1),
      capacity: Object.fromEntries([...Array(9)].map((_, i) => [`k${i}`, i])),
    };
    assert.throws(() => node("a").updateMeta(many, 0), /bad metadata/);
    assert.ok(metaBytesMax >= 64);
  });
});

describe("broadcast queue", () => {
  it("sends the least-transmitted first, replaces by key, and retires at the limit", () => {
    const q = new BroadcastQueue(3);
    const b = (n: number): Uint8Array => new Uint8Array(10).fill(n);
    q.enqueue("a", b(1));
    q.enqueue("b", b(2));
    assert.deepEqual(q.take(10, 2, 10), [b(1)], "budget for one");
    assert.deepEqual(q.take(10, 2, 10), [b(2)], "b has fewer transmissions");
    q.enqueue("a", b(3)); // newer news about a replaces the old
    assert.deepEqual(q.take(100, 2, 10), [b(3), b(2)]);
    assert.equal(q.size, 1, "b retired after 2 transmissions");
    q.enqueue("c", b(4));
    q.enqueue("d", b(5));
    q.enqueue("e", b(6));
    assert.equal(q.size, 3);
    assert.equal(q.dropped, 1, "the most-transmitted was dropped when full");
  });
});

describe("membership state machine", () => {
  it("drops garbled, oversized and hostile input, counting it, and never throws", () => {
    const m = node("a");
    teach(m, ["b", "c"], 0);
    const random = new SeededRandom(99);
    let sent = 1; // teach()
    for (let i = 0; i < 2000; i++) {
      const bytes = new Uint8Array(random.int(64));
      for (let j = 0; j < bytes.length; j++) bytes[j] = random.int(256);
      if (i % 2 === 0 && bytes.length >= 2) {
        bytes[0] = 0xb5; // past the magic, into the parser
        bytes[1] = 1;
      }
      m.receive("x", bytes, i);
      sent += 1;
    }
    const valid = encodeFrame([
      encodeMessage({ type: "alive", incarnation: 1, id: "d", address: "d", meta: metaFor(3) }),
    ]);
    for (let i = 0; i < 500; i++) {
      const flipped = valid.slice();
      flipped[random.int(flipped.length)] ^= 1 << random.int(8);
      m.receive("x", flipped, 2000);
      sent += 1;
    }
    m.receive("x", new Uint8Array(lanConfig.datagramBytesMax + 1), 2000);
    m.receive("x", new Uint8Array(lanConfig.streamBytesMax + 1), 2000);
    const ping = encodeMessage({ type: "ping", seq: 1, targetId: "a" });
    m.receive("x", encodeFrame(new Array(200).fill(ping)), 2000); // 1003 bytes: fits
    m.receive("x", encodeFrame(new Array(255).fill(encodeMessage(samplesBig()))), 2000);
    sent += 4;
    assert.equal(m.stats.received, sent);
    assert.ok(m.stats.droppedGarbled > 2000);
    assert.equal(m.stats.droppedOversized, 3);
    m.checkInvariants();
    m.tick(5000);
    m.checkInvariants();
  });

  it("tells a suspected member in the probe itself (buddy system)", () => {
    const cfg = { ...lanConfig, indirectChecks: 0 };
    const m = node("a", cfg);
    teach(m, ["b"], 0);
    m.drain();
    // Probe b until one fails and b becomes suspect, then look at the next ping to b.
    for (let t = 0; t < 10_000; t += 100) {
      m.tick(t);
      if (m.member("b")?.state === "suspect") break;
    }
    assert.equal(m.member("b")?.state, "suspect");
    m.drain();
    let buddy: Message[] | undefined;
    for (let t = 10_000; t < 20_000 && buddy === undefined; t += 100) {
      m.tick(t);
      for (const out of m.drain().messages) {
        const msgs = decode(out.data);
        if (out.to === "b" && msgs[0]?.type === "ping") buddy = msgs;
      }
    }
    assert.ok(buddy?.some((x) => x.type === "suspect" && x.id === "b" && x.from === "a"));
  });

  it("a member whose probes fail without nacks slows down (Lifeguard health)", () => {
    const m = node("a");
    teach(m, ["b", "c", "d", "e"], 0);
    const pingTimes: number[] = [];
    for (let t = 0; t < 120_000; t += 10) {
      m.tick(t);
      for (const out of m.drain().messages) {
        if (decode(out.data)[0]?.type === "ping") pingTimes.push(t);
      }
    }
    assert.equal(m.health, lanConfig.awarenessMax - 1);
    const gaps = pingTimes.slice(1).map((t, i) => t - (pingTimes[i] as number));
    assert.ok(gaps[0] !== undefined && gaps[0] <= lanConfig.probeIntervalMs * 2);
    assert.equal(gaps.at(-1), lanConfig.probeIntervalMs * lanConfig.awarenessMax);
  });

  it("with Lifeguard off, failing probes neither slow a member nor stretch suspicion", () => {
    const cfg = { ...lanConfig, lifeguard: false };
    const m = node("a", cfg);
    teach(m, ["b", "c", "d", "e"], 0);
    const pingTimes: number[] = [];
    let suspectAtMs = -1;
    let deadAtMs = -1;
    for (let t = 0; t < 30_000; t += 10) {
      m.tick(t);
      for (const out of m.drain().messages) {
        const msgs = decode(out.data);
        if (msgs[0]?.type === "ping") pingTimes.push(t);
        assert.ok(!msgs.some((x) => x.type === "ping-req" && x.wantNack));
      }
      const state = m.member("b")?.state;
      if (suspectAtMs < 0 && state === "suspect") suspectAtMs = t;
      if (deadAtMs < 0 && state === "dead") deadAtMs = t;
    }
    assert.equal(m.health, 0);
    const gaps = pingTimes.slice(1).map((t, i) => t - (pingTimes[i] as number));
    assert.ok(gaps.length >= 3 && gaps.every((g) => g === cfg.probeIntervalMs), `${gaps}`);
    assert.ok(suspectAtMs >= 0 && deadAtMs > suspectAtMs);
    assert.ok(deadAtMs - suspectAtMs <= suspicionTimeoutMinMs(cfg, 5) + 10);
  });

  it("acks heal health; a refutation costs some", () => {
    const m = node("a");
    teach(m, ["b"], 0);
    m.receive("b", frameOf({ type: "suspect", incarnation: 0, id: "a", from: "b" }), 1);
    assert.equal(m.incarnation, 1, "refuted");
    assert.equal(m.health, 1);
    m.receive("b", frameOf({ type: "dead", incarnation: 1, id: "a", from: "b" }), 2);
    assert.equal(m.incarnation, 2, "refuted again");
    assert.equal(m.health, 2);
    // Answer every ping to b at once: direct acks bring health back to 0.
    for (let t = 3; t < 10_000; t += 10) {
      m.tick(t);
      for (const out of m.drain().messages) {
        const first = decode(out.data)[0];
        if (first?.type === "ping") m.receive("b", frameOf({ type: "ack", seq: first.seq }), t);
      }
    }
    assert.equal(m.health, 0);
    assert.equal(m.member("b")?.state, "alive");
  });

  it("nextWakeMs says when there is work, and tick leaves it in the future", () => {
    const m = node("a");
    assert.equal(m.nextWakeMs(), 0);
    m.tick(0);
    teach(m, ["b", "c"], 0);
    let now = 0;
    for (let i = 0; i < 200; i++) {
      now = Math.max(now, m.nextWakeMs());
      m.tick(now);
      m.drain();
      assert.ok(m.nextWakeMs() > now, `wake ${m.nextWakeMs()} after tick at ${now}`);
    }
    assert.ok(now > 10_000, "idle time was skipped");
  });
});

function frameOf(m: Message): Uint8Array {
  return encodeFrame([encodeMessage(m)]);
}

function samplesBig(): Message {
  return { type: "alive", incarnation: 1, id: "q".repeat(100), address: "q", meta: metaFor(1) };
}

describe("push-pull windows", () => {
  const ids = [...Array(400)].map((_, i) => `n${i}`);
  const inWindow = (id: string, w: { start: number; span: number }): boolean =>
    (idHash(id) - w.start + 2 ** 32) % 2 ** 32 < w.span;
  const streams = (m: Membership): Extract<Message, { type: "push-pull" }>[] =>
    m
      .drain()
      .messages.filter((o) => o.reliable)
      .flatMap((o) => decode(o.data))
      .filter((x): x is Extract<Message, { type: "push-pull" }> => x.type === "push-pull");

  it("answers a windowed push-pull with exactly its records in that window", () => {
    const m = node("a");
    teach(m, ids, 0);
    m.drain();
    const window = { start: 0xf000_0000, span: 0x2000_0000 }; // wraps past 2^32
    const ask: Message = {
      type: "push-pull",
      join: false,
      reply: false,
      window,
      digests: null,
      entries: [],
    };
    m.receive("n1", encodeFrame([encodeMessage(ask)]), 10);
    const [reply] = streams(m);
    assert.ok(reply?.reply === true);
    assert.deepEqual(reply.window, window);
    const expected = ["a", ...ids].filter((id) => inWindow(id, window)).sort();
    assert.ok(expected.length > 20, "the window holds a fair share of 401 members");
    assert.deepEqual(reply.entries.map((e) => e.id).sort(), expected);
  });

  it("slides its periodic windows around the ring, whole-table below two windows", () => {
    const small = node("a");
    teach(small, ids.slice(0, 60), 0);
    small.drain();
    const big = node("b");
    teach(big, ids, 0);
    big.drain();
    const windows: { start: number; span: number }[] = [];
    let covered = 0;
    for (let t = 0; covered < 2 ** 32; t += 1000) {
      small.tick(t);
      for (const s of streams(small)) assert.equal(s.window, null, "N = 61: whole table");
      big.tick(t);
      for (const s of streams(big)) {
        assert.ok(s.window !== null);
        // Unanswered probes make members suspect and dead as time goes: N is the live count.
        assert.equal(s.window.span, pushPullWindowSpan(lanConfig, big.liveMembers));
        const last = windows.at(-1);
        if (last !== undefined) {
          assert.equal(s.window.start, (last.start + last.span) % 2 ** 32, "contiguous");
        }
        windows.push(s.window);
        covered += s.window.span;
        const w = s.window;
        const expected = big
          .members()
          .filter((x) => inWindow(x.id, w))
          .map((x) => x.id);
        assert.deepEqual(s.entries.map((e) => e.id).sort(), expected.sort());
      }
    }
    // About N / 64 windows cover the ring, one per push-pull period.
    assert.ok(windows.length >= Math.ceil(401 / 64) && windows.length <= 2 * Math.ceil(401 / 64));
  });

  /** The first windowed push-pull `m` starts (its peer is whoever the ring picks). */
  const firstPushPull = (m: Membership): Extract<Message, { type: "push-pull" }> => {
    for (let t = 0; t < 120_000; t += 1000) {
      m.tick(t);
      const [s] = streams(m);
      if (s !== undefined) return s;
    }
    assert.fail("no push-pull in two minutes");
  };
  const knows = (m: Membership, id: string): boolean => m.members().some((x) => x.id === id);
  /** An id outside `w`, so only a digest can bring it. */
  const outside = (w: { start: number; span: number }): string => {
    for (let i = 0; ; i++) if (!inWindow(`x${i}`, w)) return `x${i}`;
  };

  it("repairs a record the asker lacks at once, from its digests (two legs)", () => {
    const a = node("a");
    teach(a, ids, 0);
    const ask = firstPushPull(a);
    assert.ok(ask.window !== null && ask.digests !== null, "windowed, with digests");
    const b = node("b");
    const missed = outside(ask.window);
    teach(b, [...ids, "a", missed], 0);
    b.drain();
    b.receive("a", frameOf(ask), 100_000);
    const [reply] = streams(b);
    assert.ok(reply !== undefined && reply.digests !== null);
    assert.ok(
      reply.entries.some((e) => e.id === missed),
      "the differing bucket comes along",
    );
    assert.ok(!knows(a, missed));
    a.receive("b", frameOf(reply), 100_001);
    assert.ok(knows(a, missed), "repaired by the reply");
  });

  it("repairs a record the answerer lacks with a third leg, and stops when digests agree", () => {
    const a = node("a");
    const missed = "x-missed";
    teach(a, [...ids, missed], 0);
    const ask = firstPushPull(a);
    assert.ok(ask.window !== null);
    if (inWindow(missed, ask.window)) return; // the window itself carries it: nothing to show
    const b = node("b");
    teach(b, [...ids, "a"], 0);
    b.drain();
    b.receive("a", frameOf(ask), 100_000);
    const [reply] = streams(b);
    assert.ok(reply !== undefined && !knows(b, missed));
    a.receive("b", frameOf(reply), 100_001);
    const [last] = streams(a);
    assert.ok(last !== undefined);
    assert.ok(last.reply && last.digests === null, "a final leg");
    assert.ok(last.entries.some((e) => e.id === missed));
    b.receive("a", frameOf(last), 100_002);
    assert.ok(knows(b, missed), "repaired by the third leg");
    assert.equal(streams(b).length, 0, "a reply is never answered");
  });

  it("sends no repair when the tables agree", () => {
    // No probes, so no member turns suspect or dead in one view and not the other.
    const quiet = { ...lanConfig, probeIntervalMs: 1e9, pushPullIntervalMs: 1000 };
    // teach() tells of members with metaFor(2): the same, or they would refute.
    const node = (id: string): Membership =>
      new Membership(quiet, { id, address: id, meta: metaFor(2) }, new SeededRandom(1));
    const a = node("a");
    teach(a, [...ids, "b"], 0);
    const ask = firstPushPull(a);
    assert.ok(ask.window !== null);
    const b = node("b");
    teach(b, [...ids, "a"], 0);
    b.drain();
    b.receive("a", frameOf(ask), 100_000);
    const [reply] = streams(b);
    assert.ok(reply !== undefined);
    const w = ask.window;
    assert.deepEqual(
      reply.entries.map((e) => e.id).sort(),
      ["a", "b", ...ids].filter((id) => inWindow(id, w)).sort(),
      "only the window",
    );
    a.receive("b", frameOf(reply), 100_001);
    assert.equal(streams(a).length, 0, "no third leg");
  });
});
