import assert from "node:assert/strict";
import { it } from "node:test";
import { Redis } from "ioredis";
import { removeDir, startNode, tempDir } from "./harness.js";

const writers = 16;
const writeForMs = 1500;

it("keeps every acknowledged write across a SIGKILL", async () => {
  const dir = tempDir();
  try {
    const node = await startNode(dir);
    const clients = Array.from(
      { length: writers },
      () =>
        new Redis({
          port: node.port,
          host: "127.0.0.1",
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          enableOfflineQueue: false,
          retryStrategy: () => null,
        }),
    );
    for (const c of clients) c.on("error", () => {}); // expected: the node is killed under them
    await Promise.all(clients.map((c) => c.connect()));
    const acked: string[][] = clients.map(() => []);
    const counters: number[] = clients.map(() => 0);
    const deadline = Date.now() + writeForMs;
    let stop = false;
    const loops = clients.map(async (c, w) => {
      for (let i = 0; !stop; i++) {
        try {
          const key = `w${w}:k${i}`;
          await c.set(key, `v${i}`);
          acked[w]?.push(key);
          counters[w] = await c.incr(`counter:${w}`);
        } catch {
          return; // the node was killed under us
        }
        if (Date.now() > deadline) break;
      }
    });
    // Kill while writes are still in flight, not after a quiet moment.
    await new Promise((r) => setTimeout(r, writeForMs - 200));
    await node.kill();
    stop = true;
    await Promise.all(loops);
    for (const c of clients) c.disconnect();
    const total = acked.reduce((n, a) => n + a.length, 0);
    assert.ok(total > 100, `only ${total} writes were acknowledged`);

    const again = await startNode(dir);
    const check = new Redis({ port: again.port, host: "127.0.0.1" });
    try {
      for (const [w, keys] of acked.entries()) {
        const values = keys.length === 0 ? [] : await check.mget(...keys);
        for (const [i, v] of values.entries()) {
          assert.equal(v, `v${i}`, `acknowledged write ${keys[i]} was lost`);
        }
        const counter = Number(await check.get(`counter:${w}`));
        assert.ok(
          counter >= (counters[w] ?? 0),
          `counter ${w}: ${counter} < acknowledged ${counters[w]}`,
        );
      }
    } finally {
      check.disconnect();
      await again.stop();
    }
  } finally {
    removeDir(dir);
  }
});
