/**
 * Micro-benchmark of the RESP layer: parse pipelined requests, encode replies, parse replies.
 * Run: npx tsc -p tsconfig.json && node dist/scripts/bench-resp.js [commands] (--help)
 *
 * Inputs mimic redis-benchmark (`SET key:<12 digits> xxx`, `GET key:<12 digits>`), fed in
 * 64 KiB socket-sized chunks that cut commands anywhere, and in 16-command chunks as
 * `redis-benchmark -P 16` sends them.
 */

import { encodeCommand, ReplyWriter } from "../src/resp/encoder.js";
import { type ParsedCommand, RequestParser } from "../src/resp/parser.js";
import * as R from "../src/resp/reply.js";
import { ReplyParser } from "../src/resp/reply-parser.js";
import { exitOnUsageError, intArg, parseOptions, UsageError } from "./lib/options.js";

const usage = `Usage: node dist/scripts/bench-resp.js [COMMANDS]

Parses COMMANDS pipelined SET/GET requests (default 1000000) in socket-sized and
16-command chunks, encodes replies and parses them back; operations per second.

Options:
  -h, --help   this text`;
const { positionals } = parseOptions({}, usage, true);
const N = exitOnUsageError(() => {
  if (positionals.length > 1) {
    throw new UsageError(`one argument at most, the number of commands\n${usage}`);
  }
  return positionals[0] === undefined ? 1_000_000 : intArg("COMMANDS", positionals[0]);
});
const ROUNDS = 5;

function key(i: number): string {
  return `key:${String(i % 100_000).padStart(12, "0")}`;
}

function requests(n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    out.push(i % 2 === 0 ? encodeCommand(["SET", key(i), "xxx"]) : encodeCommand(["GET", key(i)]));
  }
  return out;
}

function chunked(frames: Buffer[], size: number): Buffer[] {
  const all = Buffer.concat(frames);
  const out: Buffer[] = [];
  for (let i = 0; i < all.length; i += size) out.push(all.subarray(i, i + size));
  return out;
}

function grouped(frames: Buffer[], per: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < frames.length; i += per) out.push(Buffer.concat(frames.slice(i, i + per)));
  return out;
}

/** Best of ROUNDS, in operations per second. */
function measure(label: string, ops: number, run: () => number): void {
  let best = 0;
  let check = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    check = run();
    const ns = Number(process.hrtime.bigint() - t0);
    best = Math.max(best, ops / (ns / 1e9));
  }
  console.log(
    `${label.padEnd(48)} ${(best / 1e6).toFixed(2).padStart(7)} M ops/s  (check ${check})`,
  );
}

const frames = requests(N);
const socketChunks = chunked(frames, 64 * 1024);
const pipelineChunks = grouped(frames, 16);
const bytes = socketChunks.reduce((n, c) => n + c.length, 0);
console.log(`${N} commands, ${(bytes / 1e6).toFixed(1)} MB of requests`);

const TABLE = new Map([
  ["set", 1],
  ["get", 0],
]);

function parseAll(chunks: Buffer[]): number {
  const parser = new RequestParser();
  let sets = 0;
  const onCommand = (cmd: ParsedCommand): void => {
    // What a dispatcher does: look the name up, read the arguments.
    sets += (TABLE.get(cmd.lower(0)) ?? 0) * cmd.byteLength(cmd.length - 1);
  };
  for (const c of chunks) {
    const err = parser.feed(c, onCommand);
    if (err !== undefined) throw err;
  }
  return sets;
}

measure("parse SET/GET, 64 KiB chunks", N, () => parseAll(socketChunks));
measure("parse SET/GET, 16-command chunks (-P 16)", N, () => parseAll(pipelineChunks));

const inlineChunks = chunked(
  Array.from({ length: N }, (_, i) =>
    Buffer.from(i % 2 === 0 ? `SET ${key(i)} xxx\r\n` : `GET ${key(i)}\r\n`),
  ),
  64 * 1024,
);
measure("parse inline SET/GET, 64 KiB chunks", N, () => parseAll(inlineChunks));

const value = R.bulk("xxx");
const bufValue = R.bulk(Buffer.from("xxx"));
const replies = [R.OK, value, R.OK, bufValue, R.integer(42), R.NULL];
function encodeAll(proto: 2 | 3): number {
  const w = new ReplyWriter();
  let total = 0;
  for (let i = 0; i < N; i++) {
    w.write(replies[i % replies.length], proto);
    // One socket write per 16 replies, as for a -P 16 pipeline.
    if ((i & 15) === 15) total += w.take().length;
  }
  return total + w.take().length;
}
measure("encode OK/bulk/integer/null, RESP2", N, () => encodeAll(2));
measure("encode OK/bulk/integer/null, RESP3", N, () => encodeAll(3));

const w = new ReplyWriter();
for (let i = 0; i < N; i++) w.write(replies[i % replies.length], 2);
const replyChunks = chunked([w.take()], 64 * 1024);
measure("reply parser, same replies (client side)", N, () => {
  const p = new ReplyParser();
  let n = 0;
  for (const c of replyChunks) p.feed(c, () => n++);
  return n;
});
