import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  detectionBoundMs,
  disseminationRounds,
  lanConfig,
  suspicionTimeoutMinMs,
} from "../../src/membership/index.js";
import { metaFor, Net } from "./harness.js";

const config = lanConfig;

function formedCluster(seed: number, n: number): Net {
  const net = Net.formed(seed, config, n);
  const took = net.runUntilTrue(() => net.converged(), 60_000, 100);
  assert.ok(took >= 0, `cluster of ${n} did not converge in 60 s`);
  return net;
}

/** Time until every live node other than `id` holds it in `state`, or -1. */
function timeUntilAllSee(net: Net, id: string, state: string, limitMs: number): number {
  return net.runUntilTrue(
    () => net.live().every((x) => x.id === id || x.m.member(id)?.state === state),
    limitMs,
    10,
  );
}

describe("membership cluster", () => {
  for (const n of [5, 20, 100]) {
    it(`a cluster of ${n} forms from one seed address`, () => {
      const net = formedCluster(n, n);
      for (const node of net.live()) {
        node.m.checkInvariants();
        assert.equal(node.m.liveMembers, n);
        const zones = new Set(node.m.members().map((x) => x.meta.zone));
        assert.deepEqual([...zones].sort(), n >= 3 ? ["z0", "z1", "z2"] : [...zones].sort());
      }
    });
  }

  for (const n of [20, 100]) {
    it(`a crashed member of ${n} is suspected, then declared dead by all within the bound`, () => {
      const net = formedCluster(100 + n, n);
      net.runFor(5_000);
      const victim = "n7";
      const logStart = net.log.length;
      net.crash(victim);
      const bound = detectionBoundMs(config, n);
      const took = timeUntilAllSee(net, victim, "dead", bound);
      assert.ok(took >= 0, `not dead everywhere within the bound ${bound} ms`);
      const about = net.log.slice(logStart).filter((e) => e.event.id === victim);
      assert.ok(
        about.some((e) => e.event.kind === "suspect"),
        "suspected first",
      );
      // Nobody else was wrongly declared dead on the way.
      const dead = net.log.slice(logStart).filter((e) => e.event.kind === "dead");
      assert.ok(dead.every((e) => e.event.id === victim));
      for (const node of net.live()) node.m.checkInvariants();
    });
  }

  it("a paused member is suspected, refutes on resume, and is never declared dead", () => {
    const n = 20;
    const net = formedCluster(7, n);
    net.runFor(5_000);
    const victim = "n3";
    const logStart = net.log.length;
    const before = net.node(victim).m.incarnation;
    // Shorter than the shortest suspicion, longer than a few probe periods.
    const pauseMs = 3_000;
    assert.ok(pauseMs < suspicionTimeoutMinMs(config, n) - config.probeIntervalMs);
    net.pause(victim);
    net.runFor(pauseMs);
    net.resume(victim);
    net.runFor(20_000);
    const events = net.log.slice(logStart);
    assert.ok(
      events.some((e) => e.event.id === victim && e.event.kind === "suspect"),
      "it was suspected",
    );
    assert.ok(!events.some((e) => e.event.kind === "dead"), "nobody declared dead");
    assert.ok(net.node(victim).m.incarnation > before, "it refuted with a higher incarnation");
    assert.ok(net.converged());
  });

  it("a graceful leave propagates as left, not dead", () => {
    const n = 20;
    const net = formedCluster(11, n);
    const leaver = "n5";
    const logStart = net.log.length;
    net.act(leaver, (m) => m.leave(net.nowMs));
    const limit = disseminationRounds(config, n) * config.gossipIntervalMs;
    const took = timeUntilAllSee(net, leaver, "left", limit);
    assert.ok(took >= 0, `leave not everywhere within ${limit} ms`);
    net.crash(leaver); // the process exits once its leave is out
    net.runFor(30_000);
    const events = net.log.slice(logStart);
    assert.ok(!events.some((e) => e.event.kind === "dead" || e.event.kind === "suspect"));
    assert.equal(events.filter((e) => e.event.kind === "left").length, n - 1);
  });

  for (const n of [20, 100]) {
    it(`an update reaches all ${n} members in O(log N) gossip rounds`, () => {
      const net = formedCluster(300 + n, n);
      net.runFor(10_000); // let the formation gossip drain
      const logStart = net.log.length;
      const meta = { ...metaFor(1), zone: "moved" };
      const startMs = net.nowMs;
      net.act("n1", (m) => m.updateMeta(meta, net.nowMs));
      const took = net.runUntilTrue(
        () => net.live().every((x) => x.id === "n1" || x.m.member("n1")?.meta.zone === "moved"),
        60_000,
        5,
      );
      const rounds = took / config.gossipIntervalMs;
      const limit = disseminationRounds(config, n);
      assert.ok(took >= 0 && rounds <= limit, `${rounds} rounds, limit ${limit} (N=${n})`);
      const updated = net.log.slice(logStart).filter((e) => e.event.kind === "updated");
      assert.equal(updated.length, n - 1);
      assert.ok(updated.every((e) => e.event.meta.version === 1 && e.event.atMs >= startMs));
    });
  }

  it("the same seed gives the same event sequence", () => {
    const run = (seed: number): string => {
      const net = Net.formed(seed, config, 12, { lossRate: 0.05 });
      net.runFor(10_000);
      net.crash("n4");
      net.runFor(40_000);
      return JSON.stringify(net.log);
    };
    const a = run(42);
    assert.equal(run(42), a);
    assert.notEqual(run(43), a);
    assert.ok(a.includes('"kind":"dead"'));
  });
});
