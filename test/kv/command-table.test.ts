import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  COMMAND_SPECS,
  type CommandSpec,
  findCommandSpec,
  keyIndexes,
  keyIndexesOf,
  resolveCommand,
} from "../../src/kv/command-table.js";
import { KV_HANDLERS } from "../../src/kv/handlers.js";
import { TestArgs } from "./helpers.js";

const spec = (name: string): CommandSpec => {
  const s = COMMAND_SPECS.get(name);
  assert.ok(s !== undefined, name);
  return s;
};

/** Commands whose handlers live in the server layer. */
const SERVER_SIDE = [
  "ping",
  "wait",
  "echo",
  "hello",
  "auth",
  "select",
  "quit",
  "reset",
  "client",
  "command",
  "info",
  "config",
  "time",
  "function",
  "homeostat",
  "cluster",
  "readonly",
  "readwrite",
  "asking",
  "multi",
  "exec",
  "discard",
  "watch",
  "unwatch",
  "subscribe",
  "unsubscribe",
  "psubscribe",
  "punsubscribe",
  "publish",
  "pubsub",
  "ssubscribe",
  "sunsubscribe",
  "spublish",
  "evalsha",
  "evalsha_ro",
  "script",
  "slowlog",
  "latency",
  "monitor",
  "role",
];

/** The sorted-set commands of Redis 7.0.15 (src/commands/*.json, group sorted_set there). */
const ZSET_COMMANDS = [
  "zadd",
  "zcard",
  "zcount",
  "zdiff",
  "zdiffstore",
  "zincrby",
  "zinter",
  "zintercard",
  "zinterstore",
  "zlexcount",
  "zmpop",
  "bzmpop",
  "zmscore",
  "zpopmax",
  "zpopmin",
  "bzpopmax",
  "bzpopmin",
  "zrandmember",
  "zrange",
  "zrangebylex",
  "zrangebyscore",
  "zrangestore",
  "zrank",
  "zrem",
  "zremrangebylex",
  "zremrangebyrank",
  "zremrangebyscore",
  "zrevrange",
  "zrevrangebylex",
  "zrevrangebyscore",
  "zrevrank",
  "zscan",
  "zscore",
  "zunion",
  "zunionstore",
];

