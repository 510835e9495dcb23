import assert from "node:assert/strict";
import { mkdirSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { Redis } from "ioredis";
import { fillUp, mountSmallFs, unmount } from "../storage/small-fs.js";
import {
  assertRunning,
  type RunningNode,
  removeDir,
  startNode,
  tempDir,
  waitFor,
} from "./harness.js";

const mountDir = tempDir("homeostat-fullfs-");
const canMount = mountSmallFs(mountDir, 16);
// A cluster node's raft log makes 16 MiB segments (and one ahead of need): a bigger disk.
const clusterMountDir = tempDir("homeostat-fullfs-cluster-");
const canMountCluster = canMount && mountSmallFs(clusterMountDir, 96);

/**
 * SETs `big:0`, `big:1`, ... to `value` until the server refuses one (at most `max`):
 * the keys it acknowledged, and the error of the first it refused.
 */
async function writeUntilRefused(
  client: Redis,
  value: string,
  max: number,
): Promise<{ acked: string[]; failure: Error }> {
  const acked: string[] = [];
  for (let i = 0; i < max; i++) {
    try {
      await client.set(`big:${i}`, value);
      acked.push(`big:${i}`);
    } catch (err) {
      return { acked, failure: err as Error };
    }
  }
  assert.fail("the disk never filled");
}

/**
 * Starts a node on `data` again and checks what the test wrote: "before", "after" and
 * every acknowledged big key (`length` bytes). A cluster node answers once it has
 * elected its groups.
 */
async function checkAfterRestart(
  data: string,
  extra: string[],
  acked: readonly string[],
  length: number,
): Promise<void> {
  const again = await startNode(data, extra);
  const check = new Redis({ port: again.port, host: "127.0.0.1", maxRetriesPerRequest: 0 });
  try {
    await waitFor(
      "the write made once space returned",
      10_000,
      async () => (await check.get("after").catch(() => null)) === "space is back",
    );
    assert.equal(await check.get("before"), "safe");
    for (const key of acked) assert.equal(await check.strlen(key), length, key);
  } finally {
    check.disconnect();
    await again.stop();
  }
}

it("reports a full disk to clients, loses nothing acknowledged and recovers when space returns", {
  skip: !canMount && "cannot mount a tmpfs here (needs root)",
}, async () => {
  const data = join(mountDir, "data");
  mkdirSync(data);
  const filler = join(mountDir, "filler");
  const node = await startNode(data);
  const client = new Redis({ port: node.port, host: "127.0.0.1", maxRetriesPerRequest: 0 });
  try {
    assert.equal(await client.set("before", "safe"), "OK");
    // Leave about 1 MiB free, then write until the disk refuses.
    fillUp(mountDir, filler, 1024 * 1024);
    const value = "x".repeat(64 * 1024);
    const { acked, failure } = await writeUntilRefused(client, value, 200);
    assert.match(failure.message, /^MISCONF Errors writing to disk/);
    // The node is alive, reads work, and it says what is wrong.
    assert.equal(await client.get("before"), "safe");
    assert.match(await client.info("persistence"), /aof_last_write_status:err/);
    // The log line travels through a pipe: give it a moment to arrive.
    await waitFor("a log line for the failure", 2_500, () =>
      node.logs.some((l) => l.includes("could not be made durable")),
    );

    unlinkSync(filler);
    assert.equal(await client.set("after", "space is back"), "OK");
    assert.equal(await client.get("after"), "space is back");
    assert.match(await client.info("persistence"), /aof_last_write_status:ok/);

    client.disconnect();
    await node.kill();
    await checkAfterRestart(data, [], acked, value.length);
  } finally {
    client.disconnect();
    await node.kill();
    try {
      unlinkSync(filler);
    } catch {}
  }
});

it("a cluster node on a full disk stays up, says so, loses nothing acknowledged and resumes", {
  skip: !canMountCluster && "cannot mount a tmpfs here (needs root)",
}, async () => {
  const data = join(clusterMountDir, "data");
  mkdirSync(data);
  const filler = join(clusterMountDir, "filler");
  const node = await startNode(data, ["--cluster", "--shards", "2"]);
  const client = new Redis({ port: node.port, host: "127.0.0.1", maxRetriesPerRequest: 0 });
  try {
    await waitFor(
      "a first write",
      10_000,
      async () => (await client.set("before", "safe").catch(() => "")) === "OK",
    );
    fillUp(clusterMountDir, filler, 1024 * 1024);
    // The key space's writes fail first and wait in memory (the raft log holds them); the
    // raft log fails once it needs a new segment: then the node refuses commands.
    const value = "x".repeat(256 * 1024);
    const { acked, failure } = await writeUntilRefused(client, value, 400);
    assert.match(failure.message, /MISCONF|TRYAGAIN|UNCERTAIN/);
    const during = await client.set("during", "no").then(
      () => "OK",
      (e: Error) => e.message,
    );
    assert.match(
      during,
      /^MISCONF Errors writing to disk: this node cannot write its raft log, so the command was not run/,
    );

    await waitFor("a log line for the failure", 5_000, () =>
      node.logs.some((l) => l.includes("raft log write failed")),
    );
    assert.equal(node.proc.exitCode, null, "the node is still running");

    unlinkSync(filler);
    await waitFor(
      "writes to resume once space returned",
      15_000,
      async () => (await client.set("after", "space is back").catch(() => "")) === "OK",
    );
    assert.equal(await client.get("before"), "safe");
    assert.equal(await client.get("after"), "space is back");
    for (const key of acked) assert.equal(await client.strlen(key), value.length, key);
    assert.ok(node.logs.some((l) => l.includes("raft log writes succeed again")));

    client.disconnect();
    await node.kill();
    await checkAfterRestart(data, ["--cluster"], acked, value.length);
  } finally {
    client.disconnect();
    await node.kill();
    rmSync(filler, { force: true });
  }
});

/** group → applied index, for the raft groups a node holds (HOMEOSTAT GROUPS). */
async function appliedOf(port: number): Promise<Map<number, { applied: number; voters: number }>> {
  const r = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await r.connect();
    const rows = (await r.call("HOMEOSTAT", "GROUPS")) as string[];
    const out = new Map<number, { applied: number; voters: number }>();
    for (const row of rows) {
      const group = Number(/group=(\d+)/.exec(row)?.[1]);
      const applied = Number(/applied=(\d+)/.exec(row)?.[1]);
      const voters = (/voters=([\d,]*)/.exec(row)?.[1] ?? "").split(",").filter(Boolean).length;
      out.set(group, { applied, voters });
    }
    return out;
  } finally {
    r.disconnect();
  }
}

