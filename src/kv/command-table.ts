import type { Args, Reply } from "../resp/types.js";
import { unknownCommand, unknownSubcommand, wrongArity } from "./errors.js";

/**
 * Metadata for every command a node accepts, as Redis 7.0 declares it (src/commands/*.json):
 * arity, flags, key positions, ACL categories, tips and the argument tree. COMMAND, COMMAND
 * INFO and COMMAND DOCS are built from it, the dispatcher checks arity with it, and cluster
 * routing finds keys with it. Arity, flags and key specs must match Redis exactly: redis-cli
 * and cluster clients (ioredis, redis-py, Jedis) read them to route and to decide what is a
 * read. Summaries and complexities are written for Homeostat.
 */

export type CommandGroup =
  | "string"
  | "bitmap"
  | "hash"
  | "set"
  | "list"
  /** As COMMAND DOCS spells it (Redis's JSON files say "sorted_set"). */
  | "sorted-set"
  | "geo"
  | "hyperloglog"
  | "stream"
  | "generic"
  | "connection"
  | "server"
  | "scripting"
  | "transactions"
  | "pubsub"
  | "cluster";

/** Flags COMMAND INFO shows, in the order Redis 7.0 lists them. */
const VISIBLE_FLAGS = [
  "write",
  "readonly",
  "denyoom",
  "module",
  "admin",
  "pubsub",
  "noscript",
  "blocking",
  "loading",
  "stale",
  "skip_monitor",
  "skip_slowlog",
  "asking",
  "fast",
  "no_auth",
  "no_mandatory_keys",
  "no_async_loading",
  "no_multi",
  "movablekeys",
  "allow_busy",
] as const;
/** Flags Redis declares but hides from COMMAND INFO. */
const HIDDEN_FLAGS = [
  "may_replicate",
  "sentinel",
  "only_sentinel",
  "protected",
  "touches_arbitrary_keys",
] as const;

export type CommandFlag = (typeof VISIBLE_FLAGS)[number];
export type HiddenCommandFlag = (typeof HIDDEN_FLAGS)[number];

/** ACL categories in the order COMMAND INFO lists them. */
const ACL_CATEGORIES = [
  "keyspace",
  "read",
  "write",
  "set",
  "sortedset",
  "list",
  "hash",
  "string",
  "bitmap",
  "hyperloglog",
  "geo",
  "stream",
  "pubsub",
  "admin",
  "fast",
  "slow",
  "blocking",
  "dangerous",
  "connection",
  "transaction",
  "scripting",
] as const;
export type AclCategory = (typeof ACL_CATEGORIES)[number];

/** Key-spec flags, in the order COMMAND INFO lists them. */
const KEY_SPEC_FLAGS = [
  "RO",
  "RW",
  "OW",
  "RM",
  "access",
  "update",
  "insert",
  "delete",
  "not_key",
  "incomplete",
  "variable_flags",
] as const;
export type KeySpecFlag = (typeof KEY_SPEC_FLAGS)[number];

/**
 * Where a command's keys are (Redis 7 key specs). The search begins at a fixed argument
 * index; from there the keys are found one of two ways (Redis's find_keys types):
 *  - "range": they run to `lastKey` (relative to the first key when >= 0; -1 is the last
 *    argument, -2 the one before...) every `keyStep` arguments;
 *  - "keynum": the argument `keyNumIdx` after the begin index holds their count, and they
 *    start `firstKey` after the begin index, every `keyStep` arguments (SINTERCARD).
 *    Such a spec needs the arguments themselves: see keyIndexesOf.
 */
export interface KeySpec {
  /** Redis's note on a spec it cannot state (SORT's BY/GET and STORE keys). */
  readonly notes?: string;
  readonly flags: readonly KeySpecFlag[];
  readonly beginSearch:
    | { readonly type: "index"; readonly index: number }
    | KeywordSearch
    | UnknownSearch;
  readonly findKeys: RangeFindKeys | KeynumFindKeys | UnknownSearch;
}

/**
 * Keys no spec can locate (Redis's "unknown" begin_search and find_keys): found by the
 * command's own `getKeys`, or, for keys named by the data (SORT BY/GET), not at all.
 */
export interface UnknownSearch {
  readonly type: "unknown";
}

/**
 * Keys after a keyword (XREAD's STREAMS), searched for from `startFrom`: shown by COMMAND
 * INFO; the command's own `getKeys` finds them.
 */
export interface KeywordSearch {
  readonly type: "keyword";
  readonly keyword: string;
  readonly startFrom: number;
}

export interface RangeFindKeys {
  readonly type: "range";
  readonly lastKey: number;
  readonly keyStep: number;
  readonly limit: number;
}

export interface KeynumFindKeys {
  readonly type: "keynum";
  readonly keyNumIdx: number;
  readonly firstKey: number;
  readonly keyStep: number;
}

/**
 * A find_keys spec's fields as COMMAND INFO names and orders them: lastkey, keystep, limit
 * for a range; keynumidx, firstkey, keystep for a keynum.
 */
export function findKeysFields(fk: KeySpec["findKeys"]): [string, number][] {
  if (fk.type === "unknown") return [];
  return fk.type === "range"
    ? [
        ["lastkey", fk.lastKey],
        ["keystep", fk.keyStep],
        ["limit", fk.limit],
      ]
    : [
        ["keynumidx", fk.keyNumIdx],
        ["firstkey", fk.firstKey],
        ["keystep", fk.keyStep],
      ];
}

export type ArgType =
  | "string"
  | "integer"
  | "double"
  | "key"
  | "pattern"
  | "unix-time"
  | "pure-token"
  | "oneof"
  | "block";

/** One node of a command's argument tree, as COMMAND DOCS reports it. */
export interface ArgSpec {
  readonly name: string;
  readonly type: ArgType;
  readonly keySpecIndex?: number;
  readonly token?: string;
  readonly since?: string;
  readonly optional?: boolean;
  readonly multiple?: boolean;
  readonly multipleToken?: boolean;
  readonly arguments?: readonly ArgSpec[];
}

export interface CommandSpec {
  /** Lower case; a subcommand's is "container|sub", as COMMAND INFO names it. */
  readonly name: string;
  /** For a subcommand, the container's name ("client"). */
  readonly container?: string;
  /** Argument count including the name(s); negative: at least -arity. */
  readonly arity: number;
  readonly flags: readonly CommandFlag[];
  readonly hiddenFlags: readonly HiddenCommandFlag[];
  /** Legacy key positions (COMMAND INFO's first, last, step), derived from `keySpecs`. */
  readonly firstKey: number;
  readonly lastKey: number;
  readonly step: number;
  /** Declared and implied categories, e.g. ["@write", "@string", "@fast"]. */
  readonly aclCategories: readonly string[];
  /** Lower case, e.g. "request_policy:multi_shard", "nondeterministic_output". */
  readonly tips: readonly string[];
  readonly keySpecs: readonly KeySpec[];
  readonly group: CommandGroup;
  readonly since: string;
  readonly summary: string;
  readonly complexity: string;
  readonly docFlags?: readonly ("deprecated" | "syscmd")[];
  readonly deprecatedSince?: string;
  readonly replacedBy?: string;
  readonly arguments: readonly ArgSpec[];
  readonly subcommands?: readonly CommandSpec[];
  /** The keys' indexes, for a command whose key specs cannot state them all (SORT). */
  readonly getKeys?: (args: Args) => number[];
}

// ---------------------------------------------------------------------------------------
// Builders: the table below states each command as Redis's JSON does, in fewer lines.

interface ArgOpts {
  readonly token?: string;
  readonly since?: string;
  readonly optional?: boolean;
  readonly multiple?: boolean;
  readonly multipleToken?: boolean;
}

function arg(name: string, type: ArgType, opts: ArgOpts = {}, children?: ArgSpec[]): ArgSpec {
  const a: {
    -readonly [K in keyof ArgSpec]: ArgSpec[K];
  } = { name, type };
  if (opts.token !== undefined) a.token = opts.token;
  if (opts.since !== undefined) a.since = opts.since;
  if (opts.optional) a.optional = true;
  if (opts.multiple) a.multiple = true;
  if (opts.multipleToken) a.multipleToken = true;
  if (children !== undefined) a.arguments = children;
  return a;
}

function key(name: string, keySpecIndex: number, opts: ArgOpts = {}): ArgSpec {
  return { ...arg(name, "key", opts), keySpecIndex };
}
const str = (name: string, opts?: ArgOpts) => arg(name, "string", opts);
const int = (name: string, opts?: ArgOpts) => arg(name, "integer", opts);
const unixTime = (name: string, opts?: ArgOpts) => arg(name, "unix-time", opts);
const double = (name: string, opts?: ArgOpts) => arg(name, "double", opts);
const pattern = (name: string, opts?: ArgOpts) => arg(name, "pattern", opts);
const token = (name: string, tok: string, opts?: ArgOpts) =>
  arg(name, "pure-token", { ...opts, token: tok });
const oneof = (name: string, opts: ArgOpts, children: ArgSpec[]) =>
  arg(name, "oneof", opts, children);
const block = (name: string, opts: ArgOpts, children: ArgSpec[]) =>
  arg(name, "block", opts, children);

/** "RW access update": key spec flags, checked, in COMMAND INFO's order. */
function keySpecFlags(flags: string): KeySpecFlag[] {
  const words = flags.split(" ");
  for (const w of words) {
    if (!(KEY_SPEC_FLAGS as readonly string[]).includes(w)) {
      throw new Error(`command table: unknown key spec flag ${w}`);
    }
  }
  return KEY_SPEC_FLAGS.filter((f) => words.includes(f));
}

/** A range key spec: "RW access update" flags, first key index, last key, step. */
function keys(flags: string, index: number, lastKey = 0, keyStep = 1): KeySpec {
  return {
    flags: keySpecFlags(flags),
    beginSearch: { type: "index", index },
    findKeys: { type: "range", lastKey, keyStep, limit: 0 },
  };
}

/**
 * A keynum key spec: flags, begin index, then (relative to it) the index of the key count
 * and of the first key, and the step.
 */
function keynum(
  flags: string,
  index: number,
  keyNumIdx: number,
  firstKey: number,
  keyStep = 1,
): KeySpec {
  return {
    flags: keySpecFlags(flags),
    beginSearch: { type: "index", index },
    findKeys: { type: "keynum", keyNumIdx, firstKey, keyStep },
  };
}

interface Decl {
  readonly arity: number;
  /** Redis's command_flags, space separated, any case. */
  readonly flags?: string;
  /** Redis's acl_categories, space separated, any case. */
  readonly acl?: string;
  readonly group: CommandGroup;
  readonly since: string;
  readonly summary: string;
  readonly complexity: string;
  readonly tips?: string;
  readonly keySpecs?: KeySpec[];
  readonly args?: ArgSpec[];
  readonly deprecatedSince?: string;
  readonly replacedBy?: string;
  /** Redis's doc_flags SYSCMD: a command servers send each other (RESTORE-ASKING). */
  readonly syscmd?: boolean;
  readonly subcommands?: Record<string, Decl>;
  readonly getKeys?: (args: Args) => number[];
}

function build(name: string, d: Decl, container?: string): CommandSpec {
  const declared = (d.flags ?? "")
    .toLowerCase()
    .split(" ")
    .filter((f) => f !== "");
  for (const f of declared) {
    const known =
      (VISIBLE_FLAGS as readonly string[]).includes(f) ||
      (HIDDEN_FLAGS as readonly string[]).includes(f);
    if (!known) throw new Error(`command table: unknown flag ${f} on ${name}`);
  }
  const keySpecs = d.keySpecs ?? [];
  const [firstKey, lastKey, step, movable] = legacyRange(keySpecs);
  if (movable) declared.push("movablekeys");
  const flags = VISIBLE_FLAGS.filter((f) => declared.includes(f));
  const hiddenFlags = HIDDEN_FLAGS.filter((f) => declared.includes(f));
  const fullName = container === undefined ? name : `${container}|${name}`;
  const spec: {
    -readonly [K in keyof CommandSpec]: CommandSpec[K];
  } = {
    name: fullName,
    arity: d.arity,
    flags,
    hiddenFlags,
    firstKey,
    lastKey,
    step,
    aclCategories: aclCategories(d.acl ?? "", declared),
    tips: (d.tips ?? "")
      .toLowerCase()
      .split(" ")
      .filter((t) => t !== ""),
    keySpecs,
    group: d.group,
    since: d.since,
    summary: d.summary,
    complexity: d.complexity,
    arguments: d.args ?? [],
  };
  if (container !== undefined) spec.container = container;
  if (d.deprecatedSince !== undefined) {
    spec.docFlags = ["deprecated"];
    spec.deprecatedSince = d.deprecatedSince;
  }
  if (d.replacedBy !== undefined) spec.replacedBy = d.replacedBy;
  if (d.syscmd === true) spec.docFlags = ["syscmd"];
  if (d.getKeys !== undefined) spec.getKeys = d.getKeys;
  if (d.subcommands !== undefined) {
    spec.subcommands = Object.entries(d.subcommands).map(([sub, sd]) => build(sub, sd, name));
  }
  return spec;
}

/** Redis's implied categories: write, read, admin+dangerous, pubsub, fast or else slow. */
function aclCategories(declared: string, flags: readonly string[]): string[] {
  const cats = new Set(
    declared
      .toLowerCase()
      .split(" ")
      .filter((c) => c !== ""),
  );
  for (const c of cats) {
    if (!(ACL_CATEGORIES as readonly string[]).includes(c)) {
      throw new Error(`command table: unknown ACL category ${c}`);
    }
  }
  if (flags.includes("write")) cats.add("write");
  if (flags.includes("readonly") && !cats.has("scripting")) cats.add("read");
  if (flags.includes("admin")) {
    cats.add("admin");
    cats.add("dangerous");
  }
  if (flags.includes("pubsub")) cats.add("pubsub");
  if (flags.includes("fast")) cats.add("fast");
  if (flags.includes("blocking")) cats.add("blocking");
  if (!cats.has("fast")) cats.add("slow");
  return ACL_CATEGORIES.filter((c) => cats.has(c)).map((c) => `@${c}`);
}

/**
 * COMMAND INFO's (first, last, step), computed as Redis's populateCommandLegacyRangeSpec
 * does from the key specs, and whether that sets the movablekeys flag: one range spec is
 * used as is; else consecutive step-1 range specs are glued together, and any other spec
 * (a keynum one, a range with another step or not next to the previous) is left out and
 * makes the keys movable. No range spec left: (0, 0, 0), movable.
 */
function legacyRange(specs: readonly KeySpec[]): [number, number, number, boolean] {
  if (specs.length === 0) return [0, 0, 0, false];
  const incomplete = (s: KeySpec) => s.flags.includes("incomplete");
  const only = specs[0] as KeySpec;
  if (specs.length === 1 && only.findKeys.type === "range" && only.beginSearch.type === "index") {
    const first = only.beginSearch.index;
    const { lastKey, keyStep } = only.findKeys;
    return [first, lastKey >= 0 ? first + lastKey : lastKey, keyStep, incomplete(only)];
  }
  let movable = false;
  let first = Number.MAX_SAFE_INTEGER;
  let last = 0;
  for (const s of specs) {
    const fk = s.findKeys;
    const bs = s.beginSearch;
    if (
      fk.type !== "range" ||
      bs.type !== "index" ||
      fk.keyStep !== 1 ||
      (last !== 0 && last !== bs.index - 1)
    ) {
      movable = true;
      continue;
    }
    if (incomplete(s)) movable = true;
    first = Math.min(first, bs.index);
    const l = fk.lastKey >= 0 ? bs.index + fk.lastKey : fk.lastKey;
    // Redis compares unsigned: a negative (from the end) last key beats any positive one.
    last = l >>> 0 > last >>> 0 ? l : last;
  }
  if (first === Number.MAX_SAFE_INTEGER) return [0, 0, 0, true];
  return [first, last, 1, movable];
}

// ---------------------------------------------------------------------------------------
// The table

const expireCondition = oneof("condition", { optional: true, since: "7.0.0" }, [
  token("nx", "NX"),
  token("xx", "XX"),
  token("gt", "GT"),
  token("lt", "LT"),
]);

const flushMode = (withSince: boolean) =>
  oneof("async", { optional: true }, [
    token("async", "ASYNC", withSince ? { since: "4.0.0" } : {}),
    token("sync", "SYNC", withSince ? { since: "6.2.0" } : {}),
  ]);

/** EVAL's and EVALSHA's arguments: the script (or its SHA1), numkeys, keys, arguments. */
const scriptArgs = (first: string): ArgSpec[] => [
  str(first),
  int("numkeys"),
  key("key", 0, { optional: true, multiple: true }),
  str("arg", { optional: true, multiple: true }),
];
const scriptKeysNote = (flags: string) =>
  `We cannot tell how the keys will be used so we assume the worst, ${flags}`;

/** BITCOUNT's and BITPOS's range unit (7.0). */
const indexUnit = oneof("index_unit", { optional: true, since: "7.0.0" }, [
  token("byte", "BYTE"),
  token("bit", "BIT"),
]);

const O1 = "O(1)";

/** Hash costs: a hash is one value, scanned to read a field, re-encoded on every write. */
const HASH_SCAN = "O(N) for a hash of N fields (the field is found by a scan).";
const HASH_WRITE = "O(N) for a hash of N fields: a pass over it and one copy of it.";
const HASH_WHOLE = "O(N) for a hash of N fields.";
/** Set costs: a set is one value too, its members in insertion order. */
const SET_SCAN = "O(N) for a set of N members (the member is found by a scan).";
const SET_WRITE = "O(N) for a set of N members: a pass over it and one copy of it.";
const SET_WHOLE = "O(N) for a set of N members.";
const SET_ALGEBRA = "O(N) for N members in all in the given sets.";
/** List costs: a list is one value too; a write copies it, a read in the middle walks it. */
const LIST_WRITE = "O(N) for a list of N elements: one copy of it.";
const LIST_WALK = "O(N) for a list of N elements (walked from the nearer end).";
const LIST_WHOLE = "O(N) for a list of N elements.";
const LIST_MOVE = "O(N+M) for lists of N and M elements: one copy of each.";
const LIST_MPOP = "O(N+K) for K keys looked at and a list of N elements copied once.";
const leftRight = (name: string) =>
  oneof(name, {}, [token("left", "LEFT"), token("right", "RIGHT")]);
const timeout = arg("timeout", "double");
/** Stream costs: a stream is one value, its entries in nodes as Redis's listpacks. */
const STREAM_READ = "O(N) for a stream of N entries (decoded whole).";
const STREAM_WRITE = "O(N) for a stream of N entries: one decode and one copy of it.";
const streamId = (name: string, opts?: ArgOpts) => str(name, opts);
const trimArgs = block("trim", { optional: true }, [
  oneof("strategy", {}, [token("maxlen", "MAXLEN"), token("minid", "MINID", { since: "6.2.0" })]),
  oneof("operator", { optional: true }, [token("equal", "="), token("approximately", "~")]),
  str("threshold"),
  int("count", { token: "LIMIT", optional: true, since: "6.2.0" }),
]);

/** XREAD's and XREADGROUP's keys: those after STREAMS, the first half of what follows it. */
function xreadKeys(args: Args): number[] {
  for (let i = 1; i < args.length; i++) {
    if (args.is(i, "streams")) {
      const half = Math.floor((args.length - i - 1) / 2);
      return Array.from({ length: half }, (_, k) => i + 1 + k);
    }
    if (args.is(i, "block") || args.is(i, "count")) i++;
    else if (args.is(i, "group")) i += 2;
  }
  return [];
}

const streamsKeys = (startFrom: number, flags: string): KeySpec => ({
  flags: keySpecFlags(flags),
  beginSearch: { type: "keyword", keyword: "STREAMS", startFrom },
  findKeys: { type: "range", lastKey: -1, keyStep: 1, limit: 2 },
});

