import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { Redis } from "ioredis";
import { removeDir, startNode, tempDir } from "./harness.js";

/** A small tmpfs is a real file system that really fills up; mounting one needs root. */
function mountSmallFs(dir: string, sizeMb: number): boolean {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMb}m`, "tmpfs", dir], {
      stdio: "ignore",
    });
    return true;
  } catch {
    return false;
  }
}

const mountDir = tempDir("homeostat-fullfs-");
const canMount = mountSmallFs(mountDir, 16);

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
    const free = Number(
      execFileSync("df", ["--output=avail", "-B1", mountDir]).toString().split("\n")[1],
    );
    writeFileSync(filler, Buffer.alloc(Math.max(0, free - 1024 * 1024)));
    const value = "x".repeat(64 * 1024);
    let failure: Error | undefined;
    const acked: string[] = [];
    for (let i = 0; i < 200 && failure === undefined; i++) {
      try {
        await client.set(`big:${i}`, value);
        acked.push(`big:${i}`);
      } catch (err) {
        failure = err as Error;
      }
    }
    assert.ok(failure !== undefined, "the disk never filled");
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
    const again = await startNode(data);
    const check = new Redis({ port: again.port, host: "127.0.0.1" });
    try {
      assert.equal(await check.get("before"), "safe");
      assert.equal(await check.get("after"), "space is back");
      for (const key of acked) assert.equal((await check.strlen(key)) as number, value.length, key);
    } finally {
      check.disconnect();
      await again.stop();
    }
  } finally {
    client.disconnect();
    await node.kill();
    try {
      unlinkSync(filler);
    } catch {}
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
  if (canMount) {
    try {
      execFileSync("umount", [mountDir], { stdio: "ignore" });
    } catch {}
  }
  rmSync(mountDir, { recursive: true, force: true });
});
