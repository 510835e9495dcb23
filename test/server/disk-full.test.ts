import assert from "node:assert/strict";
import { mkdirSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { Redis } from "ioredis";
import { fillUp, mountSmallFs, unmount } from "../storage/small-fs.js";
import { removeDir, startNode, tempDir } from "./harness.js";

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
    assert.ok(
      await eventually(
        10_000,
        async () => (await check.get("after").catch(() => null)) === "space is back",
      ),
    );
    assert.equal(await check.get("before"), "safe");
    for (const key of acked) assert.equal(await check.strlen(key), length, key);
  } finally {
    check.disconnect();
    await again.stop();
  }
}

/** Polls `check` every 50 ms for up to `ms`. */
async function eventually(ms: number, check: () => boolean | Promise<boolean>): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
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
    const logged = () => node.logs.some((l) => l.includes("could not be made durable"));
    for (let i = 0; i < 50 && !logged(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(logged(), "no log line for the failure");

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
    assert.ok(
      await eventually(
        10_000,
        async () => (await client.set("before", "safe").catch(() => "")) === "OK",
      ),
    );
    fillUp(clusterMountDir, filler, 1024 * 1024);
    // The key space's writes fail first and wait in memory (the raft log holds them); the
    // raft log fails once it needs a new segment: then the node refuses commands.
    const value = "x".repeat(256 * 1024);
    const { acked, failure } = await writeUntilRefused(client, value, 400);
    assert.match(failure.message, /MISCONF|TRYAGAIN/);
    const during = await client.set("during", "no").then(
      () => "OK",
      (e: Error) => e.message,
    );
    assert.match(
      during,
      /^MISCONF Errors writing to disk: this node cannot write its raft log, so the command was not run/,
    );

    assert.ok(
      await eventually(5_000, () => node.logs.some((l) => l.includes("raft log write failed"))),
      "no log line for the failure",
    );
    assert.equal(node.proc.exitCode, null, "the node is still running");

    unlinkSync(filler);
    assert.ok(
      await eventually(
        15_000,
        async () => (await client.set("after", "space is back").catch(() => "")) === "OK",
      ),
      "writes resumed once space returned",
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