/** GEO: a sorted set whose scores are geohashes (src/kv/geo.ts). */
const GEO_SEARCH_COST =
  "O(N) for a sorted set of N members (decoded whole), then O(log N + M) for the M members in the nine cells searched.";
const geoUnit = (opts: ArgOpts = {}) =>
  oneof("unit", opts, [token("m", "M"), token("km", "KM"), token("ft", "FT"), token("mi", "MI")]);
const geoStoreKey = (keyword: string, startFrom: number): KeySpec => ({
  flags: keySpecFlags("OW update"),
  beginSearch: { type: "keyword", keyword, startFrom },
  findKeys: { type: "range", lastKey: 0, keyStep: 1, limit: 0 },
});
const geoRadiusTail = (anySince?: string): ArgSpec[] => [
  token("withcoord", "WITHCOORD", { optional: true }),
  token("withdist", "WITHDIST", { optional: true }),
  token("withhash", "WITHHASH", { optional: true }),
  block("count", { optional: true }, [
    int("count", { token: "COUNT" }),
    token("any", "ANY", { optional: true, ...(anySince ? { since: anySince } : {}) }),
  ]),
  oneof("order", { optional: true }, [token("asc", "ASC"), token("desc", "DESC")]),
  key("key", 1, { token: "STORE", optional: true }),
  key("key", 2, { token: "STOREDIST", optional: true }),
];
const geoSearchShape: ArgSpec[] = [
  oneof("from", {}, [
    str("member", { token: "FROMMEMBER" }),
    block("longitude_latitude", { token: "FROMLONLAT" }, [double("longitude"), double("latitude")]),
  ]),
  oneof("by", {}, [
    block("circle", {}, [double("radius", { token: "BYRADIUS" }), geoUnit()]),
    block("box", {}, [double("width", { token: "BYBOX" }), double("height"), geoUnit()]),
  ]),
  oneof("order", { optional: true }, [token("asc", "ASC"), token("desc", "DESC")]),
  block("count", { optional: true }, [
    int("count", { token: "COUNT" }),
    token("any", "ANY", { optional: true }),
  ]),
];

/** Sorted set costs: a sorted set is one value too, its (score, member) entries in order. */
const ZSET_READ = "O(N) for a sorted set of N members (decoded whole).";
const ZSET_WRITE = "O(N) for a sorted set of N members: one decode and one copy of it.";
const ZSET_RANGE = "O(N) for a sorted set of N members (decoded whole), plus O(M) for M returned.";
const ZSET_ALGEBRA = "O(N log N) for N members in all in the given sorted sets.";
const ZSET_MPOP = "O(N+K) for K keys looked at and a sorted set of N members copied once.";
const minMax = (name: string) => oneof(name, {}, [token("min", "MIN"), token("max", "MAX")]);
const withScores = (opts: ArgOpts = {}) =>
  token("withscores", "WITHSCORES", { ...opts, optional: true });
/** ZRANGE's and ZRANGESTORE's BYSCORE | BYLEX. */
const sortBy = (opts: ArgOpts) =>
  oneof("sortby", { ...opts, optional: true }, [
    token("byscore", "BYSCORE"),
    token("bylex", "BYLEX"),
  ]);
/** LIMIT offset count, of the range commands. */
const offsetCount = (opts: ArgOpts = {}) =>
  block("offset_count", { ...opts, token: "LIMIT", optional: true }, [int("offset"), int("count")]);
const weights = int("weight", { token: "WEIGHTS", optional: true, multiple: true });
const aggregate = oneof("aggregate", { token: "AGGREGATE", optional: true }, [
  token("sum", "SUM"),
  token("min", "MIN"),
  token("max", "MAX"),
]);

/** SORT's keys named by BY and GET patterns and by STORE: Redis declares them "unknown". */
const SORT_PATTERN_KEYS: KeySpec[] = [
  {
    notes:
      "For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort",
    flags: keySpecFlags("RO access"),
    beginSearch: { type: "unknown" },
    findKeys: { type: "unknown" },
  },
];
const SORT_STORE_KEY: KeySpec = {
  notes:
    "For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array",
  flags: keySpecFlags("OW update"),
  beginSearch: { type: "unknown" },
  findKeys: { type: "unknown" },
};
const sortArgs = [
  { ...pattern("pattern", { token: "BY", optional: true }), keySpecIndex: 1 },
  block("offset_count", { token: "LIMIT", optional: true }, [int("offset"), int("count")]),
  {
    ...pattern("pattern", { token: "GET", optional: true, multiple: true, multipleToken: true }),
    keySpecIndex: 1,
  },
  oneof("order", { optional: true }, [token("asc", "ASC"), token("desc", "DESC")]),
  token("sorting", "ALPHA", { optional: true }),
];

/** RESTORE's declaration; RESTORE-ASKING's is the same but for its flags and docs. */
const RESTORE: Decl = {
  arity: -4,
  flags: "WRITE DENYOOM",
  acl: "KEYSPACE DANGEROUS",
  group: "generic",
  since: "2.6.0",
  summary: "Creates a key from a serialized value, as DUMP returns it.",
  complexity:
    "O(1) to create the key and O(N×M) to rebuild its value: N elements of M bytes; O(N×M×log(N)) for a sorted set.",
  keySpecs: [keys("OW update", 1)],
  args: [
    key("key", 0),
    int("ttl"),
    str("serialized-value"),
    token("replace", "REPLACE", { optional: true, since: "3.0.0" }),
    token("absttl", "ABSTTL", { optional: true, since: "5.0.0" }),
    int("seconds", { token: "IDLETIME", optional: true, since: "5.0.0" }),
    int("frequency", { token: "FREQ", optional: true, since: "5.0.0" }),
  ],
};