describe("command table", () => {
  it("has a spec for every handler, and a handler for every spec not served elsewhere", () => {
    for (const name of KV_HANDLERS.keys()) assert.ok(COMMAND_SPECS.has(name), name);
    for (const name of COMMAND_SPECS.keys()) {
      assert.ok(KV_HANDLERS.has(name) !== SERVER_SIDE.includes(name), name);
    }
  });

  it("names are lower case; subcommands are container|sub", () => {
    for (const [name, s] of COMMAND_SPECS) {
      assert.equal(name, s.name);
      assert.equal(name, name.toLowerCase());
      for (const sub of s.subcommands ?? []) {
        assert.ok(sub.name.startsWith(`${name}|`), sub.name);
        assert.equal(sub.container, name);
      }
    }
    const client = spec("client").subcommands?.map((s) => s.name);
    assert.deepEqual(client, [
      "client|id",
      "client|setname",
      "client|reply",
      "client|getname",
      "client|info",
      "client|list",
      "client|kill",
      "client|pause",
      "client|unpause",
      "client|no-evict",
      "client|unblock",
    ]);
    assert.deepEqual(
      spec("command").subcommands?.map((s) => s.name),
      [
        "command|count",
        "command|info",
        "command|docs",
        "command|getkeys",
        "command|getkeysandflags",
        "command|list",
      ],
    );
    assert.deepEqual(
      spec("config").subcommands?.map((s) => s.name),
      ["config|get", "config|set", "config|resetstat"],
    );
    assert.deepEqual(
      spec("function").subcommands?.map((s) => s.name),
      [
        "function|list",
        "function|flush",
        "function|restore",
        "function|help",
        "function|dump",
        "function|delete",
        "function|kill",
        "function|load",
        "function|stats",
      ],
    );
  });

  it("matches Redis 7.0 for a sample of commands", () => {
    const info = (s: CommandSpec) => [s.arity, s.flags, s.firstKey, s.lastKey, s.step];
    assert.deepEqual(info(spec("get")), [2, ["readonly", "fast"], 1, 1, 1]);
    assert.deepEqual(info(spec("set")), [-3, ["write", "denyoom"], 1, 1, 1]);
    assert.deepEqual(info(spec("mset")), [-3, ["write", "denyoom"], 1, -1, 2]);
    assert.deepEqual(info(spec("mget")), [-2, ["readonly", "fast"], 1, -1, 1]);
    assert.deepEqual(info(spec("rename")), [3, ["write"], 1, 2, 1]);
    assert.deepEqual(info(spec("copy")), [-3, ["write", "denyoom"], 1, 2, 1]);
    assert.deepEqual(info(spec("keys")), [2, ["readonly"], 0, 0, 0]);
    assert.deepEqual(info(spec("scan")), [-2, ["readonly"], 0, 0, 0]);
    assert.deepEqual(spec("scan").hiddenFlags, ["touches_arbitrary_keys"]);
    assert.deepEqual(info(spec("ping")), [-1, ["fast"], 0, 0, 0]);
    assert.deepEqual(info(spec("hello")), [
      -1,
      ["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"],
      0,
      0,
      0,
    ]);
    assert.deepEqual(info(spec("setbit")), [4, ["write", "denyoom"], 1, 1, 1]);
    assert.deepEqual(info(spec("getbit")), [3, ["readonly", "fast"], 1, 1, 1]);
    assert.deepEqual(info(spec("bitcount")), [-2, ["readonly"], 1, 1, 1]);
    assert.deepEqual(info(spec("bitpos")), [-3, ["readonly"], 1, 1, 1]);
    assert.deepEqual(info(spec("lcs")), [-3, ["readonly"], 1, 2, 1]);
    assert.deepEqual(spec("setbit").aclCategories, ["@write", "@bitmap", "@slow"]);
    assert.deepEqual(spec("getbit").aclCategories, ["@read", "@bitmap", "@fast"]);
    assert.deepEqual(spec("lcs").aclCategories, ["@read", "@string", "@slow"]);
    assert.deepEqual(spec("setbit").keySpecs[0]?.flags, ["RW", "access", "update"]);
    assert.equal(spec("bitpos").group, "bitmap");
    assert.equal(spec("lcs").group, "string");
    assert.deepEqual(spec("get").aclCategories, ["@read", "@string", "@fast"]);
    assert.deepEqual(spec("keys").aclCategories, ["@keyspace", "@read", "@slow", "@dangerous"]);
    assert.deepEqual(spec("del").tips, ["request_policy:multi_shard", "response_policy:agg_sum"]);
    assert.deepEqual(spec("getset").docFlags, ["deprecated"]);
    const configGet = findCommandSpec(new TestArgs(["CONFIG", "GET", "x"]));
    assert.equal(configGet?.arity, -3);
    assert.deepEqual(configGet?.aclCategories, ["@admin", "@slow", "@dangerous"]);
  });

  it("describes arguments for COMMAND DOCS", () => {
    const set = spec("set").arguments;
    assert.deepEqual(
      set.map((a) => [a.name, a.type]),
      [
        ["key", "key"],
        ["value", "string"],
        ["condition", "oneof"],
        ["get", "pure-token"],
        ["expiration", "oneof"],
      ],
    );
    assert.equal(set[0]?.keySpecIndex, 0);
    assert.deepEqual(
      set[4]?.arguments?.map((a) => a.token),
      ["EX", "PX", "EXAT", "PXAT", "KEEPTTL"],
    );
    const bitpos = spec("bitpos").arguments[2];
    assert.deepEqual(
      bitpos?.arguments?.[1]?.arguments?.map((a) => [a.name, a.type, a.since]),
      [
        ["end", "integer", undefined],
        ["index_unit", "oneof", "7.0.0"],
      ],
    );
    assert.deepEqual(
      spec("lcs").arguments.map((a) => [a.name, a.token]),
      [
        ["key1", undefined],
        ["key2", undefined],
        ["len", "LEN"],
        ["idx", "IDX"],
        ["len", "MINMATCHLEN"],
        ["withmatchlen", "WITHMATCHLEN"],
      ],
    );
    const mset = spec("mset").arguments[0];
    assert.equal(mset?.type, "block");
    assert.equal(mset?.multiple, true);
  });

  it("has the 35 sorted-set commands of Redis 7.0, in group sorted-set as COMMAND DOCS names it", () => {
    const zset = [...COMMAND_SPECS.values()].filter((s) => s.group === "sorted-set");
    assert.deepEqual(zset.map((s) => s.name).sort(), [...ZSET_COMMANDS].sort());
    for (const name of ZSET_COMMANDS) {
      assert.equal(spec(name).group, "sorted-set", name);
      assert.ok(spec(name).aclCategories.includes("@sortedset"), name);
    }
    assert.deepEqual(
      spec("zadd")
        .arguments.at(-1)
        ?.arguments?.map((a) => [a.name, a.type]),
      [
        ["score", "double"],
        ["member", "string"],
      ],
    );
    assert.deepEqual(spec("zrangebyscore").docFlags, ["deprecated"]);
    assert.equal(spec("zrange").docFlags, undefined);
  });
});

