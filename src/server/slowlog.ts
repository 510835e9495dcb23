import * as R from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";

/**
 * SLOWLOG: the commands of this node that took at least slowlog-log-slower-than
 * microseconds, newest first, at most slowlog-max-len of them, as Redis keeps them
 * (slowlog.c): an id, the Unix time, the duration, the arguments (at most 32, each cut at
 * 128 bytes), the client's address and name. Each node keeps its own, as each node of a
 * Redis Cluster does.
 *
 * The duration is the command's time on this node until its reply: for a command that
 * runs on the node, its execution, as in Redis; for a write or read that goes through a
 * shard's log (or to another node's), until the reply came back, its replication and sync
 * included, which is what makes a write slow here.
 */

/** Arguments kept per entry; the last says how many more there were. */
const argsMax = 32;
/** Bytes kept per argument; the rest is counted. */
const argBytesMax = 128;

export interface SlowEntry {
  readonly id: number;
  readonly timeSec: number;
  readonly durationUs: number;
  readonly args: readonly Buffer[];
  readonly peer: string;
  readonly name: string;
}

const NONE: ReadonlySet<number> = new Set();

/** Arguments whose values are secrets: replaced by "(redacted)" (Redis's redaction). */
export function redacted(args: Args): ReadonlySet<number> {
  const name = args.lower(0);
  if (name !== "auth" && name !== "hello" && name !== "config") return NONE;
  const out = new Set<number>();
  if (name === "auth") {
    for (let i = 1; i < args.length; i++) out.add(i);
  } else if (name === "hello") {
    for (let i = 2; i < args.length; i++) {
      if (args.is(i, "auth") && i + 2 < args.length) {
        out.add(i + 1).add(i + 2);
        i += 2;
      }
    }
  } else if (name === "config" && args.length >= 4 && args.is(1, "set")) {
    for (let i = 2; i + 1 < args.length; i += 2) {
      if (args.is(i, "requirepass") || args.is(i, "masterauth")) out.add(i + 1);
    }
  }
  return out;
}

/** A command's arguments as an entry keeps them: copied, cut, secrets redacted. */
export function entryArgs(args: Args): Buffer[] {
  const argc = args.length;
  const kept = Math.min(argc, argsMax);
  const secret = redacted(args);
  const out: Buffer[] = [];
  for (let i = 0; i < kept; i++) {
    if (kept !== argc && i === kept - 1) {
      out.push(Buffer.from(`... (${argc - kept + 1} more arguments)`));
    } else if (secret.has(i)) {
      out.push(Buffer.from("(redacted)"));
    } else {
      const a = args.buf(i);
      out.push(
        a.length > argBytesMax
          ? Buffer.concat([
              a.subarray(0, argBytesMax),
              Buffer.from(`... (${a.length - argBytesMax} more bytes)`),
            ])
          : Buffer.from(a),
      );
    }
  }
  return out;
}

export class SlowLog {
  /** Newest first. */
  private entries: SlowEntry[] = [];
  private nextId = 0;

  get length(): number {
    return this.entries.length;
  }

  /** Logs a command that took `durationUs`, if that is at least `slowerThanUs` (negative: never). */
  record(
    args: readonly Buffer[],
    durationUs: number,
    slowerThanUs: number,
    maxLen: number,
    peer: string,
    name: string,
    nowMs: number,
  ): void {
    if (slowerThanUs < 0 || durationUs < slowerThanUs) return;
    this.entries.unshift({
      id: this.nextId++,
      timeSec: Math.floor(nowMs / 1000),
      durationUs: Math.floor(durationUs),
      args,
      peer,
      name,
    });
    if (this.entries.length > maxLen) this.entries.length = Math.max(0, maxLen);
  }

  reset(): void {
    this.entries = [];
  }

  /** SLOWLOG GET: the newest `count` entries (all with -1). */
  reply(count: number): Reply {
    const shown = count < 0 ? this.entries : this.entries.slice(0, count);
    return R.array(
      shown.map((e) =>
        R.array([
          R.integer(e.id),
          R.integer(e.timeSec),
          R.integer(e.durationUs),
          R.array(e.args.map((a) => R.bulk(a))),
          R.bulk(e.peer),
          R.bulk(e.name),
        ]),
      ),
    );
  }
}
