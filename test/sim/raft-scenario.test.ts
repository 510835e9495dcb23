import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  mean,
  mixFaults,
  percentile,
  type RaftScenarioOptions,
  RaftSummary,
  raftScenarioDefaults,
  runRaftScenario,
} from "../../src/sim/raft-scenario.js";

const mainJs = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

function scenario(seed: number, over: Partial<RaftScenarioOptions> = {}): RaftScenarioOptions {
  return { ...raftScenarioDefaults(seed), durationMs: 4_000, ...over };
}

function firstFailure(seed: number, r: ReturnType<typeof runRaftScenario>): string {
  const f = r.failures[0];
  return f === undefined ? "" : `seed=${seed} trace=${r.trace} ${f.kind}: ${f.message}`;
}

/** Seeds of the mixed-fault sweep: with the 500 of test/raft/random.test.ts, thousands per CI run. */
const mixedSeeds = 1000;

describe("raft scenario", () => {
  it(`${mixedSeeds} seeds of mixed faults (a quarter with 5 replicas) keep safety, linearizability and liveness`, (t) => {
    const summary = new RaftSummary();
    const startMs = performance.now();
    for (let seed = 1; seed <= mixedSeeds; seed++) {
      const r = runRaftScenario(
        scenario(seed, { nodes: seed % 4 === 0 ? 5 : 3, faults: mixFaults(seed) }),
      );
      summary.add(r);
      assert.deepEqual(r.failures, [], firstFailure(seed, r));
      assert.equal(r.check.verdict, "linearizable", `seed=${seed}: ${r.check.message}`);
    }
    const o = summary.ops;
    t.diagnostic(
      `${mixedSeeds} seeds in ${((performance.now() - startMs) / 1000).toFixed(1)} s wall`,
    );
    t.diagnostic(
      `operations ${o.total}: ok ${o.ok}, failed ${o.failed}, unknown ${o.unknown}; ` +
        `faults ${JSON.stringify(summary.faultsByKind())}`,
    );
    t.diagnostic(
      `leader crashes ${summary.leaderCrashes}: serving again after mean ${mean(summary.servingMs).toFixed(0)} ms, ` +
        `p99 ${percentile(summary.servingMs, 0.99).toFixed(0)} ms; ` +
        `${summary.snapshotsInstalled} snapshots installed, ${summary.tornWrites} torn writes`,
    );
    // The run must exercise what it claims to: every kind, leader crashes, snapshots, tears.
    const kinds = summary.faultsByKind();
    for (const kind of ["crash", "partition", "loss", "dup", "delay", "pause", "slow"]) {
      assert.ok((kinds[kind] ?? 0) > 0, `no ${kind} injected`);
    }
    assert.ok(summary.leaderCrashes >= 10, `leader crashes ${summary.leaderCrashes}`);
    assert.ok(summary.snapshotsInstalled > 0, "no snapshot was ever sent and installed");
    assert.ok(summary.tornWrites > 0, "no crash ever tore a write");
    assert.ok(o.total > 20_000, `only ${o.total} operations`);
  });

  it("a leader crash is healed within the election timeout's range", (t) => {
    const serving: number[] = [];
    for (let seed = 1; seed <= 10; seed++) {
      const r = runRaftScenario(scenario(seed, { faults: ["crash"], durationMs: 10_000 }));
      assert.deepEqual(r.failures, [], firstFailure(seed, r));
      serving.push(...r.failover.servingMs);
    }
    const timeoutMs = raftScenarioDefaults(1).electionTicks * raftScenarioDefaults(1).tickMs;
    t.diagnostic(
      `${serving.length} leader crashes: new leader serving writes after mean ${mean(serving).toFixed(0)} ms, ` +
        `max ${Math.max(...serving).toFixed(0)} ms (election timeout ${timeoutMs}–${2 * timeoutMs} ms)`,
    );
    assert.ok(serving.length >= 10, `${serving.length} samples`);
    // Followers campaign within [T, 2T) of the last heartbeat; pre-vote, vote, the no-op
    // and a client's write take a few disk writes and round trips, and ticks are 100 ms.
    for (const x of serving) assert.ok(x >= timeoutMs - 100 && x < 2 * timeoutMs + 300, `${x} ms`);
  });

  it("lease reads with drifting clocks (within the bound) stay linearizable under pauses", () => {
    for (let seed = 1; seed <= 8; seed++) {
      const r = runRaftScenario(
        scenario(seed, {
          faults: ["pause", "partition", "crash"],
          leaseDriftBound: 0.1,
          clockDrift: 0.1,
          durationMs: 6_000,
        }),
      );
      assert.ok(r.raft.leaseTicks > 0);
      assert.deepEqual(r.failures, [], firstFailure(seed, r));
    }
  });

  it("the same seed replays the same run; another seed another", () => {
    const o = scenario(42, { faults: mixFaults(42), nodes: 5 });
    const a = runRaftScenario(o);
    const b = runRaftScenario(o);
    const c = runRaftScenario({ ...o, seed: 43 });
    assert.equal(a.trace, b.trace);
    assert.deepEqual(a.ops, b.ops);
    assert.deepEqual(a.faults, b.faults);
    assert.deepEqual(a.failover, b.failover);
    assert.equal(a.eventsRun, b.eventsRun);
    assert.notEqual(a.trace, c.trace);
  });

  it("reads served from a replica's local state (no read-index) are caught as not linearizable", (t) => {
    const caught: number[] = [];
    for (let seed = 1; seed <= 10; seed++) {
      const r = runRaftScenario(scenario(seed, { faults: [], bug: "follower-reads" }));
      if (r.check.verdict === "not-linearizable") caught.push(seed);
      if (r.check.verdict === "not-linearizable") {
        assert.ok(
          r.failures.some((f) => f.kind === "correctness" && /not linearizable/.test(f.message)),
        );
      }
    }
    t.diagnostic(`follower reads caught on seeds ${caught.join(",")}`);
    assert.ok(caught.length > 0, "no seed in 1..10 caught stale follower reads");
  });

  it("writes acknowledged before they commit are caught as not linearizable", (t) => {
    const caught: number[] = [];
    for (let seed = 1; seed <= 10; seed++) {
      const r = runRaftScenario(scenario(seed, { faults: ["crash"], bug: "ack-before-commit" }));
      if (r.check.verdict === "not-linearizable") caught.push(seed);
    }
    t.diagnostic(`early acknowledgements caught on seeds ${caught.join(",")}`);
    assert.ok(caught.length > 0, "no seed in 1..10 caught acknowledgements before commit");
  });

  it("a write that cannot complete after healing is a liveness failure, not a correctness one", () => {
    const r = runRaftScenario(scenario(3, { faults: ["crash"], livenessBoundMs: 1 }));
    assert.ok(r.failures.length > 0);
    assert.ok(
      r.failures.every((f) => f.kind === "liveness"),
      JSON.stringify(r.failures),
    );
  });

  it("the CLI runs a seed and prints its figures; a range with a bug prints seed=S and exits 3", () => {
    const one = [mainJs, "sim", "raft", "--seed", "5", "--duration-s", "3"];
    const run = spawnSync(process.execPath, one, { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr + run.stdout);
    assert.match(run.stdout, /operations\s+\d+: ok \d+/);
    assert.match(run.stdout, /history\s+\d+ operations, linearizable/);
    const trace = run.stdout.match(/trace\s+([0-9a-f]{8})/)?.[1];
    assert.ok(trace !== undefined, run.stdout);
    const again = spawnSync(process.execPath, one, { encoding: "utf8" });
    assert.equal(again.stdout.match(/trace\s+([0-9a-f]{8})/)?.[1], trace);

    const bad = [mainJs, "sim", "raft", "--seeds", "1..3", "--duration-s", "3", "--faults", "none"];
    const failing = spawnSync(process.execPath, [...bad, "--bug", "follower-reads"], {
      encoding: "utf8",
    });
    assert.equal(failing.status, 3, failing.stderr + failing.stdout);
    assert.match(failing.stdout, /seed=\d+ failed/);
    assert.match(failing.stdout, /runs\s+3 .*failed/);
    assert.match(failing.stdout, /not linearizable/);
  });
});
