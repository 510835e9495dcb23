import { assert } from "../../core/assert.js";
import { fnv1a32Bytes } from "../../core/hash.js";
import { applyKv, type KvInput, type KvOutput } from "./history.js";

/**
 * The replicated state machine of the raft scenario: Redis string keys (the checker's kv
 * model semantics, applyKv) plus one client session per client (raft thesis §6.3), so a
 * command retried after a lost reply — possibly already committed under an old leader —
 * takes effect once and answers with its first result.
 */

/** A client command as it travels in a log entry. */
export interface Command {
  /** Client id, and that client's sequence number for the command. */
  c: number;
  s: number;
  op: KvInput;
}

interface Session {
  seq: number;
  out: KvOutput;
}

/** Sessions kept: one per client, and the scenario runs at most this many clients. */
export const sessionsMax = 1024;

const text = new TextEncoder();
const untext = new TextDecoder();

export function encodeCommand(cmd: Command): Uint8Array {
  return text.encode(JSON.stringify(cmd));
}

export function decodeCommand(data: Uint8Array): Command {
  return JSON.parse(untext.decode(data)) as Command;
}

export class KvMachine {
  /** The last index applied (snapshot or entry). */
  appliedIndex = 0;
  private readonly data = new Map<string, string>();
  private readonly sessions = new Map<number, Session>();

  /** The session's answer if (c, s) was already applied, else undefined. */
  answered(c: number, s: number): KvOutput | undefined {
    const session = this.sessions.get(c);
    return session !== undefined && session.seq === s ? session.out : undefined;
  }

  /**
   * Applies a committed command. A sequence number at or below the session's is a
   * duplicate (a retry, or an old attempt committed late): no effect. `fresh` says
   * whether it took effect here.
   */
  apply(index: number, cmd: Command): { out: KvOutput; fresh: boolean } {
    assert(index === this.appliedIndex + 1, `kv: applies ${index} after ${this.appliedIndex}`);
    this.appliedIndex = index;
    const session = this.sessions.get(cmd.c);
    if (session !== undefined && cmd.s <= session.seq) {
      return { out: cmd.s === session.seq ? session.out : null, fresh: false };
    }
    const key = cmd.op.key;
    const { output, next } = applyKv(this.data.get(key) ?? null, cmd.op);
    if (next === null) this.data.delete(key);
    else this.data.set(key, next);
    assert(session !== undefined || this.sessions.size < sessionsMax, "kv: sessions bound");
    this.sessions.set(cmd.c, { seq: cmd.s, out: output });
    return { out: output, fresh: true };
  }

  /** An entry with no command (a leader's no-op). */
  skip(index: number): void {
    assert(index === this.appliedIndex + 1, `kv: skips ${index} after ${this.appliedIndex}`);
    this.appliedIndex = index;
  }

  /** A local read (read-index or lease read; or the broken follower read). */
  read(input: KvInput): KvOutput {
    return applyKv(this.data.get(input.key) ?? null, input).output;
  }

  snapshot(): Uint8Array {
    const image = {
      data: [...this.data].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      sessions: [...this.sessions].sort(([a], [b]) => a - b),
    };
    return text.encode(JSON.stringify(image));
  }

  /** The machine as of a snapshot image at `index` (the empty image is the empty machine). */
  static restore(image: Uint8Array, index: number): KvMachine {
    const m = new KvMachine();
    m.appliedIndex = index;
    if (image.length === 0) return m;
    const parsed = JSON.parse(untext.decode(image)) as {
      data: [string, string][];
      sessions: [number, Session][];
    };
    for (const [k, v] of parsed.data) m.data.set(k, v);
    for (const [c, s] of parsed.sessions) m.sessions.set(c, s);
    return m;
  }

  /** A 32-bit digest of keys, values and sessions, to compare replicas at one index. */
  digest(): number {
    return fnv1a32Bytes(this.snapshot());
  }
}
