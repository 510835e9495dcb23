import assert from "node:assert/strict";
import { once } from "node:events";
import { connect } from "node:net";
import { describe, it } from "node:test";
import { Redis } from "ioredis";
import { nodeForSuite, sameAsRedis, startRedisServer, waitFor } from "./harness.js";

/** What a connection to `port` is sent back for `commands`, up to ECHO end's reply. */
async function exchange(port: number, commands: string[][]): Promise<string> {
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  let text = "";
  socket.on("data", (d: Buffer) => {
    text += d.toString("latin1");
  });
  let out = "";
  for (const args of [...commands, ["ECHO", "end"]]) {
    out += `*${args.length}\r\n`;
    for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  }
  socket.write(out);
  try {
    await waitFor("ECHO end's reply", 5_000, async () => text.endsWith("$3\r\nend\r\n"));
  } finally {
    socket.destroy();
  }
  return text;
}

/**
 * CLIENT KILL in its old form (an address: OK or an error) and its new one (filters: how
 * many were closed), CLIENT LIST's TYPE, CLIENT PAUSE and UNPAUSE, and CLIENT NO-EVICT, in
 * both modes; the errors and what does not depend on addresses or time are compared with
 * redis-server's.
 */
for (const mode of ["--standalone", "--cluster"] as const) {
  describe(`CLIENT KILL, PAUSE and NO-EVICT (${mode})`, () => {
    const suite = nodeForSuite([mode]);

    /** A connection that does not reconnect, and a promise of its end. */
    async function victim(): Promise<{
      client: Redis;
      id: number;
      addr: string;
      ended: Promise<void>;
    }> {
      const client = new Redis({
        port: suite.node.port,
        host: "127.0.0.1",
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      client.on("error", () => {});
      const ended = new Promise<void>((resolve) => client.once("end", () => resolve()));
      await client.connect();
      const id = (await client.call("CLIENT", "ID")) as number;
      const info = (await client.call("CLIENT", "INFO")) as string;
      const addr = /addr=(\S+)/.exec(info)?.[1] ?? "";
      return { client, id, addr, ended };
    }

    it("closes by address (old form), by ID, by TYPE and by LADDR, never itself unless asked", async () => {
      const admin = await suite.connect();
      const a = await victim();
      assert.equal(await admin.call("CLIENT", "KILL", a.addr), "OK");
      await a.ended;
      await assert.rejects(admin.call("CLIENT", "KILL", a.addr), /ERR No such client/);

      const b = await victim();
      assert.equal(await admin.call("CLIENT", "KILL", "ID", String(b.id)), 1);
      await b.ended;
      assert.equal(await admin.call("CLIENT", "KILL", "ID", String(b.id)), 0);

      // TYPE pubsub closes the subscribed connection only; TYPE normal all but the caller.
      const sub = await victim();
      await sub.client.subscribe("news");
      const plain = await victim();
      const listed = (await admin.call("CLIENT", "LIST", "TYPE", "pubsub")) as string;
      assert.match(listed, new RegExp(`id=${sub.id} `));
      assert.doesNotMatch(listed, new RegExp(`id=${plain.id} `));
      assert.equal(await admin.call("CLIENT", "KILL", "TYPE", "pubsub"), 1);
      await sub.ended;
      const laddr = /laddr=(\S+)/.exec((await admin.call("CLIENT", "INFO")) as string)?.[1];
      assert.ok(laddr);
      const killed = (await admin.call(
        "CLIENT",
        "KILL",
        "LADDR",
        laddr,
        "TYPE",
        "normal",
      )) as number;
      assert.ok(killed >= 1, `${killed} closed`);
      await plain.ended;
      assert.equal(await admin.ping(), "PONG", "SKIPME yes by default");

      // Another node's forwarding connection is of type master: TYPE normal spares it.
      const link = await victim();
      assert.equal(await link.client.call("HOMEOSTAT", "FORWARDED"), "OK");
      assert.equal(await admin.call("CLIENT", "KILL", "TYPE", "normal", "ID", String(link.id)), 0);
      assert.match(
        (await admin.call("CLIENT", "LIST", "TYPE", "master")) as string,
        new RegExp(`id=${link.id} `),
      );
      assert.equal(await admin.call("CLIENT", "KILL", "TYPE", "master", "ID", String(link.id)), 1);
      await link.ended;
      assert.equal(
        await admin.call("CLIENT", "KILL", "ID", String(plain.id), "USER", "default"),
        0,
      );
    });

    it("closes the caller after its reply with SKIPME no", async () => {
      const self = await victim();
      assert.equal(
        await self.client.call("CLIENT", "KILL", "ID", String(self.id), "SKIPME", "no"),
        1,
      );
      await self.ended;
      const admin = await suite.connect();
      await waitFor("the killed client is gone from CLIENT LIST", 5_000, async () => {
        const list = (await admin.call("CLIENT", "LIST")) as string;
        return !list.includes(`id=${self.id} `);
      });
    });

    it("PAUSE WRITE holds back writes until UNPAUSE; reads and no-writes scripts go on", async () => {
      const admin = await suite.connect();
      const writer = await suite.connect();
      const scripter = await suite.connect();
      const writerId = (await writer.call("CLIENT", "ID")) as number;
      await admin.set("p:k", "before");
      assert.equal(await admin.call("CLIENT", "PAUSE", "60000", "WRITE"), "OK");
      const set = writer.set("p:k", "after");
      const script = scripter.eval("return 1", 0); // may write: held back
      await waitFor("two clients held back", 5_000, async () =>
        /blocked_clients:2\r\n/.test(await admin.info("clients")),
      );
      assert.equal(await admin.get("p:k"), "before", "a read goes on, and sees no write");
      assert.equal(
        await admin.eval("#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", 1, "p:k"),
        "before",
        "a no-writes script goes on",
      );
      assert.match(
        (await admin.call("CLIENT", "LIST", "ID", String(writerId))) as string,
        /flags=b /,
      );
      let settled = false;
      void set.then(() => {
        settled = true;
      });
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(settled, false);
      assert.equal(await admin.call("CLIENT", "UNPAUSE"), "OK");
      assert.equal(await set, "OK");
      assert.equal(await script, 1);
      assert.equal(await admin.get("p:k"), "after");
      assert.match(await admin.info("clients"), /blocked_clients:0\r\n/);

      // A pause past a timer's 24.8 days holds (the timer sets itself again).
      await admin.call("CLIENT", "PAUSE", "9223372036854775807", "WRITE");
      const held = writer.set("p:k", "later");
      await new Promise((r) => setTimeout(r, 50));
      assert.match(await admin.info("clients"), /blocked_clients:1\r\n/);
      await admin.call("CLIENT", "UNPAUSE");
      assert.equal(await held, "OK");
    });

    it("PAUSE ALL holds back every command until its timeout", async () => {
      const admin = await suite.connect();
      const other = await suite.connect();
      const started = performance.now();
      assert.equal(await admin.call("CLIENT", "PAUSE", "300"), "OK");
      assert.equal(await other.get("p:none"), null);
      const waited = performance.now() - started;
      assert.ok(waited >= 250, `a read waited ${waited.toFixed(0)} ms of a 300 ms pause`);
      // A second pause keeps the later end and the stricter kind: WRITE then ALL is ALL.
      await admin.call("CLIENT", "PAUSE", "100", "WRITE");
      await admin.call("CLIENT", "PAUSE", "50", "ALL");
      const again = performance.now();
      assert.equal(await other.get("p:none"), null);
      assert.ok(performance.now() - again >= 30, "ALL held the read back");
    });

    it("CLIENT REPLY ON in the slot SKIP silences is answered; CLIENT LIST shows the command running", async (t) => {
      const redis = await startRedisServer();
      if (redis === null) {
        t.skip("redis-server is not installed");
        return;
      }
      try {
        const cases = [
          [["CLIENT", "REPLY", "SKIP"], ["CLIENT", "REPLY", "ON"], ["PING"]],
          [
            ["CLIENT", "REPLY", "SKIP"],
            ["CLIENT", "REPLY", "SKIP"],
            ["PING", "a"],
            ["PING", "b"],
          ],
          [
            ["CLIENT", "REPLY", "SKIP"],
            ["CLIENT", "REPLY", "OFF"],
            ["PING", "c"],
            ["CLIENT", "REPLY", "ON"],
          ],
          [
            ["CLIENT", "REPLY", "SKIP"],
            ["PING", "d"],
            ["PING", "e"],
          ],
        ];
        for (const commands of cases) {
          assert.equal(
            await exchange(suite.node.port, commands),
            await exchange(redis.port, commands),
            JSON.stringify(commands),
          );
        }
      } finally {
        redis.client.disconnect();
        redis.proc.kill("SIGKILL");
      }
      const client = await suite.connect();
      const list = (await client.call(
        "CLIENT",
        "LIST",
        "ID",
        String(await client.call("CLIENT", "ID")),
      )) as string;
      // Redis's own unit/introspection expects these: the full name, and qbuf counting the
      // command itself (*4 $6 client $4 list $2 id $N <id>).
      assert.match(list, / cmd=client\|list /);
      const id = String(await client.call("CLIENT", "ID"));
      assert.match(list, new RegExp(` qbuf=${34 + 5 + id.length + String(id.length).length} `));
      assert.match(
        (await client.call("CLIENT", "INFO")) as string,
        / qbuf=26 .* cmd=client\|info /,
      );
    });

    it("answers bad filters, PAUSE's arguments and NO-EVICT as redis-server does", async (t) => {
      const client = await suite.connect();
      await sameAsRedis(
        t,
        client,
        ["unused"],
        [
          [
            ["CLIENT", "KILL", "ID", "0"],
            ["CLIENT", "KILL", "ID", "x"],
            ["CLIENT", "KILL", "ID", "-3"],
            ["CLIENT", "KILL", "TYPE", "nobody"],
            ["CLIENT", "KILL", "SKIPME", "maybe"],
            ["CLIENT", "KILL", "USER", "nobody"],
            ["CLIENT", "KILL", "FOO", "bar"],
            ["CLIENT", "KILL", "ID", "99999", "TYPE"],
            ["CLIENT", "KILL", "ADDR"],
            ["CLIENT", "KILL", "1.2.3.4:5"],
            ["CLIENT", "KILL", "ADDR", "1.2.3.4:5"],
            ["CLIENT", "KILL", "ID", "99999", "TYPE", "slave", "SKIPME", "no"],
            ["CLIENT", "KILL", "TYPE", "master"],
            ["CLIENT", "KILL"],
            ["CLIENT", "LIST", "TYPE", "replica"],
            ["CLIENT", "LIST", "TYPE", "slave"],
            ["CLIENT", "LIST", "TYPE", "pubsub"],
            ["CLIENT", "LIST", "TYPE", "other"],
            ["CLIENT", "NO-EVICT", "maybe"],
            ["CLIENT", "NO-EVICT", "on"],
            ["CLIENT", "NO-EVICT", "off"],
            ["CLIENT", "NO-EVICT"],
            ["CLIENT", "PAUSE", "abc"],
            ["CLIENT", "PAUSE", "-1"],
            ["CLIENT", "PAUSE", "1.5"],
            ["CLIENT", "PAUSE", "10", "foo"],
            ["CLIENT", "PAUSE", "10", "write", "extra"],
            ["CLIENT", "PAUSE"],
            ["CLIENT", "PAUSE", "1", "WRITE"],
            ["CLIENT", "PAUSE", "9223372036854775808"],
            ["CLIENT", "PAUSE", "9223372036854775807", "WRITE"],
            ["CLIENT", "UNPAUSE"],
            ["CLIENT", "UNPAUSE", "x"],
            ["CLIENT", "UNPAUSE"],
          ],
        ],
      );
      assert.equal(await client.call("CLIENT", "NO-EVICT", "on"), "OK");
      assert.match((await client.call("CLIENT", "INFO")) as string, /flags=e /);
    });
  });
}