const DECLS: Record<string, Decl> = {
  // --- strings -------------------------------------------------------------------------
  get: {
    arity: 2,
    flags: "READONLY FAST",
    acl: "STRING",
    group: "string",
    since: "1.0.0",
    summary: "Returns the string value of a key.",
    complexity: O1,
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0)],
  },
  set: {
    arity: -3,
    flags: "WRITE DENYOOM",
    acl: "STRING",
    group: "string",
    since: "1.0.0",
    summary: "Sets the string value of a key, optionally with an expiry or a condition.",
    complexity: O1,
    keySpecs: [keys("RW access update variable_flags", 1)],
    args: [
      key("key", 0),
      str("value"),
      oneof("condition", { optional: true, since: "2.6.12" }, [
        token("nx", "NX"),
        token("xx", "XX"),
      ]),
      token("get", "GET", { optional: true, since: "6.2.0" }),
      oneof("expiration", { optional: true }, [
        int("seconds", { token: "EX", since: "2.6.12" }),
        int("milliseconds", { token: "PX", since: "2.6.12" }),
        unixTime("unix-time-seconds", { token: "EXAT", since: "6.2.0" }),
        unixTime("unix-time-milliseconds", { token: "PXAT", since: "6.2.0" }),
        token("keepttl", "KEEPTTL", { since: "6.0.0" }),
      ]),
    ],
  },
  setnx: {
    arity: 3,
    flags: "WRITE DENYOOM FAST",
    acl: "STRING",
    group: "string",
    since: "1.0.0",
    summary: "Sets the string value of a key only when the key does not exist.",
    complexity: O1,
    keySpecs: [keys("OW insert", 1)],
    args: [key("key", 0), str("value")],
  },
  setex: {
    arity: 4,
    flags: "WRITE DENYOOM",
    acl: "STRING",
    group: "string",
    since: "2.0.0",
    summary: "Sets the string value and the expiry in seconds of a key.",
    complexity: O1,
    keySpecs: [keys("OW update", 1)],
    args: [key("key", 0), int("seconds"), str("value")],
  },
  psetex: {
    arity: 4,
    flags: "WRITE DENYOOM",
    acl: "STRING",
    group: "string",
    since: "2.6.0",
    summary: "Sets the string value and the expiry in milliseconds of a key.",
    complexity: O1,
    keySpecs: [keys("OW update", 1)],
    args: [key("key", 0), int("milliseconds"), str("value")],
  },
  getset: {
    arity: 3,
    flags: "WRITE DENYOOM FAST",
    acl: "STRING",
    group: "string",
    since: "1.0.0",
    summary: "Sets the string value of a key and returns the previous value.",
    complexity: O1,
    keySpecs: [keys("RW access update", 1)],
    args: [key("key", 0), str("value")],
    deprecatedSince: "6.2.0",
    replacedBy: "`SET` with the `!GET` argument",
  },
  getdel: {
    arity: 2,
    flags: "WRITE FAST",
    acl: "STRING",
    group: "string",
    since: "6.2.0",
    summary: "Returns the string value of a key and deletes the key.",
    complexity: O1,
    keySpecs: [keys("RW access delete", 1)],
    args: [key("key", 0)],
  },
  getex: {
    arity: -2,
    flags: "WRITE FAST",
    acl: "STRING",
    group: "string",
    since: "6.2.0",
    summary: "Returns the string value of a key and optionally sets or removes its expiry.",
    complexity: O1,
    keySpecs: [keys("RW access update", 1)],
    args: [
      key("key", 0),
      oneof("expiration", { optional: true }, [
        int("seconds", { token: "EX" }),
        int("milliseconds", { token: "PX" }),
        unixTime("unix-time-seconds", { token: "EXAT" }),
        unixTime("unix-time-milliseconds", { token: "PXAT" }),
        token("persist", "PERSIST"),
      ]),
    ],
  },
  mget: {
    arity: -2,
    flags: "READONLY FAST",
    acl: "STRING",
    group: "string",
    since: "1.0.0",
    summary: "Returns the string values of one or more keys.",
    complexity: "O(N) for N keys.",
    tips: "REQUEST_POLICY:MULTI_SHARD",
    keySpecs: [keys("RO access", 1, -1)],
    args: [key("key", 0, { multiple: true })],
  },
  mset: {
    arity: -3,
    flags: "WRITE DENYOOM",
    acl: "STRING",
    group: "string",
    since: "1.0.1",
    summary: "Sets the string values of one or more keys.",
    complexity: "O(N) for N keys.",
    tips: "REQUEST_POLICY:MULTI_SHARD RESPONSE_POLICY:ALL_SUCCEEDED",
    keySpecs: [keys("OW update", 1, -1, 2)],
    args: [block("key_value", { multiple: true }, [key("key", 0), str("value")])],
  },
  msetnx: {
    arity: -3,
    flags: "WRITE DENYOOM",
    acl: "STRING",
    group: "string",
    since: "1.0.1",
    summary: "Sets the string values of one or more keys only when none of them exist.",
    complexity: "O(N) for N keys.",
    tips: "REQUEST_POLICY:MULTI_SHARD RESPONSE_POLICY:AGG_MIN",
    keySpecs: [keys("OW insert", 1, -1, 2)],
    args: [block("key_value", { multiple: true }, [key("key", 0), str("value")])],
  },
  append: {
    arity: 3,
    flags: "WRITE DENYOOM FAST",
    acl: "STRING",
    group: "string",
    since: "2.0.0",
    summary: "Appends a string to the value of a key, creating the key if needed.",
    complexity: "O(1) amortized, plus the copy of the appended bytes.",
    keySpecs: [keys("RW insert", 1)],
    args: [key("key", 0), str("value")],
  },
  strlen: {
    arity: 2,
    flags: "READONLY FAST",
    acl: "STRING",
    group: "string",
    since: "2.2.0",
    summary: "Returns the length of a string value.",
    complexity: O1,
    keySpecs: [keys("RO", 1)],
    args: [key("key", 0)],
  },
  getrange: {
    arity: 4,
    flags: "READONLY",
    acl: "STRING",
    group: "string",
    since: "2.4.0",
    summary: "Returns a substring of a string value.",
    complexity: "O(N) for N returned bytes.",
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0), int("start"), int("end")],
  },
  substr: {
    arity: 4,
    flags: "READONLY",
    acl: "STRING",
    group: "string",
    since: "1.0.0",
    summary: "Returns a substring of a string value (GETRANGE's old name).",
    complexity: "O(N) for N returned bytes.",
    deprecatedSince: "2.0.0",
    replacedBy: "`GETRANGE`",
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0), int("start"), int("end")],
  },
  setrange: {
    arity: 4,
    flags: "WRITE DENYOOM",
    acl: "STRING",
    group: "string",
    since: "2.2.0",
    summary: "Overwrites part of a string value from an offset, zero-padding as needed.",
    complexity: "O(M) for M written bytes, plus any zero padding.",
    keySpecs: [keys("RW update", 1)],
    args: [key("key", 0), int("offset"), str("value")],
  },
  incr: {
    arity: 2,
    flags: "WRITE DENYOOM FAST",
    acl: "STRING",
    group: "string",
    since: "1.0.0",
    summary: "Adds one to the integer value of a key.",
    complexity: O1,
    keySpecs: [keys("RW access update", 1)],
    args: [key("key", 0)],
  },
  decr: {
    arity: 2,
    flags: "WRITE DENYOOM FAST",
    acl: "STRING",
    group: "string",
    since: "1.0.0",
    summary: "Subtracts one from the integer value of a key.",
    complexity: O1,
    keySpecs: [keys("RW access update", 1)],
    args: [key("key", 0)],
  },
  incrby: {
    arity: 3,
    flags: "WRITE DENYOOM FAST",
    acl: "STRING",
    group: "string",
    since: "1.0.0",
    summary: "Adds an integer to the integer value of a key.",
    complexity: O1,
    keySpecs: [keys("RW access update", 1)],
    args: [key("key", 0), int("increment")],
  },
  decrby: {
    arity: 3,
    flags: "WRITE DENYOOM FAST",
    acl: "STRING",
    group: "string",
    since: "1.0.0",
    summary: "Subtracts an integer from the integer value of a key.",
    complexity: O1,
    keySpecs: [keys("RW access update", 1)],
    args: [key("key", 0), int("decrement")],
  },
  incrbyfloat: {
    arity: 3,
    flags: "WRITE DENYOOM FAST",
    acl: "STRING",
    group: "string",
    since: "2.6.0",
    summary: "Adds a floating point number to the numeric value of a key.",
    complexity: O1,
    keySpecs: [keys("RW access update", 1)],
    args: [key("key", 0), arg("increment", "double")],
  },
  lcs: {
    arity: -3,
    flags: "READONLY",
    acl: "STRING",
    group: "string",
    since: "7.0.0",
    summary: "Finds the longest common subsequence of two strings.",
    complexity: "O(N*M) for strings of N and M bytes.",
    keySpecs: [keys("RO access", 1, 1)],
    args: [
      key("key1", 0),
      key("key2", 0),
      token("len", "LEN", { optional: true }),
      token("idx", "IDX", { optional: true }),
      int("len", { token: "MINMATCHLEN", optional: true }),
      token("withmatchlen", "WITHMATCHLEN", { optional: true }),
    ],
  },

  // --- bitmaps -------------------------------------------------------------------------
  setbit: {
    arity: 4,
    flags: "WRITE DENYOOM",
    acl: "BITMAP",
    group: "bitmap",
    since: "2.2.0",
    summary: "Sets or clears one bit of a string, zero-extending it as needed.",
    complexity: "O(1), plus the copy of the string.",
    keySpecs: [keys("RW access update", 1)],
    args: [key("key", 0), int("offset"), int("value")],
  },
  getbit: {
    arity: 3,
    flags: "READONLY FAST",
    acl: "BITMAP",
    group: "bitmap",
    since: "2.2.0",
    summary: "Returns one bit of a string (0 past its end).",
    complexity: O1,
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0), int("offset")],
  },
  bitcount: {
    arity: -2,
    flags: "READONLY",
    acl: "BITMAP",
    group: "bitmap",
    since: "2.6.0",
    summary: "Counts the set bits of a string, or of a byte or bit range of it.",
    complexity: "O(N) for N bytes counted.",
    keySpecs: [keys("RO access", 1)],
    args: [
      key("key", 0),
      block("index", { optional: true }, [int("start"), int("end"), indexUnit]),
    ],
  },
  bitpos: {
    arity: -3,
    flags: "READONLY",
    acl: "BITMAP",
    group: "bitmap",
    since: "2.8.7",
    summary: "Finds the first set or clear bit of a string, or of a byte or bit range of it.",
    complexity: "O(N) for N bytes searched.",
    keySpecs: [keys("RO access", 1)],
    args: [
      key("key", 0),
      int("bit"),
      block("index", { optional: true }, [
        int("start"),
        block("end_index", { optional: true }, [int("end"), indexUnit]),
      ]),
    ],
  },

  bitop: {
    arity: -4,
    flags: "WRITE DENYOOM",
    acl: "BITMAP",
    group: "bitmap",
    since: "2.6.0",
    summary: "Stores the bitwise AND, OR, XOR or NOT of strings in a key.",
    complexity: "O(N) for the longest string's N bytes.",
    keySpecs: [keys("OW update", 2), keys("RO access", 3, -1)],
    args: [str("operation"), key("destkey", 0), key("key", 1, { multiple: true })],
  },
  bitfield: {
    arity: -2,
    flags: "WRITE DENYOOM",
    acl: "BITMAP",
    group: "bitmap",
    since: "3.2.0",
    summary: "Reads, sets and increments integers of 1 to 64 bits at any bit offset of a string.",
    complexity: "O(1) for each subcommand, then one copy of the string when it writes.",
    keySpecs: [
      {
        notes: "This command allows both access and modification of the key",
        flags: keySpecFlags("RW access update variable_flags"),
        beginSearch: { type: "index", index: 1 },
        findKeys: { type: "range", lastKey: 0, keyStep: 1, limit: 0 },
      },
    ],
    args: [
      key("key", 0),
      oneof("operation", { optional: true, multiple: true }, [
        block("encoding_offset", { token: "GET" }, [str("encoding"), int("offset")]),
        block("write", {}, [
          oneof("wrap_sat_fail", { token: "OVERFLOW", optional: true }, [
            token("wrap", "WRAP"),
            token("sat", "SAT"),
            token("fail", "FAIL"),
          ]),
          oneof("write_operation", {}, [
            block("encoding_offset_value", { token: "SET" }, [
              str("encoding"),
              int("offset"),
              int("value"),
            ]),
            block("encoding_offset_increment", { token: "INCRBY" }, [
              str("encoding"),
              int("offset"),
              int("increment"),
            ]),
          ]),
        ]),
      ]),
    ],
  },
  bitfield_ro: {
    arity: -2,
    flags: "READONLY FAST",
    acl: "BITMAP",
    group: "bitmap",
    since: "6.0.0",
    summary: "BITFIELD with GET alone: a read.",
    complexity: "O(1) for each GET.",
    keySpecs: [keys("RO access", 1)],
    args: [
      key("key", 0),
      block(
        "encoding_offset",
        { token: "GET", optional: true, multiple: true, multipleToken: true },
        [str("encoding"), int("offset")],
      ),
    ],
  },
  // --- HyperLogLog (strings in Redis's HLL encoding, src/kv/hyperloglog.ts) -------------
  pfadd: {
    arity: -2,
    flags: "WRITE DENYOOM FAST",
    acl: "HYPERLOGLOG",
    group: "hyperloglog",
    since: "2.8.9",
    summary: "Adds elements to a HyperLogLog, creating it if needed.",
    complexity: "O(1) for each element added, then one copy of the HLL (at most 12 KB).",
    keySpecs: [keys("RW insert", 1)],
    args: [key("key", 0), str("element", { optional: true, multiple: true })],
  },
  pfcount: {
    arity: -2,
    flags: "READONLY MAY_REPLICATE",
    acl: "HYPERLOGLOG",
    group: "hyperloglog",
    since: "2.8.9",
    summary:
      "Returns the estimated number of distinct elements of a HyperLogLog, or of the union of several.",
    complexity: "O(1) with a valid cached count, else O(16384) for each key.",
    keySpecs: [
      {
        notes:
          "RW because it may change the internal representation of the key, and propagate to replicas",
        flags: keySpecFlags("RW access"),
        beginSearch: { type: "index", index: 1 },
        findKeys: { type: "range", lastKey: -1, keyStep: 1, limit: 0 },
      },
    ],
    args: [key("key", 0, { multiple: true })],
  },
  pfmerge: {
    arity: -2,
    flags: "WRITE DENYOOM",
    acl: "HYPERLOGLOG",
    group: "hyperloglog",
    since: "2.8.9",
    summary:
      "Stores the union of HyperLogLogs (the destination's own included) in the destination.",
    complexity: "O(16384) for each HLL merged.",
    keySpecs: [keys("RW access insert", 1), keys("RO access", 2, -1)],
    args: [key("destkey", 0), key("sourcekey", 1, { multiple: true })],
  },
  pfdebug: {
    arity: 3,
    flags: "WRITE DENYOOM ADMIN",
    acl: "HYPERLOGLOG",
    group: "hyperloglog",
    since: "2.8.9",
    summary: "Shows a HyperLogLog's registers, encoding or sparse opcodes, or makes it dense.",
    complexity: "N/A",
    syscmd: true,
    keySpecs: [keys("RW access", 2)],
    args: [str("subcommand"), key("key", 0)],
  },
  pfselftest: {
    arity: 1,
    flags: "ADMIN",
    acl: "HYPERLOGLOG",
    group: "hyperloglog",
    since: "2.8.9",
    summary: "Checks the HyperLogLog code: registers kept, counts within their error bounds.",
    complexity: "N/A",
    syscmd: true,
  },
  // --- hashes --------------------------------------------------------------------------
  // A hash is one stored value, its fields in insertion order: a read of one field scans
  // it, and every write decodes and re-encodes the whole hash.
  hget: {
    arity: 3,
    flags: "READONLY FAST",
    acl: "HASH",
    group: "hash",
    since: "2.0.0",
    summary: "Returns the value of a field in a hash.",
    complexity: HASH_SCAN,
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0), str("field")],
  },
  hset: {
    arity: -4,
    flags: "WRITE DENYOOM FAST",
    acl: "HASH",
    group: "hash",
    since: "2.0.0",
    summary: "Sets one or more fields of a hash, creating the key if needed.",
    complexity: HASH_WRITE,
    keySpecs: [keys("RW update", 1)],
    args: [key("key", 0), block("field_value", { multiple: true }, [str("field"), str("value")])],
  },
  hsetnx: {
    arity: 4,
    flags: "WRITE DENYOOM FAST",
    acl: "HASH",
    group: "hash",
    since: "2.0.0",
    summary: "Sets a field of a hash only when the field does not exist.",
    complexity: HASH_WRITE,
    keySpecs: [keys("RW insert", 1)],
    args: [key("key", 0), str("field"), str("value")],
  },
  hmset: {
    arity: -4,
    flags: "WRITE DENYOOM FAST",
    acl: "HASH",
    group: "hash",
    since: "2.0.0",
    summary: "Sets one or more fields of a hash (as HSET, but replies OK).",
    complexity: HASH_WRITE,
    keySpecs: [keys("RW update", 1)],
    args: [key("key", 0), block("field_value", { multiple: true }, [str("field"), str("value")])],
    deprecatedSince: "4.0.0",
    replacedBy: "`HSET` with multiple field-value pairs",
  },
  hmget: {
    arity: -3,
    flags: "READONLY FAST",
    acl: "HASH",
    group: "hash",
    since: "2.0.0",
    summary: "Returns the values of one or more fields of a hash.",
    complexity: "O(N*M) for M fields asked of a hash of N fields (each one is a scan).",
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0), str("field", { multiple: true })],
  },
  hdel: {
    arity: -3,
    flags: "WRITE FAST",
    acl: "HASH",
    group: "hash",
    since: "2.0.0",
    summary: "Deletes one or more fields of a hash, and the key with its last field.",
    complexity: HASH_WRITE,
    keySpecs: [keys("RW delete", 1)],
    args: [key("key", 0), str("field", { multiple: true })],
  },
  hexists: {
    arity: 3,
    flags: "READONLY FAST",
    acl: "HASH",
    group: "hash",
    since: "2.0.0",
    summary: "Tells whether a field exists in a hash.",
    complexity: HASH_SCAN,
    keySpecs: [keys("RO", 1)],
    args: [key("key", 0), str("field")],
  },
  hlen: {
    arity: 2,
    flags: "READONLY FAST",
    acl: "HASH",
    group: "hash",
    since: "2.0.0",
    summary: "Returns the number of fields in a hash.",
    complexity: "O(1): the count is read from the hash's header.",
    keySpecs: [keys("RO", 1)],
    args: [key("key", 0)],
  },
  hstrlen: {
    arity: 3,
    flags: "READONLY FAST",
    acl: "HASH",
    group: "hash",
    since: "3.2.0",
    summary: "Returns the length of the value of a field in a hash.",
    complexity: HASH_SCAN,
    keySpecs: [keys("RO", 1)],
    args: [key("key", 0), str("field")],
  },
  hincrby: {
    arity: 4,
    flags: "WRITE DENYOOM FAST",
    acl: "HASH",
    group: "hash",
    since: "2.0.0",
    summary: "Adds an integer to the integer value of a field in a hash.",
    complexity: HASH_WRITE,
    keySpecs: [keys("RW access update", 1)],
    args: [key("key", 0), str("field"), int("increment")],
  },
  hincrbyfloat: {
    arity: 4,
    flags: "WRITE DENYOOM FAST",
    acl: "HASH",
    group: "hash",
    since: "2.6.0",
    summary: "Adds a floating point number to the numeric value of a field in a hash.",
    complexity: HASH_WRITE,
    keySpecs: [keys("RW access update", 1)],
    args: [key("key", 0), str("field"), arg("increment", "double")],
  },
  hgetall: {
    arity: 2,
    flags: "READONLY",
    acl: "HASH",
    group: "hash",
    since: "2.0.0",
    summary: "Returns every field and value of a hash.",
    complexity: HASH_WHOLE,
    tips: "NONDETERMINISTIC_OUTPUT_ORDER",
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0)],
  },
  hkeys: {
    arity: 2,
    flags: "READONLY",
    acl: "HASH",
    group: "hash",
    since: "2.0.0",
    summary: "Returns every field name of a hash.",
    complexity: HASH_WHOLE,
    tips: "NONDETERMINISTIC_OUTPUT_ORDER",
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0)],
  },
  hvals: {
    arity: 2,
    flags: "READONLY",
    acl: "HASH",
    group: "hash",
    since: "2.0.0",
    summary: "Returns every value of a hash.",
    complexity: HASH_WHOLE,
    tips: "NONDETERMINISTIC_OUTPUT_ORDER",
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0)],
  },
  hrandfield: {
    arity: -2,
    flags: "READONLY",
    acl: "HASH",
    group: "hash",
    since: "6.2.0",
    summary: "Returns one or more fields of a hash chosen at random, optionally with values.",
    complexity: "O(N) for a hash of N fields, plus O(M) for M fields returned.",
    tips: "NONDETERMINISTIC_OUTPUT",
    keySpecs: [keys("RO access", 1)],
    args: [
      key("key", 0),
      block("options", { optional: true }, [
        int("count"),
        token("withvalues", "WITHVALUES", { optional: true }),
      ]),
    ],
  },
  hscan: {
    arity: -3,
    flags: "READONLY",
    acl: "HASH",
    group: "hash",
    since: "2.8.0",
    summary: "Iterates over the fields and values of a hash (all of them in one call here).",
    complexity: "O(N) for a hash of N fields: one call returns the whole hash.",
    tips: "NONDETERMINISTIC_OUTPUT",
    keySpecs: [keys("RO access", 1)],
    args: [
      key("key", 0),
      int("cursor"),
      pattern("pattern", { token: "MATCH", optional: true }),
      int("count", { token: "COUNT", optional: true }),
    ],
  },

  // --- sets ----------------------------------------------------------------------------
  // A set is one stored value, its members in insertion order, as a hash is: a membership
  // test scans it, and every write decodes and re-encodes the whole set.
  sadd: {
    arity: -3,
    flags: "WRITE DENYOOM FAST",
    acl: "SET",
    group: "set",
    since: "1.0.0",
    summary: "Adds members to a set, creating it if needed; counts the new ones.",
    complexity: SET_WRITE,
    keySpecs: [keys("RW insert", 1)],
    args: [key("key", 0), str("member", { multiple: true })],
  },
  srem: {
    arity: -3,
    flags: "WRITE FAST",
    acl: "SET",
    group: "set",
    since: "1.0.0",
    summary: "Removes members from a set; the key goes with its last member.",
    complexity: SET_WRITE,
    keySpecs: [keys("RW delete", 1)],
    args: [key("key", 0), str("member", { multiple: true })],
  },
  scard: {
    arity: 2,
    flags: "READONLY FAST",
    acl: "SET",
    group: "set",
    since: "1.0.0",
    summary: "Returns the number of members of a set.",
    complexity: O1,
    keySpecs: [keys("RO", 1)],
    args: [key("key", 0)],
  },
  sismember: {
    arity: 3,
    flags: "READONLY FAST",
    acl: "SET",
    group: "set",
    since: "1.0.0",
    summary: "Says whether a member is in a set.",
    complexity: SET_SCAN,
    keySpecs: [keys("RO", 1)],
    args: [key("key", 0), str("member")],
  },
  smismember: {
    arity: -3,
    flags: "READONLY FAST",
    acl: "SET",
    group: "set",
    since: "6.2.0",
    summary: "Says, for each of several members, whether it is in a set.",
    complexity: "O(N*M) for M members asked of a set of N members (each one is a scan).",
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0), str("member", { multiple: true })],
  },
  smembers: {
    arity: 2,
    flags: "READONLY",
    acl: "SET",
    group: "set",
    since: "1.0.0",
    summary: "Returns every member of a set.",
    complexity: SET_WHOLE,
    tips: "NONDETERMINISTIC_OUTPUT_ORDER",
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0)],
  },
  smove: {
    arity: 4,
    flags: "WRITE FAST",
    acl: "SET",
    group: "set",
    since: "1.0.0",
    summary: "Moves a member from one set to another.",
    complexity: "O(N+M) for sets of N and M members.",
    keySpecs: [keys("RW access delete", 1), keys("RW insert", 2)],
    args: [key("source", 0), key("destination", 1), str("member")],
  },
  spop: {
    arity: -2,
    flags: "WRITE FAST",
    acl: "SET",
    group: "set",
    since: "1.0.0",
    summary: "Removes and returns random members of a set.",
    complexity: SET_WRITE,
    tips: "NONDETERMINISTIC_OUTPUT",
    keySpecs: [keys("RW access delete", 1)],
    args: [key("key", 0), int("count", { optional: true, since: "3.2.0" })],
  },
  srandmember: {
    arity: -2,
    flags: "READONLY",
    acl: "SET",
    group: "set",
    since: "1.0.0",
    summary: "Returns random members of a set, distinct or drawn with repeats.",
    complexity: "O(N) for a set of N members, plus O(M) for M members returned.",
    tips: "NONDETERMINISTIC_OUTPUT",
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0), int("count", { optional: true, since: "2.6.0" })],
  },
  sscan: {
    arity: -3,
    flags: "READONLY",
    acl: "SET",
    group: "set",
    since: "2.8.0",
    summary: "Iterates over the members of a set (all of them in one call here).",
    complexity: "O(N) for a set of N members: one call returns the whole set.",
    tips: "NONDETERMINISTIC_OUTPUT",
    keySpecs: [keys("RO access", 1)],
    args: [
      key("key", 0),
      int("cursor"),
      pattern("pattern", { token: "MATCH", optional: true }),
      int("count", { token: "COUNT", optional: true }),
    ],
  },
  sinter: {
    arity: -2,
    flags: "READONLY",
    acl: "SET",
    group: "set",
    since: "1.0.0",
    summary: "Returns the members every given set has.",
    complexity: SET_ALGEBRA,
    tips: "NONDETERMINISTIC_OUTPUT_ORDER",
    keySpecs: [keys("RO access", 1, -1)],
    args: [key("key", 0, { multiple: true })],
  },
  sunion: {
    arity: -2,
    flags: "READONLY",
    acl: "SET",
    group: "set",
    since: "1.0.0",
    summary: "Returns the members of any of the given sets.",
    complexity: SET_ALGEBRA,
    tips: "NONDETERMINISTIC_OUTPUT_ORDER",
    keySpecs: [keys("RO access", 1, -1)],
    args: [key("key", 0, { multiple: true })],
  },
  sdiff: {
    arity: -2,
    flags: "READONLY",
    acl: "SET",
    group: "set",
    since: "1.0.0",
    summary: "Returns the members of the first set that no other given set has.",
    complexity: SET_ALGEBRA,
    tips: "NONDETERMINISTIC_OUTPUT_ORDER",
    keySpecs: [keys("RO access", 1, -1)],
    args: [key("key", 0, { multiple: true })],
  },
  sintercard: {
    arity: -3,
    flags: "READONLY",
    acl: "SET",
    group: "set",
    since: "7.0.0",
    summary: "Counts the members every given set has, optionally stopping at a limit.",
    complexity: SET_ALGEBRA,
    keySpecs: [keynum("RO access", 1, 0, 1)],
    args: [
      int("numkeys"),
      key("key", 0, { multiple: true }),
      int("limit", { token: "LIMIT", optional: true }),
    ],
  },
  sinterstore: {
    arity: -3,
    flags: "WRITE DENYOOM",
    acl: "SET",
    group: "set",
    since: "1.0.0",
    summary: "Stores the members every given set has in a key.",
    complexity: SET_ALGEBRA,
    keySpecs: [keys("RW update", 1), keys("RO access", 2, -1)],
    args: [key("destination", 0), key("key", 1, { multiple: true })],
  },
  sunionstore: {
    arity: -3,
    flags: "WRITE DENYOOM",
    acl: "SET",
    group: "set",
    since: "1.0.0",
    summary: "Stores the members of any of the given sets in a key.",
    complexity: SET_ALGEBRA,
    keySpecs: [keys("OW update", 1), keys("RO access", 2, -1)],
    args: [key("destination", 0), key("key", 1, { multiple: true })],
  },
  sdiffstore: {
    arity: -3,
    flags: "WRITE DENYOOM",
    acl: "SET",
    group: "set",
    since: "1.0.0",
    summary: "Stores the members of the first set that no other given set has in a key.",
    complexity: SET_ALGEBRA,
    keySpecs: [keys("OW update", 1), keys("RO access", 2, -1)],
    args: [key("destination", 0), key("key", 1, { multiple: true })],
  },

  // --- lists ---------------------------------------------------------------------------
  // A list is one stored value, its elements in order with their lengths on both sides: a
  // push or pop at either end copies the list once, a command in the middle walks to it.
  lpush: {
    arity: -3,
    flags: "WRITE DENYOOM FAST",
    acl: "LIST",
    group: "list",
    since: "1.0.0",
    summary: "Pushes elements onto the head of a list, creating it if needed.",
    complexity: LIST_WRITE,
    keySpecs: [keys("RW insert", 1)],
    args: [key("key", 0), str("element", { multiple: true })],
  },
  rpush: {
    arity: -3,
    flags: "WRITE DENYOOM FAST",
    acl: "LIST",
    group: "list",
    since: "1.0.0",
    summary: "Pushes elements onto the tail of a list, creating it if needed.",
    complexity: LIST_WRITE,
    keySpecs: [keys("RW insert", 1)],
    args: [key("key", 0), str("element", { multiple: true })],
  },
  lpushx: {
    arity: -3,
    flags: "WRITE DENYOOM FAST",
    acl: "LIST",
    group: "list",
    since: "2.2.0",
    summary: "Pushes elements onto the head of a list only when the list exists.",
    complexity: LIST_WRITE,
    keySpecs: [keys("RW insert", 1)],
    args: [key("key", 0), str("element", { multiple: true })],
  },
  rpushx: {
    arity: -3,
    flags: "WRITE DENYOOM FAST",
    acl: "LIST",
    group: "list",
    since: "2.2.0",
    summary: "Pushes elements onto the tail of a list only when the list exists.",
    complexity: LIST_WRITE,
    keySpecs: [keys("RW insert", 1)],
    args: [key("key", 0), str("element", { multiple: true })],
  },
  lpop: {
    arity: -2,
    flags: "WRITE FAST",
    acl: "LIST",
    group: "list",
    since: "1.0.0",
    summary: "Removes and returns the first elements of a list; the key goes with the last.",
    complexity: LIST_WRITE,
    keySpecs: [keys("RW access delete", 1)],
    args: [key("key", 0), int("count", { optional: true, since: "6.2.0" })],
  },
  rpop: {
    arity: -2,
    flags: "WRITE FAST",
    acl: "LIST",
    group: "list",
    since: "1.0.0",
    summary: "Removes and returns the last elements of a list; the key goes with the last.",
    complexity: LIST_WRITE,
    keySpecs: [keys("RW access delete", 1)],
    args: [key("key", 0), int("count", { optional: true, since: "6.2.0" })],
  },
  llen: {
    arity: 2,
    flags: "READONLY FAST",
    acl: "LIST",
    group: "list",
    since: "1.0.0",
    summary: "Returns the number of elements of a list.",
    complexity: O1,
    keySpecs: [keys("RO", 1)],
    args: [key("key", 0)],
  },
  lrange: {
    arity: 4,
    flags: "READONLY",
    acl: "LIST",
    group: "list",
    since: "1.0.0",
    summary: "Returns a range of elements of a list.",
    complexity: LIST_WALK,
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0), int("start"), int("stop")],
  },
  lindex: {
    arity: 3,
    flags: "READONLY",
    acl: "LIST",
    group: "list",
    since: "1.0.0",
    summary: "Returns the element of a list at an index.",
    complexity: LIST_WALK,
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0), int("index")],
  },
  lset: {
    arity: 4,
    flags: "WRITE DENYOOM",
    acl: "LIST",
    group: "list",
    since: "1.0.0",
    summary: "Replaces the element of a list at an index.",
    complexity: LIST_WRITE,
    keySpecs: [keys("RW update", 1)],
    args: [key("key", 0), int("index"), str("element")],
  },
  linsert: {
    arity: 5,
    flags: "WRITE DENYOOM",
    acl: "LIST",
    group: "list",
    since: "2.2.0",
    summary: "Inserts an element before or after the first occurrence of another in a list.",
    complexity: LIST_WRITE,
    keySpecs: [keys("RW insert", 1)],
    args: [
      key("key", 0),
      oneof("where", {}, [token("before", "BEFORE"), token("after", "AFTER")]),
      str("pivot"),
      str("element"),
    ],
  },
  lrem: {
    arity: 4,
    flags: "WRITE",
    acl: "LIST",
    group: "list",
    since: "1.0.0",
    summary: "Removes occurrences of an element from a list, from the head or the tail.",
    complexity: LIST_WRITE,
    keySpecs: [keys("RW delete", 1)],
    args: [key("key", 0), int("count"), str("element")],
  },
  ltrim: {
    arity: 4,
    flags: "WRITE",
    acl: "LIST",
    group: "list",
    since: "1.0.0",
    summary: "Keeps a range of elements of a list and removes the others.",
    complexity: LIST_WRITE,
    keySpecs: [keys("RW delete", 1)],
    args: [key("key", 0), int("start"), int("stop")],
  },
  lpos: {
    arity: -3,
    flags: "READONLY",
    acl: "LIST",
    group: "list",
    since: "6.0.6",
    summary: "Returns the indexes of the elements of a list equal to a given one.",
    complexity: LIST_WHOLE,
    keySpecs: [keys("RO access", 1)],
    args: [
      key("key", 0),
      str("element"),
      int("rank", { token: "RANK", optional: true }),
      int("num-matches", { token: "COUNT", optional: true }),
      int("len", { token: "MAXLEN", optional: true }),
    ],
  },
  lmove: {
    arity: 5,
    flags: "WRITE DENYOOM",
    acl: "LIST",
    group: "list",
    since: "6.2.0",
    summary: "Pops an element from one end of a list and pushes it onto an end of another.",
    complexity: LIST_MOVE,
    keySpecs: [keys("RW access delete", 1), keys("RW insert", 2)],
    args: [key("source", 0), key("destination", 1), leftRight("wherefrom"), leftRight("whereto")],
  },
  rpoplpush: {
    arity: 3,
    flags: "WRITE DENYOOM",
    acl: "LIST",
    group: "list",
    since: "1.2.0",
    summary: "Pops the last element of a list and pushes it onto the head of another.",
    complexity: LIST_MOVE,
    keySpecs: [keys("RW access delete", 1), keys("RW insert", 2)],
    args: [key("source", 0), key("destination", 1)],
    deprecatedSince: "6.2.0",
    replacedBy: "`LMOVE` with the `RIGHT` and `LEFT` arguments",
  },
  lmpop: {
    arity: -4,
    flags: "WRITE",
    acl: "LIST",
    group: "list",
    since: "7.0.0",
    summary: "Pops elements from the first of several lists that is not empty.",
    complexity: LIST_MPOP,
    keySpecs: [keynum("RW access delete", 1, 0, 1)],
    args: [
      int("numkeys"),
      key("key", 0, { multiple: true }),
      leftRight("where"),
      int("count", { token: "COUNT", optional: true }),
    ],
  },
  blpop: {
    arity: -3,
    flags: "WRITE NOSCRIPT BLOCKING",
    acl: "LIST",
    group: "list",
    since: "2.0.0",
    summary: "Pops the first element of the first non-empty list, or waits for one.",
    complexity: LIST_MPOP,
    keySpecs: [keys("RW access delete", 1, -2)],
    args: [key("key", 0, { multiple: true }), timeout],
  },
  brpop: {
    arity: -3,
    flags: "WRITE NOSCRIPT BLOCKING",
    acl: "LIST",
    group: "list",
    since: "2.0.0",
    summary: "Pops the last element of the first non-empty list, or waits for one.",
    complexity: LIST_MPOP,
    keySpecs: [keys("RW access delete", 1, -2)],
    args: [key("key", 0, { multiple: true }), timeout],
  },
  blmove: {
    arity: 6,
    flags: "WRITE DENYOOM NOSCRIPT BLOCKING",
    acl: "LIST",
    group: "list",
    since: "6.2.0",
    summary: "Moves an element from one list to another, waiting for one if the first is empty.",
    complexity: LIST_MOVE,
    keySpecs: [keys("RW access delete", 1), keys("RW insert", 2)],
    args: [
      key("source", 0),
      key("destination", 1),
      leftRight("wherefrom"),
      leftRight("whereto"),
      timeout,
    ],
  },
  brpoplpush: {
    arity: 4,
    flags: "WRITE DENYOOM NOSCRIPT BLOCKING",
    acl: "LIST",
    group: "list",
    since: "2.2.0",
    summary: "RPOPLPUSH, waiting for an element if the source is empty.",
    complexity: LIST_MOVE,
    keySpecs: [keys("RW access delete", 1), keys("RW insert", 2)],
    args: [key("source", 0), key("destination", 1), timeout],
    deprecatedSince: "6.2.0",
    replacedBy: "`BLMOVE` with the `RIGHT` and `LEFT` arguments",
  },
  blmpop: {
    arity: -5,
    flags: "WRITE BLOCKING",
    acl: "LIST",
    group: "list",
    since: "7.0.0",
    summary: "LMPOP, waiting for an element if every list is empty.",
    complexity: LIST_MPOP,
    keySpecs: [keynum("RW access delete", 2, 0, 1)],
    args: [
      timeout,
      int("numkeys"),
      key("key", 0, { multiple: true }),
      leftRight("where"),
      int("count", { token: "COUNT", optional: true }),
    ],
  },

  // --- sorted sets ---------------------------------------------------------------------
  // A sorted set is one stored value holding its (score, member) entries in order, its
  // member count up front: a command decodes it whole, and every write copies it once.
  zadd: {
    arity: -4,
    flags: "WRITE DENYOOM FAST",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "1.2.0",
    summary: "Adds members with scores to a sorted set, or updates their scores.",
    complexity: "O(N+M log M) for M members given and a sorted set of N: one decode and one copy.",
    keySpecs: [keys("RW update", 1)],
    args: [
      key("key", 0),
      oneof("condition", { optional: true, since: "3.0.2" }, [
        token("nx", "NX"),
        token("xx", "XX"),
      ]),
      oneof("comparison", { optional: true, since: "6.2.0" }, [
        token("gt", "GT"),
        token("lt", "LT"),
      ]),
      token("change", "CH", { optional: true, since: "3.0.2" }),
      token("increment", "INCR", { optional: true, since: "3.0.2" }),
      block("score_member", { multiple: true }, [double("score"), str("member")]),
    ],
  },
  zincrby: {
    arity: 4,
    flags: "WRITE DENYOOM FAST",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "1.2.0",
    summary: "Adds to the score of a member of a sorted set, creating either if needed.",
    complexity: ZSET_WRITE,
    keySpecs: [keys("RW access update", 1)],
    args: [key("key", 0), int("increment"), str("member")],
  },
  zrem: {
    arity: -3,
    flags: "WRITE FAST",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "1.2.0",
    summary: "Removes members from a sorted set; the key goes with its last member.",
    complexity: ZSET_WRITE,
    keySpecs: [keys("RW delete", 1)],
    args: [key("key", 0), str("member", { multiple: true })],
  },
  zremrangebyrank: {
    arity: 4,
    flags: "WRITE",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "2.0.0",
    summary: "Removes the members of a sorted set within a range of ranks.",
    complexity: ZSET_WRITE,
    keySpecs: [keys("RW delete", 1)],
    args: [key("key", 0), int("start"), int("stop")],
  },
  zremrangebyscore: {
    arity: 4,
    flags: "WRITE",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "1.2.0",
    summary: "Removes the members of a sorted set within a range of scores.",
    complexity: ZSET_WRITE,
    keySpecs: [keys("RW delete", 1)],
    args: [key("key", 0), double("min"), double("max")],
  },
  zremrangebylex: {
    arity: 4,
    flags: "WRITE",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "2.8.9",
    summary: "Removes the members of a sorted set within a lexicographical range.",
    complexity: ZSET_WRITE,
    keySpecs: [keys("RW delete", 1)],
    args: [key("key", 0), str("min"), str("max")],
  },
  zcard: {
    arity: 2,
    flags: "READONLY FAST",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "1.2.0",
    summary: "Returns the number of members of a sorted set.",
    complexity: O1,
    keySpecs: [keys("RO", 1)],
    args: [key("key", 0)],
  },
  zscore: {
    arity: 3,
    flags: "READONLY FAST",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "1.2.0",
    summary: "Returns the score of a member of a sorted set.",
    complexity: ZSET_READ,
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0), str("member")],
  },
  zmscore: {
    arity: -3,
    flags: "READONLY FAST",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "6.2.0",
    summary: "Returns the scores of several members of a sorted set.",
    complexity: "O(N*M) for M members asked of a sorted set of N members (each one is a scan).",
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0), str("member", { multiple: true })],
  },
  zrank: {
    arity: 3,
    flags: "READONLY FAST",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "2.0.0",
    summary: "Returns the rank of a member of a sorted set, lowest score first.",
    complexity: ZSET_READ,
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0), str("member")],
  },
  zrevrank: {
    arity: 3,
    flags: "READONLY FAST",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "2.0.0",
    summary: "Returns the rank of a member of a sorted set, highest score first.",
    complexity: ZSET_READ,
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0), str("member")],
  },
  zcount: {
    arity: 4,
    flags: "READONLY FAST",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "2.0.0",
    summary: "Counts the members of a sorted set within a range of scores.",
    complexity: ZSET_READ,
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0), double("min"), double("max")],
  },
  zlexcount: {
    arity: 4,
    flags: "READONLY FAST",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "2.8.9",
    summary: "Counts the members of a sorted set within a lexicographical range.",
    complexity: ZSET_READ,
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0), str("min"), str("max")],
  },
  zrange: {
    arity: -4,
    flags: "READONLY",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "1.2.0",
    summary: "Returns the members of a sorted set within a range of ranks, scores or names.",
    complexity: ZSET_RANGE,
    keySpecs: [keys("RO access", 1)],
    args: [
      key("key", 0),
      str("start"),
      str("stop"),
      sortBy({ since: "6.2.0" }),
      token("rev", "REV", { optional: true, since: "6.2.0" }),
      offsetCount({ since: "6.2.0" }),
      withScores(),
    ],
  },
  zrevrange: {
    arity: -4,
    flags: "READONLY",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "1.2.0",
    summary: "Returns the members of a sorted set within a range of ranks, highest first.",
    complexity: ZSET_RANGE,
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0), int("start"), int("stop"), withScores()],
    deprecatedSince: "6.2.0",
    replacedBy: "`ZRANGE` with the `REV` argument",
  },
  zrangebyscore: {
    arity: -4,
    flags: "READONLY",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "1.0.5",
    summary: "Returns the members of a sorted set within a range of scores.",
    complexity: ZSET_RANGE,
    keySpecs: [keys("RO access", 1)],
    args: [
      key("key", 0),
      double("min"),
      double("max"),
      withScores({ since: "2.0.0" }),
      offsetCount(),
    ],
    deprecatedSince: "6.2.0",
    replacedBy: "`ZRANGE` with the `BYSCORE` argument",
  },
  zrevrangebyscore: {
    arity: -4,
    flags: "READONLY",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "2.2.0",
    summary: "Returns the members of a sorted set within a range of scores, highest first.",
    complexity: ZSET_RANGE,
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0), double("max"), double("min"), withScores(), offsetCount()],
    deprecatedSince: "6.2.0",
    replacedBy: "`ZRANGE` with the `REV` and `BYSCORE` arguments",
  },
  zrangebylex: {
    arity: -4,
    flags: "READONLY",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "2.8.9",
    summary: "Returns the members of a sorted set within a lexicographical range.",
    complexity: ZSET_RANGE,
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0), str("min"), str("max"), offsetCount()],
    deprecatedSince: "6.2.0",
    replacedBy: "`ZRANGE` with the `BYLEX` argument",
  },
  zrevrangebylex: {
    arity: -4,
    flags: "READONLY",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "2.8.9",
    summary: "Returns the members of a sorted set within a lexicographical range, last first.",
    complexity: ZSET_RANGE,
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0), str("max"), str("min"), offsetCount()],
    deprecatedSince: "6.2.0",
    replacedBy: "`ZRANGE` with the `REV` and `BYLEX` arguments",
  },
  zrangestore: {
    arity: -5,
    flags: "WRITE DENYOOM",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "6.2.0",
    summary: "Stores a range of the members of a sorted set in a key, as ZRANGE selects them.",
    complexity: "O(N+M) for a sorted set of N members read and one of M members written.",
    keySpecs: [keys("OW update", 1), keys("RO access", 2)],
    args: [
      key("dst", 0),
      key("src", 1),
      str("min"),
      str("max"),
      sortBy({}),
      token("rev", "REV", { optional: true }),
      offsetCount(),
    ],
  },
  zpopmin: {
    arity: -2,
    flags: "WRITE FAST",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "5.0.0",
    summary: "Removes and returns the members of a sorted set with the lowest scores.",
    complexity: ZSET_WRITE,
    keySpecs: [keys("RW access delete", 1)],
    args: [key("key", 0), int("count", { optional: true })],
  },
  zpopmax: {
    arity: -2,
    flags: "WRITE FAST",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "5.0.0",
    summary: "Removes and returns the members of a sorted set with the highest scores.",
    complexity: ZSET_WRITE,
    keySpecs: [keys("RW access delete", 1)],
    args: [key("key", 0), int("count", { optional: true })],
  },
  bzpopmin: {
    arity: -3,
    flags: "WRITE NOSCRIPT FAST BLOCKING",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "5.0.0",
    summary: "Pops the lowest-scored member of the first non-empty sorted set, or waits for one.",
    complexity: ZSET_MPOP,
    keySpecs: [keys("RW access delete", 1, -2)],
    args: [key("key", 0, { multiple: true }), timeout],
  },
  bzpopmax: {
    arity: -3,
    flags: "WRITE NOSCRIPT FAST BLOCKING",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "5.0.0",
    summary: "Pops the highest-scored member of the first non-empty sorted set, or waits for one.",
    complexity: ZSET_MPOP,
    keySpecs: [keys("RW access delete", 1, -2)],
    args: [key("key", 0, { multiple: true }), timeout],
  },
  zmpop: {
    arity: -4,
    flags: "WRITE",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "7.0.0",
    summary: "Pops members from the first of several sorted sets that is not empty.",
    complexity: ZSET_MPOP,
    keySpecs: [keynum("RW access delete", 1, 0, 1)],
    args: [
      int("numkeys"),
      key("key", 0, { multiple: true }),
      minMax("where"),
      int("count", { token: "COUNT", optional: true }),
    ],
  },
  bzmpop: {
    arity: -5,
    flags: "WRITE BLOCKING",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "7.0.0",
    summary: "ZMPOP, waiting for a member if every sorted set is empty.",
    complexity: ZSET_MPOP,
    keySpecs: [keynum("RW access delete", 2, 0, 1)],
    args: [
      timeout,
      int("numkeys"),
      key("key", 0, { multiple: true }),
      minMax("where"),
      int("count", { token: "COUNT", optional: true }),
    ],
  },
  zrandmember: {
    arity: -2,
    flags: "READONLY",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "6.2.0",
    summary: "Returns random members of a sorted set, distinct or drawn with repeats.",
    complexity: "O(N) for a sorted set of N members, plus O(M) for M members returned.",
    tips: "NONDETERMINISTIC_OUTPUT",
    keySpecs: [keys("RO access", 1)],
    args: [
      key("key", 0),
      block("options", { optional: true }, [
        int("count"),
        token("withscores", "WITHSCORES", { optional: true }),
      ]),
    ],
  },
  zscan: {
    arity: -3,
    flags: "READONLY",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "2.8.0",
    summary: "Iterates over the members and scores of a sorted set (all of them in one call here).",
    complexity: "O(N) for a sorted set of N members: one call returns the whole set.",
    tips: "NONDETERMINISTIC_OUTPUT",
    keySpecs: [keys("RO access", 1)],
    args: [
      key("key", 0),
      int("cursor"),
      pattern("pattern", { token: "MATCH", optional: true }),
      int("count", { token: "COUNT", optional: true }),
    ],
  },
  zunion: {
    arity: -3,
    flags: "READONLY",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "6.2.0",
    summary: "Returns the members of any of the given sorted sets, with combined scores.",
    complexity: ZSET_ALGEBRA,
    keySpecs: [keynum("RO access", 1, 0, 1)],
    args: [int("numkeys"), key("key", 0, { multiple: true }), weights, aggregate, withScores()],
  },
  zinter: {
    arity: -3,
    flags: "READONLY",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "6.2.0",
    summary: "Returns the members every given sorted set has, with combined scores.",
    complexity: ZSET_ALGEBRA,
    keySpecs: [keynum("RO access", 1, 0, 1)],
    args: [int("numkeys"), key("key", 0, { multiple: true }), weights, aggregate, withScores()],
  },
  zdiff: {
    arity: -3,
    flags: "READONLY",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "6.2.0",
    summary: "Returns the members of the first sorted set that no other given one has.",
    complexity: ZSET_ALGEBRA,
    keySpecs: [keynum("RO access", 1, 0, 1)],
    args: [int("numkeys"), key("key", 0, { multiple: true }), withScores()],
  },
  zunionstore: {
    arity: -4,
    flags: "WRITE DENYOOM",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "2.0.0",
    summary: "Stores the members of any of the given sorted sets in a key.",
    complexity: ZSET_ALGEBRA,
    keySpecs: [keys("OW update", 1), keynum("RO access", 2, 0, 1)],
    args: [
      key("destination", 0),
      int("numkeys"),
      key("key", 1, { multiple: true }),
      weights,
      aggregate,
    ],
  },
  zinterstore: {
    arity: -4,
    flags: "WRITE DENYOOM",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "2.0.0",
    summary: "Stores the members every given sorted set has in a key.",
    complexity: ZSET_ALGEBRA,
    keySpecs: [keys("OW update", 1), keynum("RO access", 2, 0, 1)],
    args: [
      key("destination", 0),
      int("numkeys"),
      key("key", 1, { multiple: true }),
      weights,
      aggregate,
    ],
  },
  zdiffstore: {
    arity: -4,
    flags: "WRITE DENYOOM",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "6.2.0",
    summary: "Stores the members of the first sorted set that no other given one has in a key.",
    complexity: ZSET_ALGEBRA,
    keySpecs: [keys("OW update", 1), keynum("RO access", 2, 0, 1)],
    args: [key("destination", 0), int("numkeys"), key("key", 1, { multiple: true })],
  },
  zintercard: {
    arity: -3,
    flags: "READONLY",
    acl: "SORTEDSET",
    group: "sorted-set",
    since: "7.0.0",
    summary: "Counts the members every given sorted set has, optionally stopping at a limit.",
    complexity: ZSET_ALGEBRA,
    keySpecs: [keynum("RO access", 1, 0, 1)],
    args: [
      int("numkeys"),
      key("key", 0, { multiple: true }),
      int("limit", { token: "LIMIT", optional: true }),
    ],
  },

  // --- geo (sorted sets of geohashes) ---------------------------------------------------
  geoadd: {
    arity: -5,
    flags: "WRITE DENYOOM",
    acl: "GEO",
    group: "geo",
    since: "3.2.0",
    summary: "Adds members with their longitude and latitude to a sorted set of geohashes.",
    complexity: "O(N+M log M) for M members given and a sorted set of N, as ZADD.",
    keySpecs: [keys("RW update", 1)],
    args: [
      key("key", 0),
      oneof("condition", { optional: true, since: "6.2.0" }, [
        token("nx", "NX"),
        token("xx", "XX"),
      ]),
      token("change", "CH", { optional: true, since: "6.2.0" }),
      block("longitude_latitude_member", { multiple: true }, [
        double("longitude"),
        double("latitude"),
        str("member"),
      ]),
    ],
  },
  geodist: {
    arity: -4,
    flags: "READONLY",
    acl: "GEO",
    group: "geo",
    since: "3.2.0",
    summary: "Returns the distance between two members of a sorted set of geohashes.",
    complexity: "O(N) for a sorted set of N members.",
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0), str("member1"), str("member2"), geoUnit({ optional: true })],
  },
  geohash: {
    arity: -2,
    flags: "READONLY",
    acl: "GEO",
    group: "geo",
    since: "3.2.0",
    summary: "Returns members' positions as standard geohash strings.",
    complexity: "O(N) for a sorted set of N members, for each member requested.",
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0), str("member", { multiple: true })],
  },
  geopos: {
    arity: -2,
    flags: "READONLY",
    acl: "GEO",
    group: "geo",
    since: "3.2.0",
    summary: "Returns members' longitude and latitude.",
    complexity: "O(N) for a sorted set of N members, for each member requested.",
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0), str("member", { multiple: true })],
  },
  georadius: {
    arity: -6,
    flags: "WRITE DENYOOM",
    acl: "GEO",
    group: "geo",
    since: "3.2.0",
    summary: "Returns (or stores) the members within a radius of a position.",
    complexity: GEO_SEARCH_COST,
    deprecatedSince: "6.2.0",
    replacedBy: "`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` argument",
    keySpecs: [keys("RO access", 1), geoStoreKey("STORE", 6), geoStoreKey("STOREDIST", 6)],
    getKeys: georadiusKeys,
    args: [
      key("key", 0),
      double("longitude"),
      double("latitude"),
      double("radius"),
      geoUnit(),
      ...geoRadiusTail("6.2.0"),
    ],
  },
  georadius_ro: {
    arity: -6,
    flags: "READONLY",
    acl: "GEO",
    group: "geo",
    since: "3.2.10",
    summary: "GEORADIUS without STORE: a read.",
    complexity: GEO_SEARCH_COST,
    deprecatedSince: "6.2.0",
    replacedBy: "`GEOSEARCH` with the `BYRADIUS` argument",
    keySpecs: [keys("RO access", 1)],
    args: [
      key("key", 0),
      double("longitude"),
      double("latitude"),
      double("radius"),
      geoUnit(),
      ...geoRadiusTail("6.2.0").slice(0, 5),
    ],
  },
  georadiusbymember: {
    arity: -5,
    flags: "WRITE DENYOOM",
    acl: "GEO",
    group: "geo",
    since: "3.2.0",
    summary: "Returns (or stores) the members within a radius of a member.",
    complexity: GEO_SEARCH_COST,
    deprecatedSince: "6.2.0",
    replacedBy: "`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` and `FROMMEMBER` arguments",
    keySpecs: [keys("RO access", 1), geoStoreKey("STORE", 5), geoStoreKey("STOREDIST", 5)],
    getKeys: georadiusKeys,
    args: [key("key", 0), str("member"), double("radius"), geoUnit(), ...geoRadiusTail()],
  },
  georadiusbymember_ro: {
    arity: -5,
    flags: "READONLY",
    acl: "GEO",
    group: "geo",
    since: "3.2.10",
    summary: "GEORADIUSBYMEMBER without STORE: a read.",
    complexity: GEO_SEARCH_COST,
    deprecatedSince: "6.2.0",
    replacedBy: "`GEOSEARCH` with the `BYRADIUS` and `FROMMEMBER` arguments",
    keySpecs: [keys("RO access", 1)],
    args: [
      key("key", 0),
      str("member"),
      double("radius"),
      geoUnit(),
      ...geoRadiusTail().slice(0, 5),
    ],
  },
  geosearch: {
    arity: -7,
    flags: "READONLY",
    acl: "GEO",
    group: "geo",
    since: "6.2.0",
    summary: "Returns the members within a circle or a box around a member or a position.",
    complexity: GEO_SEARCH_COST,
    keySpecs: [keys("RO access", 1)],
    args: [
      key("key", 0),
      ...geoSearchShape,
      token("withcoord", "WITHCOORD", { optional: true }),
      token("withdist", "WITHDIST", { optional: true }),
      token("withhash", "WITHHASH", { optional: true }),
    ],
  },
  geosearchstore: {
    arity: -8,
    flags: "WRITE DENYOOM",
    acl: "GEO",
    group: "geo",
    since: "6.2.0",
    summary: "GEOSEARCH, storing the members found (or their distances) in a sorted set.",
    complexity: GEO_SEARCH_COST,
    keySpecs: [keys("OW update", 1), keys("RO access", 2)],
    args: [
      key("destination", 0),
      key("source", 1),
      ...geoSearchShape,
      token("storedist", "STOREDIST", { optional: true }),
    ],
  },

  // --- generic keyspace ----------------------------------------------------------------
  del: {
    arity: -2,
    flags: "WRITE",
    acl: "KEYSPACE",
    group: "generic",
    since: "1.0.0",
    summary: "Deletes one or more keys.",
    complexity: "O(N) for N keys.",
    tips: "REQUEST_POLICY:MULTI_SHARD RESPONSE_POLICY:AGG_SUM",
    keySpecs: [keys("RM delete", 1, -1)],
    args: [key("key", 0, { multiple: true })],
  },
  unlink: {
    arity: -2,
    flags: "WRITE FAST",
    acl: "KEYSPACE",
    group: "generic",
    since: "4.0.0",
    summary: "Deletes one or more keys (same as DEL here).",
    complexity: "O(1) per key.",
    tips: "REQUEST_POLICY:MULTI_SHARD RESPONSE_POLICY:AGG_SUM",
    keySpecs: [keys("RM delete", 1, -1)],
    args: [key("key", 0, { multiple: true })],
  },
  exists: {
    arity: -2,
    flags: "READONLY FAST",
    acl: "KEYSPACE",
    group: "generic",
    since: "1.0.0",
    summary: "Counts how many of the given keys exist.",
    complexity: "O(N) for N keys.",
    tips: "REQUEST_POLICY:MULTI_SHARD RESPONSE_POLICY:AGG_SUM",
    keySpecs: [keys("RO", 1, -1)],
    args: [key("key", 0, { multiple: true })],
  },
  touch: {
    arity: -2,
    flags: "READONLY FAST",
    acl: "KEYSPACE",
    group: "generic",
    since: "3.2.1",
    summary: "Counts how many of the given keys exist (there is no access time to alter).",
    complexity: "O(N) for N keys.",
    tips: "REQUEST_POLICY:MULTI_SHARD RESPONSE_POLICY:AGG_SUM",
    keySpecs: [keys("RO", 1, -1)],
    args: [key("key", 0, { multiple: true })],
  },
  type: {
    arity: 2,
    flags: "READONLY FAST",
    acl: "KEYSPACE",
    group: "generic",
    since: "1.0.0",
    summary: "Returns the type of the value stored at a key.",
    complexity: O1,
    keySpecs: [keys("RO", 1)],
    args: [key("key", 0)],
  },
  rename: {
    arity: 3,
    flags: "WRITE",
    acl: "KEYSPACE",
    group: "generic",
    since: "1.0.0",
    summary: "Renames a key, overwriting the destination.",
    complexity: O1,
    keySpecs: [keys("RW access delete", 1), keys("OW update", 2)],
    args: [key("key", 0), key("newkey", 1)],
  },
  renamenx: {
    arity: 3,
    flags: "WRITE FAST",
    acl: "KEYSPACE",
    group: "generic",
    since: "1.0.0",
    summary: "Renames a key only when the destination does not exist.",
    complexity: O1,
    keySpecs: [keys("RW access delete", 1), keys("OW insert", 2)],
    args: [key("key", 0), key("newkey", 1)],
  },
  sort: {
    arity: -2,
    flags: "WRITE DENYOOM",
    acl: "SET SORTEDSET LIST DANGEROUS",
    group: "generic",
    since: "1.0.0",
    summary: "Sorts a list, set or sorted set (or by other keys), returning or storing the result.",
    complexity: "O(N+M*log(M)) for N elements, M of them returned; O(N) when not sorted.",
    keySpecs: [keys("RO access", 1), ...SORT_PATTERN_KEYS, SORT_STORE_KEY],
    getKeys: sortKeys,
    args: [key("key", 0), ...sortArgs, key("destination", 2, { token: "STORE", optional: true })],
  },
  sort_ro: {
    arity: -2,
    flags: "READONLY",
    acl: "SET SORTEDSET LIST DANGEROUS",
    group: "generic",
    since: "7.0.0",
    summary: "SORT without STORE: a read, so it runs on any replica.",
    complexity: "O(N+M*log(M)) for N elements, M of them returned; O(N) when not sorted.",
    keySpecs: [keys("RO access", 1), ...SORT_PATTERN_KEYS],
    args: [key("key", 0), ...sortArgs],
  },
  object: {
    arity: -2,
    group: "generic",
    since: "2.2.3",
    summary: "A container for object introspection commands.",
    complexity: "Depends on subcommand.",
    // Redis's order (its dictionary's), so that COMMAND INFO lists them as Redis does;
    // IDLETIME is not served (access times are not tracked).
    subcommands: {
      refcount: {
        arity: 3,
        flags: "READONLY",
        acl: "KEYSPACE",
        group: "generic",
        since: "2.2.3",
        summary: "Returns the number of references to a key's value.",
        complexity: O1,
        tips: "NONDETERMINISTIC_OUTPUT",
        keySpecs: [keys("RO", 2)],
        args: [key("key", 0)],
      },
      help: {
        arity: 2,
        flags: "LOADING STALE",
        acl: "KEYSPACE",
        group: "generic",
        since: "6.2.0",
        summary: "Returns helpful text about the OBJECT subcommands.",
        complexity: O1,
      },
      freq: {
        arity: 3,
        flags: "READONLY",
        acl: "KEYSPACE",
        group: "generic",
        since: "4.0.0",
        summary: "Returns a key's access frequency (refused: no LFU policy here).",
        complexity: O1,
        tips: "NONDETERMINISTIC_OUTPUT",
        keySpecs: [keys("RO", 2)],
        args: [key("key", 0)],
      },
      encoding: {
        arity: 3,
        flags: "READONLY",
        acl: "KEYSPACE",
        group: "generic",
        since: "2.2.3",
        summary: "Returns the name of the form a key's value is stored in.",
        complexity: O1,
        tips: "NONDETERMINISTIC_OUTPUT",
        keySpecs: [keys("RO", 2)],
        args: [key("key", 0)],
      },
    },
  },
  copy: {
    arity: -3,
    flags: "WRITE DENYOOM",
    acl: "KEYSPACE",
    group: "generic",
    since: "6.2.0",
    summary: "Copies the value of a key to another key.",
    complexity: "O(1) for strings.",
    keySpecs: [keys("RO access", 1), keys("OW update", 2)],
    args: [
      key("source", 0),
      key("destination", 1),
      int("destination-db", { token: "DB", optional: true }),
      token("replace", "REPLACE", { optional: true }),
    ],
  },
  dump: {
    arity: 2,
    flags: "READONLY",
    acl: "KEYSPACE",
    group: "generic",
    since: "2.6.0",
    summary: "Returns a serialized version of the value stored at a key (Redis's RDB format).",
    complexity: "O(1) to access the key and O(N×M) to serialize it: N elements of M bytes.",
    tips: "NONDETERMINISTIC_OUTPUT",
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0)],
  },
  restore: RESTORE,
  "restore-asking": {
    ...RESTORE,
    flags: "WRITE DENYOOM ASKING",
    group: "server",
    since: "3.0.0",
    summary: "RESTORE as one server sends it to another (MIGRATE from a cluster node).",
    syscmd: true,
  },
  keys: {
    arity: 2,
    flags: "READONLY",
    acl: "KEYSPACE DANGEROUS",
    group: "generic",
    since: "1.0.0",
    summary: "Returns every key matching a glob pattern.",
    complexity: "O(N) for N keys in the database.",
    tips: "REQUEST_POLICY:ALL_SHARDS NONDETERMINISTIC_OUTPUT_ORDER",
    args: [pattern("pattern")],
  },
  scan: {
    arity: -2,
    flags: "READONLY TOUCHES_ARBITRARY_KEYS",
    acl: "KEYSPACE",
    group: "generic",
    since: "2.8.0",
    summary: "Iterates over the key names in the database.",
    complexity: "O(1) per call, O(N) for a complete iteration over N keys.",
    tips: "NONDETERMINISTIC_OUTPUT REQUEST_POLICY:SPECIAL",
    args: [
      int("cursor"),
      pattern("pattern", { token: "MATCH", optional: true }),
      int("count", { token: "COUNT", optional: true }),
      str("type", { token: "TYPE", optional: true, since: "6.0.0" }),
    ],
  },
  randomkey: {
    arity: 1,
    flags: "READONLY TOUCHES_ARBITRARY_KEYS",
    acl: "KEYSPACE",
    group: "generic",
    since: "1.0.0",
    summary: "Returns a key chosen at random.",
    complexity: O1,
    tips: "REQUEST_POLICY:ALL_SHARDS NONDETERMINISTIC_OUTPUT",
  },
  dbsize: {
    arity: 1,
    flags: "READONLY FAST",
    acl: "KEYSPACE",
    group: "server",
    since: "1.0.0",
    summary: "Returns the number of keys in the database.",
    complexity: O1,
    tips: "REQUEST_POLICY:ALL_SHARDS RESPONSE_POLICY:AGG_SUM",
  },
  flushdb: {
    arity: -1,
    flags: "WRITE",
    acl: "KEYSPACE DANGEROUS",
    group: "server",
    since: "1.0.0",
    summary: "Removes every key from the database.",
    complexity: "O(N) for N keys.",
    tips: "REQUEST_POLICY:ALL_SHARDS RESPONSE_POLICY:ALL_SUCCEEDED",
    args: [flushMode(true)],
  },
  flushall: {
    arity: -1,
    flags: "WRITE",
    acl: "KEYSPACE DANGEROUS",
    group: "server",
    since: "1.0.0",
    summary: "Removes every key from every database.",
    complexity: "O(N) for N keys.",
    tips: "REQUEST_POLICY:ALL_SHARDS RESPONSE_POLICY:ALL_SUCCEEDED",
    args: [flushMode(true)],
  },
  expire: {
    arity: -3,
    flags: "WRITE FAST",
    acl: "KEYSPACE",
    group: "generic",
    since: "1.0.0",
    summary: "Sets a key's time to live in seconds.",
    complexity: O1,
    keySpecs: [keys("RW update", 1)],
    args: [key("key", 0), int("seconds"), expireCondition],
  },
  pexpire: {
    arity: -3,
    flags: "WRITE FAST",
    acl: "KEYSPACE",
    group: "generic",
    since: "2.6.0",
    summary: "Sets a key's time to live in milliseconds.",
    complexity: O1,
    keySpecs: [keys("RW update", 1)],
    args: [key("key", 0), int("milliseconds"), expireCondition],
  },
  expireat: {
    arity: -3,
    flags: "WRITE FAST",
    acl: "KEYSPACE",
    group: "generic",
    since: "1.2.0",
    summary: "Sets a key's expiry as a Unix time in seconds.",
    complexity: O1,
    keySpecs: [keys("RW update", 1)],
    args: [key("key", 0), unixTime("unix-time-seconds"), expireCondition],
  },
  pexpireat: {
    arity: -3,
    flags: "WRITE FAST",
    acl: "KEYSPACE",
    group: "generic",
    since: "2.6.0",
    summary: "Sets a key's expiry as a Unix time in milliseconds.",
    complexity: O1,
    keySpecs: [keys("RW update", 1)],
    args: [key("key", 0), unixTime("unix-time-milliseconds"), expireCondition],
  },
  expiretime: {
    arity: 2,
    flags: "READONLY FAST",
    acl: "KEYSPACE",
    group: "generic",
    since: "7.0.0",
    summary: "Returns a key's expiry as a Unix time in seconds.",
    complexity: O1,
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0)],
  },
  pexpiretime: {
    arity: 2,
    flags: "READONLY FAST",
    acl: "KEYSPACE",
    group: "generic",
    since: "7.0.0",
    summary: "Returns a key's expiry as a Unix time in milliseconds.",
    complexity: O1,
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0)],
  },
  ttl: {
    arity: 2,
    flags: "READONLY FAST",
    acl: "KEYSPACE",
    group: "generic",
    since: "1.0.0",
    summary: "Returns a key's remaining time to live in seconds.",
    complexity: O1,
    tips: "NONDETERMINISTIC_OUTPUT",
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0)],
  },
  pttl: {
    arity: 2,
    flags: "READONLY FAST",
    acl: "KEYSPACE",
    group: "generic",
    since: "2.6.0",
    summary: "Returns a key's remaining time to live in milliseconds.",
    complexity: O1,
    tips: "NONDETERMINISTIC_OUTPUT",
    keySpecs: [keys("RO access", 1)],
    args: [key("key", 0)],
  },
  persist: {
    arity: 2,
    flags: "WRITE FAST",
    acl: "KEYSPACE",
    group: "generic",
    since: "2.2.0",
    summary: "Removes a key's expiry.",
    complexity: O1,
    keySpecs: [keys("RW update", 1)],
    args: [key("key", 0)],
  },

  // --- connection (handlers live in the server layer) --------------------------------------
  ping: {
    arity: -1,
    flags: "FAST SENTINEL",
    acl: "CONNECTION",
    group: "connection",
    since: "1.0.0",
    summary: "Returns PONG, or the given message.",
    complexity: O1,
    tips: "REQUEST_POLICY:ALL_SHARDS RESPONSE_POLICY:ALL_SUCCEEDED",
    args: [str("message", { optional: true })],
  },
  echo: {
    arity: 2,
    flags: "LOADING STALE FAST",
    acl: "CONNECTION",
    group: "connection",
    since: "1.0.0",
    summary: "Returns the given string.",
    complexity: O1,
    args: [str("message")],
  },
  hello: {
    arity: -1,
    flags: "NOSCRIPT LOADING STALE FAST NO_AUTH SENTINEL ALLOW_BUSY",
    acl: "CONNECTION",
    group: "connection",
    since: "6.0.0",
    summary: "Chooses the protocol version, optionally authenticates, and describes the server.",
    complexity: O1,
    args: [
      block("arguments", { optional: true }, [
        int("protover"),
        block("username_password", { token: "AUTH", optional: true }, [
          str("username"),
          str("password"),
        ]),
        str("clientname", { token: "SETNAME", optional: true }),
      ]),
    ],
  },
  auth: {
    arity: -2,
    flags: "NOSCRIPT LOADING STALE FAST NO_AUTH SENTINEL ALLOW_BUSY",
    acl: "CONNECTION",
    group: "connection",
    since: "1.0.0",
    summary: "Authenticates the connection.",
    complexity: "O(N) for N passwords of the user.",
    args: [str("username", { optional: true, since: "6.0.0" }), str("password")],
  },
  select: {
    arity: 2,
    flags: "LOADING STALE FAST",
    acl: "CONNECTION",
    group: "connection",
    since: "1.0.0",
    summary: "Selects the database of the connection (only 0 exists).",
    complexity: O1,
    args: [int("index")],
  },
  quit: {
    arity: -1,
    flags: "ALLOW_BUSY NOSCRIPT LOADING STALE FAST NO_AUTH",
    acl: "CONNECTION",
    group: "connection",
    since: "1.0.0",
    summary: "Closes the connection.",
    complexity: O1,
  },
  reset: {
    arity: 1,
    flags: "NOSCRIPT LOADING STALE FAST NO_AUTH ALLOW_BUSY",
    acl: "CONNECTION",
    group: "connection",
    since: "6.2.0",
    summary: "Resets the connection to its initial state.",
    complexity: O1,
  },
  client: {
    arity: -2,
    flags: "SENTINEL",
    group: "connection",
    since: "2.4.0",
    summary: "A container for client connection commands.",
    complexity: "Depends on subcommand.",
    subcommands: {
      id: {
        arity: 2,
        flags: "NOSCRIPT LOADING STALE SENTINEL",
        acl: "CONNECTION",
        group: "connection",
        since: "5.0.0",
        summary: "Returns the id of the connection.",
        complexity: O1,
      },
      setname: {
        arity: 3,
        flags: "NOSCRIPT LOADING STALE SENTINEL",
        acl: "CONNECTION",
        group: "connection",
        since: "2.6.9",
        summary: "Names the connection.",
        complexity: O1,
        args: [str("connection-name")],
      },
      reply: {
        arity: 3,
        flags: "NOSCRIPT LOADING STALE",
        acl: "CONNECTION",
        group: "connection",
        since: "3.2.0",
        summary:
          "Turns the replies to this connection's commands off, on, or off for the next one.",
        complexity: O1,
        args: [
          oneof("on_off_skip", {}, [token("on", "ON"), token("off", "OFF"), token("skip", "SKIP")]),
        ],
      },
      getname: {
        arity: 2,
        flags: "NOSCRIPT LOADING STALE SENTINEL",
        acl: "CONNECTION",
        group: "connection",
        since: "2.6.9",
        summary: "Returns the name of the connection.",
        complexity: O1,
      },
      info: {
        arity: 2,
        flags: "NOSCRIPT LOADING STALE SENTINEL",
        acl: "CONNECTION",
        group: "connection",
        since: "6.2.0",
        summary: "Describes the connection.",
        complexity: O1,
        tips: "NONDETERMINISTIC_OUTPUT",
      },
      list: {
        arity: -2,
        flags: "ADMIN NOSCRIPT LOADING STALE SENTINEL",
        acl: "CONNECTION",
        group: "connection",
        since: "2.4.0",
        summary: "Describes the open connections.",
        complexity: "O(N) for N connections.",
        tips: "NONDETERMINISTIC_OUTPUT",
        args: [
          oneof("normal_master_replica_pubsub", { token: "TYPE", optional: true, since: "5.0.0" }, [
            token("normal", "normal"),
            token("master", "master"),
            token("replica", "replica"),
            token("pubsub", "pubsub"),
          ]),
          block("id", { token: "ID", optional: true, since: "6.2.0" }, [
            int("client-id", { multiple: true }),
          ]),
        ],
      },
      kill: {
        arity: -3,
        flags: "ADMIN NOSCRIPT LOADING STALE SENTINEL",
        acl: "CONNECTION",
        group: "connection",
        since: "2.4.0",
        summary: "Closes the connections that match every filter given (of this node).",
        complexity: "O(N) for N connections.",
        args: [
          oneof("filter", {}, [
            str("old-format"),
            oneof("new-format", { multiple: true }, [
              int("client-id", { token: "ID", optional: true, since: "2.8.12" }),
              oneof(
                "normal_master_slave_pubsub",
                { token: "TYPE", optional: true, since: "2.8.12" },
                [
                  token("normal", "normal"),
                  token("master", "master"),
                  token("slave", "slave"),
                  token("replica", "replica", { since: "5.0.0" }),
                  token("pubsub", "pubsub"),
                ],
              ),
              str("username", { token: "USER", optional: true }),
              str("ip:port", { token: "ADDR", optional: true }),
              str("ip:port", { token: "LADDR", optional: true, since: "6.2.0" }),
              str("yes/no", { token: "SKIPME", optional: true }),
            ]),
          ]),
        ],
      },
      pause: {
        arity: -3,
        flags: "ADMIN NOSCRIPT LOADING STALE SENTINEL",
        acl: "CONNECTION",
        group: "connection",
        since: "2.9.50",
        summary:
          "Holds back this node's clients' commands, or only those that may write, for a time.",
        complexity: O1,
        args: [
          int("timeout"),
          oneof("mode", { optional: true, since: "6.2.0" }, [
            token("write", "WRITE"),
            token("all", "ALL"),
          ]),
        ],
      },
      unpause: {
        arity: 2,
        flags: "ADMIN NOSCRIPT LOADING STALE SENTINEL",
        acl: "CONNECTION",
        group: "connection",
        since: "6.2.0",
        summary: "Ends a CLIENT PAUSE: the commands held back run.",
        complexity: "O(N) where N is the number of paused clients",
      },
      "no-evict": {
        arity: 3,
        flags: "ADMIN NOSCRIPT LOADING STALE",
        acl: "CONNECTION",
        group: "connection",
        since: "7.0.0",
        summary: "Sets the connection's client eviction mode (accepted; nothing is evicted here).",
        complexity: O1,
        args: [oneof("enabled", {}, [token("on", "ON"), token("off", "OFF")])],
      },
      unblock: {
        arity: -3,
        flags: "ADMIN NOSCRIPT LOADING STALE SENTINEL",
        acl: "CONNECTION",
        group: "connection",
        since: "5.0.0",
        summary: "Answers a client blocked by a blocking pop at once: null, or an error.",
        complexity: "O(1) (and O(K) for the K keys the client waits on).",
        args: [
          int("client-id"),
          oneof("timeout_error", { optional: true }, [
            token("timeout", "TIMEOUT"),
            token("error", "ERROR"),
          ]),
        ],
      },
    },
  },

  // --- server (handlers live in the server layer) ------------------------------------------
  command: {
    arity: -1,
    flags: "LOADING STALE SENTINEL",
    acl: "CONNECTION",
    group: "server",
    since: "2.8.13",
    summary: "Describes every command.",
    complexity: "O(N) for N commands.",
    tips: "NONDETERMINISTIC_OUTPUT_ORDER",
    subcommands: {
      count: {
        arity: 2,
        flags: "LOADING STALE SENTINEL",
        acl: "CONNECTION",
        group: "server",
        since: "2.8.13",
        summary: "Returns the number of commands.",
        complexity: O1,
      },
      info: {
        arity: -2,
        flags: "LOADING STALE SENTINEL",
        acl: "CONNECTION",
        group: "server",
        since: "2.8.13",
        summary: "Describes the given commands, or all of them.",
        complexity: "O(N) for N commands.",
        tips: "NONDETERMINISTIC_OUTPUT_ORDER",
        args: [str("command-name", { optional: true, multiple: true })],
      },
      docs: {
        arity: -2,
        flags: "LOADING STALE SENTINEL",
        acl: "CONNECTION",
        group: "server",
        since: "7.0.0",
        summary: "Documents the given commands, or all of them.",
        complexity: "O(N) for N commands.",
        tips: "NONDETERMINISTIC_OUTPUT_ORDER",
        args: [str("command-name", { optional: true, multiple: true })],
      },
      getkeys: {
        arity: -4,
        flags: "LOADING STALE SENTINEL",
        acl: "CONNECTION",
        group: "server",
        since: "2.8.13",
        summary: "Returns the keys of a command, as the key specs and key finders find them.",
        complexity: "O(N) for N arguments of the command.",
      },
      getkeysandflags: {
        arity: -4,
        flags: "LOADING STALE SENTINEL",
        acl: "CONNECTION",
        group: "server",
        since: "7.0.0",
        summary: "Returns the keys of a command with how it uses each (RW, access...).",
        complexity: "O(N) for N arguments of the command.",
      },
      list: {
        arity: -2,
        flags: "LOADING STALE SENTINEL",
        acl: "CONNECTION",
        group: "server",
        since: "7.0.0",
        summary: "Lists command names, optionally filtered.",
        complexity: "O(N) for N commands.",
        tips: "NONDETERMINISTIC_OUTPUT_ORDER",
        args: [
          oneof("filterby", { token: "FILTERBY", optional: true }, [
            str("module-name", { token: "MODULE" }),
            str("category", { token: "ACLCAT" }),
            pattern("pattern", { token: "PATTERN" }),
          ]),
        ],
      },
    },
  },
  info: {
    arity: -1,
    flags: "LOADING STALE SENTINEL",
    acl: "DANGEROUS",
    group: "server",
    since: "1.0.0",
    summary: "Returns information and statistics about the node.",
    complexity: O1,
    tips: "NONDETERMINISTIC_OUTPUT REQUEST_POLICY:ALL_SHARDS RESPONSE_POLICY:SPECIAL",
    args: [str("section", { optional: true, multiple: true })],
  },
  wait: {
    arity: 3,
    flags: "NOSCRIPT",
    acl: "CONNECTION",
    group: "generic",
    since: "3.0.0",
    summary:
      "Waits until the other replicas of the shards this connection wrote to have its writes, or a timeout.",
    complexity: O1,
    tips: "REQUEST_POLICY:ALL_SHARDS RESPONSE_POLICY:AGG_MIN",
    args: [int("numreplicas"), int("timeout")],
  },
  monitor: {
    arity: 1,
    flags: "ADMIN NOSCRIPT LOADING STALE",
    group: "server",
    since: "1.0.0",
    summary: "Streams every command this node runs to the client, as it runs them.",
    complexity: O1,
  },
  latency: {
    arity: -2,
    group: "server",
    since: "2.8.13",
    summary: "A container for latency diagnostics commands.",
    complexity: "Depends on subcommand.",
    subcommands: {
      graph: {
        arity: 3,
        flags: "ADMIN NOSCRIPT LOADING STALE",
        group: "server",
        since: "2.8.13",
        summary: "Returns a latency graph of an event.",
        complexity: O1,
        tips: "NONDETERMINISTIC_OUTPUT REQUEST_POLICY:ALL_NODES RESPONSE_POLICY:SPECIAL",
        args: [str("event")],
      },
      reset: {
        arity: -2,
        flags: "ADMIN NOSCRIPT LOADING STALE",
        group: "server",
        since: "2.8.13",
        summary: "Forgets the latency samples of some events, or of all of them.",
        complexity: O1,
        tips: "REQUEST_POLICY:ALL_NODES RESPONSE_POLICY:ALL_SUCCEEDED",
        args: [str("event", { optional: true, multiple: true })],
      },
      history: {
        arity: 3,
        flags: "ADMIN NOSCRIPT LOADING STALE",
        group: "server",
        since: "2.8.13",
        summary: "Returns the timestamped latency samples of an event.",
        complexity: O1,
        tips: "NONDETERMINISTIC_OUTPUT REQUEST_POLICY:ALL_NODES RESPONSE_POLICY:SPECIAL",
        args: [str("event")],
      },
      histogram: {
        arity: -2,
        flags: "ADMIN NOSCRIPT LOADING STALE",
        group: "server",
        since: "7.0.0",
        summary: "Returns the cumulative distribution of latencies of a subset or all commands.",
        complexity:
          "O(N) where N is the number of commands with latency information being retrieved.",
        tips: "NONDETERMINISTIC_OUTPUT REQUEST_POLICY:ALL_NODES RESPONSE_POLICY:SPECIAL",
        args: [str("command", { optional: true, multiple: true })],
      },
      latest: {
        arity: 2,
        flags: "ADMIN NOSCRIPT LOADING STALE",
        group: "server",
        since: "2.8.13",
        summary: "Returns the latest latency sample of every event.",
        complexity: O1,
        tips: "NONDETERMINISTIC_OUTPUT REQUEST_POLICY:ALL_NODES RESPONSE_POLICY:SPECIAL",
      },
      help: {
        arity: 2,
        flags: "LOADING STALE",
        group: "server",
        since: "2.8.13",
        summary: "Shows helpful text about the different subcommands.",
        complexity: O1,
      },
      doctor: {
        arity: 2,
        flags: "ADMIN NOSCRIPT LOADING STALE",
        group: "server",
        since: "2.8.13",
        summary: "Returns a human-readable report of this node's latency events.",
        complexity: O1,
        tips: "NONDETERMINISTIC_OUTPUT REQUEST_POLICY:ALL_NODES RESPONSE_POLICY:SPECIAL",
      },
    },
  },
  slowlog: {
    arity: -2,
    group: "server",
    since: "2.2.12",
    summary: "A container for slow log commands.",
    complexity: "Depends on subcommand.",
    // Redis's order (its dictionary's), so that COMMAND INFO lists them as Redis does.
    subcommands: {
      reset: {
        arity: 2,
        flags: "ADMIN LOADING STALE",
        group: "server",
        since: "2.2.12",
        summary: "Empties this node's slow log.",
        complexity: "O(N) for N entries.",
        tips: "REQUEST_POLICY:ALL_NODES RESPONSE_POLICY:ALL_SUCCEEDED",
      },
      len: {
        arity: 2,
        flags: "ADMIN LOADING STALE",
        group: "server",
        since: "2.2.12",
        summary: "Returns the number of entries in this node's slow log.",
        complexity: O1,
        tips: "REQUEST_POLICY:ALL_NODES RESPONSE_POLICY:AGG_SUM NONDETERMINISTIC_OUTPUT",
      },
      help: {
        arity: 2,
        flags: "LOADING STALE",
        group: "server",
        since: "6.2.0",
        summary: "Returns helpful text about the SLOWLOG subcommands.",
        complexity: O1,
      },
      get: {
        arity: -2,
        flags: "ADMIN LOADING STALE",
        group: "server",
        since: "2.2.12",
        summary: "Returns the newest entries of this node's slow log (10, or COUNT; -1 for all).",
        complexity: "O(N) for N entries returned.",
        tips: "REQUEST_POLICY:ALL_NODES NONDETERMINISTIC_OUTPUT",
        args: [int("count", { optional: true })],
      },
    },
  },
  memory: {
    arity: -2,
    group: "server",
    since: "4.0.0",
    summary: "A container for memory diagnostics commands.",
    complexity: "Depends on subcommand.",
    subcommands: {
      usage: {
        arity: -3,
        flags: "READONLY",
        group: "server",
        since: "4.0.0",
        summary: "Returns the bytes a key and its value take in the key space.",
        complexity: O1,
        keySpecs: [keys("RO", 2)],
        args: [key("key", 0), int("count", { token: "SAMPLES", optional: true })],
      },
      help: {
        arity: 2,
        flags: "LOADING STALE",
        group: "server",
        since: "4.0.0",
        summary: "Returns helpful text about the MEMORY subcommands.",
        complexity: O1,
      },
    },
  },
  config: {
    arity: -2,
    group: "server",
    since: "2.0.0",
    summary: "A container for configuration commands.",
    complexity: "Depends on subcommand.",
    subcommands: {
      get: {
        arity: -3,
        flags: "ADMIN NOSCRIPT LOADING STALE",
        group: "server",
        since: "2.0.0",
        summary: "Returns the values of configuration parameters.",
        complexity: "O(N) for N parameters.",
        args: [block("parameter", { multiple: true }, [str("parameter")])],
      },
      set: {
        arity: -4,
        flags: "ADMIN NOSCRIPT LOADING STALE",
        group: "server",
        since: "2.0.0",
        summary: "Sets configuration parameters.",
        complexity: "O(N) for N parameters.",
        tips: "REQUEST_POLICY:ALL_NODES RESPONSE_POLICY:ALL_SUCCEEDED",
        args: [block("parameter_value", { multiple: true }, [str("parameter"), str("value")])],
      },
      resetstat: {
        arity: 2,
        flags: "ADMIN NOSCRIPT LOADING STALE",
        group: "server",
        since: "2.0.0",
        summary: "Resets the statistics INFO reports.",
        complexity: O1,
      },
    },
  },
  role: {
    arity: 1,
    flags: "NOSCRIPT LOADING STALE FAST SENTINEL",
    acl: "ADMIN DANGEROUS",
    group: "server",
    since: "2.8.12",
    summary: "Returns the node's replication role: master, whatever shards it leads.",
    complexity: O1,
  },
  time: {
    arity: 1,
    flags: "LOADING STALE FAST",
    group: "server",
    since: "2.6.0",
    summary: "Returns the node's time.",
    complexity: O1,
    tips: "NONDETERMINISTIC_OUTPUT",
  },
  homeostat: {
    arity: -2,
    group: "server",
    since: "0.1.0",
    summary: "A container for Homeostat's own cluster commands.",
    complexity: "Depends on subcommand.",
    subcommands: {
      members: {
        arity: 2,
        flags: "LOADING STALE",
        group: "server",
        since: "0.1.0",
        summary:
          "Lists the cluster's members: id, bus and client address, state, incarnation, zone.",
        complexity: "O(N) for N members.",
        tips: "NONDETERMINISTIC_OUTPUT",
      },
      register: {
        arity: -7,
        flags: "ADMIN NOSCRIPT LOADING STALE",
        group: "server",
        since: "0.1.0",
        summary:
          "A joining node asks the meta group for its raft id (node id, host, port, bus port, " +
          "zone, and the redirect port, which a node of an older version does not send).",
        complexity: O1,
        args: [
          str("node-id"),
          str("host"),
          str("port"),
          str("bus-port"),
          str("zone"),
          str("redirect-port", { optional: true }),
        ],
      },
      contract: {
        arity: -3,
        flags: "NOSCRIPT",
        group: "server",
        since: "0.1.0",
        summary: "The service contract: APPLY a new version, SHOW it, or list its HISTORY.",
        complexity: O1,
        args: [str("subcommand"), { ...str("yaml"), optional: true }],
      },
      journal: {
        arity: -2,
        flags: "LOADING STALE",
        group: "server",
        since: "0.1.0",
        summary: "The decision journal: every action the cluster took by itself, with why.",
        complexity: "O(N) for N entries kept.",
        args: [
          { ...str("after"), optional: true },
          { ...int("seq"), optional: true },
        ],
      },
      remove: {
        arity: 3,
        flags: "ADMIN NOSCRIPT",
        group: "server",
        since: "0.1.0",
        summary:
          "Decommissions a node: its replicas and leaderships move to the others, then it is removed.",
        complexity: O1,
        args: [str("node")],
      },
      shard: {
        arity: -4,
        flags: "NOSCRIPT",
        group: "server",
        since: "0.1.0",
        summary:
          "Runs a key-space command on one shard, on its leader (a cluster-wide command's part).",
        complexity: "Depends on the command.",
        args: [int("shard"), str("command"), { ...str("arg"), optional: true, multiple: true }],
      },
      groups: {
        arity: 2,
        flags: "LOADING STALE",
        group: "server",
        since: "0.1.0",
        summary:
          "Lists the raft groups on this node: role, leader, term, commit, applied, members.",
        complexity: "O(N) for N groups.",
        tips: "NONDETERMINISTIC_OUTPUT",
      },
      transaction: {
        arity: 3,
        flags: "WRITE NOSCRIPT",
        group: "server",
        since: "0.1.0",
        summary:
          "(between nodes) Runs a forwarded MULTI/EXEC on its shard's leader, as one log entry.",
        complexity: "Depends on the commands in the transaction.",
        args: [str("body")],
      },
      acked: {
        arity: -3,
        flags: "READONLY NOSCRIPT",
        group: "server",
        since: "0.1.0",
        summary:
          "(between nodes) WAIT's count on a shard's leader: an index (default: the commit index) and how many other voters have their log up to it.",
        complexity: "O(N) for N voters.",
        args: [int("shard"), int("index", { optional: true })],
      },
      fingerprint: {
        arity: -3,
        flags: "READONLY NOSCRIPT",
        group: "server",
        since: "0.1.0",
        summary:
          "(between nodes) Reads the fingerprints of forwarded WATCH keys on their shard's leader.",
        complexity: "O(N) for N keys.",
        args: [str("key", { multiple: true })],
      },
      slotkeys: {
        arity: -3,
        flags: "READONLY NOSCRIPT",
        group: "server",
        since: "0.1.0",
        summary:
          "(between nodes) Counts a slot's keys, or lists up to max of them, on its shard's leader.",
        complexity: "O(N) where N is the number of keys in the slot",
        args: [int("slot"), int("max", { optional: true })],
      },
      forwarded: {
        arity: 2,
        flags: "NOSCRIPT LOADING STALE FAST",
        group: "server",
        since: "0.1.0",
        summary:
          "Marks a connection as another node forwarding for its clients: never forwarded on.",
        complexity: O1,
      },
    },
  },
  subscribe: {
    arity: -2,
    flags: "PUBSUB NOSCRIPT LOADING STALE",
    group: "pubsub",
    since: "2.0.0",
    summary: "Listens for messages published to the given channels.",
    complexity: "O(N) where N is the number of channels to subscribe to.",
    args: [str("channel", { multiple: true })],
  },
  unsubscribe: {
    arity: -1,
    flags: "PUBSUB NOSCRIPT LOADING STALE",
    group: "pubsub",
    since: "2.0.0",
    summary: "Stops listening to the given channels, or to all of them.",
    complexity: "O(N) where N is the number of clients already subscribed to a channel.",
    args: [str("channel", { optional: true, multiple: true })],
  },
  psubscribe: {
    arity: -2,
    flags: "PUBSUB NOSCRIPT LOADING STALE",
    group: "pubsub",
    since: "2.0.0",
    summary: "Listens for messages published to channels matching the given patterns.",
    complexity: "O(N) where N is the number of patterns the client is already subscribed to.",
    args: [block("pattern", { multiple: true }, [pattern("pattern")])],
  },
  punsubscribe: {
    arity: -1,
    flags: "PUBSUB NOSCRIPT LOADING STALE",
    group: "pubsub",
    since: "2.0.0",
    summary: "Stops listening to the given patterns, or to all of them.",
    complexity:
      "O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system (by any client).",
    args: [pattern("pattern", { optional: true, multiple: true })],
  },
  publish: {
    arity: 3,
    flags: "PUBSUB LOADING STALE FAST MAY_REPLICATE",
    group: "pubsub",
    since: "2.0.0",
    summary: "Posts a message to a channel, on every node of the cluster.",
    complexity:
      "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).",
    args: [str("channel"), str("message")],
  },
  ssubscribe: {
    arity: -2,
    flags: "PUBSUB NOSCRIPT LOADING STALE",
    group: "pubsub",
    since: "7.0.0",
    summary: "Listens for messages published to the given shard channels.",
    complexity: "O(N) where N is the number of shard channels to subscribe to.",
    keySpecs: [keys("not_key", 1, -1)],
    args: [str("shardchannel", { multiple: true })],
  },
  sunsubscribe: {
    arity: -1,
    flags: "PUBSUB NOSCRIPT LOADING STALE",
    group: "pubsub",
    since: "7.0.0",
    summary: "Stops listening to the given shard channels, or to all of them.",
    complexity: "O(N) where N is the number of clients already subscribed to a shard channel.",
    keySpecs: [keys("not_key", 1, -1)],
    args: [str("shardchannel", { optional: true, multiple: true })],
  },
  spublish: {
    arity: 3,
    flags: "PUBSUB LOADING STALE FAST MAY_REPLICATE",
    group: "pubsub",
    since: "7.0.0",
    summary: "Posts a message to a shard channel, on every node of the cluster.",
    complexity: "O(N) where N is the number of clients subscribed to the receiving shard channel.",
    keySpecs: [keys("not_key", 1)],
    args: [str("shardchannel"), str("message")],
  },
  pubsub: {
    arity: -2,
    group: "pubsub",
    since: "2.8.0",
    summary: "A container for Pub/Sub commands.",
    complexity: "Depends on subcommand.",
    subcommands: {
      channels: {
        arity: -2,
        flags: "PUBSUB LOADING STALE",
        group: "pubsub",
        since: "2.8.0",
        summary: "Lists the channels with a subscriber on this node.",
        complexity: "O(N) where N is the number of active channels.",
        args: [pattern("pattern", { optional: true })],
      },
      numpat: {
        arity: 2,
        flags: "PUBSUB LOADING STALE",
        group: "pubsub",
        since: "2.8.0",
        summary: "Counts the distinct patterns subscribed to on this node.",
        complexity: O1,
      },
      numsub: {
        arity: -2,
        flags: "PUBSUB LOADING STALE",
        group: "pubsub",
        since: "2.8.0",
        summary: "Counts the subscribers of each given channel on this node.",
        complexity: "O(N) for N channels.",
        args: [str("channel", { optional: true, multiple: true })],
      },
      shardchannels: {
        arity: -2,
        flags: "PUBSUB LOADING STALE",
        group: "pubsub",
        since: "7.0.0",
        summary: "Lists the shard channels with a subscriber on this node.",
        complexity: "O(N) where N is the number of active shard channels.",
        args: [pattern("pattern", { optional: true })],
      },
      shardnumsub: {
        arity: -2,
        flags: "PUBSUB LOADING STALE",
        group: "pubsub",
        since: "7.0.0",
        summary: "Counts the subscribers of each given shard channel on this node.",
        complexity: "O(N) for N channels.",
        args: [str("shardchannel", { optional: true, multiple: true })],
      },
      help: {
        arity: 2,
        flags: "LOADING STALE",
        group: "pubsub",
        since: "6.2.0",
        summary: "Shows helpful text about the different subcommands.",
        complexity: O1,
      },
    },
  },
  multi: {
    arity: 1,
    flags: "NOSCRIPT LOADING STALE FAST ALLOW_BUSY",
    acl: "TRANSACTION",
    group: "transactions",
    since: "1.2.0",
    summary: "Starts a transaction.",
    complexity: O1,
  },
  exec: {
    arity: 1,
    flags: "NOSCRIPT LOADING STALE SKIP_SLOWLOG",
    acl: "TRANSACTION",
    group: "transactions",
    since: "1.2.0",
    summary: "Runs the commands queued since MULTI, with nothing in between.",
    complexity: "Depends on the commands in the transaction.",
  },
  discard: {
    arity: 1,
    flags: "NOSCRIPT LOADING STALE FAST ALLOW_BUSY",
    acl: "TRANSACTION",
    group: "transactions",
    since: "2.0.0",
    summary: "Discards the commands queued since MULTI.",
    complexity: "O(N) for N queued commands.",
  },
  watch: {
    arity: -2,
    flags: "NOSCRIPT LOADING STALE FAST ALLOW_BUSY",
    acl: "TRANSACTION",
    group: "transactions",
    since: "2.2.0",
    summary: "Makes the next EXEC run only if the given keys still hold their values of now.",
    complexity: "O(1) for every key.",
    keySpecs: [keys("RO", 1, -1)],
    args: [key("key", 0, { multiple: true })],
  },
  unwatch: {
    arity: 1,
    flags: "NOSCRIPT LOADING STALE FAST ALLOW_BUSY",
    acl: "TRANSACTION",
    group: "transactions",
    since: "2.2.0",
    summary: "Forgets the keys watched by WATCH.",
    complexity: O1,
  },
  readonly: {
    arity: 1,
    flags: "LOADING STALE FAST",
    acl: "CONNECTION",
    group: "cluster",
    since: "3.0.0",
    summary: "Enables read queries for a connection to a cluster replica node.",
    complexity: O1,
  },
  readwrite: {
    arity: 1,
    flags: "LOADING STALE FAST",
    acl: "CONNECTION",
    group: "cluster",
    since: "3.0.0",
    summary: "Disables read queries for a connection to a cluster replica node.",
    complexity: O1,
  },
  asking: {
    arity: 1,
    flags: "FAST",
    acl: "CONNECTION",
    group: "cluster",
    since: "3.0.0",
    summary: "Sent by cluster clients after an -ASK redirect.",
    complexity: O1,
  },
  cluster: {
    arity: -2,
    group: "cluster",
    since: "3.0.0",
    summary: "A container for Redis Cluster commands.",
    complexity: "Depends on subcommand.",
    subcommands: {
      slots: {
        arity: 2,
        flags: "LOADING STALE",
        group: "cluster",
        since: "3.0.0",
        summary: "Returns the mapping of cluster slots to nodes (the leader of each shard first).",
        complexity: "O(N) where N is the total number of cluster nodes",
        tips: "NONDETERMINISTIC_OUTPUT",
      },
      shards: {
        arity: 2,
        flags: "LOADING STALE",
        group: "cluster",
        since: "7.0.0",
        summary: "Returns the mapping of cluster slots to shards.",
        complexity: "O(N) where N is the total number of cluster nodes",
        tips: "NONDETERMINISTIC_OUTPUT",
      },
      nodes: {
        arity: 2,
        flags: "LOADING STALE",
        group: "cluster",
        since: "3.0.0",
        summary: "Returns the cluster configuration for a node.",
        complexity: "O(N) where N is the total number of Cluster nodes",
        tips: "NONDETERMINISTIC_OUTPUT",
      },
      info: {
        arity: 2,
        flags: "LOADING STALE",
        group: "cluster",
        since: "3.0.0",
        summary: "Returns information about the state of a node.",
        complexity: O1,
        tips: "NONDETERMINISTIC_OUTPUT",
      },
      myid: {
        arity: 2,
        flags: "LOADING STALE",
        group: "cluster",
        since: "3.0.0",
        summary: "Returns the ID of a node.",
        complexity: O1,
      },
      keyslot: {
        arity: 3,
        flags: "STALE",
        group: "cluster",
        since: "3.0.0",
        summary: "Returns the hash slot for a key.",
        complexity: "O(N) where N is the number of bytes in the key",
        args: [str("key")],
      },
      countkeysinslot: {
        arity: 3,
        flags: "STALE",
        group: "cluster",
        since: "3.0.0",
        summary: "Returns the number of keys in a hash slot (asked of the slot's shard leader).",
        complexity: "O(N) where N is the number of keys in the slot",
        args: [int("slot")],
      },
      getkeysinslot: {
        arity: 4,
        flags: "STALE",
        group: "cluster",
        since: "3.0.0",
        summary: "Returns key names in a hash slot (asked of the slot's shard leader).",
        complexity: "O(N) where N is the number of keys in the slot",
        tips: "NONDETERMINISTIC_OUTPUT",
        args: [int("slot"), int("count")],
      },
    },
  },
  xadd: {
    arity: -5,
    flags: "WRITE DENYOOM FAST",
    acl: "STREAM",
    group: "stream",
    since: "5.0.0",
    summary: "Appends a new entry to a stream, creating it if needed.",
    complexity: STREAM_WRITE,
    tips: "NONDETERMINISTIC_OUTPUT",
    keySpecs: [keys("RW update", 1)],
    args: [
      key("key", 0),
      token("nomkstream", "NOMKSTREAM", { optional: true, since: "6.2.0" }),
      trimArgs,
      oneof("id_or_auto", {}, [token("auto_id", "*"), streamId("id")]),
      block("field_value", { multiple: true }, [str("field"), str("value")]),
    ],
  },
  xtrim: {
    arity: -4,
    flags: "WRITE",
    acl: "STREAM",
    group: "stream",
    since: "5.0.0",
    summary: "Deletes entries from the beginning of a stream.",
    complexity: STREAM_WRITE,
    tips: "NONDETERMINISTIC_OUTPUT",
    keySpecs: [keys("RW delete", 1)],
    args: [key("key", 0), { ...trimArgs, optional: false }],
  },
  xdel: {
    arity: -3,
    flags: "WRITE FAST",
    acl: "STREAM",
    group: "stream",
    since: "5.0.0",
    summary: "Deletes entries from a stream, returning how many were deleted.",
    complexity: STREAM_WRITE,
    keySpecs: [keys("RW delete", 1)],
    args: [key("key", 0), streamId("id", { multiple: true })],
  },
  xlen: {
    arity: 2,
    flags: "READONLY FAST",
    acl: "STREAM",
    group: "stream",
    since: "5.0.0",
    summary: "Returns the number of entries in a stream.",
    complexity: O1,
    keySpecs: [keys("RO", 1)],
    args: [key("key", 0)],
  },
  xrange: {
    arity: -4,
    flags: "READONLY",
    acl: "STREAM",
    group: "stream",
    since: "5.0.0",
    summary: "Returns the entries of a stream within a range of IDs.",
    complexity: STREAM_READ,
    keySpecs: [keys("RO access", 1)],
    args: [
      key("key", 0),
      streamId("start"),
      streamId("end"),
      int("count", { token: "COUNT", optional: true }),
    ],
  },
  xrevrange: {
    arity: -4,
    flags: "READONLY",
    acl: "STREAM",
    group: "stream",
    since: "5.0.0",
    summary: "Returns the entries of a stream within a range of IDs, in reverse order.",
    complexity: STREAM_READ,
    keySpecs: [keys("RO access", 1)],
    args: [
      key("key", 0),
      streamId("end"),
      streamId("start"),
      int("count", { token: "COUNT", optional: true }),
    ],
  },
  xread: {
    arity: -4,
    flags: "READONLY BLOCKING",
    acl: "STREAM",
    group: "stream",
    since: "5.0.0",
    summary: "Returns the entries of streams after the IDs given, or waits for some (BLOCK).",
    complexity: STREAM_READ,
    keySpecs: [streamsKeys(1, "RO access")],
    getKeys: xreadKeys,
    args: [
      int("count", { token: "COUNT", optional: true }),
      int("milliseconds", { token: "BLOCK", optional: true }),
      block("streams", { token: "STREAMS" }, [
        key("key", 0, { multiple: true }),
        streamId("id", { multiple: true }),
      ]),
    ],
  },
  xreadgroup: {
    arity: -7,
    flags: "WRITE BLOCKING",
    acl: "STREAM",
    group: "stream",
    since: "5.0.0",
    summary:
      "Reads a stream's entries for a consumer of a group (new ones with >, else its pending ones), or waits for some.",
    complexity: STREAM_WRITE,
    keySpecs: [streamsKeys(4, "RO access")],
    getKeys: xreadKeys,
    args: [
      block("group_block", { token: "GROUP" }, [str("group"), str("consumer")]),
      int("count", { token: "COUNT", optional: true }),
      int("milliseconds", { token: "BLOCK", optional: true }),
      token("noack", "NOACK", { optional: true }),
      block("streams", { token: "STREAMS" }, [
        key("key", 0, { multiple: true }),
        streamId("id", { multiple: true }),
      ]),
    ],
  },
  xack: {
    arity: -4,
    flags: "WRITE FAST",
    acl: "STREAM",
    group: "stream",
    since: "5.0.0",
    summary: "Acknowledges entries of a consumer group: they leave its pending list.",
    complexity: STREAM_WRITE,
    keySpecs: [keys("RW update", 1)],
    args: [key("key", 0), str("group"), streamId("id", { multiple: true })],
  },
  xpending: {
    arity: -3,
    flags: "READONLY",
    acl: "STREAM",
    group: "stream",
    since: "5.0.0",
    summary:
      "Returns a consumer group's pending entries: a summary, or a range with owners and idle times.",
    complexity: STREAM_READ,
    tips: "NONDETERMINISTIC_OUTPUT",
    keySpecs: [keys("RO access", 1)],
    args: [
      key("key", 0),
      str("group"),
      block("filters", { optional: true }, [
        int("min-idle-time", { token: "IDLE", optional: true, since: "6.2.0" }),
        streamId("start"),
        streamId("end"),
        int("count"),
        str("consumer", { optional: true }),
      ]),
    ],
  },
  xclaim: {
    arity: -6,
    flags: "WRITE FAST",
    acl: "STREAM",
    group: "stream",
    since: "5.0.0",
    summary: "Gives pending entries of a consumer group to another consumer.",
    complexity: STREAM_WRITE,
    tips: "NONDETERMINISTIC_OUTPUT",
    keySpecs: [keys("RW update", 1)],
    args: [
      key("key", 0),
      str("group"),
      str("consumer"),
      str("min-idle-time"),
      streamId("id", { multiple: true }),
      int("ms", { token: "IDLE", optional: true }),
      unixTime("unix-time-milliseconds", { token: "TIME", optional: true }),
      int("count", { token: "RETRYCOUNT", optional: true }),
      token("force", "FORCE", { optional: true }),
      token("justid", "JUSTID", { optional: true }),
      streamId("id", { token: "LASTID", optional: true }),
    ],
  },
  xautoclaim: {
    arity: -6,
    flags: "WRITE FAST",
    acl: "STREAM",
    group: "stream",
    since: "6.2.0",
    summary:
      "Gives a consumer group's pending entries idle long enough to another consumer, from a cursor.",
    complexity: STREAM_WRITE,
    tips: "NONDETERMINISTIC_OUTPUT",
    keySpecs: [keys("RW delete", 1)],
    args: [
      key("key", 0),
      str("group"),
      str("consumer"),
      str("min-idle-time"),
      streamId("start"),
      int("count", { token: "COUNT", optional: true }),
      token("justid", "JUSTID", { optional: true }),
    ],
  },
  xgroup: {
    arity: -2,
    group: "stream",
    since: "5.0.0",
    summary: "A container for consumer groups commands.",
    complexity: "Depends on subcommand.",
    subcommands: {
      create: {
        arity: -5,
        flags: "WRITE DENYOOM",
        acl: "STREAM",
        group: "stream",
        since: "5.0.0",
        summary: "Creates a consumer group.",
        complexity: STREAM_WRITE,
        keySpecs: [keys("RW insert", 2)],
        args: [
          key("key", 0),
          str("groupname"),
          oneof("id", {}, [streamId("id"), token("new_id", "$")]),
          token("mkstream", "MKSTREAM", { optional: true }),
          int("entries_read", { token: "ENTRIESREAD", optional: true, since: "7.0.0" }),
        ],
      },
      createconsumer: {
        arity: 5,
        flags: "WRITE DENYOOM",
        acl: "STREAM",
        group: "stream",
        since: "6.2.0",
        summary: "Creates a consumer in a consumer group.",
        complexity: STREAM_WRITE,
        keySpecs: [keys("RW insert", 2)],
        args: [key("key", 0), str("groupname"), str("consumername")],
      },
      delconsumer: {
        arity: 5,
        flags: "WRITE",
        acl: "STREAM",
        group: "stream",
        since: "5.0.0",
        summary: "Deletes a consumer from a consumer group, with its pending entries.",
        complexity: STREAM_WRITE,
        keySpecs: [keys("RW delete", 2)],
        args: [key("key", 0), str("groupname"), str("consumername")],
      },
      destroy: {
        arity: 4,
        flags: "WRITE",
        acl: "STREAM",
        group: "stream",
        since: "5.0.0",
        summary: "Destroys a consumer group.",
        complexity: STREAM_WRITE,
        keySpecs: [keys("RW delete", 2)],
        args: [key("key", 0), str("groupname")],
      },
      help: {
        arity: 2,
        flags: "LOADING STALE",
        acl: "STREAM",
        group: "stream",
        since: "5.0.0",
        summary: "Returns helpful text about the different subcommands.",
        complexity: O1,
      },
      setid: {
        arity: -5,
        flags: "WRITE",
        acl: "STREAM",
        group: "stream",
        since: "5.0.0",
        summary: "Sets the last delivered ID of a consumer group.",
        complexity: STREAM_WRITE,
        keySpecs: [keys("RW update", 2)],
        args: [
          key("key", 0),
          str("groupname"),
          oneof("id", {}, [streamId("id"), token("new_id", "$")]),
          int("entriesread", { token: "ENTRIESREAD", optional: true, since: "7.0.0" }),
        ],
      },
    },
  },
  xsetid: {
    arity: -3,
    flags: "WRITE DENYOOM FAST",
    acl: "STREAM",
    group: "stream",
    since: "5.0.0",
    summary: "Sets a stream's last generated ID, entries added and largest deleted ID.",
    complexity: STREAM_WRITE,
    keySpecs: [keys("RW update", 1)],
    args: [
      key("key", 0),
      streamId("last-id"),
      int("entries_added", { token: "ENTRIESADDED", optional: true, since: "7.0.0" }),
      streamId("max_deleted_entry_id", { token: "MAXDELETEDID", optional: true, since: "7.0.0" }),
    ],
  },
  xinfo: {
    arity: -2,
    group: "stream",
    since: "5.0.0",
    summary: "A container for stream introspection commands.",
    complexity: "Depends on subcommand.",
    subcommands: {
      consumers: {
        arity: 4,
        flags: "READONLY",
        acl: "STREAM",
        group: "stream",
        since: "5.0.0",
        summary:
          "Returns a list of the consumers in a consumer group (none: groups are not served yet).",
        complexity: O1,
        tips: "NONDETERMINISTIC_OUTPUT",
        keySpecs: [keys("RO access", 2)],
        args: [key("key", 0), str("groupname")],
      },
      groups: {
        arity: 3,
        flags: "READONLY",
        acl: "STREAM",
        group: "stream",
        since: "5.0.0",
        summary:
          "Returns a list of the consumer groups of a stream (none: groups are not served yet).",
        complexity: O1,
        keySpecs: [keys("RO access", 2)],
        args: [key("key", 0)],
      },
      help: {
        arity: 2,
        flags: "LOADING STALE",
        acl: "STREAM",
        group: "stream",
        since: "5.0.0",
        summary: "Returns helpful text about the different subcommands.",
        complexity: O1,
      },
      stream: {
        arity: -3,
        flags: "READONLY",
        acl: "STREAM",
        group: "stream",
        since: "5.0.0",
        summary: "Returns information about a stream.",
        complexity: STREAM_READ,
        keySpecs: [keys("RO access", 2)],
        args: [
          key("key", 0),
          block("full_block", { token: "FULL", optional: true, since: "6.0.0" }, [
            int("count", { token: "COUNT", optional: true }),
          ]),
        ],
      },
    },
  },
  eval: {
    arity: -3,
    flags: "NOSCRIPT SKIP_MONITOR MAY_REPLICATE NO_MANDATORY_KEYS STALE",
    acl: "SCRIPTING",
    group: "scripting",
    since: "2.6.0",
    summary: "Runs a Lua script on the keys it names, as one command.",
    complexity: "Depends on the script that is executed.",
    keySpecs: [{ ...keynum("RW access update", 2, 0, 1), notes: scriptKeysNote("RW and UPDATE") }],
    args: scriptArgs("script"),
  },
  evalsha: {
    arity: -3,
    flags: "NOSCRIPT SKIP_MONITOR MAY_REPLICATE NO_MANDATORY_KEYS STALE",
    acl: "SCRIPTING",
    group: "scripting",
    since: "2.6.0",
    summary: "Runs a Lua script this node knows, named by its SHA1, as one command.",
    complexity: "Depends on the script that is executed.",
    keySpecs: [keynum("RW access update", 2, 0, 1)],
    args: scriptArgs("sha1"),
  },
  eval_ro: {
    arity: -3,
    flags: "NOSCRIPT SKIP_MONITOR NO_MANDATORY_KEYS STALE READONLY",
    acl: "SCRIPTING",
    group: "scripting",
    since: "7.0.0",
    summary: "Runs a Lua script that only reads.",
    complexity: "Depends on the script that is executed.",
    keySpecs: [{ ...keynum("RO access", 2, 0, 1), notes: scriptKeysNote("RO and ACCESS") }],
    args: scriptArgs("script"),
  },
  evalsha_ro: {
    arity: -3,
    flags: "NOSCRIPT SKIP_MONITOR NO_MANDATORY_KEYS STALE READONLY",
    acl: "SCRIPTING",
    group: "scripting",
    since: "7.0.0",
    summary: "Runs a Lua script that only reads, named by its SHA1.",
    complexity: "Depends on the script that is executed.",
    keySpecs: [keynum("RO access", 2, 0, 1)],
    args: scriptArgs("sha1"),
  },
  script: {
    arity: -2,
    group: "scripting",
    since: "2.6.0",
    summary: "A container for Lua scripts commands.",
    complexity: "Depends on subcommand.",
    subcommands: {
      exists: {
        arity: -3,
        flags: "NOSCRIPT",
        acl: "SCRIPTING",
        group: "scripting",
        since: "2.6.0",
        summary: "Says for each SHA1 whether this node knows the script.",
        complexity: "O(N) with N being the number of scripts to check.",
        tips: "REQUEST_POLICY:ALL_SHARDS RESPONSE_POLICY:AGG_LOGICAL_AND",
        args: [str("sha1", { multiple: true })],
      },
      flush: {
        arity: -2,
        flags: "NOSCRIPT",
        acl: "SCRIPTING",
        group: "scripting",
        since: "2.6.0",
        summary: "Forgets every script this node knows.",
        complexity: "O(N) with N being the number of scripts in cache",
        tips: "REQUEST_POLICY:ALL_NODES RESPONSE_POLICY:ALL_SUCCEEDED",
        args: [flushMode(true)],
      },
      help: {
        arity: 2,
        flags: "LOADING STALE",
        acl: "SCRIPTING",
        group: "scripting",
        since: "5.0.0",
        summary: "Shows helpful text about the different subcommands.",
        complexity: O1,
      },
      kill: {
        arity: 2,
        flags: "NOSCRIPT ALLOW_BUSY",
        acl: "SCRIPTING",
        group: "scripting",
        since: "2.6.0",
        summary: "Kills the running script (none ever is: scripts finish within a bound).",
        complexity: O1,
        tips: "REQUEST_POLICY:ALL_SHARDS RESPONSE_POLICY:ONE_SUCCEEDED",
      },
      load: {
        arity: 3,
        flags: "NOSCRIPT STALE",
        acl: "SCRIPTING",
        group: "scripting",
        since: "2.6.0",
        summary: "Compiles a script and keeps it on this node, for EVALSHA.",
        complexity: "O(N) with N being the length in bytes of the script body.",
        tips: "REQUEST_POLICY:ALL_NODES RESPONSE_POLICY:ALL_SUCCEEDED",
        args: [str("script")],
      },
    },
  },
  fcall: {
    arity: -3,
    flags: "NOSCRIPT SKIP_MONITOR MAY_REPLICATE NO_MANDATORY_KEYS STALE",
    acl: "SCRIPTING",
    group: "scripting",
    since: "7.0.0",
    summary: "Runs a function of a loaded library on the keys it names, as one command.",
    complexity: "Depends on the function that is executed.",
    keySpecs: [{ ...keynum("RW access update", 2, 0, 1), notes: scriptKeysNote("RW and UPDATE") }],
    args: scriptArgs("function"),
  },
  fcall_ro: {
    arity: -3,
    flags: "NOSCRIPT SKIP_MONITOR NO_MANDATORY_KEYS STALE READONLY",
    acl: "SCRIPTING",
    group: "scripting",
    since: "7.0.0",
    summary: "Runs a function that declares no-writes.",
    complexity: "Depends on the function that is executed.",
    keySpecs: [{ ...keynum("RO access", 2, 0, 1), notes: scriptKeysNote("RO and ACCESS") }],
    args: scriptArgs("function"),
  },
  function: {
    arity: -2,
    group: "scripting",
    since: "7.0.0",
    summary: "A container for function commands.",
    complexity: "Depends on subcommand.",
    subcommands: {
      list: {
        arity: -2,
        flags: "NOSCRIPT",
        acl: "SCRIPTING",
        group: "scripting",
        since: "7.0.0",
        summary: "Returns the libraries and their functions, optionally with their code.",
        complexity: "O(N) where N is the number of functions",
        tips: "NONDETERMINISTIC_OUTPUT_ORDER",
        args: [
          str("library-name-pattern", { token: "LIBRARYNAME", optional: true }),
          token("withcode", "WITHCODE", { optional: true }),
        ],
      },
      flush: {
        arity: -2,
        flags: "NOSCRIPT WRITE",
        acl: "SCRIPTING",
        group: "scripting",
        since: "7.0.0",
        summary: "Deletes every library.",
        complexity: "O(N) where N is the number of functions deleted",
        tips: "REQUEST_POLICY:ALL_SHARDS RESPONSE_POLICY:ALL_SUCCEEDED",
        args: [flushMode(false)],
      },
      restore: {
        arity: -3,
        flags: "NOSCRIPT WRITE DENYOOM",
        acl: "SCRIPTING",
        group: "scripting",
        since: "7.0.0",
        summary: "Loads the libraries of a FUNCTION DUMP payload.",
        complexity: "O(N) where N is the number of functions on the payload",
        tips: "REQUEST_POLICY:ALL_SHARDS RESPONSE_POLICY:ALL_SUCCEEDED",
        args: [
          str("serialized-value"),
          oneof("policy", { optional: true }, [
            token("flush", "FLUSH"),
            token("append", "APPEND"),
            token("replace", "REPLACE"),
          ]),
        ],
      },
      help: {
        arity: 2,
        flags: "LOADING STALE",
        acl: "SCRIPTING",
        group: "scripting",
        since: "7.0.0",
        summary: "Returns helpful text about the different subcommands.",
        complexity: O1,
      },
      dump: {
        arity: 2,
        flags: "NOSCRIPT",
        acl: "SCRIPTING",
        group: "scripting",
        since: "7.0.0",
        summary: "Returns every library as one payload, for FUNCTION RESTORE.",
        complexity: "O(N) where N is the number of functions",
      },
      delete: {
        arity: 3,
        flags: "NOSCRIPT WRITE",
        acl: "SCRIPTING",
        group: "scripting",
        since: "7.0.0",
        summary: "Deletes a library and its functions.",
        complexity: O1,
        tips: "REQUEST_POLICY:ALL_SHARDS RESPONSE_POLICY:ALL_SUCCEEDED",
        args: [str("library-name")],
      },
      kill: {
        arity: 2,
        flags: "NOSCRIPT ALLOW_BUSY",
        acl: "SCRIPTING",
        group: "scripting",
        since: "7.0.0",
        summary: "Kills the running function (none ever is: functions finish within a bound).",
        complexity: O1,
        tips: "REQUEST_POLICY:ALL_SHARDS RESPONSE_POLICY:ONE_SUCCEEDED",
      },
      load: {
        arity: -3,
        flags: "NOSCRIPT WRITE DENYOOM",
        acl: "SCRIPTING",
        group: "scripting",
        since: "7.0.0",
        summary: "Loads a library; on a cluster, on every node.",
        complexity: "O(1) (considering compilation time is redundant)",
        tips: "REQUEST_POLICY:ALL_SHARDS RESPONSE_POLICY:ALL_SUCCEEDED",
        args: [token("replace", "REPLACE", { optional: true }), str("function-code")],
      },
      stats: {
        arity: 2,
        flags: "NOSCRIPT ALLOW_BUSY",
        acl: "SCRIPTING",
        group: "scripting",
        since: "7.0.0",
        summary: "Returns the running function (none) and the libraries' and functions' counts.",
        complexity: O1,
        tips: "NONDETERMINISTIC_OUTPUT REQUEST_POLICY:ALL_SHARDS RESPONSE_POLICY:SPECIAL",
      },
    },
  },
};

