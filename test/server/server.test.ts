import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { type RunningNode, removeDir, startNode, tempDir } from "./harness.js";

/** Sends raw bytes and collects what the server answers until it closes or goes quiet. */
function raw(
  port: number,
  data: string | Buffer,
  quietMs = 300,
): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let text = "";
    let closed = false;
    let timer: NodeJS.Timeout;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closed });
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(finish, quietMs);
    };
    socket.on("connect", () => {
      socket.write(data);
      arm();
    });
    socket.on("data", (d) => {
      text += d.toString("latin1");
      arm();
    });
    socket.on("end", () => {
      closed = true;
      finish();
    });
    socket.on("error", reject);
  });
}

const hasRedisCli = (() => {
  try {
    execFileSync("redis-cli", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

describe("a node over real sockets", () => {
  let node: RunningNode;
  let dir: string;
  let client: Redis;

  before(async () => {
    dir = tempDir();
    node = await startNode(dir);
    client = new Redis({
      port: node.port,
      host: "127.0.0.1",
      lazyConnect: true,
      maxRetriesPerRequest: 0,
    });
    await client.connect();
  });

  after(async () => {
    client.disconnect();
    assert.equal(await node.stop(), 0);
    removeDir(dir);
  });

  it("serves strings, counters and expiry to ioredis", async () => {
    assert.equal(await client.set("greeting", "hello"), "OK");
    assert.equal(await client.get("greeting"), "hello");
    assert.equal(await client.incr("counter"), 1);
    assert.equal(await client.incrby("counter", 41), 42);
    assert.equal(await client.set("temp", "x", "PX", 100_000), "OK");
    const ttl = await client.pttl("temp");
    assert.ok(ttl > 90_000 && ttl <= 100_000, `pttl ${ttl}`);
    assert.deepEqual(await client.mget("greeting", "missing", "counter"), ["hello", null, "42"]);
    assert.equal(await client.del("greeting", "counter", "temp"), 3);
    assert.equal(await client.exists("greeting"), 0);
  });

  it("reports INFO commandstats and errorstats as Redis does, and CONFIG RESETSTAT clears them", async () => {
    assert.equal(await client.config("RESETSTAT"), "OK");
    await client.set("stats:a", "1");
    await client.incr("stats:a");
    await client.set("stats:s", "text");
    await assert.rejects(client.incr("stats:s"), /not an integer/);
    await assert.rejects(client.call("INCR"), /wrong number of arguments/);
    await assert.rejects(client.call("NOSUCH"), /unknown command/);
    await assert.rejects(client.call("GET", "stats:a", "extra"), /wrong number/);
    const text = await client.info("commandstats");
    assert.match(
      text,
      /cmdstat_incr:calls=2,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=1,failed_calls=1\r\n/,
    );
    assert.match(
      text,
      /cmdstat_set:calls=2,usec=\d+,usec_per_call=[\d.]+,rejected_calls=0,failed_calls=0/,
    );
    assert.match(
      text,
      /cmdstat_get:calls=0,usec=0,usec_per_call=0\.00,rejected_calls=1,failed_calls=0/,
    );
    assert.match(await client.info("errorstats"), /^# Errorstats\r\nerrorstat_ERR:count=4\r\n$/);
    assert.match(await client.info("stats"), /total_error_replies:4\r\n/);
    assert.doesNotMatch(await client.info(), /cmdstat_/, "commandstats only when asked");
    assert.equal(await client.config("RESETSTAT"), "OK");
    assert.doesNotMatch(await client.info("commandstats"), /cmdstat_incr/);
    assert.match(await client.info("stats"), /total_error_replies:0\r\n/);
  });

  it("keeps binary values intact", async () => {
    const value = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await client.set(Buffer.from([0, 1, 2, 255]), value);
    assert.deepEqual(await client.getBuffer(Buffer.from([0, 1, 2, 255])), value);
  });

  it("answers pipelined commands in order", async () => {
    const p = client.pipeline();
    for (let i = 0; i < 500; i++) {
      p.set(`pipe:${i}`, String(i));
      p.get(`pipe:${i}`);
    }
    const results = await p.exec();
    assert.ok(results !== null);
    for (let i = 0; i < 500; i++) {
      assert.deepEqual(results[2 * i], [null, "OK"]);
      assert.deepEqual(results[2 * i + 1], [null, String(i)]);
    }
  });

  it("gives Redis's errors for unknown commands and wrong arity", async () => {
    await assert.rejects(
      client.call("NOSUCHCMD", "a", "b"),
      /ERR unknown command 'NOSUCHCMD', with args beginning with: 'a' 'b'/,
    );
    await assert.rejects(client.call("GET"), /ERR wrong number of arguments for 'get' command/);
    await client.set("str", "v");
    await assert.rejects(client.incr("str"), /ERR value is not an integer or out of range/);
  });

  it("speaks RESP3 after HELLO 3", async () => {
    const { text } = await raw(node.port, "HELLO 3\r\nGET nothing-here\r\nCONFIG GET port\r\n");
    assert.match(text, /^%7\r\n/);
    assert.match(text, /\$6\r\nserver\r\n\$5\r\nredis\r\n/);
    assert.ok(text.includes("_\r\n"), "RESP3 null");
    assert.ok(
      text.includes(`%1\r\n$4\r\nport\r\n$${String(node.port).length}\r\n${node.port}\r\n`),
    );
  });

  it("accepts inline commands as telnet sends them", async () => {
    const { text } = await raw(node.port, 'SET inline "hello world"\r\nGET inline\nPING\r\n');
    assert.equal(text, "+OK\r\n$11\r\nhello world\r\n+PONG\r\n");
  });

  it("closes a client that sends a malformed frame, and keeps serving others", async () => {
    const bad = await raw(node.port, "*1\r\n$abc\r\n");
    assert.match(bad.text, /^-ERR Protocol error: invalid bulk length\r\n$/);
    assert.equal(bad.closed, true);
    const tooBig = await raw(node.port, "*1\r\n$999999999999\r\n");
    assert.match(tooBig.text, /^-ERR Protocol error: invalid bulk length/);
    const unbalanced = await raw(node.port, 'SET a "unterminated\r\n');
    assert.match(unbalanced.text, /^-ERR Protocol error: unbalanced quotes in request/);
    assert.equal(await client.ping(), "PONG");
  });

  it("answers the commands before a bad frame in the same packet", async () => {
    const { text, closed } = await raw(node.port, "PING\r\n*1\r\n$3\r\nGET\r\n*x\r\n");
    assert.ok(
      text.startsWith(
        "+PONG\r\n-ERR wrong number of arguments for 'get' command\r\n-ERR Protocol error",
      ),
      text,
    );
    assert.equal(closed, true);
  });

  it("implements CLIENT, SELECT, TIME, INFO, CONFIG and COMMAND", async () => {
    const c2 = new Redis({ port: node.port, host: "127.0.0.1" });
    try {
      assert.equal(await c2.client("SETNAME", "worker-1"), "OK");
      assert.equal(await c2.client("GETNAME"), "worker-1");
      const id = (await c2.client("ID")) as number;
      const list = (await client.client("LIST")) as string;
      assert.match(list, new RegExp(`id=${id} .*name=worker-1 `));
      await assert.rejects(c2.client("SETNAME", "has space"), /Client names cannot contain spaces/);
    } finally {
      c2.disconnect();
    }
    assert.equal(await client.select(0), "OK");
    await assert.rejects(client.select(1), /ERR DB index is out of range/);
    const [secs, micros] = (await client.time()) as unknown as [string, string];
    assert.ok(Math.abs(Number(secs) - Date.now() / 1000) < 5 && Number(micros) < 1e6);
    // What a Redis primary without replicas answers, as INFO replication says.
    assert.deepEqual(await client.call("role"), ["master", 0, []]);
    const info = await client.info();
    for (const section of [
      "# Server",
      "# Clients",
      "# Memory",
      "# Persistence",
      "# Stats",
      "# Keyspace",
    ]) {
      assert.ok(info.includes(section), `INFO lacks ${section}`);
    }
    assert.match(info, /db0:keys=\d+,expires=\d+/);
    assert.match(await client.info("persistence"), /aof_last_write_status:ok/);
    assert.deepEqual(await client.config("GET", "maxclients"), ["maxclients", "10000"]);
    assert.equal(await client.config("SET", "timeout", "0"), "OK");
    await assert.rejects(client.config("SET", "no-such-setting", "1"), /Unknown option/);
    const count = (await client.command("COUNT")) as unknown as number;
    assert.ok(count >= 50, `COMMAND COUNT ${count}`);
    const [getInfo] = (await client.command("INFO", "get")) as [unknown[]];
    assert.deepEqual(getInfo.slice(0, 2), ["get", 2]);
    // A subcommand by "container|sub", as Redis takes it.
    const [unblockInfo, none] = (await client.command("INFO", "client|unblock", "client|x")) as [
      unknown[],
      null,
    ];
    assert.deepEqual(unblockInfo.slice(0, 2), ["client|unblock", -3]);
    assert.equal(none, null);
    // COMMAND GETKEYS: what cluster clients ask for commands whose keys move (movablekeys).
    assert.deepEqual(await client.call("COMMAND", "GETKEYS", "ZUNIONSTORE", "d", "2", "a", "b"), [
      "d",
      "a",
      "b",
    ]);
    assert.deepEqual(
      await client.call("COMMAND", "GETKEYS", "SORT", "k", "LIMIT", "0", "1", "STORE", "d"),
      ["k", "d"],
    );
    await assert.rejects(
      client.call("COMMAND", "GETKEYS", "NOPE", "x"),
      /Invalid command specified/,
    );
    await assert.rejects(client.call("COMMAND", "GETKEYS", "PING", "x"), /has no key arguments/);
    await assert.rejects(
      client.call("COMMAND", "GETKEYS", "SPUBLISH", "channel", "m"),
      /has no key arguments/,
    );
    // GETKEYSANDFLAGS: each key with how the command uses it, as redis-server 7.0.15 answers.
    const flagged = (...command: string[]) =>
      client.call("COMMAND", "GETKEYSANDFLAGS", ...command) as Promise<[string, string[]][]>;
    assert.deepEqual(await flagged("RENAME", "a", "b"), [
      ["a", ["RW", "access", "delete"]],
      ["b", ["OW", "update"]],
    ]);
    assert.deepEqual(await flagged("SET", "k", "v"), [["k", ["OW", "update"]]]);
    assert.deepEqual(await flagged("SET", "k", "v", "GET"), [["k", ["RW", "access", "update"]]]);
    assert.deepEqual(await flagged("SORT", "k", "BY", "w", "STORE", "d"), [
      ["k", ["RO", "access"]],
      ["d", ["OW", "update"]],
    ]);
    assert.deepEqual(await flagged("XREAD", "COUNT", "1", "STREAMS", "a", "b", "0", "0"), [
      ["a", ["RO", "access"]],
      ["b", ["RO", "access"]],
    ]);
    assert.deepEqual(await flagged("LMPOP", "2", "a", "b", "LEFT"), [
      ["a", ["RW", "access", "delete"]],
      ["b", ["RW", "access", "delete"]],
    ]);
    await assert.rejects(flagged("LMPOP", "0", "a", "LEFT"), /Invalid arguments specified/);
    await assert.rejects(
      client.call("COMMAND", "GETKEYS", "GET", "a", "b"),
      /Invalid number of arguments/,
    );
    assert.equal(await client.call("FUNCTION", "FLUSH"), "OK");
    // A standalone node answers cluster commands as a Redis without cluster support does.
    assert.match(await client.info("cluster"), /cluster_enabled:0/);
    for (const name of ["READONLY", "READWRITE", "ASKING"]) {
      await assert.rejects(client.call(name), /ERR This instance has cluster support disabled/);
    }
    const [readonlyInfo] = (await client.command("INFO", "readonly")) as [unknown[]];
    assert.deepEqual(readonlyInfo.slice(0, 3), ["readonly", 1, ["loading", "stale", "fast"]]);
  });

  it("requires AUTH once a password is set", async () => {
    const admin = new Redis({ port: node.port, host: "127.0.0.1" });
    try {
      await assert.rejects(admin.call("AUTH", "x"), /without any password configured/);
      await admin.config("SET", "requirepass", "s3cret");
      const { text } = await raw(node.port, "GET a\r\nAUTH wrong\r\nAUTH s3cret\r\nPING\r\n");
      assert.equal(
        text,
        "-NOAUTH Authentication required.\r\n-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n+PONG\r\n",
      );
    } finally {
      await admin.config("SET", "requirepass", "");
      admin.disconnect();
    }
  });

  it("works with redis-cli", { skip: !hasRedisCli && "redis-cli is not installed" }, () => {
    const cli = (...args: string[]) =>
      execFileSync("redis-cli", ["-p", String(node.port), ...args], { encoding: "utf8" }).trim();
    assert.equal(cli("SET", "from-cli", "yes"), "OK");
    assert.equal(cli("GET", "from-cli"), "yes");
    assert.equal(cli("--no-raw", "INCR", "cli-counter"), "(integer) 1");
    const piped = execFileSync("redis-cli", ["-p", String(node.port)], {
      input: "SET a 1\nINCR a\nGET a\n",
      encoding: "utf8",
    });
    assert.equal(piped, "OK\n2\n2\n");
  });
});