/** The stream commands of Redis 7.0.15 (src/commands/*.json, group stream there). */
const STREAM_COMMANDS = [
  "xack",
  "xadd",
  "xautoclaim",
  "xclaim",
  "xdel",
  "xgroup",
  "xinfo",
  "xlen",
  "xpending",
  "xrange",
  "xread",
  "xreadgroup",
  "xrevrange",
  "xsetid",
  "xtrim",
];

describe("command table, streams", () => {
  it("has the 15 stream commands of Redis 7.0, XGROUP's and XINFO's subcommands included", () => {
    const streams = [...COMMAND_SPECS.values()].filter((s) => s.group === "stream");
    assert.deepEqual(streams.map((s) => s.name).sort(), STREAM_COMMANDS);
    assert.deepEqual(
      spec("xgroup").subcommands?.map((s) => s.name),
      [
        "xgroup|create",
        "xgroup|createconsumer",
        "xgroup|delconsumer",
        "xgroup|destroy",
        "xgroup|help",
        "xgroup|setid",
      ],
    );
    assert.deepEqual(spec("xread").flags, ["readonly", "blocking", "movablekeys"]);
    assert.deepEqual(spec("xreadgroup").flags, ["write", "blocking", "movablekeys"]);
    // XREAD's keys follow STREAMS (a keyword key spec, as Redis states it).
    assert.deepEqual(spec("xread").keySpecs[0]?.beginSearch, {
      type: "keyword",
      keyword: "STREAMS",
      startFrom: 1,
    });
    assert.deepEqual([spec("xread").firstKey, spec("xread").lastKey], [0, 0]);
  });
});

