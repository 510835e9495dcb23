import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Redis } from "ioredis";
import { type RunningNode, removeDir, startNode, tempDir, waitUntilServed } from "./harness.js";

/**
 * Values of tens of MB, in both modes, read back after a restart (from LMDB, not from a
 * cache); on a cluster, built by APPENDs (a command must fit in one log entry, 1 MiB). lmdb-js hands a value of 16 MB or more out as a plain Uint8Array over its map,
 * not a Buffer: such a key could be written but never read again (`raw.copy is not a
 * function`, an internal error on every command that touched it).
 */
for (const mode of ["--standalone", "--cluster"] as const) {
  describe(`values of tens of MB (${mode})`, () => {
    const dir = tempDir();
    let node: RunningNode | undefined;
    let client: Redis | undefined;

    after(async () => {
      client?.disconnect();
      await node?.stop();
      removeDir(dir);
    });

    it("are stored, read, appended to and read again after a restart", async () => {
      node = await startNode(dir, [mode]);
      client = new Redis({ port: node.port, host: "127.0.0.1" });
      const big = Buffer.alloc(20 * 1024 * 1024);
      for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
      if (mode === "--standalone") {
        assert.equal(await client.set("big", big), "OK");
      } else {
        // A command is one log entry, bounded by raft's 1 MiB message: a bigger value is
        // built from smaller writes.
        await assert.rejects(client.set("big", big), /too large for one log entry/);
        const chunk = 512 * 1024;
        for (let at = 0; at < big.length; at += chunk) {
          await client.append("big", big.subarray(at, at + chunk));
        }
      }
      assert.ok((await client.getBuffer("big"))?.equals(big));
      assert.equal(await client.append("big", "!"), big.length + 1);
      assert.equal(await client.strlen("big"), big.length + 1);
      assert.equal(await client.getrange("big", -1, -1), "!");
      client.disconnect();
      await node.stop();
      node = await startNode(dir, [mode]);
      const again = new Redis({ port: node.port, host: "127.0.0.1" });
      client = again;
      await waitUntilServed(() => again.strlen("big"));
      const back = await again.getBuffer("big");
      assert.equal(back?.length, big.length + 1);
      assert.ok(back?.subarray(0, big.length).equals(big));
      assert.equal(await again.del("big"), 1);
    });
  });
}
