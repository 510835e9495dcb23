import assert from "node:assert/strict";
import { it } from "node:test";
import { Redis } from "ioredis";
import { removeDir, startNode, tempDir } from "./harness.js";

it("a node joins through a seed that requires a password, with the cluster's password", async () => {
  const dirs = [tempDir(), tempDir()];
  const seed = await startNode(dirs[0] as string, ["--requirepass", "s3cret"]);
  const joiner = await startNode(dirs[1] as string, [
    "--requirepass",
    "s3cret",
    "--join",
    `127.0.0.1:${seed.port}`,
  ]);
  const client = new Redis({ port: joiner.port, host: "127.0.0.1", password: "s3cret" });
  try {
    let alive = 0;
    for (let i = 0; i < 50 && alive < 2; i++) {
      const members = (await client.call("HOMEOSTAT", "MEMBERS")) as unknown[][];
      alive = members.filter((m) => m.includes("alive")).length;
      if (alive < 2) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(alive, 2, joiner.logs.slice(-5).join("\n"));
  } finally {
    client.disconnect();
    await joiner.stop();
    await seed.stop();
    for (const d of dirs) removeDir(d);
  }
});