/** Every command the node accepts, keyed by lower-case name. */
export const COMMAND_SPECS: ReadonlyMap<string, CommandSpec> = new Map(
  Object.entries(DECLS).map(([name, d]) => [name, build(name, d)]),
);

/**
 * The spec a command instance runs under: its subcommand's for a container given one,
 * else the command's own. Undefined when the name, or the subcommand, is unknown.
 */
export function findCommandSpec(args: Args): CommandSpec | undefined {
  return runSpec(COMMAND_SPECS.get(args.lower(0)), args);
}

/** As findCommandSpec, given the spec of the command's name (undefined if unknown). */
export function runSpec(spec: CommandSpec | undefined, args: Args): CommandSpec | undefined {
  if (spec === undefined || spec.subcommands === undefined || args.length === 1) return spec;
  const sub = `${spec.name}|${args.lower(1)}`;
  return spec.subcommands.find((s) => s.name === sub);
}

export type Resolution =
  | { readonly spec: CommandSpec; readonly error?: undefined }
  | { readonly spec?: undefined; readonly error: Reply };

/**
 * Resolves a command instance as Redis's processCommand does before running it: unknown
 * command, unknown subcommand, then arity. Gives the spec, or the error reply to send.
 */
export function resolveCommand(args: Args): Resolution {
  const spec = findCommandSpec(args);
  if (spec === undefined) {
    const container = COMMAND_SPECS.get(args.lower(0)) !== undefined;
    return { error: container ? unknownSubcommand(args) : unknownCommand(args) };
  }
  if (!arityAccepts(spec.arity, args.length)) return { error: wrongArity(spec.name) };
  return { spec };
}

