import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  runMembershipScenario,
  type ScenarioOptions,
  scenarioDefaults,
} from "../../src/sim/membership-scenario.js";

const mainJs = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

function scenario(nodes: number, seed: number, over: Partial<ScenarioOptions>): ScenarioOptions {
  return { ...scenarioDefaults(nodes, seed), durationMs: 30_000, settleMs: 30_000, ...over };
}

describe("membership scenario", () => {
  it("a crash is declared dead by every live member within the derived bound", () => {
    const r = runMembershipScenario(scenario(30, 11, { faults: ["crash"], crashes: 2 }));
    assert.deepEqual(r.failures, []);
    assert.equal(r.detection.crashes, 2);
    assert.equal(r.detection.undetected, 0);
    assert.ok(r.detection.samples >= 2 * 27, `samples ${r.detection.samples}`);
    assert.ok(r.detection.maxMs <= r.detection.boundMs, `${r.detection.maxMs} > bound`);
    assert.equal(r.falsePositives.healthyDeclaredDead, 0);
    assert.equal(r.dissemination.incomplete, 0);
  });

  it("pauses and slow members of up to 2 s cause no deaths with Lifeguard on", () => {
    for (const seed of [1, 2]) {
      const r = runMembershipScenario(
        scenario(50, seed, { faults: ["pause", "slow"], durationMs: 60_000 }),
      );
      assert.deepEqual(r.failures, []);
      assert.equal(r.falsePositives.healthyDeclaredDead, 0, `seed ${seed}`);
    }
  });

  it("restarts, partitions, loss and duplication keep invariants and liveness", () => {
    const faults = ["crash", "restart", "partition", "loss", "dup", "delay"] as const;
    const r = runMembershipScenario(scenario(20, 3, { faults, durationMs: 60_000 }));
    assert.deepEqual(r.failures, []);
  });

  it("the same seed gives the same trace; another seed another", () => {
    const o = scenario(20, 5, { faults: ["crash", "pause", "loss"] });
    const a = runMembershipScenario(o);
    const b = runMembershipScenario(o);
    const c = runMembershipScenario({ ...o, seed: 6 });
    assert.equal(a.trace, b.trace);
    assert.deepEqual(a.log, b.log);
    assert.notEqual(a.trace, c.trace);
  });

  it("the CLI runs a scenario, prints its figures and exits 0 on a good seed", () => {
    const args = [
      mainJs,
      "sim",
      "membership",
      "--nodes",
      "10",
      "--seed",
      "3",
      "--duration-s",
      "20",
    ];
    const run = spawnSync(process.execPath, args, { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr + run.stdout);
    assert.match(run.stdout, /detection\s+3 crashes/);
    assert.match(run.stdout, /trace\s+[0-9a-f]{8}/);
    const again = spawnSync(process.execPath, args, { encoding: "utf8" });
    assert.equal(again.stdout.match(/trace\s+(\w+)/)?.[1], run.stdout.match(/trace\s+(\w+)/)?.[1]);
  });

  it("the CLI prints seed=S and exits 4 when a crash is still undetected at the end", () => {
    const args = [mainJs, "sim", "membership", "--nodes", "20", "--seed", "2"];
    const run = spawnSync(process.execPath, [...args, "--duration-s", "10", "--settle-s", "1"], {
      encoding: "utf8",
    });
    assert.equal(run.status, 4, run.stderr + run.stdout);
    assert.match(run.stdout, /seed=2 failed/);
    assert.match(run.stdout, /liveness: n\d+ crashed but/);
  });

  it("the CLI rejects an unknown fault", () => {
    const args = [mainJs, "sim", "membership", "--nodes", "10", "--faults", "meteor"];
    const run = spawnSync(process.execPath, args, { encoding: "utf8" });
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /unknown fault meteor/);
  });
});
