import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";

/** Small file-system steps the stores share; each throws what node:fs throws. */

/** Writes all of `data` at `position` (writeSync may write less than asked). */
export function writeFully(fd: number, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.length) {
    done += writeSync(fd, data, done, data.length - done, position + done);
  }
}

/** fsync of a folder: makes the names created, renamed or deleted in it durable. */
export function syncFolder(path: string): void {
  syncPath(path, "r");
}

/** fsync of a file's data and size, through a descriptor of its own. */
export function syncFile(path: string): void {
  syncPath(path, "r+");
}

function syncPath(path: string, flags: string): void {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces `dir/name` with `data`, durably and whole: written to a temp file, synced,
 * renamed over the old one, the folder synced. A crash leaves the old file or the new one.
 */
export function replaceFile(dir: string, name: string, data: Uint8Array): void {
  const tmp = join(dir, `${name}.tmp`);
  try {
    const fd = openSync(tmp, "w");
    try {
      writeFully(fd, data, 0);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(dir, name));
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  syncFolder(dir);
}

/**
 * The running kernel's boot id (Linux: a random id made at each boot), or null where the
 * system has none to read. Two processes see the same id only between the same two boots.
 */
export function machineBootId(): string | null {
  try {
    const id = readFileSync("/proc/sys/kernel/random/boot_id", "latin1").trim();
    return id.length > 0 ? id : null;
  } catch {
    return null;
  }
}