/** Whether `argc` arguments (the name included) satisfy `arity`. */
export function arityAccepts(arity: number, argc: number): boolean {
  return arity >= 0 ? argc === arity : argc >= -arity;
}

/**
 * The argument indexes holding keys in an instance of `spec` with `argc` arguments,
 * ascending (for cluster routing). Follows the key specs as Redis's getKeysFromCommand
 * does; indexes past the end are dropped.
 *
 * A keynum spec (SINTERCARD) needs the arguments: without them it is answered
 * conservatively, with every argument from its first key to the last (a superset of its
 * keys, so a command is never routed away from one of them, but SINTERCARD 1 k LIMIT 5
 * counts LIMIT and 5 as keys). Use keyIndexesOf for the exact answer.
 */
export function keyIndexes(spec: CommandSpec, argc: number): readonly number[] {
  if (argc > keyIndexesMemoArgc) return findKeyIndexes(spec, argc);
  let byArgc = keyIndexesMemo.get(spec);
  if (byArgc === undefined) {
    byArgc = [];
    keyIndexesMemo.set(spec, byArgc);
  }
  let found = byArgc[argc];
  if (found === undefined) {
    found = Object.freeze(findKeyIndexes(spec, argc));
    byArgc[argc] = found;
  }
  return found;
}

