import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LmdbStore } from "../../src/storage/lmdb.js";
import type { KeyStore } from "../../src/storage/types.js";
import { storeCompliance } from "./compliance.js";

for (const [name, cacheBytesMax] of [
  ["lmdb", undefined],
  ["lmdb, no cache", 0],
  ["lmdb, cache evicting all the time", 2048],
] as const) {
  storeCompliance(name, async () => {
    const dir = mkdtempSync(join(tmpdir(), "homeostat-lmdb-"));
    let current: KeyStore = new LmdbStore({ path: dir, cacheBytesMax });
    return {
      store: current,
      reopen: async () => {
        await current.close();
        current = new LmdbStore({ path: dir, cacheBytesMax });
        return current;
      },
      cleanup: async () => {
        await current.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
}