describe("key positions", () => {
  const idx = (...parts: string[]) => {
    const spec = findCommandSpec(new TestArgs(parts));
    const args = new TestArgs(parts);
    return spec === undefined ? undefined : keyIndexesOf(spec, args);
  };

  it("follow the key specs", () => {
    assert.deepEqual(idx("GET", "k"), [1]);
    assert.deepEqual(idx("SET", "k", "v", "EX", "10"), [1]);
    assert.deepEqual(idx("MGET", "a", "b", "c"), [1, 2, 3]);
    assert.deepEqual(idx("MSET", "a", "1", "b", "2"), [1, 3]);
    assert.deepEqual(idx("DEL", "a"), [1]);
    assert.deepEqual(idx("RENAME", "a", "b"), [1, 2]);
    assert.deepEqual(idx("COPY", "a", "b", "REPLACE"), [1, 2]);
    assert.deepEqual(idx("LCS", "a", "b", "IDX"), [1, 2]);
    assert.deepEqual(idx("SETBIT", "k", "7", "1"), [1]);
    assert.deepEqual(idx("HSET", "h", "f", "v"), [1]);
    assert.deepEqual(idx("SINTERSTORE", "d", "a", "b"), [1, 2, 3]);
    assert.deepEqual(idx("SMOVE", "a", "b", "m"), [1, 2]);
    // SINTERCARD's keys are counted by its first argument (a keynum key spec).
    assert.deepEqual(idx("SINTERCARD", "2", "a", "b"), [2, 3]);
    assert.deepEqual(idx("SINTERCARD", "1", "a", "LIMIT", "5"), [2]);
    assert.deepEqual(idx("SINTERCARD", "3", "a", "b"), []);
    assert.deepEqual(idx("SINTERCARD", "x", "a"), []);
    // The blocking pops: keys up to the timeout, LMPOP/BLMPOP by their key count.
    assert.deepEqual(idx("BLPOP", "a", "b", "c", "0"), [1, 2, 3]);
    assert.deepEqual(idx("BRPOPLPUSH", "s", "d", "0"), [1, 2]);
    assert.deepEqual(idx("BLMOVE", "s", "d", "LEFT", "RIGHT", "0"), [1, 2]);
    assert.deepEqual(idx("LMPOP", "2", "a", "b", "LEFT"), [2, 3]);
    assert.deepEqual(idx("BLMPOP", "0", "2", "a", "b", "LEFT", "COUNT", "3"), [3, 4]);
    assert.deepEqual(idx("LMOVE", "s", "d", "LEFT", "LEFT"), [1, 2]);
    assert.deepEqual(idx("MEMORY", "USAGE", "k"), [2]);
    // XREAD and XREADGROUP: the first half of what follows STREAMS (a group may be named so).
    assert.deepEqual(idx("XREAD", "COUNT", "2", "STREAMS", "a", "b", "0", "0"), [4, 5]);
    assert.deepEqual(idx("XREAD", "BLOCK", "0", "STREAMS", "a", "$"), [4]);
    assert.deepEqual(idx("XREADGROUP", "GROUP", "streams", "c", "STREAMS", "a", ">"), [5]);
    assert.deepEqual(idx("XGROUP", "CREATE", "s", "g", "$"), [2]);
    assert.deepEqual(idx("XINFO", "STREAM", "s", "FULL"), [2]);
    assert.deepEqual(idx("KEYS", "*"), []);
    assert.deepEqual(idx("PING"), []);
    assert.deepEqual(idx("CONFIG", "GET", "x"), []);
    assert.equal(idx("NOPE", "x"), undefined);
  });

  it("flag the blocking pops as Redis does", () => {
    for (const name of ["blpop", "brpop", "blmove", "brpoplpush", "blmpop"]) {
      assert.ok(spec(name).flags.includes("blocking"), name);
      assert.ok(spec(name).aclCategories.includes("@blocking"), name);
    }
    assert.deepEqual(spec("lpush").flags, ["write", "denyoom", "fast"]);
    assert.deepEqual(spec("lrange").flags, ["readonly"]);
    assert.deepEqual(spec("lmpop").flags, ["write", "movablekeys"]);
  });

  it("find the sorted-set keys: up to the timeout, by their count, or dst then src", () => {
    // BZPOPMIN/BZPOPMAX: every argument up to the timeout.
    assert.deepEqual(idx("BZPOPMIN", "a", "b", "c", "0"), [1, 2, 3]);
    assert.deepEqual(idx("BZPOPMAX", "a", "0.5"), [1]);
    // The *STORE algebra: the destination, then numkeys keys (WEIGHTS and AGGREGATE are not).
    assert.deepEqual(idx("ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"), [1, 3, 4]);
    assert.deepEqual(idx("ZINTERSTORE", "d", "1", "a", "AGGREGATE", "MAX"), [1, 3]);
    assert.deepEqual(idx("ZDIFFSTORE", "d", "2", "a", "b"), [1, 3, 4]);
    // A count running past the arguments gives no keys at all, as in Redis.
    assert.deepEqual(idx("ZUNIONSTORE", "d", "3", "a", "b"), []);
    assert.deepEqual(idx("ZUNION", "2", "a", "b", "WITHSCORES"), [2, 3]);
    assert.deepEqual(idx("ZINTERCARD", "1", "a", "LIMIT", "5"), [2]);
    assert.deepEqual(idx("ZMPOP", "2", "a", "b", "MIN", "COUNT", "2"), [2, 3]);
    // BZMPOP: the timeout, then numkeys and the keys.
    assert.deepEqual(idx("BZMPOP", "0", "2", "a", "b", "MAX", "COUNT", "3"), [3, 4]);
    assert.deepEqual(idx("BZMPOP", "1.5", "1", "a", "MIN"), [3]);
    // ZRANGESTORE: dst, then src.
    assert.deepEqual(idx("ZRANGESTORE", "d", "s", "0", "-1"), [1, 2]);
    assert.deepEqual(
      idx("ZRANGESTORE", "d", "s", "(1", "+inf", "BYSCORE", "LIMIT", "0", "2"),
      [1, 2],
    );
    assert.deepEqual(idx("ZADD", "z", "1", "m"), [1]);
  });

  it("flag the blocking sorted-set pops and the counted keys as Redis does", () => {
    for (const name of ["bzpopmin", "bzpopmax", "bzmpop"]) {
      assert.ok(spec(name).flags.includes("blocking"), name);
      assert.ok(spec(name).aclCategories.includes("@blocking"), name);
    }
    assert.deepEqual(spec("bzpopmin").flags, ["write", "noscript", "blocking", "fast"]);
    assert.deepEqual(spec("bzpopmin").aclCategories, [
      "@write",
      "@sortedset",
      "@fast",
      "@blocking",
    ]);
    assert.deepEqual(spec("bzmpop").flags, ["write", "blocking", "movablekeys"]);
    assert.deepEqual(spec("zmpop").flags, ["write", "movablekeys"]);
    const info = (s: CommandSpec) => [s.arity, s.flags, s.firstKey, s.lastKey, s.step];
    assert.deepEqual(info(spec("bzpopmax")), [
      -3,
      ["write", "noscript", "blocking", "fast"],
      1,
      -2,
      1,
    ]);
    assert.deepEqual(info(spec("zunionstore")), [-4, ["write", "denyoom", "movablekeys"], 1, 1, 1]);
    assert.deepEqual(info(spec("zunion")), [-3, ["readonly", "movablekeys"], 0, 0, 0]);
    assert.deepEqual(info(spec("zrangestore")), [-5, ["write", "denyoom"], 1, 2, 1]);
    assert.deepEqual(info(spec("zadd")), [-4, ["write", "denyoom", "fast"], 1, 1, 1]);
    for (const name of ZSET_COMMANDS) {
      if (!name.startsWith("bz")) assert.ok(!spec(name).flags.includes("blocking"), name);
    }
  });

  it("never point past the arguments", () => {
    assert.deepEqual(keyIndexes(spec("get"), 1), []);
    assert.deepEqual(keyIndexes(spec("mset"), 4), [1, 3]);
  });
});

