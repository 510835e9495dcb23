import { describe } from "node:test";
import { SeededRandom } from "../../src/core/random.js";
import { SimNetwork } from "../../src/sim/network.js";
import { Scheduler } from "../../src/sim/scheduler.js";
import { type TransportHarness, transportCompliance } from "../core/transport.compliance.js";

function simHarness(): TransportHarness {
  const scheduler = new Scheduler();
  const network = new SimNetwork(scheduler, new SeededRandom(42), { latencySigma: 1 });
  let count = 0;
  return {
    async open() {
      return network.addNode(`n${count++}`).transport;
    },
    settle: (promise) => scheduler.settle(promise),
    async waitFor(condition, maxMs = 2_000) {
      const deadlineMs = scheduler.nowMs + maxMs;
      while (!condition()) {
        if (scheduler.nowMs >= deadlineMs || !scheduler.step()) return condition();
      }
      return true;
    },
    async deadAddress() {
      return "nowhere";
    },
    async dispose() {},
  };
}

describe("SimTransport", () => transportCompliance("sim", simHarness));
