import { closeSync, openSync, statfsSync, write, writeSync } from "node:fs";
import { dirname } from "node:path";
import { assert } from "../core/assert.js";
import { toStorageError } from "./overlay.js";
import { StorageError } from "./types.js";

/**
 * LMDB's write map (MDB_WRITEMAP, lmdb-js's `useWritemap`), made safe on a full disk.
 *
 * With the write map, a transaction writes its pages straight into the shared memory map
 * of the data file: no malloc per dirty page, no `pwrite` of each at commit. It takes about
 * a sixth of the CPU per write off the nodes at 50 writers (102 µs against 122: see
 * docs/benchmarks.md, "The write map, made safe"). But a store into a page of the map
 * whose file blocks do not exist yet (a hole) makes the file system allocate them at that
 * moment, and when it cannot, the kernel answers with SIGBUS, which kills the process.
 * `pwrite` would have returned ENOSPC.
 *
 * So every page a transaction may write must have its blocks before the transaction
 * starts. LMDB only ever writes pages it has used before (its free list) or new ones past
 * the last page in use, in order. The `MapReserve` keeps the file written out with zeros
 * (real blocks, not a hole) from the last page in use to past what the next transaction
 * can reach (`CommitWrites.pagesBound` in shard-store.ts bounds that from the transaction's
 * writes), and a failure to write the zeros (ENOSPC) is then a failed commit, which the
 * shard space already survives: its batches wait in memory and are tried again.
 *
 * The reserve leaves the file system `keepFreeBytes` free (the server: two raft log
 * segments): on a small disk, the raft logs, the durable record, must not be starved by
 * zeros written ahead for a key space whose commits can wait.
 *
 * The zeros go beyond the last page in use only, where no committed page lives and no
 * transaction writes: a transaction runs only below the reserve's end as it was when the
 * transaction began, and the zeros are written above it.
 *
 * Two more conditions:
 * - LMDB must never grow the map by itself: lmdb-js then `ftruncate`s the file longer,
 *   which makes a hole, and writes into it. The map is opened as large as the file
 *   system (see chooseWriteMap), more than the data can ever reach; the reserve refuses a
 *   transaction that could reach past it (MAP_FULL).
 * - A page once written must take a later write through the map without new blocks. True
 *   of ext4, xfs and tmpfs, which overwrite in place; not of copy-on-write file systems
 *   (btrfs, zfs), nor of file systems whose kind is not known here (overlayfs, network
 *   file systems): on those the space opens without the write map.
 */

/** statfs(2) f_type of file systems that overwrite a file's blocks in place. */
const overwriteInPlace: ReadonlySet<number> = new Set([
  0xef53, // ext2/3/4
  0x58465342, // xfs
  0x01021994, // tmpfs
]);

const MiB = 2 ** 20;
const GiB = 2 ** 30;
/** Largest map: under ext4's largest file (16 TiB with 4 KiB blocks). */
const mapBytesMax = 8 * 2 ** 40;

/** The write map's size for a folder, or why the folder must do without it. */
export type WriteMapChoice = { readonly mapBytes: number } | { readonly off: string };

/**
 * Whether the folder's file system is safe for the write map (see above) and, if so, the
 * map's size: the file system's size rounded up to a GiB (at least 1 GiB, at most 8 TiB).
 * LMDB makes the data file that long, as a sparse file: `ls` shows the map's size, `du`
 * the blocks in use.
 */
export function chooseWriteMap(folder: string): WriteMapChoice {
  let type: number;
  let bytes: number;
  try {
    const fs = statfsSync(folder);
    type = Number(fs.type);
    bytes = Number(fs.blocks) * Number(fs.bsize);
  } catch (cause) {
    return { off: `cannot tell its file system (${String(cause)})` };
  }
  if (!overwriteInPlace.has(type)) {
    return {
      off: `its file system (type 0x${type.toString(16)}) may need new blocks to overwrite`,
    };
  }
  return { mapBytes: Math.min(mapBytesMax, Math.max(GiB, Math.ceil(bytes / GiB) * GiB)) };
}

