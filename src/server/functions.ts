import { readFileSync } from "node:fs";
import { functionsBytesMax } from "../cluster/meta.js";
import { isReply } from "../kv/db.js";
import { functionsOfPayload, functionsPayload } from "../kv/dump.js";
import { errorReply, unknownSubcommand, wrongArity } from "../kv/errors.js";
import { globMatch } from "../kv/glob.js";
import { type FunctionInfo, libraryHeader, loadLibrary, splitKeys } from "../kv/script.js";
import { ArrayArgs } from "../resp/args.js";
import * as R from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";
import type { Client } from "./client.js";
import type { ClusterRuntime } from "./cluster.js";
import type { HomeostatNode } from "./node.js";

/**
 * Redis 7.0's functions: libraries of Lua functions loaded with FUNCTION LOAD and called
 * with FCALL. A node keeps the libraries it knows as a LibrarySet; a library's code travels
 * whole in every FCALL the node sends to a shard (runFunction, kv/script.ts), so replicas
 * never need the set, and every replica runs the same code.
 *
 * Where the set lives: on a standalone node, in a file of its data folder (functions.rdb,
 * FUNCTION DUMP's payload, replaced whole at each change), as Redis keeps them in its RDB
 * and AOF; in a cluster, in the meta group's state (cluster/meta.ts, set-functions), so
 * that a library loaded through any node reaches every node, and a node that starts or
 * joins later learns it.
 */

/** A library a node knows: its code (shebang included) and what it registers. */
export interface Library {
  readonly name: string;
  readonly code: Buffer;
  readonly functions: readonly FunctionInfo[];
}

/** An immutable set of libraries: every change makes a new one (applied only if it persists). */
export class LibrarySet {
  static readonly empty = new LibrarySet(new Map());

  private readonly byFunction = new Map<string, { library: Library; info: FunctionInfo }>();

  private constructor(readonly libraries: ReadonlyMap<string, Library>) {
    // Function names are case-insensitive, as in Redis (FCALL TEST calls test).
    for (const library of libraries.values()) {
      for (const info of library.functions) {
        this.byFunction.set(info.name.toLowerCase(), { library, info });
      }
    }
  }

  get functionCount(): number {
    return this.byFunction.size;
  }

  /** The libraries' code, in bytes (INFO's used_memory_functions). */
  get codeBytes(): number {
    let n = 0;
    for (const l of this.libraries.values()) n += l.code.length;
    return n;
  }

  functionOf(name: string): { library: Library; info: FunctionInfo } | undefined {
    return this.byFunction.get(name.toLowerCase());
  }

  /** FUNCTION DUMP's payload (and what the set is persisted as). */
  payload(): Buffer {
    return functionsPayload([...this.libraries.values()].map((l) => l.code));
  }

  /**
   * The set with `code` loaded (FUNCTION LOAD): the new set and the library's name, or
   * Redis's error (without "ERR "). REPLACE replaces a library of the same name.
   */
  withLoaded(code: Buffer, replace: boolean): { set: LibrarySet; name: string } | string {
    const header = libraryHeader(code);
    if (typeof header === "string") return header;
    if (!replace && this.libraries.has(header.name)) {
      return `Library '${header.name}' already exists`;
    }
    const loaded = loadLibrary(code);
    if (typeof loaded === "string") return loaded;
    const next = new Map(this.libraries);
    next.delete(loaded.name);
    for (const f of loaded.functions) {
      const owner = this.functionOf(f.name);
      if (owner !== undefined && owner.library.name !== loaded.name) {
        return `Function ${f.name} already exists`;
      }
    }
    next.set(loaded.name, {
      name: loaded.name,
      code: Buffer.from(code),
      functions: loaded.functions,
    });
    return { set: new LibrarySet(next), name: loaded.name };
  }

  /** The set without library `name`, or null when there is none such (FUNCTION DELETE). */
  without(name: string): LibrarySet | null {
    if (!this.libraries.has(name)) return null;
    const next = new Map(this.libraries);
    next.delete(name);
    return new LibrarySet(next);
  }

  /**
   * The set after FUNCTION RESTORE of `payload` with `policy`, or Redis's error (nothing
   * changes then): FLUSH replaces the set, APPEND refuses a library already here, REPLACE
   * replaces such libraries; a function of a library kept must not come again.
   */
  restored(payload: Buffer, policy: "flush" | "append" | "replace"): LibrarySet | string {
    const given = LibrarySet.fromPayload(payload);
    if (typeof given === "string") return given;
    if (policy === "flush") return given;
    const next = new Map(this.libraries);
    for (const name of given.libraries.keys()) {
      if (next.has(name)) {
        if (policy === "append") return `Library ${name} already exists`;
        next.delete(name);
      }
    }
    const kept = new LibrarySet(next);
    for (const [name, f] of given.byFunction) {
      if (kept.byFunction.has(name)) return `Function ${f.info.name} already exists`;
    }
    for (const [name, library] of given.libraries) next.set(name, library);
    return new LibrarySet(next);
  }

