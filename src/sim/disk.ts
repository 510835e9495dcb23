import { assert } from "../core/assert.js";
import type { Timers } from "../core/clock.js";
import { checkDiskName, type Disk, DiskError, diskFileBytesMax } from "../core/disk.js";
import type { Random } from "../core/random.js";

/**
 * The simulated disk: the Disk contract in memory, plus what a real disk does to a
 * process that crashes — `crash()` loses every change not synced, or with
 * `tornProbability` keeps a random part of an unsynced append, as a real page cache may.
 * Latency and I/O errors are drawn from the seeded Random; timers are the host's, so a
 * paused host's I/O completes late and a crashed one's never does.
 */
export interface SimDiskOptions {
  /** Mean completion time of an operation (exponential); 0 completes on the next turn. */
  latencyMs: number;
  /** An operation fails with DiskError("io") and has no effect. */
  errorProbability: number;
  /** On crash, an unsynced change is partly kept rather than lost. */
  tornProbability: number;
}

export const quietDisk: SimDiskOptions = { latencyMs: 0, errorProbability: 0, tornProbability: 0 };

/** Latency is capped: an exponential tail is unbounded, a disk's timeout is not. */
export const diskLatencyMsMax = 5_000;

/** Bytes with room to grow, so appending to a log is amortised O(1). */
class Blob {
  bytes: Uint8Array;
  length: number;
  constructor(data: Uint8Array) {
    this.bytes = data.slice();
    this.length = data.length;
  }
  append(data: Uint8Array): void {
    const needed = this.length + data.length;
    if (needed > this.bytes.length) {
      const grown = new Uint8Array(Math.max(needed, this.bytes.length * 2, 64));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    this.bytes.set(data, this.length);
    this.length = needed;
  }
}

/**
 * `durable.bytes[0, durableLength)` is what a crash leaves. While a file is only appended
 * to, `current` and `durable` are the same Blob and a sync just moves `durableLength`.
 */
interface FileState {
  current: Blob | null;
  durable: Blob | null;
  durableLength: number;
}

export class SimDisk implements Disk {
  readonly options: SimDiskOptions;
  private readonly files = new Map<string, FileState>();
  private readonly dirty = new Set<string>();

  constructor(
    private readonly random: Random,
    private timers: Timers | null = null,
    options: Partial<SimDiskOptions> = {},
  ) {
    this.options = { ...quietDisk, ...options };
    assert(this.options.latencyMs === 0 || timers !== null, "latency needs timers");
  }

  /** A restarted host brings new timers; the data stays. */
  attach(timers: Timers): void {
    this.timers = timers;
  }

  write(name: string, data: Uint8Array): Promise<void> {
    checkDiskName(name);
    if (data.length > diskFileBytesMax) return this.fail("too-large");
    return this.op(() => {
      this.file(name).current = new Blob(data);
    });
  }

  append(name: string, data: Uint8Array): Promise<void> {
    checkDiskName(name);
    const current = this.files.get(name)?.current;
    if ((current?.length ?? 0) + data.length > diskFileBytesMax) return this.fail("too-large");
    return this.op(() => {
      const file = this.file(name);
      if (file.current === null) file.current = new Blob(data);
      else file.current.append(data);
    });
  }

  read(name: string): Promise<Uint8Array | null> {
    checkDiskName(name);
    const current = this.files.get(name)?.current ?? null;
    const copy = current === null ? null : current.bytes.slice(0, current.length);
    return this.op(() => copy, false);
  }

  list(): Promise<string[]> {
    const names = [...this.files].filter(([, f]) => f.current !== null).map(([n]) => n);
    return this.op(() => names.sort(), false);
  }

  remove(name: string): Promise<void> {
    checkDiskName(name);
    return this.op(() => {
      const file = this.files.get(name);
      if (file === undefined) return;
      file.current = null;
      this.dirty.add(name);
    });
  }

  sync(): Promise<void> {
    return this.op(() => {
      for (const name of this.dirty) {
        const file = this.files.get(name) as FileState;
        file.durable = file.current;
        file.durableLength = file.current?.length ?? 0;
        if (file.current === null) this.files.delete(name);
      }
      this.dirty.clear();
    });
  }

  /** The machine lost power: unsynced changes go, or with tornProbability partly stay. */
  crash(): void {
    for (const name of this.dirty) {
      const file = this.files.get(name) as FileState;
      const appendedOnly = file.current !== null && file.current === file.durable;
      const torn =
        this.options.tornProbability > 0 && this.random.next() < this.options.tornProbability;
      if (appendedOnly && torn) {
        const extra = (file.current as Blob).length - file.durableLength;
        (file.current as Blob).length = file.durableLength + this.random.int(extra + 1);
        continue;
      }
      if (file.durable !== null) file.durable.length = file.durableLength;
      file.current = file.durable;
      if (file.current === null) this.files.delete(name);
    }
    this.dirty.clear();
  }

  private file(name: string): FileState {
    this.dirty.add(name);
    let file = this.files.get(name);
    if (file === undefined) {
      file = { current: null, durable: null, durableLength: 0 };
      this.files.set(name, file);
    }
    return file;
  }

  /**
   * Effects apply at call time (so operations keep call order even when their latencies
   * differ); only the completion is delayed. A failing operation has no effect.
   */
  private op<T>(effect: () => T, mayFail = true): Promise<T> {
    const o = this.options;
    const failed = mayFail && o.errorProbability > 0 && this.random.next() < o.errorProbability;
    const result = failed ? undefined : effect();
    const settle = (resolve: (v: T) => void, reject: (e: Error) => void) => {
      if (failed) reject(new DiskError("io", "simulated I/O error"));
      else resolve(result as T);
    };
    if (o.latencyMs === 0) return new Promise(settle);
    const delayMs = Math.min(-o.latencyMs * Math.log(1 - this.random.next()), diskLatencyMsMax);
    return new Promise((resolve, reject) => {
      (this.timers as Timers).schedule(delayMs, () => settle(resolve, reject));
    });
  }

  private fail(code: "too-large"): Promise<never> {
    return Promise.reject(new DiskError(code, `file would exceed ${diskFileBytesMax} bytes`));
  }
}
