import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SeededRandom } from "../../src/core/random.js";
import { SimNetwork } from "../../src/sim/network.js";
import { Scheduler } from "../../src/sim/scheduler.js";
import { timersCompliance } from "../core/timers.compliance.js";

describe("HostTimers", () => {
  timersCompliance("virtual", () => {
    const scheduler = new Scheduler();
    const node = new SimNetwork(scheduler, new SeededRandom(1)).addNode("n0");
    return {
      timers: node.timers,
      clock: node.clock,
      elapse: async (ms) => scheduler.runFor(ms),
    };
  });

  it("a paused host's timers wait for it to resume, in order", () => {
    const scheduler = new Scheduler();
    const network = new SimNetwork(scheduler, new SeededRandom(1));
    const node = network.addNode("n0");
    const fired: [string, number][] = [];
    node.timers.schedule(10, () => fired.push(["a", scheduler.nowMs]));
    node.timers.schedule(20, () => fired.push(["b", scheduler.nowMs]));
    scheduler.runFor(5);
    network.pause("n0", 100);
    scheduler.runFor(50);
    assert.deepEqual(fired, []);
    scheduler.runFor(100);
    assert.deepEqual(fired, [
      ["a", 105],
      ["b", 105],
    ]);
  });

  it("a crashed host's timers never fire, not even after a restart", () => {
    const scheduler = new Scheduler();
    const network = new SimNetwork(scheduler, new SeededRandom(1));
    const node = network.addNode("n0");
    let fired = 0;
    node.timers.schedule(10, () => fired++);
    network.crash("n0");
    const again = network.restart("n0");
    node.timers.schedule(10, () => fired++); // the dead process's timers object
    again.timers.schedule(10, () => (fired += 10));
    scheduler.runFor(100);
    assert.equal(fired, 10);
  });
});
