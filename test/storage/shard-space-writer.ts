/**
 * The child process of shard-store.test.ts's unsynced-space tests:
 *
 *   node dist/test/storage/shard-space-writer.js <folder> <bootId> <shard> <keys>
 *
 * Opens an LMDB shard space without syncs (as the server does), writes `keys` keys
 * (`k:0`, `k:1`, ...) into shard `shard` over every slot, waits for their commit, prints
 * "written" and waits to be killed: the commit is in the page cache only.
 */
import { pathToFileURL } from "node:url";
import { keyHashSlot } from "../../src/cluster/slots.js";
import { ALL_SLOTS, LmdbShardSpace } from "../../src/storage/shard-store.js";

async function main(): Promise<void> {
  const [path, bootId, shard, keys] = process.argv.slice(2);
  if (path === undefined || bootId === undefined || shard === undefined || keys === undefined) {
    throw new Error("usage: shard-space-writer <folder> <bootId> <shard> <keys>");
  }
  const space = new LmdbShardSpace({ path, slotOf: keyHashSlot, bootId });
  const store = space.openShard(Number(shard), ALL_SLOTS);
  for (let i = 0; i < Number(keys); i++) {
    store.set(Buffer.from(`k:${i}`), {
      type: "string",
      data: Buffer.from(`v:${i}`),
      expireAtMs: 0,
    });
  }
  await store.flush();
  process.stdout.write("written\n");
  setInterval(() => {}, 1000);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();
