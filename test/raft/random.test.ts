import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runSeed } from "./nemesis.js";

describe("raft randomized clusters", () => {
  for (const [n, seeds] of [
    [3, 300],
    [5, 200],
  ] as const) {
    it(`${n} replicas, ${seeds} seeds: loss, duplication, reordering, crashes, partitions`, () => {
      for (let seed = 1; seed <= seeds; seed++) {
        try {
          runSeed(seed, n, 1000);
        } catch (e) {
          assert.fail(`seed=${seed} n=${n}: ${e instanceof Error ? e.stack : String(e)}`);
        }
      }
    });
  }
});
