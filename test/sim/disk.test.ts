import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DiskError } from "../../src/core/disk.js";
import { SeededRandom } from "../../src/core/random.js";
import { SimDisk } from "../../src/sim/disk.js";
import { SimNetwork } from "../../src/sim/network.js";
import { Scheduler } from "../../src/sim/scheduler.js";
import { diskCompliance } from "../core/disk.compliance.js";

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

describe("SimDisk", () => {
  diskCompliance("sim, no latency", async () => {
    const disk = new SimDisk(new SeededRandom(1));
    return {
      disk,
      settle: (promise) => promise,
      reopen: async () => {
        disk.crash();
        return disk;
      },
      dispose: async () => {},
    };
  });

  diskCompliance("sim, latency in virtual time", async () => {
    const scheduler = new Scheduler();
    const node = new SimNetwork(scheduler, new SeededRandom(2)).addNode("n0");
    const disk = new SimDisk(node.random, node.timers, { latencyMs: 2 });
    return {
      disk,
      settle: (promise) => scheduler.settle(promise),
      reopen: async () => {
        disk.crash();
        return disk;
      },
      dispose: async () => {},
    };
  });

  it("a crash loses every change not synced and keeps every synced one", async () => {
    const disk = new SimDisk(new SeededRandom(3));
    await disk.write("meta", text("v1"));
    await disk.append("log", text("a"));
    await disk.sync();
    await disk.write("meta", text("v2"));
    await disk.append("log", text("b"));
    await disk.write("new", text("x"));
    await disk.remove("log");
    disk.crash();
    assert.deepEqual(await disk.list(), ["log", "meta"]);
    assert.equal(str(await disk.read("meta")), "v1");
    assert.equal(str(await disk.read("log")), "a");
    await disk.append("log", text("c"));
    assert.equal(str(await disk.read("log")), "ac");
  });

  it("a torn crash keeps a prefix of an unsynced append, never more", async () => {
    const seen = new Set<string>();
    for (let seed = 0; seed < 40; seed++) {
      const disk = new SimDisk(new SeededRandom(seed), null, { tornProbability: 1 });
      await disk.append("log", text("ab"));
      await disk.sync();
      await disk.append("log", text("cdef"));
      disk.crash();
      const after = str(await disk.read("log")) as string;
      assert.ok("abcdef".startsWith(after) && after.length >= 2, after);
      seen.add(after);
    }
    assert.ok(seen.size >= 3, `only ${[...seen]}`);
  });

  it("injected I/O errors reject and change nothing", async () => {
    const disk = new SimDisk(new SeededRandom(4), null, { errorProbability: 0.5 });
    let failures = 0;
    let written = "";
    for (let i = 0; i < 200; i++) {
      try {
        await disk.append("log", text("x"));
        written += "x";
      } catch (error) {
        assert.ok(error instanceof DiskError && error.code === "io");
        failures++;
      }
    }
    assert.ok(failures > 70 && failures < 130, `${failures} failures`);
    assert.equal(str(await disk.read("log")), written);
  });

  it("a paused host's disk completes late; a crashed host's never", async () => {
    const scheduler = new Scheduler();
    const network = new SimNetwork(scheduler, new SeededRandom(5));
    const node = network.addNode("n0");
    const disk = new SimDisk(node.random, node.timers, { latencyMs: 1 });
    let doneAtMs = -1;
    disk.sync().then(() => {
      doneAtMs = scheduler.nowMs;
    });
    network.pause("n0", 500);
    await scheduler.runUntilAsync(1_000);
    assert.ok(doneAtMs >= 500, `completed at ${doneAtMs}`);
    let completed = false;
    disk.sync().then(() => {
      completed = true;
    });
    network.crash("n0");
    await scheduler.runUntilAsync(2_000);
    assert.equal(completed, false);
  });
});
