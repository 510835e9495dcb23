import { mkdir, open, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * Named byte blobs that survive a crash once synced: what the raft log and its metadata
 * need, and no more. Real twin: FsDisk (one folder); simulated twin: sim/disk.ts.
 *
 * Contract, checked by test/core/disk.compliance.ts:
 * - Operations take effect in call order; a read sees every earlier write of this process.
 * - After `sync()` resolves, every write, append and remove made before the call survives
 *   a crash exactly. A change not yet synced may be lost after a crash, or (on a real
 *   disk) survive partly: callers that need to tell must checksum their records.
 * - I/O failures reject with a DiskError; they never corrupt what was synced before.
 */
export interface Disk {
  /** Replaces the whole content of `name`, creating it if needed. */
  write(name: string, data: Uint8Array): Promise<void>;
  /** Adds to the end of `name`, creating it if needed: the log's common case. */
  append(name: string, data: Uint8Array): Promise<void>;
  /** The content, or null if there is no such file. */
  read(name: string): Promise<Uint8Array | null>;
  /** Every name, sorted. */
  list(): Promise<string[]>;
  /** Removing a missing file is not an error (a crash may have taken it already). */
  remove(name: string): Promise<void>;
  sync(): Promise<void>;
}

/**
 * Names are plain so they are safe as file names everywhere: no separators, no leading
 * dot (left for temporary files), at most 128 bytes (well under NAME_MAX = 255).
 */
export const diskNameBytesMax = 128;
const namePattern = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/**
 * One file at most 256 MiB: the raft log is cut into segments far smaller than this, and
 * a bound keeps a runaway append from filling the machine.
 */
export const diskFileBytesMax = 256 * 1024 * 1024;

export type DiskErrorCode = "io" | "too-large";

export class DiskError extends Error {
  override name = "DiskError";
  constructor(
    readonly code: DiskErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A bad name is the caller's bug, not an operating error. */
export function checkDiskName(name: string): void {
  if (name.length > diskNameBytesMax || !namePattern.test(name)) {
    throw new RangeError(`invalid disk file name ${JSON.stringify(name)}`);
  }
}

/** Files in one folder. Sync is fsync of every changed file, then of the folder itself. */
export class FsDisk implements Disk {
  /** Names changed since the last sync: only those need an fsync. */
  private dirty = new Set<string>();
  /**
   * Operations run one after another: libuv's thread pool would otherwise reorder two
   * appends issued without awaiting, breaking call order.
   */
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(private readonly dir: string) {}

  static async open(dir: string): Promise<FsDisk> {
    await mkdir(dir, { recursive: true });
    return new FsDisk(dir);
  }

  write(name: string, data: Uint8Array): Promise<void> {
    checkDiskName(name);
    checkSize(data.length);
    const copy = Uint8Array.from(data); // the caller may reuse its buffer before we run
    return this.serial(async () => {
      this.dirty.add(name);
      await writeFile(join(this.dir, name), copy);
    });
  }

  append(name: string, data: Uint8Array): Promise<void> {
    checkDiskName(name);
    const copy = Uint8Array.from(data);
    return this.serial(async () => {
      const handle = await open(join(this.dir, name), "a");
      try {
        const { size } = await handle.stat();
        checkSize(size + copy.length);
        this.dirty.add(name);
        await handle.write(copy);
      } finally {
        await handle.close();
      }
    });
  }

  read(name: string): Promise<Uint8Array | null> {
    checkDiskName(name);
    return this.serial(async () => {
      try {
        return await readFile(join(this.dir, name));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
        throw error;
      }
    });
  }

  list(): Promise<string[]> {
    return this.serial(async () => {
      const names = await readdir(this.dir);
      return names.filter((n) => namePattern.test(n)).sort();
    });
  }

  remove(name: string): Promise<void> {
    checkDiskName(name);
    return this.serial(async () => {
      this.dirty.add(name);
      await rm(join(this.dir, name), { force: true });
    });
  }

  sync(): Promise<void> {
    return this.serial(() => this.syncNow());
  }

  private serial<T>(op: () => Promise<T>): Promise<T> {
    const result = this.tail.then(() => io(op));
    this.tail = result.catch(() => {});
    return result;
  }

  private async syncNow(): Promise<void> {
    const names = [...this.dirty];
    this.dirty = new Set();
    try {
      for (const name of names) await fsyncPath(join(this.dir, name), true);
      await fsyncPath(this.dir, false);
    } catch (error) {
      for (const name of names) this.dirty.add(name);
      throw toDiskError(error);
    }
  }
}

async function fsyncPath(path: string, mayBeGone: boolean): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "r");
  } catch (error) {
    if (mayBeGone && (error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function checkSize(bytes: number): void {
  if (bytes > diskFileBytesMax) {
    throw new DiskError("too-large", `file would be ${bytes} bytes, over ${diskFileBytesMax}`);
  }
}

async function io<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (error) {
    throw toDiskError(error);
  }
}

function toDiskError(error: unknown): DiskError {
  if (error instanceof DiskError) return error;
  return new DiskError("io", (error as Error).message);
}