/** Bytes written in one go: by the synchronous fill, and by each turn of the background one. */
const sliceBytes = MiB;
/**
 * A commit short of more than this writes its zeros on libuv's thread pool and starts
 * once they are there (MapReserve.reserve); less, on the event loop (about 1 ms a MiB).
 */
const waitBytesMin = 4 * MiB;
/** The reserve kept ahead of need grows with the data: an eighth of it, within these. */
const slackMin = MiB;
const slackMax = 64 * MiB;

/**
 * The zero-filled end of an LMDB data file opened with the write map (see above). One
 * per environment; used on the event loop only, where every transaction of the
 * environment is started.
 */
export class MapReserve {
  private fd: number | null;
  /** Every byte of the file below this has its blocks. */
  private filledTo: number;
  /** Where the background fill stops; filledTo when there is nothing to do. */
  private wantTo: number;
  private background: NodeJS.Immediate | null = null;
  /** Zeros being written on libuv's thread pool (reserve), or null. */
  private pending: Promise<void> | null = null;
  /** Bytes of zeros written since open. */
  readonly stats = { zeroBytes: 0 };
  private readonly zeros = Buffer.alloc(sliceBytes);

  /**
   * `lastPage` is the environment's last page in use (LMDB's `me_last_pgno`): the file
   * has its blocks up to there, written by the commits that used them.
   */
  constructor(
    private readonly file: string,
    readonly pageBytes: number,
    readonly mapBytes: number,
    lastPage: number,
    /**
     * Free space on the file system that reserving must leave: the raft logs, the durable
     * record, need it more than the key space (whose commits can wait) needs its zeros.
     */
    private readonly keepFreeBytes = 0,
  ) {
    assert(Number.isSafeInteger(pageBytes) && pageBytes > 0, "map reserve: bad page size");
    this.filledTo = (lastPage + 1) * pageBytes;
    this.wantTo = this.filledTo;
    try {
      this.fd = openSync(file, "r+");
    } catch (cause) {
      throw toStorageError(cause, `cannot open ${file} to reserve its space`);
    }
  }

  /** Bytes from the start of the file that have their blocks. */
  get reservedBytes(): number {
    return this.filledTo;
  }

  /**
   * Before a write transaction that starts at page `fromPage` (one past the last page in
   * use, or past what a transaction still running may reach) and writes at most `pages`
   * pages beyond it: makes sure all of them have their blocks, writing zeros here and now
   * if they do not, and keeps the background fill a slack ahead. Throws a StorageError
   * (ENOSPC, EIO, MAP_FULL) when they cannot have them; the transaction must not start.
   * Returns the page the transaction cannot reach.
   */
  ensure(fromPage: number, pages: number): number {
    const need = this.need(fromPage, pages);
    if (this.filledTo < need) {
      if (this.pending !== null) {
        // Its pages would overlap the zeros being written on the pool.
        throw new StorageError("OTHER", `space in ${this.file} is being reserved: try again`);
      }
      this.fill(need);
    }
    this.keepAhead(need);
    return fromPage + pages;
  }

  /**
   * As ensure(), for a commit that may wait: a shortfall of more than a few MiB is written
   * on libuv's thread pool instead of here, and the returned promise settles once it is
   * there (or rejects with the StorageError). Meanwhile no other transaction may start
   * past what is reserved already: ensure() refuses one. Null if the transaction may
   * start now. `end` is the page it cannot reach.
   */
  reserve(fromPage: number, pages: number): { end: number; ready: Promise<void> | null } {
    assert(this.pending === null, "map reserve: one commit at a time");
    const need = this.need(fromPage, pages);
    if (need - this.filledTo <= waitBytesMin) {
      return { end: this.ensure(fromPage, pages), ready: null };
    }
    const end = fromPage + pages;
    if (this.background !== null) clearImmediate(this.background);
    this.background = null;
    const ready = this.fillOnPool(need).finally(() => {
      this.pending = null;
    });
    this.pending = ready;
    return { end, ready: ready.then(() => this.keepAhead(need)) };
  }

