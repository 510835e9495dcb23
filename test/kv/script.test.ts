import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { SeededRandom } from "../../src/core/random.js";
import { sha1Hex } from "../../src/core/sha1.js";
import { KV_HANDLERS } from "../../src/kv/handlers.js";
import {
  compileError,
  loadLibrary,
  scriptInstructionsMax,
  scriptSha,
  splitArgs,
} from "../../src/kv/script.js";
import { formatDouble } from "../../src/resp/encoder.js";
import * as R from "../../src/resp/reply.js";
import { newDb, type Plain, plain, type TestDb } from "./helpers.js";

/** A database whose scripts run their commands on it, as a standalone node's do. */
function scriptDb(seed = 1, served: (key: Buffer) => boolean = () => true): TestDb {
  const db = newDb({ seed });
  db.ctx.script = {
    served,
    runs: (name) => KV_HANDLERS.has(name),
    run: (name, args) => {
      const h = KV_HANDLERS.get(name);
      assert.ok(h !== undefined, `no handler for ${name}`);
      return h(db.ctx, args);
    },
  };
  return db;
}

const evalIn = (db: TestDb, body: string, keys: string[] = [], ...argv: string[]) =>
  plain(db.run("EVAL", body, String(keys.length), ...keys, ...argv));

/** The error reply's text up to " script: <sha>, on ...", which names the script. */
function errorOf(p: ReturnType<typeof plain>): string {
  assert.ok(
    p !== null && typeof p === "object" && "error" in p,
    `not an error: ${JSON.stringify(p)}`,
  );
  return p.error.replace(/ script: [0-9a-f]{40}, on @user_script:\d+\.$/, "");
}