it("a 3-node cluster writes on while one node's disk is full, and that node catches up", {
  skip: !canMountCluster && "cannot mount a tmpfs here (needs root)",
  timeout: 180_000,
}, async (t) => {
  const dirs = [tempDir(), tempDir()];
  const full = join(clusterMountDir, "node3");
  mkdirSync(full);
  const filler = join(clusterMountDir, "filler");
  const nodes = [await startNode(dirs[0] as string, ["--cluster", "--shards", "4"])];
  const seed = `127.0.0.1:${nodes[0]?.port}`;
  const client = new Redis({ port: nodes[0]?.port, host: "127.0.0.1", maxRetriesPerRequest: 0 });
  try {
    nodes.push(await startNode(dirs[1] as string, ["--cluster", "--join", seed]));
    nodes.push(await startNode(full, ["--cluster", "--join", seed]));
    const [a, , c] = nodes as [RunningNode, RunningNode, RunningNode];
    await waitFor("every group on 3 voters", 90_000, async () => {
      const groups = await appliedOf(c.port).catch(() => new Map());
      return groups.size === 5 && [...groups.values()].every((g) => g.voters === 3);
    });
    fillUp(clusterMountDir, filler, 1024 * 1024);
    // Writes through node 1 (forwarded to each shard's leader): node 3's raft log fills
    // and it stalls; the shards it led elect leaders on 1 and 2, which go on.
    const value = "x".repeat(256 * 1024);
    const acked: string[] = [];
    let ackedAfterStall = 0;
    const stalled = () => c.logs.some((l) => l.includes("raft log write failed"));
    for (let i = 0; i < 600 && ackedAfterStall < 40; i++) {
      const ok = await client.set(`k:${i}`, value).then(
        () => true,
        () => false,
      );
      if (ok) acked.push(`k:${i}`);
      if (ok && stalled()) ackedAfterStall += 1;
    }
    assert.ok(stalled(), "node 3's disk never filled");
    assert.ok(ackedAfterStall >= 40, `${ackedAfterStall} writes acknowledged after the stall`);
    assertRunning(c, "node 3");
    // Space returns: node 3 finishes its write, hears the new leaders and catches up.
    unlinkSync(filler);
    await waitFor("node 3 to catch up", 60_000, async () => {
      assertRunning(c, "node 3");
      const mine = await appliedOf(c.port).catch(() => new Map());
      const theirs = await appliedOf(a.port);
      return [...theirs].every(([g, t]) => (mine.get(g)?.applied ?? 0) >= t.applied - 2);
    }).catch((err: Error) => {
      // Running but not answering (stopping after a fatal error?): say what it logged.
      if (err.message.includes("last log lines")) throw err;
      throw new Error(`${err.message}; node 3's last log lines:\n${c.logs.slice(-30).join("\n")}`);
    });
    assert.ok(c.logs.some((l) => l.includes("raft log writes succeed again")));
    t.diagnostic(`${acked.length} writes acknowledged, ${ackedAfterStall} after node 3 stalled`);
    const through3 = new Redis({ port: c.port, host: "127.0.0.1", maxRetriesPerRequest: 0 });
    try {
      for (const key of acked.slice(-5)) assert.equal(await through3.strlen(key), value.length);
    } finally {
      through3.disconnect();
    }
  } finally {
    client.disconnect();
    for (const n of nodes) await n.kill();
    for (const d of dirs) removeDir(d);
    rmSync(filler, { force: true });
    rmSync(full, { recursive: true, force: true });
  }
});

it("refuses to start on an unusable data folder, with a clear message", async () => {
  const dir = tempDir();
  try {
    const file = join(dir, "not-a-folder");
    writeFileSync(file, "x");
    await assert.rejects(startNode(join(file, "data")), /cannot open the data folder/);
  } finally {
    removeDir(dir);
  }
});

process.on("exit", () => {
  for (const [dir, mounted] of [
    [mountDir, canMount],
    [clusterMountDir, canMountCluster],
  ] as const) {
    if (mounted) unmount(dir);
    rmSync(dir, { recursive: true, force: true });
  }
});