  /** Bytes the file must have blocks for: pages up to fromPage + pages, within the map. */
  private need(fromPage: number, pages: number): number {
    assert(this.fd !== null, "map reserve: closed");
    const need = (fromPage + pages) * this.pageBytes;
    if (need > this.mapBytes) {
      throw new StorageError(
        "MAP_FULL",
        `the shard data in ${this.file} would outgrow its map of ${this.mapBytes} bytes (it is sized by the file system at open)`,
      );
    }
    return need;
  }

  /** Has the background fill keep a slack ahead of `need`. */
  private keepAhead(need: number): void {
    const slack = Math.min(slackMax, Math.max(slackMin, need / 8));
    const want = Math.min(this.mapBytes, need + slack);
    if (want > this.wantTo) this.wantTo = want;
    if (this.wantTo > this.filledTo && this.background === null && this.pending === null) {
      this.background = setImmediate(() => this.fillSlice());
    }
  }

  /** Stops the background fill and closes the file; the environment itself is not closed. */
  close(): void {
    // A write still on the pool could land in whatever file takes the descriptor next.
    assert(this.pending === null, "map reserve: closed while reserving");
    if (this.background !== null) clearImmediate(this.background);
    this.background = null;
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  /** Throws ENOSPC if writing `bytes` would leave less than keepFreeBytes free. */
  private checkRoom(bytes: number): void {
    if (this.keepFreeBytes === 0 || bytes <= 0) return;
    let free: number;
    try {
      const fs = statfsSync(dirname(this.file));
      free = Number(fs.bavail) * Number(fs.bsize);
    } catch (cause) {
      throw toStorageError(cause, `cannot tell the free space for ${this.file}`);
    }
    if (free - bytes < this.keepFreeBytes) {
      throw new StorageError(
        "ENOSPC",
        `reserving ${bytes} bytes in ${this.file} would leave less than ${this.keepFreeBytes} bytes free (${free} are)`,
      );
    }
  }

  /** Writes zeros from filledTo up to `to`, advancing filledTo as it goes. */
  private fill(to: number): void {
    const fd = this.fd;
    assert(fd !== null, "map reserve: closed");
    this.checkRoom(to - this.filledTo);
    try {
      while (this.filledTo < to) {
        const n = Math.min(sliceBytes, to - this.filledTo);
        const written = writeSync(fd, this.zeros, 0, n, this.filledTo);
        this.filledTo += written;
        this.stats.zeroBytes += written;
      }
    } catch (cause) {
      throw toStorageError(cause, `cannot reserve space in ${this.file}`);
    }
  }

  /** Writes zeros from filledTo up to `to` on libuv's thread pool, a slice at a time. */
  private fillOnPool(to: number): Promise<void> {
    const fd = this.fd;
    try {
      this.checkRoom(to - this.filledTo);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      const next = (): void => {
        if (this.fd !== fd || fd === null) {
          reject(new StorageError("CLOSED", `the reserve of ${this.file} is closed`));
          return;
        }
        if (this.filledTo >= to) {
          resolve();
          return;
        }
        const n = Math.min(sliceBytes, to - this.filledTo);
        write(fd, this.zeros, 0, n, this.filledTo, (error, written) => {
          if (error !== null) {
            reject(toStorageError(error, `cannot reserve space in ${this.file}`));
            return;
          }
          this.filledTo += written;
          this.stats.zeroBytes += written;
          next();
        });
      };
      next();
    });
  }

  /** One slice of the background fill per turn of the event loop. */
  private fillSlice(): void {
    this.background = null;
    if (this.fd === null || this.pending !== null || this.filledTo >= this.wantTo) return;
    try {
      this.fill(Math.min(this.wantTo, this.filledTo + sliceBytes));
    } catch {
      // The disk is full (or failing): stop here. The next transaction that needs the
      // space writes it itself and fails with the error.
      this.wantTo = this.filledTo;
      return;
    }
    if (this.filledTo < this.wantTo) this.background = setImmediate(() => this.fillSlice());
  }
}