  /** The libraries of a FUNCTION DUMP payload, each loaded, or Redis's error. */
  static fromPayload(payload: Buffer): LibrarySet | string {
    const codes = functionsOfPayload(payload);
    if (typeof codes === "string") return codes;
    let set = LibrarySet.empty;
    for (const code of codes) {
      const next = set.withLoaded(code, false);
      if (typeof next === "string") return next;
      set = next.set;
    }
    return set;
  }
}

// ---- persistence (standalone) --------------------------------------------------------------

/**
 * The libraries persisted in `path` (FUNCTION DUMP's payload), or an empty set when the file
 * does not exist. A file that does not load is an error: the node does not start on it
 * rather than serve without the libraries it had.
 */
export function readLibraries(path: string): LibrarySet {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return LibrarySet.empty;
    throw err;
  }
  const set = LibrarySet.fromPayload(bytes);
  if (typeof set === "string")
    throw new Error(`cannot load the function libraries ${path}: ${set}`);
  return set;
}

// ---- in a cluster ----------------------------------------------------------------------------

/** How long a node waits to learn the libraries the meta group took (FUNCTION LOAD...). */
const learnWaitMs = 2_000;

/**
 * Makes `next` the cluster's libraries: proposed to the meta group by its leader, as a
 * compare-and-set on the version `next` was made from (a node that does not lead it sends
 * the command, `args`, to the one that does, which checks it against its own set). Answers
 * `reply` once this node's meta replica has the change, so that the client's next FCALL
 * through this node finds the library.
 */
export async function changeClusterFunctions(
  cluster: ClusterRuntime,
  args: Args,
  next: LibrarySet,
  reply: Reply,
): Promise<Reply> {
  const before = cluster.functionLibraries().version;
  if (!cluster.isMetaLeader()) {
    const forwarded: Buffer[] = [];
    for (let i = 0; i < args.length; i++) forwarded.push(Buffer.from(args.buf(i)));
    const answer = await cluster.askMetaLeader(forwarded);
    if (answer.kind === "error") return answer;
    await cluster.metaApplied(() => cluster.functionLibraries().version > before, learnWaitMs);
    return answer;
  }
  const payload = next.payload();
  if (payload.length > functionsBytesMax) {
    return R.error(
      `ERR the function libraries would take ${payload.length} bytes, more than a cluster keeps (${functionsBytesMax})`,
    );
  }
  const result = await cluster.proposeMeta({
    kind: "set-functions",
    expectedVersion: before,
    payload,
  });
  if (!result.ok) {
    const again = result.code === "functions-moved" || result.code === "not-applied";
    return R.error(
      `${again ? "TRYAGAIN" : "ERR"} function libraries not changed: ${result.message}`,
    );
  }
  return reply;
}

// ---- FCALL -----------------------------------------------------------------------------------

/** FCALL's reply for a function no library registers. */
export const functionNotFound = errorReply("FUNCTION_NOT_FOUND");

/**
 * How long a cluster node lets an FCALL of a function it does not know wait for its meta
 * replica to learn one (a few heartbeats: the meta group's commit reaches its followers
 * with the next one).
 */
export const functionLearnMs = 300;

/**
 * A client's FCALL (FCALL_RO) as a shard runs it: its arguments with the library's code
 * added last, or Redis's error for an unknown function or a bad key count. Queued in
 * MULTI (`queued`), nothing is refused: an unknown function gets an empty code, and the
 * shard answers both errors at EXEC, as Redis does.
 */
export function fcallArgs(set: LibrarySet, args: Args, queued = false): Args | Reply {
  const found = set.functionOf(args.str(1));
  if (found === undefined && !queued) return functionNotFound;
  // Queued in MULTI, the key count is checked when EXEC runs it (on the shard), as Redis does.
  if (!queued) {
    const split = splitKeys(args, args.length, errorReply("FUNCTION_BAD_NUMKEYS"));
    if (isReply(split)) return split;
  }
  const parts: Uint8Array[] = [];
  for (let i = 0; i < args.length; i++) parts.push(Buffer.from(args.buf(i)));
  parts.push(found?.library.code ?? Buffer.alloc(0));
  return new ArrayArgs(parts);
}

/** Whether FCALL `args` may write (CLIENT PAUSE WRITE holds it back): not for no-writes. */
export function fcallMayWrite(set: LibrarySet, args: Args): boolean {
  if (args.lower(0) === "fcall_ro") return false;
  const found = args.length > 1 ? set.functionOf(args.str(1)) : undefined;
  return found === undefined || !found.info.flags.includes("no-writes");
}

// ---- FUNCTION ----------------------------------------------------------------------------------

