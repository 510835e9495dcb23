import assert from "node:assert/strict";
import { SeededRandom } from "../../src/core/random.js";
import { arityAccepts, findCommandSpec } from "../../src/kv/command-table.js";
import { KV_HANDLERS } from "../../src/kv/handlers.js";
import type { ExecContext } from "../../src/kv/types.js";
import type { Args, Reply } from "../../src/resp/types.js";
import { MemoryStore } from "../../src/storage/memory.js";

/**
 * A simple `Args` over whole Buffers (the real one reads offsets into a frame). Each
 * `buf(i)` returns a fresh copy that is then overwritten once the handler returns, the way
 * a reused network buffer would be, so a handler that keeps a view fails tests.
 */
export class TestArgs implements Args {
  private readonly parts: Buffer[];
  private readonly handedOut: Buffer[] = [];

  constructor(parts: readonly (string | Buffer)[]) {
    this.parts = parts.map((p) => (typeof p === "string" ? Buffer.from(p) : Buffer.from(p)));
  }
  get length(): number {
    return this.parts.length;
  }
  buf(i: number): Buffer {
    const part = this.parts[i];
    assert.ok(part !== undefined, `argument ${i} out of range`);
    const view = Buffer.from(part);
    this.handedOut.push(view);
    return view;
  }
  str(i: number): string {
    return this.buf(i).toString("utf8");
  }
  lower(i: number): string {
    return this.buf(i).toString("latin1").toLowerCase();
  }
  is(i: number, word: string): boolean {
    return this.lower(i) === word;
  }
  byteLength(i: number): number {
    return this.buf(i).length;
  }
  /** Scribbles over every view handed out: what a reused frame buffer does. */
  invalidate(): void {
    for (const b of this.handedOut) b.fill(0xee);
  }
}

export const START_MS = 1_700_000_000_000;
export const MAX_BULK = 512 * 1024 * 1024;

export interface TestDb {
  ctx: ExecContext;
  store: MemoryStore;
  /** Runs a command as the dispatcher would: arity-checked, then the handler. */
  run(...parts: (string | Buffer)[]): Reply;
  advance(ms: number): void;
}

export function newDb(opts: { nowMs?: number; seed?: number; maxBulkBytes?: number } = {}): TestDb {
  const store = new MemoryStore();
  const ctx: ExecContext = {
    store,
    nowMs: opts.nowMs ?? START_MS,
    random: new SeededRandom(opts.seed ?? 1),
    maxBulkBytes: opts.maxBulkBytes ?? MAX_BULK,
  };
  return {
    ctx,
    store,
    run: (...parts) => runIn(ctx, parts),
    advance: (ms) => {
      ctx.nowMs += ms;
    },
  };
}

export function runIn(ctx: ExecContext, parts: readonly (string | Buffer)[]): Reply {
  const args = new TestArgs(parts);
  const spec = findCommandSpec(args);
  assert.ok(spec !== undefined, `no spec for ${String(parts[0])}`);
  assert.ok(arityAccepts(spec.arity, args.length), `arity of ${spec.name} refuses ${parts.length}`);
  const handler = KV_HANDLERS.get(spec.container ?? spec.name);
  assert.ok(handler !== undefined, `no handler for ${spec.container ?? spec.name}`);
  const reply = handler(ctx, args);
  args.invalidate();
  return reply;
}

/** A reply as plain data, so tests compare with deepEqual: bulk → string, etc. */
export type Plain = string | number | null | { error: string } | { status: string } | Plain[];

export function plain(reply: Reply): Plain {
  switch (reply.kind) {
    case "simple":
      return { status: reply.value };
    case "error":
      return { error: reply.value };
    case "integer": {
      const v = reply.value;
      if (typeof v === "number") return v;
      return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
    }
    case "bulk":
      return typeof reply.value === "string" ? reply.value : reply.value.toString("latin1");
    case "null":
    case "nullArray":
      return null;
    case "array":
    case "set":
      return reply.value.map(plain);
    case "double":
      return reply.value;
    case "boolean":
      return reply.value ? 1 : 0;
    case "verbatim":
      return reply.value;
    case "map":
      return reply.value.flatMap(([k, v]) => [plain(k), plain(v)]);
  }
}

export const ok = { status: "OK" };
export const err = (message: string) => ({ error: message });

// The errors most tests expect, and a command run to plain data.
export const WRONGTYPE = err("WRONGTYPE Operation against a key holding the wrong kind of value");
export const NOT_INT = err("ERR value is not an integer or out of range");
export const NOT_FLOAT = err("ERR value is not a valid float");
export const SYNTAX = err("ERR syntax error");

export function r(db: TestDb, ...parts: (string | Buffer)[]): Plain {
  return plain(db.run(...parts));
}

/** Records the keyspace events of `db` with `flags` on, as "event key" lines. */
export function recordEvents(db: TestDb, flags: number): string[] {
  const events: string[] = [];
  db.ctx.notify = { flags, emit: (_cls, event, key) => events.push(`${event} ${key.toString()}`) };
  return events;
}