/**
 * As keyIndexes, exactly for every spec: a keynum spec's count is read from `args`. As in
 * Redis, a count that is not an integer, is below 1 or runs past the arguments gives no
 * keys at all (the command answers its own error).
 */
export function keyIndexesOf(spec: CommandSpec, args: Args): readonly number[] {
  if (spec.getKeys !== undefined) return spec.getKeys(args);
  return countsKeys(spec) ? findKeyIndexes(spec, args.length, args) : keyIndexes(spec, args.length);
}

/** A key of a command and how the command uses it (COMMAND GETKEYSANDFLAGS). */
export interface KeyWithFlags {
  readonly index: number;
  readonly flags: readonly KeySpecFlag[];
}

/**
 * The keys of `args` with their flags, as Redis's getKeysFromCommandWithSpecs finds them:
 * by the key specs when some spec names keys and none says its flags vary; else, or when
 * a spec cannot be followed (an unknown search, an incomplete spec, a bad key count), by
 * the command's own finder: SORT's and SORT_RO's keys, SET's key (RW with GET, OW
 * without). Empty when no key is found.
 */
export function keysWithFlagsOf(spec: CommandSpec, args: Args): KeyWithFlags[] {
  const keyed = spec.keySpecs.some((ks) => !ks.flags.includes("not_key"));
  const variable = spec.keySpecs.some((ks) => ks.flags.includes("variable_flags"));
  if (keyed && !variable) {
    const found = keysBySpecs(spec, args);
    if (found !== null) return found;
  }
  switch (spec.name) {
    case "set": {
      let get = false;
      for (let i = 3; i < args.length; i++) if (args.is(i, "get")) get = true;
      return [{ index: 1, flags: get ? ["RW", "access", "update"] : ["OW", "update"] }];
    }
    case "sort":
      return sortKeys(args).map((index, k) => ({
        index,
        flags: k === 0 ? ["RO", "access"] : ["OW", "update"],
      }));
    case "sort_ro":
      return [{ index: 1, flags: ["RO", "access"] }];
    case "bitfield":
      return [
        {
          index: 1,
          flags: bitfieldReadsOnly(args) ? ["RO", "access"] : ["RW", "access", "update"],
        },
      ];
    default:
      return [];
  }
}

