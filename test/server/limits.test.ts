import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { type RunningNode, removeDir, startNode, tempDir } from "./harness.js";

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

describe("a node under hostile or careless clients", () => {
  let node: RunningNode;
  let dir: string;
  let client: Redis;

  before(async () => {
    dir = tempDir();
    node = await startNode(dir);
    client = new Redis({ port: node.port, host: "127.0.0.1" });
  });

  after(async () => {
    client.disconnect();
    await node.stop();
    removeDir(dir);
  });

  it("expires keys by itself, without anyone reading them", async () => {
    const p = client.pipeline();
    for (let i = 0; i < 2000; i++) p.set(`short:${i}`, "v", "PX", 300);
    await p.exec();
    const before = await client.dbsize();
    assert.ok(before > 0, `dbsize ${before}`);
    let left = before;
    for (let i = 0; i < 40 && left > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = await client.dbsize();
    }
    assert.equal(left, 0, "expired keys were not removed");
    const expired = Number(/expired_keys:(\d+)/.exec(await client.info("stats"))?.[1]);
    assert.ok(expired >= 2000, `expired_keys ${expired}`);
  });

  it("stops reading from a client that does not read its replies", async () => {
    await client.set("big", Buffer.alloc(1024 * 1024, 7));
    const rssBefore = rssMiB(node.proc.pid as number);
    const socket = connect(node.port, "127.0.0.1");
    await new Promise<void>((r) => socket.once("connect", () => r()));
    socket.pause(); // never read: replies (1 MiB each) pile up
    const request = Buffer.from("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n");
    const requests = Buffer.concat(Array.from({ length: 1000 }, () => request));
    // 5000 requests would be 5 GiB of replies if the node kept answering into memory.
    for (let i = 0; i < 5; i++) socket.write(requests);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await client.ping(), "PONG", "the node stopped serving others");
    const grown = rssMiB(node.proc.pid as number) - rssBefore;
    assert.ok(grown < 256, `the node grew by ${grown.toFixed(0)} MiB`);
    socket.destroy();
  });

  it("closes a client past its query buffer limit, with the reason", async () => {
    await client.config("SET", "client-query-buffer-limit", "1048576");
    try {
      const socket = connect(node.port, "127.0.0.1");
      let text = "";
      const closed = new Promise<void>((r) => socket.on("close", () => r()));
      socket.on("data", (d) => {
        text += d.toString();
      });
      socket.on("error", () => {});
      socket.write("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4000000\r\n");
      for (let i = 0; i < 8 && !socket.destroyed; i++) {
        socket.write(Buffer.alloc(256 * 1024, 120));
        await new Promise((r) => setTimeout(r, 20));
      }
      await closed;
      assert.match(text, /^-ERR Protocol error: query buffer limit reached\r\n$/);
      assert.equal(await client.exists("k"), 0);
    } finally {
      await client.config("SET", "client-query-buffer-limit", "1gb");
    }
  });

  it("applies CONFIG SET proto-max-bulk-len to the commands that build strings", async () => {
    await client.config("SET", "proto-max-bulk-len", "1mb");
    try {
      await assert.rejects(
        client.setrange("grow", 2 * 1024 * 1024, "x"),
        /string exceeds maximum allowed size/,
      );
    } finally {
      await client.config("SET", "proto-max-bulk-len", "512mb");
    }
  });

  it("refuses request limits of 2 GiB or more, and goes on taking connections", async () => {
    for (const name of ["proto-max-bulk-len", "client-query-buffer-limit"]) {
      await assert.rejects(
        client.config("SET", name, "10000000000"),
        /must be between 1048576 and 2147483646 inclusive/,
      );
    }
    const fresh = new Redis({ port: node.port, lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await fresh.connect();
      assert.equal(await fresh.ping(), "PONG");
    } finally {
      fresh.disconnect();
    }
  });
});
