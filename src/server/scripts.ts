import { errorReply, unknownSubcommand, wrongArity } from "../kv/errors.js";
import { compileError, scriptSha } from "../kv/script.js";
import { ArrayArgs } from "../resp/args.js";
import * as R from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";
import type { Client } from "./client.js";
import type { HomeostatNode } from "./node.js";

/**
 * The scripts a node knows by SHA1, for EVALSHA and SCRIPT EXISTS. As in Redis Cluster,
 * each node has its own: SCRIPT LOAD and EVAL teach the node they are sent to (a client
 * that gets NOSCRIPT sends EVAL, as ioredis and node-redis do). The script itself travels
 * whole in the command a shard runs, so replicas never need a cache.
 *
 * Scripts given by EVAL are bounded (the oldest forgotten first, as Redis 7.4 does) so
 * that clients that build a new script per call cannot fill the memory; those loaded with
 * SCRIPT LOAD stay until SCRIPT FLUSH.
 */
export class ScriptCache {
  private readonly loaded = new Map<string, Buffer>();
  private readonly evaluated = new Map<string, Buffer>();
  /** The SHA1 of each script kept, by its text: EVAL of a known script hashes nothing. */
  private readonly shaOf = new Map<string, string>();

  constructor(private readonly evaluatedMax = 500) {}

  get size(): number {
    return this.loaded.size + this.evaluated.size;
  }

  /** The scripts' bytes. */
  get bytes(): number {
    let n = 0;
    for (const b of this.loaded.values()) n += b.length;
    for (const b of this.evaluated.values()) n += b.length;
    return n;
  }

  get(sha: string): Buffer | undefined {
    const key = sha.toLowerCase();
    const body = this.loaded.get(key) ?? this.evaluated.get(key);
    if (body !== undefined && this.evaluated.has(key)) {
      // Most recently used last: the oldest is the one forgotten.
      this.evaluated.delete(key);
      this.evaluated.set(key, body);
    }
    return body;
  }

  has(sha: string): boolean {
    const key = sha.toLowerCase();
    return this.loaded.has(key) || this.evaluated.has(key);
  }

  /** SCRIPT LOAD: the body's SHA1, or the compile error. */
  load(body: Buffer): { sha: string } | { error: string } {
    const sha = scriptSha(body);
    if (this.loaded.has(sha)) return { sha };
    const error = this.evaluated.has(sha) ? null : compileError(body);
    if (error !== null) return { error };
    this.evaluated.delete(sha);
    this.loaded.set(sha, Buffer.from(body));
    this.shaOf.set(body.toString("latin1"), sha);
    return { sha };
  }

  /** EVAL: remembers a body that compiles (it is run, and answered, either way). */
  remember(body: Buffer): void {
    const text = body.toString("latin1");
    const known = this.shaOf.get(text);
    if (known !== undefined) {
      this.get(known); // most recently used
      return;
    }
    const sha = scriptSha(body);
    if (compileError(body) !== null) return;
    this.evaluated.set(sha, Buffer.from(body));
    this.shaOf.set(text, sha);
    if (this.evaluated.size > this.evaluatedMax) {
      const oldest = this.evaluated.keys().next().value;
      if (oldest !== undefined) {
        const dropped = this.evaluated.get(oldest);
        this.evaluated.delete(oldest);
        if (dropped !== undefined) this.shaOf.delete(dropped.toString("latin1"));
      }
    }
  }

  /**
   * EVALSHA (EVALSHA_RO) `args` as the EVAL (EVAL_RO) of the script it names, so that a
   * shard's replicas run its text; null when this node does not know the script.
   */
  asEval(readOnly: boolean, args: Args): { name: "eval" | "eval_ro"; args: Args } | null {
    const body = this.get(args.str(1));
    if (body === undefined) return null;
    const name = readOnly ? "eval_ro" : "eval";
    const parts: Uint8Array[] = [Buffer.from(name), body];
    for (let i = 2; i < args.length; i++) parts.push(Buffer.from(args.buf(i)));
    return { name, args: new ArrayArgs(parts) };
  }

  flush(): void {
    this.loaded.clear();
    this.evaluated.clear();
    this.shaOf.clear();
  }
}

const noScript = errorReply("NOSCRIPT");

/**
 * EVALSHA and EVALSHA_RO: the script this node knows by that SHA1, run as EVAL (EVAL_RO)
 * with its body, so that a shard's replicas run the same text.
 */
function evalsha(readOnly: boolean) {
  return (node: HomeostatNode, client: Client, args: Args): Reply | Promise<Reply> => {
    const run = node.scripts.asEval(readOnly, args);
    return run === null ? noScript : node.runKeyCommand(client, run.name, run.args);
  };
}

/** SCRIPT LOAD, EXISTS, FLUSH, KILL and HELP. */
function script(node: HomeostatNode, _c: Client, args: Args): Reply {
  const sub = args.lower(1);
  switch (sub) {
    case "help":
      if (args.length !== 2) break;
      return R.help("SCRIPT", [
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script (none ever runs for long here).",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
      ]);
    case "load": {
      if (args.length !== 3) break;
      const r = node.scripts.load(Buffer.from(args.buf(2)));
      return "sha" in r ? R.bulk(r.sha) : R.error(r.error);
    }
    case "exists": {
      if (args.length < 3) break;
      const out: Reply[] = [];
      for (let i = 2; i < args.length; i++)
        out.push(R.integer(node.scripts.has(args.str(i)) ? 1 : 0));
      return R.array(out);
    }
    case "flush":
      if (args.length > 3) break;
      if (args.length === 3 && !args.is(2, "async") && !args.is(2, "sync")) {
        return errorReply("SCRIPT_FLUSH_OPTION");
      }
      node.scripts.flush();
      return R.OK;
    case "kill":
      if (args.length !== 2) break;
      return errorReply("NOTBUSY");
    default:
      return unknownSubcommand(args);
  }
  return wrongArity(`script|${sub}`);
}

export const SCRIPT_SERVER_HANDLERS = new Map([
  ["evalsha", evalsha(false)],
  ["evalsha_ro", evalsha(true)],
  ["script", script],
] as const);