describe("Lua scripts", () => {
  it("runs commands on KEYS and ARGV and converts replies as Redis does", () => {
    const db = scriptDb();
    assert.deepEqual(evalIn(db, "return redis.call('SET', KEYS[1], ARGV[1])", ["k"], "v"), {
      status: "OK",
    });
    assert.equal(evalIn(db, "return redis.call('GET', KEYS[1])", ["k"]), "v");
    // Numbers are truncated to integers, false is a null, true is 1, a table an array up
    // to its first nil, {ok=...} a status and {err=...} an error.
    assert.deepEqual(evalIn(db, "return {1, 2.9, -3.5, 'x', false, true, {ok='fine'}, nil, 9}"), [
      1,
      2,
      -3,
      "x",
      null,
      1,
      { status: "fine" },
    ]);
    assert.deepEqual(evalIn(db, "return {err='MY failure'}"), { error: "MY failure" });
    assert.deepEqual(evalIn(db, "return redis.error_reply('-CODE text')"), { error: "CODE text" });
    assert.deepEqual(evalIn(db, "return redis.status_reply('DONE')"), { status: "DONE" });
    // A missing key is false inside the script, a nil reply outside.
    assert.equal(
      evalIn(db, "local v = redis.call('GET', 'none'); return v == false and 1 or 0"),
      1,
    );
    // Numbers passed to commands are written as %.17g.
    assert.deepEqual(evalIn(db, "return redis.call('SET', 'n', 0.1)"), { status: "OK" });
    assert.equal(
      db.run("GET", "n").kind === "bulk" && plain(db.run("GET", "n")),
      "0.10000000000000001",
    );
  });

  it("is binary safe", () => {
    const db = scriptDb();
    const value = Buffer.from([0, 255, 13, 10, 0x80]);
    const r = db.run(
      "EVAL",
      "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1])",
      "1",
      "k",
      value,
    );
    assert.equal(r.kind, "bulk");
    assert.deepEqual(Buffer.from(r.kind === "bulk" ? r.value : ""), value);
  });

  it("answers Redis's errors for bad calls, with where the script raised them", () => {
    const db = scriptDb();
    db.run("SET", "s", "text");
    const r = evalIn(db, "\nreturn redis.call('INCR', 's')");
    assert.match((r as { error: string }).error, / script: [0-9a-f]{40}, on @user_script:2\.$/);
    assert.equal(errorOf(r), "ERR value is not an integer or out of range");
    assert.deepEqual(evalIn(db, "return redis.pcall('INCR', 's')"), {
      error: "ERR value is not an integer or out of range",
    });
    const cases: [string, string][] = [
      ["return redis.call('NOSUCH')", "ERR Unknown Redis command called from script"],
      ["return redis.call('GET')", "ERR Wrong number of args calling Redis command from script"],
      ["return redis.call()", "ERR Please specify at least one argument for this redis lib call"],
      ["return redis.call({})", "ERR Lua redis lib command arguments must be strings or integers"],
      ["return redis.call('MULTI')", "ERR This Redis command is not allowed from script"],
      [
        "return redis.call('EVAL', 'return 1', '0')",
        "ERR This Redis command is not allowed from script",
      ],
      ["x = 1", "ERR user_script:1: Attempt to modify a readonly table"],
      ["return y", "ERR user_script:1: Script attempted to access nonexistent global variable 'y'"],
      ["error('boom')", "ERR user_script:1: boom"],
      ["error({err='X boom'})", "X boom"],
    ];
    for (const [body, message] of cases) assert.equal(errorOf(evalIn(db, body)), message, body);
    assert.match(
      (evalIn(db, "return 1 +") as { error: string }).error,
      /^ERR Error compiling script \(new function\): user_script:1: /,
    );
    assert.deepEqual(plain(db.run("EVAL", "return 1", "2", "a")), {
      error: "ERR Number of keys can't be greater than number of args",
    });
    assert.deepEqual(plain(db.run("EVAL", "return 1", "-1")), {
      error: "ERR Number of keys can't be negative",
    });
  });

  it("offers no file, OS or bytecode loading, and Lua 5.1's unpack", () => {
    const db = scriptDb();
    for (const name of ["io", "os", "dofile", "loadfile", "require", "debug"]) {
      assert.match(errorOf(evalIn(db, `return ${name}`)), /nonexistent global variable/, name);
    }
    assert.deepEqual(evalIn(db, "return {unpack({7, 8, 9}, 2)}"), [8, 9]);
    // Lua 5.1's load takes a function that returns the text in pieces; text only.
    assert.equal(
      evalIn(
        db,
        "local parts = {'return ', '4', '2'} local i = 0 " +
          "return load(function() i = i + 1 return parts[i] end)()",
      ),
      42,
    );
    assert.deepEqual(
      evalIn(db, "local f, e = load(function() return nil end) return type(f)"),
      "function",
    );
    assert.match(
      String(
        evalIn(
          db,
          "local d = false local f, e = load(function() if d then return nil end d = true return '\\27Lua' end) return e",
        ),
      ),
      /attempt to load a binary chunk/,
    );
    assert.match(
      errorOf(evalIn(db, "return load('return 1')")),
      /bad argument #1 to 'load' \(function expected, got string\)$/,
    );
  });

  it("EVAL_RO and no-writes scripts refuse writes, and read", () => {
    const db = scriptDb();
    db.run("SET", "a", "1");
    assert.equal(
      errorOf(plain(db.run("EVAL_RO", "return redis.call('SET', 'a', 'b')", "0"))),
      "ERR Write commands are not allowed from read-only scripts.",
    );
    assert.equal(plain(db.run("EVAL_RO", "return redis.call('GET', 'a')", "0")), "1");
    assert.equal(
      errorOf(evalIn(db, "#!lua flags=no-writes\nreturn redis.call('DEL', 'a')")),
      "ERR Write commands are not allowed from read-only scripts.",
    );
    assert.deepEqual(plain(db.run("EVAL_RO", "#!lua\nreturn 1", "0")), {
      error: "ERR Can not execute a script with write flag using *_ro command.",
    });
    assert.deepEqual(evalIn(db, "#!lua flags=bogus\nreturn 1"), {
      error: "ERR Unexpected flag in script shebang: bogus",
    });
    // The shebang line keeps its line: errors name the script's own line numbers.
    assert.match((evalIn(db, "#!lua\n\nerror('x')") as { error: string }).error, /user_script:3/);
    assert.equal(plain(db.run("GET", "a")), "1");
  });

  it("walks read-only tables with pairs, and refuses changes to them", () => {
    const db = scriptDb();
    assert.equal(
      evalIn(db, "local n = 0 for k, v in pairs(string) do n = n + 1 end return n > 10 and 1 or 0"),
      1,
    );
    assert.equal(
      evalIn(db, "local n = 0 for k in pairs(_G) do if k == 'redis' then n = 1 end end return n"),
      1,
    );
    for (const body of [
      "redis.call = nil",
      "string.x = 1",
      "rawset(string, 'x', 1)",
      "setmetatable(math, {})",
    ]) {
      assert.equal(
        errorOf(evalIn(db, body)),
        "ERR user_script:1: Attempt to modify a readonly table",
        body,
      );
    }
  });

  it("bounds string.rep as a value is bounded, and names any global in its errors", () => {
    const db = scriptDb();
    // Lua 5.1's string.rep, as redis-server 7.0 answers: no separator, a count cut short.
    assert.deepEqual(
      evalIn(
        db,
        "return {string.rep('ab', 3, ','), string.rep('x', 2.5), string.rep(5, 3), " +
          "string.rep('ab', -1), ('ab'):rep(2), #string.rep('abcdefg', 1000001)}",
      ),
      ["ababab", "xx", "555", "", "abab", 7000007],
    );
    assert.equal(
      errorOf(evalIn(db, "return string.rep('x')")),
      "ERR user_script:1: bad argument #2 to 'rep' (number expected, got no value)",
    );
    assert.equal(
      errorOf(evalIn(db, "return #string.rep('x', 2^30)")),
      "ERR user_script:1: resulting string too large",
    );
    assert.equal(
      errorOf(evalIn(db, "return _G['a%sb']")),
      "ERR user_script:1: Script attempted to access nonexistent global variable 'a%sb'",
    );
  });

  it("counts the work of library calls toward the instruction bound", () => {
    const db = scriptDb();
    // A few instructions of Lua each, but each call does the work of many: uncounted,
    // they would hold every replica of the shard for minutes.
    for (const body of [
      "local t = {} for i = 1, 100000 do t[i] = i end for i = 1, 1000 do cmsgpack.pack(t) end",
      "local t = {} for i = 1, 100000 do t[i] = 'ab' end for i = 1, 1000 do table.concat(t) end",
      "local s = string.rep('x', 1000000) for i = 1, 10000 do string.rep(s, 100) end",
    ]) {
      assert.match(errorOf(evalIn(db, body)), /Script exceeded the limit of 20000000 Lua/, body);
    }
    // Within the bound, the same calls answer as before.
    assert.deepEqual(
      evalIn(
        db,
        "local t = {} for i = 1, 1000 do t[i] = i end " +
          "return {#cmsgpack.unpack(cmsgpack.pack(t)), #cjson.decode(cjson.encode(t)), " +
          "#table.concat(t, ',')}",
      ),
      [1000, 1000, 3892],
    );
  });

  it("refuses keys the host does not serve (another shard's)", () => {
    const db = scriptDb(1, (key) => key.toString() !== "far");
    assert.equal(
      errorOf(evalIn(db, "return redis.call('GET', 'far')")),
      "ERR Script attempted to access a non local key in a cluster node",
    );
  });

  it("is deterministic: random numbers from the command's seed, time from the command", () => {
    const body = "return {math.random(1000000), math.random(1000000), redis.call('TIME')[1]}";
    const a = evalIn(scriptDb(7), body);
    assert.deepEqual(evalIn(scriptDb(7), body), a);
    assert.notDeepEqual(evalIn(scriptDb(8), body), a);
    assert.equal((a as string[])[2], String(Math.floor(newDb().ctx.nowMs / 1000)));
  });

  it("stops a script that does not finish, even one that catches errors", () => {
    const db = scriptDb();
    for (const body of [
      "while true do end",
      "while true do pcall(function() while true do end end) end",
    ]) {
      const r = evalIn(db, body);
      assert.match(
        errorOf(r),
        new RegExp(`exceeded the limit of ${scriptInstructionsMax} Lua instructions`),
      );
    }
  });

  it("converts RESP3 replies after redis.setresp(3), and maps, sets and doubles back", () => {
    const db = scriptDb();
    db.run("HSET", "h", "f", "v");
    assert.deepEqual(evalIn(db, "return redis.call('HGETALL', 'h')"), ["f", "v"]);
    const m = db.run("EVAL", "redis.setresp(3); return redis.call('HGETALL', 'h')", "0");
    assert.equal(m.kind, "map");
    assert.deepEqual(plain(m), ["f", "v"]);
    const d = db.run("EVAL", "return {double=1.5}", "0");
    assert.deepEqual(d, R.double(1.5));
  });

  it("knows a script by its SHA1 and checks it compiles", () => {
    assert.equal(scriptSha(Buffer.from("return 1")), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
    assert.equal(compileError(Buffer.from("return 1")), null);
    assert.match(compileError(Buffer.from("return +")) ?? "", /^ERR Error compiling script/);
  });

  it("formats numbers as C's %.17g", () => {
    const cases: [number, string][] = [
      [1, "1"],
      [-42, "-42"],
      [0.1, "0.10000000000000001"],
      [1.5, "1.5"],
      [1e20, "1e+20"],
      [1.5e-7, "1.4999999999999999e-07"],
      [1.2345678901234568e17, "1.2345678901234568e+17"],
    ];
    for (const [n, s] of cases) assert.equal(formatDouble(n), s, String(n));
  });
});

describe("SHA-1", () => {
  it("is node:crypto's for every length around the block edges, and random data", () => {
    const rnd = new SeededRandom(3);
    for (let n = 0; n < 300; n++) {
      const data = Buffer.alloc(n * 7 < 300 ? n : n * 7);
      for (let i = 0; i < data.length; i++) data[i] = rnd.int(256);
      assert.equal(sha1Hex(data), createHash("sha1").update(data).digest("hex"), String(n));
    }
  });
});

describe("Lua scripts' libraries and numbers", () => {
  it("numbers are Lua 5.1's: floats that print without .0 and do not wrap at 32 bits", () => {
    const db = scriptDb();
    assert.deepEqual(
      evalIn(
        db,
        "return {tostring(4/2), tostring(tonumber(ARGV[1]) * 1000), tostring(math.floor(2.5) * 2^31)}",
        [],
        "1764000000",
      ),
      ["2", "1764000000000", "4294967296"],
    );
    db.run("SET", "n", "3000000000");
    assert.equal(evalIn(db, "return redis.call('INCR', 'n') + 1"), 3000000002);
    assert.deepEqual(
      evalIn(db, "return {tonumber('ff', 16), tonumber('z', 36), tonumber('x'), tonumber('8', 8)}"),
      [255, 35],
    );
  });

  it("literals are doubles too: arithmetic on them does not wrap at 32 bits", () => {
    const db = scriptDb();
    // Each pair as redis-server 7.0 answers it.
    const cases: [string, string][] = [
      ["86400000 * 30", "2592000000"],
      ["2147483647 + 1", "2147483648"],
      ["-2147483648 - 1", "-2147483649"],
      ["0xffffffff", "4294967295"],
      ["-0x10", "-16"],
      ["0x10 * 0x10", "256"],
      ["0x7fffffff + 1", "2147483648"],
      ["65536 * 65536", "4294967296"],
      ["'0x10' + 0", "16"],
      ["7 % 3", "1"],
      ["-7 % 3", "2"],
    ];
    for (const [expr, want] of cases) {
      assert.equal(evalIn(db, `return tostring(${expr})`), want, expr);
    }
    // An integral double still serves where Lua 5.3 wants an integer.
    assert.deepEqual(
      evalIn(
        db,
        "local t = {} for i = 1, 3 do t[i] = i * 2 end " +
          "return {#t, t[2], string.sub('hello', 2, 3), string.rep('ab', 2), " +
          "string.format('%d %x', 3, 255), select('#', 1, 2), bit.band(0xff, 0x0f), " +
          "bit.tohex(0xffffffff), 'k' .. 5}",
      ),
      [3, 4, "el", "abab", "3 ff", 2, 15, "ffffffff", "k5"],
    );
    assert.equal(evalIn(db, "return 86400000 * 30"), 2592000000);
    // A syntax error quotes the numeral as written.
    assert.match(errorOf(evalIn(db, "return 1 2")), /<eof> expected near '2'$/);
  });

  it("string.format is Lua 5.1's over glibc's sprintf", () => {
    const db = scriptDb();
    // Each pair as redis-server 7.0 answers it (and 10,000 random specs and values were
    // compared with it: none differed).
    const cases: [string, string][] = [
      ["'%d', 3.7", "3"],
      ["'%d', -3.7", "-3"],
      ["'%d', 2^31", "2147483648"],
      ["'%d', 2^53", "9007199254740992"],
      ["'%x', -1", "ffffffffffffffff"],
      ["'%x', 1e19", "8ac7230489e80000"],
      ["'%u %+u', 5, 7112274739", "5 7112274739"],
      ["'%g %e %E', 1e20, 12345.678, 1.5", "1e+20 1.234568e+04 1.500000E+00"],
      ["'%.0f %.0f %.0f %.0f', 0.5, 1.5, 2.5, 3.5", "0 2 2 4"],
      ["'%.2f %.2f %.1f', 0.125, 0.375, 0.25", "0.12 0.38 0.2"],
      ["'%g %g %g %g', 0.0001, 0.00001, 123456, 1234567", "0.0001 1e-05 123456 1.23457e+06"],
      ["'%#x %#o %#g %#.0f', 255, 8, 1.5, 3", "0xff 010 1.50000 3."],
      ["'%08.3f|%-8.2f|%+08d', -3.14159, 2.5, 42", "-003.142|2.50    |+0000042"],
      ["'%.3d|%.0d|%5.3d', 7, 0, 5", "007||  005"],
      ["'%q', 12", '"12"'],
      ["'%q', 'a\\nb\"c'", '"a\\\nb\\"c"'],
      ["'%s %s', 1e15, 1.5", "1e+15 1.5"],
      ["'%5.1s|%-5s|%c%c', 'abc', 'x', 72, 105", "    a|x    |Hi"],
      ["'%f %e %g', 1/0, -1/0, 0/0", "inf -inf -nan"],
      ["'%f', -0.0", "-0.000000"],
      ["'%5.1f%%', 99.5", " 99.5%"],
    ];
    for (const [args, want] of cases) {
      assert.equal(evalIn(db, `return string.format(${args})`), want, args);
    }
    const errors: [string, string][] = [
      ["'%d'", "bad argument #2 to 'format' (no value)"],
      ["'%a', 1", "invalid option '%a' to 'format'"],
      ["'%------d', 1", "invalid format (repeated flags)"],
      ["'%123d', 1", "invalid format (width or precision too long)"],
      ["'%s', nil", "bad argument #2 to 'format' (string expected, got nil)"],
    ];
    for (const [args, want] of errors) {
      assert.equal(
        errorOf(evalIn(db, `return string.format(${args})`)),
        `ERR user_script:1: ${want}`,
      );
    }
  });

  it("struct packs and unpacks as Redis's lua_struct", () => {
    const db = scriptDb();
    // Each as redis-server 7.0 answers it (and 6,000 random formats and values packed and
    // unpacked there and here gave the same bytes and values).
    const bytes = (body: string) => Buffer.from(String(evalIn(db, body)), "latin1");
    assert.deepEqual(bytes("return struct.pack('>I', 258)"), Buffer.from([0, 0, 1, 2]));
    assert.deepEqual(bytes("return struct.pack('<i', -2)"), Buffer.from([254, 255, 255, 255]));
    assert.deepEqual(bytes("return struct.pack('!bd', 1, 2.5)").length, 16);
    assert.deepEqual(bytes("return struct.pack('s', 'hi')"), Buffer.from("hi\0", "latin1"));
    assert.deepEqual(
      evalIn(
        db,
        "return {struct.unpack('bBhHlLT', struct.pack('bBhHlLT', -1, 255, -2, 65535, -3, 2^32, 7))}",
      ),
      [-1, 255, -2, 65535, -3, 4294967296, 7, 31],
    );
    assert.deepEqual(evalIn(db, "return {struct.unpack('bc0', struct.pack('bc0', 3, 'xyz'))}"), [
      "xyz",
      5,
    ]);
    assert.deepEqual(evalIn(db, "return {struct.unpack('i16', struct.pack('i16', -1))}"), [-1, 17]);
    assert.deepEqual(
      evalIn(db, "return {struct.size('bBhHlLT'), struct.size('!bBhHlLT'), struct.size('!4bd')}"),
      [30, 32, 12],
    );
    const errors: [string, string][] = [
      ["struct.pack('i33', 1)", "integral size 33 is larger than limit of 32"],
      ["struct.pack('q', 1)", "bad argument #1 to 'pack' (invalid format option 'q')"],
      ["struct.size('s')", "bad argument #1 to 'size' (option 's' has no fixed size)"],
      ["struct.unpack('i', 'ab')", "bad argument #2 to 'unpack' (data string too short)"],
      ["struct.unpack('c0', 'abc')", "format 'c0' needs a previous size"],
      ["struct.pack('b')", "bad argument #2 to 'pack' (number expected, got nil)"],
    ];
    for (const [call, want] of errors) {
      assert.equal(errorOf(evalIn(db, `return ${call}`)), `ERR user_script:1: ${want}`, call);
    }
  });

  it("pcall hands a script redis.call's error as a string, as Redis 7's pcall", () => {
    const db = scriptDb();
    db.run("SET", "str", "x");
    assert.deepEqual(
      evalIn(
        db,
        "local ok, e = pcall(redis.call, 'incr', 'str') return {tostring(ok), type(e), e}",
      ),
      ["false", "string", "ERR value is not an integer or out of range"],
    );
    assert.equal(evalIn(db, "local ok, e = pcall(error, {err = 'x'}) return e"), "x");
    assert.deepEqual(evalIn(db, "return {pcall(function(a, b) return a + b end, 2, 3)}"), [1, 5]);
    // Not caught, it is still the script's error reply.
    assert.equal(
      errorOf(evalIn(db, "return redis.call('incr', 'str')")),
      "ERR value is not an integer or out of range",
    );
  });

  it("has the rest of Lua 5.1's library, and not 5.3's additions", () => {
    const db = scriptDb();
    // Each as redis-server 7.0 answers it.
    assert.deepEqual(
      evalIn(
        db,
        "return {tostring(math.atan2(1, 2)), tostring(math.cosh(1)), tostring(math.log10(1000)), " +
          "tostring(math.ldexp(0.75, 4)), tostring(math.ldexp(1e-300, 2000)), " +
          "tostring(math.log(8, 2)), tostring(select(1, math.frexp(-0.1))), " +
          "select(2, math.frexp(5e-324)), table.maxn({1, 2, [10] = 3, [2.5] = 4})}",
      ),
      [
        "0.46364760900081",
        "1.5430806348152",
        "3",
        "12",
        "1.1481306952743e+302",
        "2.0794415416798",
        "-0.8",
        -1073,
        10,
      ],
    );
    assert.equal(
      evalIn(
        db,
        "return table.foreach({1, 2, 3}, function(k, v) if v == 2 then return 'stop' .. k end end)",
      ),
      "stop2",
    );
    assert.deepEqual(
      evalIn(
        db,
        "local r = {} table.foreachi({7, 8, 9}, function(i, v) r[#r + 1] = i * v end) return r",
      ),
      [7, 16, 27],
    );
    assert.deepEqual(
      evalIn(db, "return {collectgarbage(), collectgarbage('count'), gcinfo()}"),
      [0, 0, 0],
    );
    assert.equal(
      errorOf(evalIn(db, "return collectgarbage('bogus')")),
      "ERR user_script:1: bad argument #1 to 'collectgarbage' (invalid option 'bogus')",
    );
    assert.equal(
      errorOf(evalIn(db, "return table.setn({}, 3)")),
      "ERR user_script:1: 'setn' is obsolete",
    );
    // table.concat's errors name it and where the script called it, as Redis's do.
    assert.equal(
      evalIn(
        db,
        "return table.concat({1, 'a', 2.5, 1e15}, ', ') .. table.concat({1, 2, 3}, '-', 2)",
      ),
      "1, a, 2.5, 1e+152-3",
    );
    assert.equal(
      errorOf(evalIn(db, "return table.concat({{}})")),
      "ERR user_script:1: invalid value (table) at index 1 in table for 'concat'",
    );
    assert.equal(
      errorOf(evalIn(db, "return table.concat()")),
      "ERR user_script:1: bad argument #1 to 'concat' (table expected, got no value)",
    );
    assert.deepEqual(
      evalIn(db, "return {cjson._VERSION, cmsgpack._VERSION, type(cjson.new().encode)}"),
      ["2.1.0", "lua-cmsgpack 0.4.0", "function"],
    );
    assert.equal(evalIn(db, "return redis.acl_check_cmd('set', 'k', 'v')"), 1);
    assert.equal(
      errorOf(evalIn(db, "return redis.acl_check_cmd('nosuch')")),
      "ERR Invalid command passed to redis.acl_check_cmd()",
    );
    assert.match(errorOf(evalIn(db, "return rawlen")), /nonexistent global variable 'rawlen'/);
    for (const name of [
      "table.pack",
      "table.unpack",
      "table.move",
      "string.pack",
      "math.type",
      "math.tointeger",
      "math.maxinteger",
      "coroutine.isyieldable",
    ]) {
      assert.equal(evalIn(db, `return type(${name})`), "nil", name);
    }
  });

  it("has Lua 5.1's table.getn, math.pow, math.mod and string.gfind", () => {
    const db = scriptDb();
    // Each as redis-server 7.0 answers it.
    assert.deepEqual(
      evalIn(
        db,
        "local r = {} for w in string.gfind('a b c', '%a') do r[#r + 1] = w end " +
          "return {table.getn({1, 2, 3}), tostring(math.pow(2, 0.5)), " +
          "tostring(math.pow(10, 15)), tostring(math.mod(-7, 3)), tostring(math.mod(7.5, 2)), " +
          "table.getn(setmetatable({}, {__len = function() return 5 end})), table.concat(r)}",
      ),
      [3, "1.4142135623731", "1e+15", "-1", "1.5", 0, "abc"],
    );
    assert.match(
      errorOf(evalIn(db, "return table.getn('x')")),
      /bad argument #1 to 'getn' \(table expected, got string\)$/,
    );
  });

  it("tostring and concatenation print numbers as Lua 5.1's %.14g", () => {
    const db = scriptDb();
    // Each pair as redis-server 7.0 answers it.
    const cases: [string, string][] = [
      ["1e15", "1e+15"],
      ["-1e15", "-1e+15"],
      ["100000000000000", "1e+14"],
      ["99999999999999", "99999999999999"],
      ["999999999999999", "1e+15"],
      ["2^53", "9.007199254741e+15"],
      ["2^63", "9.2233720368548e+18"],
      ["12345678901234567890", "1.2345678901235e+19"],
      ["1e100", "1e+100"],
      ["1e-5", "1e-05"],
      ["0.0001", "0.0001"],
      ["0.1", "0.1"],
      ["1/3", "0.33333333333333"],
      ["-123.456", "-123.456"],
      ["123456.789e3", "123456789"],
      ["-0.0", "-0"],
      ["1/0", "inf"],
      ["-1/0", "-inf"],
      ["0/0", "-nan"],
      // An exact tie at the 15th digit rounds to even, as glibc's %.14g.
      ["30.3375244140625", "30.337524414062"],
      ["0.574493408203125", "0.57449340820312"],
    ];
    for (const [expr, want] of cases) {
      assert.equal(evalIn(db, `return tostring(${expr})`), want, expr);
      assert.equal(evalIn(db, `return 'x' .. ${expr}`), `x${want}`, expr);
    }
    // A number given to redis.call is not %.14g: Redis 7 writes it in its shortest form.
    assert.equal(
      evalIn(db, "redis.call('SET', 'n', 2^60) return redis.call('GET', 'n')"),
      "1.152921504606847e+18",
    );
    assert.deepEqual(evalIn(db, "return {tostring(nil), tostring(true), tostring('x')}"), [
      "nil",
      "true",
      "x",
    ]);
    assert.match(
      errorOf(evalIn(db, "return tostring()")),
      /bad argument #1 to 'tostring' \(value expected\)$/,
    );
  });

  it("cjson encodes and decodes as Redis's lua_cjson", () => {
    const db = scriptDb();
    assert.equal(
      evalIn(db, "return cjson.encode({1, 'a/b\\n', {true, false}, cjson.null})"),
      '[1,"a\\/b\\n",[true,false],null]',
    );
    assert.equal(evalIn(db, "return cjson.encode({})"), "{}");
    assert.equal(evalIn(db, "return cjson.encode({x=0.1})"), '{"x":0.1}');
    assert.equal(
      errorOf(evalIn(db, "return cjson.encode({[1]=1, [100]=2})")),
      "ERR user_script:1: Cannot serialise table: excessively sparse array",
    );
    assert.equal(
      errorOf(evalIn(db, "return cjson.encode(function() end)")),
      "ERR user_script:1: Cannot serialise function: type not supported",
    );
    assert.equal(
      errorOf(evalIn(db, "local t = {} t.t = t return cjson.encode(t)")),
      "ERR user_script:1: Cannot serialise, excessive nesting (1001)",
    );
    assert.deepEqual(
      evalIn(
        db,
        'local t = cjson.decode(\'{"a":[1,"\\\\u00e9"],"n":null}\'); return {t.a[1], t.a[2], t.n == cjson.null and 1 or 0}',
      ),
      [1, "\u00c3\u00a9", 1],
    );
    assert.equal(
      errorOf(evalIn(db, "return cjson.decode('[1,')")),
      "ERR user_script:1: Expected value but found T_END at character 4",
    );
    assert.equal(
      errorOf(evalIn(db, "return cjson.decode('{1:2}')")),
      "ERR user_script:1: Expected object key string but found invalid token at character 2",
    );
  });

  it("cmsgpack packs as Redis's lua_cmsgpack and unpacks what it packs", () => {
    const db = scriptDb();
    const packed = db.run(
      "EVAL",
      "return cmsgpack.pack({1, 2}, 'abc', -5, 300, 1.5, 0.1, 2^40, {x=true})",
      "0",
    );
    assert.equal(packed.kind, "bulk");
    assert.equal(
      Buffer.from(packed.kind === "bulk" ? packed.value : "").toString("hex"),
      "920102a3616263fbcd012cca3fc00000cb3fb999999999999acf000001000000000081a178c3",
    );
    assert.deepEqual(
      evalIn(
        db,
        "local a, b, c = cmsgpack.unpack(cmsgpack.pack({1, {2, 'x'}}, 'y', -70000)); return {a[2][2], b, c}",
      ),
      ["x", "y", -70000],
    );
    assert.deepEqual(
      evalIn(
        db,
        "local s = cmsgpack.pack(1, 2, 3); local off, v = cmsgpack.unpack_one(s); local off2, w, x = cmsgpack.unpack_limit(s, 2, off); return {off, v, off2, w, x}",
      ),
      [1, 1, -1, 2, 3],
    );
    assert.equal(
      errorOf(evalIn(db, "return cmsgpack.unpack('\\205')")),
      "ERR user_script:1: Missing bytes in input.",
    );
  });

  it("bit works on 32-bit values as LuaBitOp", () => {
    const db = scriptDb();
    assert.deepEqual(
      evalIn(
        db,
        "return {bit.band(0xff, 0x0f), bit.bor(1, 2, 4), bit.bxor(3, 1), bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-16, 2), bit.bnot(0), bit.tobit(2^32 + 5), bit.tohex(255), bit.tohex(-1, -4), bit.bswap(0x12345678)}",
      ),
      [15, 7, 2, -2147483648, 15, -4, -1, 5, "000000ff", "FFFF", 2018915346],
    );
  });
});

describe("Lua functions (FCALL)", () => {
  const counter = `#!lua name=lib
local calls = 0
redis.register_function('count', function(keys, args)
  calls = calls + 1
  return {calls, redis.call('incr', keys[1]), tostring({})}
end)
redis.register_function{function_name='Peek', callback=function(keys, args)
  return {keys[1], args[1], args[2]} end, flags={'no-writes'}}`;
  const fcallIn = (db: TestDb, fn: string, keys: string[], ...argv: string[]) =>
    plain(db.run("FCALL", fn, String(keys.length), ...keys, ...argv, counter));

  it("loads the library afresh for each call, so replicas that ran different calls agree", () => {
    const a = scriptDb();
    const b = scriptDb();
    // b's interpreter runs other calls and scripts first: nothing of them shows in a's.
    fcallIn(b, "count", ["other"]);
    evalIn(b, "return tostring({})");
    const ra = fcallIn(a, "count", ["k"]);
    const rb = fcallIn(b, "count", ["k"]);
    assert.deepEqual(ra, rb);
    // The library's local counter starts at 0 at every call (Redis keeps it between calls).
    assert.equal((ra as Plain[])[0], 1);
    assert.deepEqual(fcallIn(a, "count", ["k"]), [1, 2, (ra as Plain[])[2]]);
  });

  it("passes keys and arguments as tables, finds a function whatever its case", () => {
    const db = scriptDb();
    assert.deepEqual(fcallIn(db, "peek", ["k"], "a", "b"), ["k", "a", "b"]);
    assert.deepEqual(plain(db.run("FCALL_RO", "PEEK", "1", "k", "a", counter)), ["k", "a"]);
    assert.deepEqual(plain(db.run("FCALL_RO", "count", "1", "k", counter)), {
      error: "ERR Can not execute a script with write flag using *_ro command.",
    });
    assert.deepEqual(plain(db.run("FCALL", "nosuch", "0", counter)), {
      error: "ERR Function not found",
    });
    // Queued in MULTI for a function the node did not know: no code, the same error.
    assert.deepEqual(plain(db.run("FCALL", "count", "0", "")), { error: "ERR Function not found" });
    assert.deepEqual(plain(db.run("FCALL", "count", "x", counter)), {
      error: "ERR Bad number of keys provided",
    });
  });

  it("checks a library as FUNCTION LOAD does, with Redis's errors", () => {
    assert.deepEqual(loadLibrary(Buffer.from(counter)), {
      name: "lib",
      functions: [
        { name: "count", description: null, flags: [] },
        { name: "Peek", description: null, flags: ["no-writes"] },
      ],
    });
    assert.equal(loadLibrary(Buffer.from("#!lua name=x\nreturn 1")), "No functions registered");
    assert.equal(
      loadLibrary(Buffer.from("#!lua name=x\nwhile true do end")),
      `Error registering functions: ERR FUNCTION LOAD timeout: the library's code ran past ${scriptInstructionsMax} Lua instructions`,
    );
    assert.deepEqual(
      loadLibrary(Buffer.from('#!lua name="q"\nredis.register_function("f", function() end)')),
      { name: "q", functions: [{ name: "f", description: null, flags: [] }] },
    );
    assert.deepEqual(splitArgs(Buffer.from(`#!lua name="a b" 'c\\'d' "\\x41\\n"`)), [
      "#!lua",
      "name=a b",
      "c'd",
      "A\n",
    ]);
    assert.equal(splitArgs(Buffer.from('#!lua name="a"b')), null);
  });
});
