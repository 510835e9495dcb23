import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Redis } from "ioredis";
import { type RunningNode, removeDir, startNode, tempDir, waitUntilServed } from "./harness.js";

/**
 * Values of tens of MB, in both modes, read back after a restart (from LMDB, not from a
 * cache). lmdb-js hands a value of 16 MB or more out as a plain Uint8Array over its map,
 * not a Buffer: such a key could be written but never read again (`raw.copy is not a
 * function`, an internal error on every command that touched it). On a cluster a command
 * is one raft log entry, at most 16 MiB: a 12 MiB SET is one write (it crosses the bus as
 * a dozen sealed frames), a 20 MB one is refused, and the value is built by APPENDs.
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
        const twelve = big.subarray(0, 12 * 1024 * 1024);
        assert.equal(await client.set("twelve", twelve), "OK");
        assert.ok((await client.getBuffer("twelve"))?.equals(twelve));
        await assert.rejects(
          client.set("big", big),
          /ERR the command is too large for one log entry \(at most 16 MiB on a cluster\)/,
        );
        const chunk = 4 * 1024 * 1024;
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
