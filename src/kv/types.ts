import type { Random } from "../core/random.js";
import type { Args, Reply } from "../resp/types.js";
import type { KeyStore } from "../storage/types.js";
import type { Notifier } from "./notify.js";

/**
 * Everything a command handler may touch. Handlers are pure functions of this context and
 * their arguments: the time comes in with the command (raft applies the same command with
 * the same `nowMs` on every replica), so no handler ever reads a clock.
 */
export interface ExecContext {
  store: KeyStore;
  /** The command's time, in ms since the Unix epoch: what TTLs are measured against. */
  nowMs: number;
  random: Random;
  /**
   * proto-max-bulk-len: the largest string SETRANGE, APPEND and SETBIT may build, and the
   * bound on LCS's working table.
   */
  maxBulkBytes: number;
  /**
   * A shard of a cluster: commands that would read keys named by the data (SORT's BY and
   * GET patterns) refuse, as Redis Cluster does, since those keys may live in other shards.
   */
  sharded?: boolean;
  /**
   * stream-node-max-entries and -bytes (streams.ts): a standalone node's settings;
   * undefined on a cluster's shards, which keep Redis's defaults (100, 4096) so that every
   * replica lays out and trims a stream alike.
   */
  streamNode?: { readonly entries: number; readonly bytes: number };
  /**
   * hll-sparse-max-bytes (hyperloglog.ts): a standalone node's setting; undefined on a
   * cluster's shards, which keep Redis's default (3000) so that every replica encodes an
   * HLL alike.
   */
  hllSparseMaxBytes?: number;
  /** Keyspace notifications (notify.ts): undefined when none is to be sent. */
  notify?: Notifier | undefined;
  /**
   * How a Lua script (script.ts) runs the commands it calls: set by the host that runs
   * scripts (a shard's machine, a standalone node). Undefined: EVAL refuses.
   */
  script?: ScriptHost;
  /** A command a Lua script called (SORT BY a constant then sorts a set, as in Redis). */
  inScript?: boolean;
}

/** The host's side of redis.call: script.ts has made Redis's checks on the command. */
export interface ScriptHost {
  /** Whether `key` may be touched here (a cluster shard: in one of its slots). */
  served(key: Buffer): boolean;
  /** Whether the host runs `name` (a key-space command) for scripts. */
  runs(name: string): boolean;
  /**
   * Runs a key-space command (lower-case `name`, one `runs` accepts, arity checked) and
   * gives its reply.
   */
  run(name: string, args: Args): Reply;
}

/**
 * Executes one command whose argument count already satisfies its arity (the dispatcher
 * checks it against `COMMAND_SPECS`). `args.buf(i)` views die when the handler returns.
 */
export type CommandHandler = (ctx: ExecContext, args: Args) => Reply;