/** Redis's getKeysUsingKeySpecs: the keys every spec finds, or null if one cannot be followed. */
function keysBySpecs(spec: CommandSpec, args: Args): KeyWithFlags[] | null {
  const argc = args.length;
  const out: KeyWithFlags[] = [];
  for (const ks of spec.keySpecs) {
    if (ks.flags.includes("not_key")) continue;
    const bs = ks.beginSearch;
    let first = 0;
    if (bs.type === "index") {
      first = bs.index;
    } else if (bs.type === "keyword") {
      const start = bs.startFrom > 0 ? bs.startFrom : argc + bs.startFrom;
      const end = bs.startFrom > 0 ? argc - 1 : 1;
      for (let i = start; i !== end; i += start <= end ? 1 : -1) {
        if (i >= argc || i < 1) break;
        if (args.is(i, bs.keyword.toLowerCase())) {
          first = i + 1;
          break;
        }
      }
      if (first === 0) continue;
    } else {
      return null;
    }
    const fk = ks.findKeys;
    let last: number;
    if (fk.type === "range") {
      if (fk.lastKey >= 0) last = first + fk.lastKey;
      else if (fk.limit === 0) last = argc + fk.lastKey;
      else last = first + Math.trunc((argc - first) / fk.limit) + fk.lastKey;
    } else if (fk.type === "keynum") {
      if (first + fk.keyNumIdx >= argc) return null;
      const count = keyCount(args, first + fk.keyNumIdx);
      if (count === undefined || count < 0) return null;
      first += fk.firstKey;
      last = first + count - 1;
    } else {
      return null;
    }
    if (last >= argc || last < first || first >= argc) return null;
    const step = fk.keyStep;
    for (let i = first; i <= last; i += step) out.push({ index: i, flags: ks.flags });
    if (ks.flags.includes("incomplete")) return null;
  }
  return out;
}

