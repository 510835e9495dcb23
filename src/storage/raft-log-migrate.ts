import { existsSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { LmdbRaftLogs } from "./raft-log.js";
import { WalRaftLogs, type WalRaftLogsOptions } from "./wal-raft-log.js";

/**
 * Opens the raft logs in `options.path`, first moving them over from the LMDB raft log
 * folder `lmdbPath` that an earlier version kept, if there is one (docs/storage.md,
 * "Raft log"). The copy is made in a folder of its own and renamed into place once it is
 * complete and synced, so a crash during it leaves the LMDB folder as it was and the move
 * starts again at the next open; the LMDB folder is deleted only after the rename.
 */
export async function openRaftLogs(
  options: WalRaftLogsOptions,
  lmdbPath: string,
): Promise<{ logs: WalRaftLogs; migratedGroups: number }> {
  let migratedGroups = 0;
  if (existsSync(join(lmdbPath, "data.mdb"))) {
    if (!existsSync(options.path)) {
      const staging = `${options.path}.migrating`;
      rmSync(staging, { recursive: true, force: true });
      migratedGroups = await copyLmdbLogs(lmdbPath, { ...options, path: staging });
      renameSync(staging, options.path);
    }
    rmSync(lmdbPath, { recursive: true, force: true });
  }
  return { logs: new WalRaftLogs(options), migratedGroups };
}

/** Copies every group's log (snapshot, entries, hard state), each as one commit. */
async function copyLmdbLogs(from: string, options: WalRaftLogsOptions): Promise<number> {
  const source = new LmdbRaftLogs({ path: from });
  const target = new WalRaftLogs(options);
  try {
    const ids = source.groupIds();
    for (const id of ids) {
      const old = source.openGroup(id, { voters: [], learners: [] });
      const snapshot = old.snapshot();
      const log = target.openGroup(id, snapshot.meta.conf);
      const first = old.firstIndex();
      const last = old.lastIndex();
      const entries = last >= first ? old.entries(first, last + 1, Number.POSITIVE_INFINITY) : [];
      log.persist({ snapshot, entries, hardState: old.hardState() });
      await log.close();
      await old.close();
    }
    return ids.length;
  } finally {
    await target.close();
    await source.close();
  }
}
