import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { type RunningNode, removeDir, startNode, tempDir, waitFor } from "./harness.js";

/** A raw connection that collects what the node sends, for RESP-level checks. */
class Raw {
  text = "";
  private constructor(readonly socket: Socket) {
    socket.on("data", (d) => {
      this.text += d.toString("latin1");
    });
  }
  static async open(port: number): Promise<Raw> {
    const socket = connect(port, "127.0.0.1");
    await once(socket, "connect");
    return new Raw(socket);
  }
  send(...commands: string[][]): void {
    let out = "";
    for (const args of commands) {
      out += `*${args.length}\r\n`;
      for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
    }
    this.socket.write(out);
  }
  async until(text: string): Promise<void> {
    await waitFor(`${JSON.stringify(text)} from the node`, 5000, async () =>
      this.text.includes(text),
    );
  }
  close(): void {
    this.socket.destroy();
  }
}

/**
 * Pub/Sub against a real node over loopback, standalone and as a one-node sharded cluster.
 * Redis's own unit/pubsub runs too (npm run conformance); the 3-node suite publishes
 * across nodes.
 */
for (const mode of ["--standalone", "--cluster"] as const) {
  describe(`Pub/Sub on a node (${mode})`, () => {
    let node: RunningNode;
    let dir: string;
    let publisher: Redis;

    before(async () => {
      dir = tempDir();
      node = await startNode(dir, [mode]);
      publisher = new Redis({ port: node.port, maxRetriesPerRequest: 0 });
    });

    after(async () => {
      publisher.disconnect();
      assert.equal(await node.stop(), 0);
      removeDir(dir);
    });

    it("delivers to channel and pattern subscribers, and counts them", async () => {
      // Connected before it subscribes: ioredis's ready check (INFO) fails on a connection
      // already in subscriber mode.
      const sub = new Redis({ port: node.port, maxRetriesPerRequest: 0, lazyConnect: true });
      await sub.connect();
      try {
        const got: string[] = [];
        sub.on("message", (channel: string, message: string) => got.push(`${channel}:${message}`));
        sub.on("pmessage", (pattern: string, channel: string, message: string) =>
          got.push(`${pattern}|${channel}:${message}`),
        );
        assert.equal(await sub.subscribe("news", "sport"), 2);
        assert.equal(await sub.psubscribe("n*"), 3);
        assert.equal(await publisher.publish("news", "hello"), 2);
        assert.equal(await publisher.publish("sport", "goal"), 1);
        assert.equal(await publisher.publish("weather", "rain"), 0);
        await waitFor("three messages", 5000, async () => got.length === 3);
        assert.deepEqual(got.sort(), ["n*|news:hello", "news:hello", "sport:goal"]);
        assert.deepEqual(await publisher.pubsub("NUMSUB", "news", "none"), ["news", 1, "none", 0]);
        assert.equal(Number(await publisher.pubsub("NUMPAT")), 1);
        assert.deepEqual(((await publisher.pubsub("CHANNELS")) as string[]).sort(), [
          "news",
          "sport",
        ]);
        assert.deepEqual(await publisher.pubsub("CHANNELS", "s*"), ["sport"]);
        const info = await publisher.info("stats");
        assert.match(info, /pubsub_channels:2\r\n/);
        assert.match(info, /pubsub_patterns:1\r\n/);
        assert.match(info, /pubsub_deliveries:3\r\n/);
        await sub.unsubscribe("news");
        assert.equal(await publisher.publish("news", "again"), 1, "the pattern still matches");
      } finally {
        sub.disconnect();
      }
      // A closed connection's subscriptions go with it.
      await waitFor(
        "subscriptions gone",
        5000,
        async () => Number(await publisher.pubsub("NUMPAT")) === 0,
      );
      assert.deepEqual(await publisher.pubsub("NUMSUB", "sport"), ["sport", 0]);
    });

    it("serves sharded Pub/Sub (SSUBSCRIBE, SPUBLISH) in a namespace of its own", async () => {
      const raw = await Raw.open(node.port);
      try {
        raw.send(["SSUBSCRIBE", "chan1", "chan2", "chan1"], ["SUBSCRIBE", "chan1"]);
        await raw.until("$9\r\nsubscribe\r\n$5\r\nchan1\r\n:1\r\n");
        assert.equal(
          raw.text,
          "*3\r\n$10\r\nssubscribe\r\n$5\r\nchan1\r\n:1\r\n" +
            "*3\r\n$10\r\nssubscribe\r\n$5\r\nchan2\r\n:2\r\n" +
            "*3\r\n$10\r\nssubscribe\r\n$5\r\nchan1\r\n:2\r\n" +
            "*3\r\n$9\r\nsubscribe\r\n$5\r\nchan1\r\n:1\r\n",
        );
        raw.text = "";
        assert.equal(await publisher.call("SPUBLISH", "chan1", "hello"), 1);
        assert.equal(await publisher.publish("chan1", "plain"), 1);
        assert.deepEqual(await publisher.call("PUBSUB", "SHARDNUMSUB", "chan1", "x"), [
          "chan1",
          1,
          "x",
          0,
        ]);
        assert.deepEqual(((await publisher.call("PUBSUB", "SHARDCHANNELS")) as string[]).sort(), [
          "chan1",
          "chan2",
        ]);
        assert.deepEqual(await publisher.call("PUBSUB", "SHARDCHANNELS", "*2"), ["chan2"]);
        await raw.until("$5\r\nplain\r\n");
        assert.equal(
          raw.text,
          "*3\r\n$8\r\nsmessage\r\n$5\r\nchan1\r\n$5\r\nhello\r\n" +
            "*3\r\n$7\r\nmessage\r\n$5\r\nchan1\r\n$5\r\nplain\r\n",
        );
        raw.text = "";
        raw.send(["SUNSUBSCRIBE"], ["SUNSUBSCRIBE", "none"]);
        await raw.until("$4\r\nnone\r\n:0\r\n");
        assert.equal(
          raw.text,
          "*3\r\n$12\r\nsunsubscribe\r\n$5\r\nchan1\r\n:1\r\n" +
            "*3\r\n$12\r\nsunsubscribe\r\n$5\r\nchan2\r\n:0\r\n" +
            "*3\r\n$12\r\nsunsubscribe\r\n$4\r\nnone\r\n:0\r\n",
        );
        assert.equal(await publisher.call("SPUBLISH", "chan1", "gone"), 0);
      } finally {
        raw.close();
      }
    });

    it("answers a RESP2 subscriber only (un)subscribe, PING, QUIT and RESET", async () => {
      const raw = await Raw.open(node.port);
      try {
        raw.send(["SUBSCRIBE", "a", "b"], ["GET", "k"], ["PING"], ["UNSUBSCRIBE"]);
        await raw.until("*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n");
        assert.equal(
          raw.text,
          "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n" +
            "*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n" +
            "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n" +
            "*2\r\n$4\r\npong\r\n$0\r\n\r\n" +
            "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n" +
            "*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n",
        );
        raw.text = "";
        raw.send(["UNSUBSCRIBE"], ["GET", "k"]);
        await raw.until("$-1\r\n");
        assert.equal(raw.text, "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n$-1\r\n");
      } finally {
        raw.close();
      }
    });

    it("sends RESP3 messages as pushes between a subscriber's replies", async () => {
      const raw = await Raw.open(node.port);
      try {
        raw.send(["HELLO", "3"], ["SUBSCRIBE", "c3"]);
        await raw.until(">3\r\n$9\r\nsubscribe\r\n$2\r\nc3\r\n:1\r\n");
        raw.text = "";
        assert.equal(await publisher.publish("c3", "m"), 1);
        raw.send(["SET", "{p}k", "v"], ["GET", "{p}k"]);
        await raw.until("$1\r\nv\r\n");
        assert.match(raw.text, />3\r\n\$7\r\nmessage\r\n\$2\r\nc3\r\n\$1\r\nm\r\n/);
        assert.ok(raw.text.endsWith("+OK\r\n$1\r\nv\r\n"), raw.text);
        raw.text = "";
        raw.send(["RESET"], ["PUBSUB", "NUMSUB", "c3"]);
        await raw.until("+RESET\r\n");
        assert.equal(await publisher.publish("c3", "m"), 0, "RESET unsubscribed");
      } finally {
        raw.close();
      }
    });

    it("publishes keyspace notifications when notify-keyspace-events turns them on", async () => {
      // Connected before it subscribes: ioredis's ready check (INFO) fails on a connection
      // already in subscriber mode.
      const sub = new Redis({ port: node.port, maxRetriesPerRequest: 0, lazyConnect: true });
      await sub.connect();
      try {
        const got: string[] = [];
        sub.on("pmessage", (_p: string, channel: string, message: string) =>
          got.push(`${channel} ${message}`),
        );
        assert.equal(
          await publisher.config("GET", "notify-keyspace-events").then(String),
          "notify-keyspace-events,",
        );
        await assert.rejects(
          publisher.config("SET", "notify-keyspace-events", "KQ"),
          /Invalid event class/,
        );
        assert.equal(await publisher.config("SET", "notify-keyspace-events", "KEg$xn"), "OK");
        assert.deepEqual(await publisher.config("GET", "notify-keyspace-events"), [
          "notify-keyspace-events",
          "g$xnKE",
        ]);
        assert.equal(await sub.psubscribe("__key*__:*"), 1);
        await publisher.set("{n}k", "1");
        await publisher.incr("{n}k");
        await publisher.pexpire("{n}k", 50);
        await publisher.del("{n}gone");
        await publisher.rename("{n}k", "{n}k2");
        await waitFor("the key expires", 10_000, async () =>
          got.includes("__keyevent@0__:expired {n}k2"),
        ).catch(async (e: unknown) => {
          const ttl = await publisher.pttl("{n}k2");
          throw new Error(`${e}; events: ${got.join("; ")}; PTTL of {n}k2: ${ttl}`);
        });
        assert.deepEqual(
          got.filter((g) => g.startsWith("__keyevent")),
          [
            "__keyevent@0__:new {n}k",
            "__keyevent@0__:set {n}k",
            "__keyevent@0__:incrby {n}k",
            "__keyevent@0__:expire {n}k",
            "__keyevent@0__:new {n}k2",
            "__keyevent@0__:rename_from {n}k",
            "__keyevent@0__:rename_to {n}k2",
            "__keyevent@0__:expired {n}k2",
          ],
        );
        assert.ok(got.includes("__keyspace@0__:{n}k set"), got.join("; "));
        assert.equal(await publisher.config("SET", "notify-keyspace-events", ""), "OK");
        await publisher.set("{n}quiet", "1");
        assert.equal(await publisher.publish("after", "x"), 0);
        assert.ok(!got.some((g) => g.includes("quiet")));
      } finally {
        sub.disconnect();
      }
    });

    it("stops and starts its replies with CLIENT REPLY, messages still arriving", async () => {
      const raw = await Raw.open(node.port);
      try {
        raw.send(
          ["CLIENT", "REPLY", "OFF"],
          ["SET", "{r}a", "1"],
          ["SUBSCRIBE", "r"],
          ["UNSUBSCRIBE"],
          ["CLIENT", "REPLY", "ON"],
          ["GET", "{r}a"],
        );
        await raw.until("$1\r\n1\r\n");
        assert.equal(
          raw.text,
          "*3\r\n$9\r\nsubscribe\r\n$1\r\nr\r\n:1\r\n" +
            "*3\r\n$11\r\nunsubscribe\r\n$1\r\nr\r\n:0\r\n+OK\r\n$1\r\n1\r\n",
        );
        raw.text = "";
        raw.send(["CLIENT", "REPLY", "SKIP"], ["GET", "{r}a"], ["ECHO", "e"]);
        await raw.until("$1\r\ne\r\n");
        assert.equal(raw.text, "$1\r\ne\r\n");
      } finally {
        raw.close();
      }
    });

    it("refuses in a cluster a message too big for the bus, and nothing is delivered", async () => {
      const huge = Buffer.alloc(17 * 1024 * 1024, 0x61);
      if (mode === "--cluster") {
        await assert.rejects(
          publisher.publish("big", huge),
          /carries at most 17825787 between nodes/,
        );
      } else {
        assert.equal(await publisher.publish("big", huge), 0);
      }
      assert.equal(await publisher.publish("big", huge.subarray(0, 1024)), 0);
    });

    it("disconnects a subscriber that does not read its messages, past 32 MiB", async () => {
      const raw = await Raw.open(node.port);
      raw.send(["SUBSCRIBE", "flood"]);
      await raw.until(":1\r\n");
      raw.socket.pause();
      const closed = once(raw.socket, "close");
      const big = "x".repeat(1024 * 1024);
      let sent = 0;
      while ((await publisher.pubsub("NUMSUB", "flood"))[1] === 1 && sent < 200) {
        await publisher.publish("flood", big);
        sent++;
      }
      assert.ok(sent < 200, "the subscriber is still there after 200 MiB");
      assert.ok(sent >= 32, `disconnected after ${sent} MiB`);
      raw.socket.resume();
      await closed;
      assert.equal(await publisher.ping(), "PONG");
    });
  });
}