const help = [
  "LOAD [REPLACE] <FUNCTION CODE>",
  "    Create a new library with the given library name and code.",
  "DELETE <LIBRARY NAME>",
  "    Delete the given library.",
  "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
  "    Return general information on all the libraries:",
  "    * Library name",
  "    * The engine used to run the Library",
  "    * Library description",
  "    * Functions list",
  "    * Library code (if WITHCODE is given)",
  "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
  "STATS",
  "    Return information about the current function running:",
  "    * Function name",
  "    * Command used to run the function",
  "    * Duration in MS that the function is running",
  "    If no function is running, return nil",
  "    In addition, returns a list of available engines.",
  "KILL",
  "    Kill the current running function.",
  "FLUSH [ASYNC|SYNC]",
  "    Delete all the libraries.",
  "    When called without the optional mode argument, the behavior is determined by the",
  "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
  "    * ASYNC: Asynchronously flush the libraries.",
  "    * SYNC: Synchronously flush the libraries.",
  "DUMP",
  "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
  "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
  "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
  "    control how to handle existing libraries (default APPEND):",
  "    * FLUSH: delete all existing libraries.",
  "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
  "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
  "      libraries with the new libraries (notice that even on this option there is a chance of failure",
  "      in case of functions name collision with another library).",
];

/** FUNCTION LOAD, DELETE, FLUSH, LIST, DUMP, RESTORE, STATS, KILL and HELP. */
export function functionCommand(
  node: HomeostatNode,
  _client: Client,
  args: Args,
): Reply | Promise<Reply> {
  const sub = args.lower(1);
  const set = node.functions;
  switch (sub) {
    case "help":
      if (args.length !== 2) break;
      return R.help("FUNCTION", help);
    case "load": {
      let replace = false;
      let i = 2;
      for (; i < args.length - 1; i++) {
        if (!args.is(i, "replace")) return R.error(`ERR Unknown option given: ${args.str(i)}`);
        replace = true;
      }
      if (i >= args.length) return R.error("ERR Function code is missing");
      const loaded = set.withLoaded(Buffer.from(args.buf(i)), replace);
      if (typeof loaded === "string") return R.error(`ERR ${loaded}`);
      return node.changeFunctions(args, loaded.set, R.bulk(loaded.name));
    }
    case "delete": {
      if (args.length !== 3) break;
      const next = set.without(args.str(2));
      if (next === null) return R.error("ERR Library not found");
      return node.changeFunctions(args, next, R.OK);
    }
    case "flush":
      if (args.length > 3) return errorReply("SUBCOMMAND_SYNTAX", args.str(1), "FUNCTION");
      if (args.length === 3 && !args.is(2, "async") && !args.is(2, "sync")) {
        return R.error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
      }
      return node.changeFunctions(args, LibrarySet.empty, R.OK);
    case "list":
      return list(set, args);
    case "dump":
      if (args.length !== 2) break;
      return R.bulk(set.payload());
    case "restore": {
      if (args.length > 4) return errorReply("SUBCOMMAND_SYNTAX", args.str(1), "FUNCTION");
      let policy: "flush" | "append" | "replace" = "append";
      if (args.length === 4) {
        const p = args.lower(3);
        if (p !== "flush" && p !== "append" && p !== "replace") {
          return R.error(
            "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
          );
        }
        policy = p;
      }
      const next = set.restored(Buffer.from(args.buf(2)), policy);
      if (typeof next === "string") return R.error(`ERR ${next}`);
      return node.changeFunctions(args, next, R.OK);
    }
    case "stats":
      if (args.length !== 2) break;
      return R.map([
        [R.bulk("running_script"), R.NULL],
        [
          R.bulk("engines"),
          R.map([
            [
              R.bulk("LUA"),
              R.map([
                [R.bulk("libraries_count"), R.integer(set.libraries.size)],
                [R.bulk("functions_count"), R.integer(set.functionCount)],
              ]),
            ],
          ]),
        ],
      ]);
    case "kill":
      if (args.length !== 2) break;
      return errorReply("NOTBUSY");
    default:
      return unknownSubcommand(args);
  }
  return wrongArity(`function|${sub}`);
}

/** FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE], in the order the libraries came. */
function list(set: LibrarySet, args: Args): Reply {
  let withCode = false;
  let pattern: Buffer | null = null;
  for (let i = 2; i < args.length; i++) {
    if (!withCode && args.is(i, "withcode")) {
      withCode = true;
      continue;
    }
    if (pattern === null && args.is(i, "libraryname")) {
      if (i >= args.length - 1) return R.error("ERR library name argument was not given");
      pattern = Buffer.from(args.buf(++i));
      continue;
    }
    return R.error(`ERR Unknown argument ${args.str(i)}`);
  }
  const out: Reply[] = [];
  for (const library of set.libraries.values()) {
    if (pattern !== null && !globMatch(pattern, Buffer.from(library.name), true)) continue;
    const fields: [Reply, Reply][] = [
      [R.bulk("library_name"), R.bulk(library.name)],
      [R.bulk("engine"), R.bulk("LUA")],
      [
        R.bulk("functions"),
        R.array(
          library.functions.map((f) =>
            R.map([
              [R.bulk("name"), R.bulk(f.name)],
              [R.bulk("description"), f.description === null ? R.NULL : R.bulk(f.description)],
              [R.bulk("flags"), R.set(f.flags.map((flag) => R.simple(flag)))],
            ]),
          ),
        ),
      ],
    ];
    if (withCode) fields.push([R.bulk("library_code"), R.bulk(library.code)]);
    out.push(R.map(fields));
  }
  return R.array(out);
}
