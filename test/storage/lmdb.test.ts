import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LmdbStore } from "../../src/storage/lmdb.js";
import type { KeyStore } from "../../src/storage/types.js";
import { storeCompliance } from "./compliance.js";

storeCompliance("lmdb", async () => {
  const dir = mkdtempSync(join(tmpdir(), "homeostat-lmdb-"));
  let current: KeyStore = new LmdbStore({ path: dir });
  return {
    store: current,
    reopen: async () => {
      await current.close();
      current = new LmdbStore({ path: dir });
      return current;
    },
    cleanup: async () => {
      await current.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
