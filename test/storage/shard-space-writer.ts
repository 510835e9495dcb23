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

async function run(path: string, bootId: string, shard: number, keys: number): Promise<void> {
  const space = new LmdbShardSpace({ path, slotOf: keyHashSlot, bootId });
  const store = space.openShard(shard, ALL_SLOTS);
  for (let i = 0; i < keys; i++) {
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

// Only when run as a script with arguments: `node --test` may load this file on its own.
const [, main, path, bootId, shard, keys] = process.argv;
if (main !== undefined && import.meta.url === pathToFileURL(main).href && keys !== undefined) {
  await run(path as string, bootId as string, Number(shard), Number(keys));
}
