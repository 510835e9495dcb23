import type { ProtocolError } from "../../src/resp/errors.js";
import { type ParsedCommand, type RequestLimits, RequestParser } from "../../src/resp/parser.js";

/** What a parser made of some input: arguments and frames as latin1 strings (byte exact). */
export interface Outcome {
  commands: string[][];
  frames: string[];
  inline: boolean[];
  error: string | undefined;
}

export function latin1(s: string): Buffer {
  return Buffer.from(s, "latin1");
}

/**
 * Feeds the chunks in order, copying out each command while it is valid. Each chunk is fed
 * from a private copy that is scribbled over afterwards, so a parser that kept a reference
 * to a chunk instead of copying what it needs would produce garbage.
 */
export function parseChunks(
  chunks: readonly Buffer[],
  limits: Partial<RequestLimits> = {},
): Outcome {
  const parser = new RequestParser(limits);
  const out: Outcome = { commands: [], frames: [], inline: [], error: undefined };
  const onCommand = (cmd: ParsedCommand): void => {
    const args: string[] = [];
    for (let i = 0; i < cmd.length; i++) args.push(cmd.buf(i).toString("latin1"));
    out.commands.push(args);
    out.frames.push(cmd.frame().toString("latin1"));
    out.inline.push(cmd.inline);
  };
  let err: ProtocolError | undefined;
  for (const c of chunks) {
    const copy = Buffer.from(c);
    err = parser.feed(copy, onCommand);
    copy.fill(0xee);
    if (err !== undefined) break;
  }
  out.error = err?.message;
  return out;
}

export function parseWhole(input: Buffer | string, limits: Partial<RequestLimits> = {}): Outcome {
  return parseChunks([typeof input === "string" ? latin1(input) : input], limits);
}

/** Every way to cut `input` in two, then byte by byte, then a sample of 3-way cuts. */
export function* splits(input: Buffer): Generator<Buffer[]> {
  for (let i = 1; i < input.length; i++) yield [input.subarray(0, i), input.subarray(i)];
  const bytes: Buffer[] = [];
  for (let i = 0; i < input.length; i++) bytes.push(input.subarray(i, i + 1));
  yield bytes;
  const step = Math.max(1, Math.floor(input.length / 7));
  for (let i = 1; i < input.length; i += step) {
    for (let j = i + 1; j < input.length; j += step) {
      yield [input.subarray(0, i), input.subarray(i, j), input.subarray(j)];
    }
  }
}

/** Cuts `input` into pieces of `size` bytes. */
export function pieces(input: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < input.length; i += size) out.push(input.subarray(i, i + size));
  return out;
}