describe("resolveCommand", () => {
  const resolve = (...parts: string[]) => {
    const res = resolveCommand(new TestArgs(parts));
    return res.error ?? res.spec.name;
  };

  it("finds commands case-insensitively, subcommands included", () => {
    assert.equal(resolve("GeT", "k"), "get");
    assert.equal(resolve("client", "SETNAME", "n"), "client|setname");
    assert.equal(resolve("COMMAND"), "command");
  });

  it("answers Redis's errors for unknown commands, subcommands and bad arity", () => {
    assert.deepEqual(resolve("foo", "a", "b"), {
      kind: "error",
      value: "ERR unknown command 'foo', with args beginning with: 'a' 'b' ",
    });
    assert.deepEqual(resolve("foo"), {
      kind: "error",
      value: "ERR unknown command 'foo', with args beginning with: ",
    });
    assert.deepEqual(resolve("client", "tracking", "x"), {
      kind: "error",
      value: "ERR unknown subcommand 'tracking'. Try CLIENT HELP.",
    });
    assert.deepEqual(resolve("get"), {
      kind: "error",
      value: "ERR wrong number of arguments for 'get' command",
    });
    assert.deepEqual(resolve("config", "get"), {
      kind: "error",
      value: "ERR wrong number of arguments for 'config|get' command",
    });
    assert.deepEqual(resolve("client"), {
      kind: "error",
      value: "ERR wrong number of arguments for 'client' command",
    });
  });

  it("keeps echoed arguments short and on one line", () => {
    const long = "x".repeat(300);
    const reply = resolve("bad\r\ncmd", long, "y");
    assert.ok(typeof reply !== "string" && reply.kind === "error");
    const text = reply.value;
    assert.ok(!/[\r\n]/.test(text));
    assert.ok(text.length < 300, String(text.length));
  });
});