/**
 * SORT's keys, as Redis's sortGetKeys finds them: the key sorted, and the destination of
 * the last STORE, skipping the arguments of LIMIT, GET and BY (a STORE right after one of
 * those words is not an option).
 */
/**
 * GEORADIUS and GEORADIUSBYMEMBER's keys: the source, then the last STORE or STOREDIST
 * key (Redis's georadiusGetKeys).
 */
function georadiusKeys(args: Args): number[] {
  let store = -1;
  for (let i = 5; i < args.length; i++) {
    if ((args.is(i, "store") || args.is(i, "storedist")) && i + 1 < args.length) {
      store = i + 1;
      i++;
    }
  }
  return store < 0 ? [1] : [1, store];
}

/**
 * Whether a BITFIELD only reads (GET and OVERFLOW alone), as Redis's bitfieldGetKeys
 * decides its key's flags: anything it cannot read counts as a write.
 */
function bitfieldReadsOnly(args: Args): boolean {
  for (let i = 2; i < args.length; i++) {
    const left = args.length - i - 1;
    if (args.is(i, "get") && left >= 2) i += 2;
    else if (args.is(i, "overflow") && left >= 1) i += 1;
    else return false;
  }
  return true;
}

function sortKeys(args: Args): number[] {
  let store = -1;
  for (let i = 2; i < args.length; i++) {
    if (args.is(i, "limit")) i += 2;
    else if (args.is(i, "get") || args.is(i, "by")) i += 1;
    else if (args.is(i, "store") && i + 1 < args.length) store = i + 1;
  }
  return store < 0 ? [1] : [1, store];
}

/** Whether a spec finds keys by a count (a keynum key spec): looked up once per spec. */
function countsKeys(spec: CommandSpec): boolean {
  let counts = countsKeysMemo.get(spec);
  if (counts === undefined) {
    counts = spec.keySpecs.some((ks) => ks.findKeys.type === "keynum");
    countsKeysMemo.set(spec, counts);
  }
  return counts;
}

/** keyIndexesOf runs for every command routed and applied: the spec's scan is kept. */
const countsKeysMemo = new WeakMap<CommandSpec, boolean>();

/**
 * keyIndexes are worked out once per spec and argument count up to this count (every
 * command routed and applied asks; an array and its sort each time were 1% of a node's
 * allocations at 50 writers).
 */
const keyIndexesMemoArgc = 16;
const keyIndexesMemo = new WeakMap<CommandSpec, (readonly number[] | undefined)[]>();

/** `args` given, keynum specs are followed exactly; else see keyIndexes. */
function findKeyIndexes(spec: CommandSpec, argc: number, args?: Args): number[] {
  const out: number[] = [];
  for (const ks of spec.keySpecs) {
    const fk = ks.findKeys;
    if (ks.beginSearch.type !== "index" || fk.type === "unknown") continue;
    const begin = ks.beginSearch.index;
    if (begin >= argc) continue;
    let first = begin;
    let last: number;
    if (fk.type === "range") {
      const { lastKey, limit } = fk;
      if (lastKey >= 0) last = first + lastKey;
      else if (limit > 1 && lastKey === -1) last = first + Math.floor((argc - first) / limit) - 1;
      else last = argc + lastKey;
    } else {
      first = begin + fk.firstKey;
      if (args === undefined) {
        last = argc - 1;
      } else {
        const count = keyCount(args, begin + fk.keyNumIdx);
        if (count === undefined || count < 1) return [];
        last = first + count - 1; // as Redis has it, whatever the step (always 1 in 7.0)
        if (last >= argc) return [];
      }
    }
    for (let i = first; i <= last && i < argc; i += fk.keyStep) out.push(i);
  }
  return out.sort((a, b) => a - b);
}

/** Argument `i` as Redis's string2ll reads a key count: a plain decimal integer, else undefined. */
function keyCount(args: Args, i: number): number | undefined {
  if (i >= args.length || args.byteLength(i) > 20) return undefined;
  const text = args.lower(i);
  return /^(0|-?[1-9][0-9]*)$/.test(text) ? Number(text) : undefined;
}
