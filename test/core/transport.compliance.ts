import assert from "node:assert/strict";
import { it } from "node:test";
import {
  datagramBytesMax,
  reliableBytesMax,
  type Transport,
  TransportError,
} from "../../src/core/transport.js";

/**
 * The Transport contract (src/core/transport.ts), run against every implementation: the
 * real UDP/TCP one (test/core/udp-transport.test.ts) and the simulated one
 * (test/sim/transport.test.ts), so the simulator cannot drift from reality.
 */
export interface TransportHarness {
  /** A fresh node on the harness's network. */
  open(): Promise<Transport>;
  /** Lets time pass (real or virtual) until the promise settles. */
  settle<T>(promise: Promise<T>): Promise<T>;
  /** Lets time pass until `condition` holds, or `maxMs` has gone by. */
  waitFor(condition: () => boolean, maxMs?: number): Promise<boolean>;
  /** An address at which nothing listens. */
  deadAddress(): Promise<string>;
  dispose(): Promise<void>;
}

interface Received {
  from: string;
  data: Uint8Array;
  reliable: boolean;
}

function collect(transport: Transport): Received[] {
  const received: Received[] = [];
  transport.onMessage((from, data, reliable) => {
    received.push({ from, data: Uint8Array.from(data), reliable });
  });
  return received;
}

function bytes(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
}

export function transportCompliance(name: string, makeHarness: () => TransportHarness): void {
  const withHarness = (title: string, body: (h: TransportHarness) => Promise<void>) =>
    it(`${name}: ${title}`, async () => {
      const h = makeHarness();
      try {
        await body(h);
      } finally {
        await h.dispose();
      }
    });

  withHarness("each node has its own address", async (h) => {
    const [a, b] = [await h.open(), await h.open()];
    assert.ok(a.localAddress.length > 0);
    assert.notEqual(a.localAddress, b.localAddress);
  });

  withHarness("a datagram arrives with its sender's address", async (h) => {
    const [a, b] = [await h.open(), await h.open()];
    const got = collect(b);
    a.send(b.localAddress, bytes(100, 1));
    assert.ok(await h.waitFor(() => got.length > 0));
    assert.deepEqual(got[0], { from: a.localAddress, data: bytes(100, 1), reliable: false });
    assert.equal(a.counters.datagramsSent, 1);
    assert.equal(b.counters.datagramsReceived, 1);
  });

  withHarness("a datagram of datagramBytesMax arrives; one byte more throws", async (h) => {
    const [a, b] = [await h.open(), await h.open()];
    const got = collect(b);
    a.send(b.localAddress, bytes(datagramBytesMax, 2));
    assert.ok(await h.waitFor(() => got.length > 0));
    assert.deepEqual(got[0].data, bytes(datagramBytesMax, 2));
    assert.throws(() => a.send(b.localAddress, new Uint8Array(datagramBytesMax + 1)));
  });

  withHarness("the sender may reuse its buffer at once", async (h) => {
    const [a, b] = [await h.open(), await h.open()];
    const got = collect(b);
    const buffer = bytes(10, 3);
    a.send(b.localAddress, buffer);
    buffer.fill(0);
    assert.ok(await h.waitFor(() => got.length > 0));
    assert.deepEqual(got[0].data, bytes(10, 3));
  });

  withHarness("a large reliable message arrives whole, then the send resolves", async (h) => {
    const [a, b] = [await h.open(), await h.open()];
    const got = collect(b);
    const data = bytes(1024 * 1024, 4);
    await h.settle(a.sendReliable(b.localAddress, data));
    assert.equal(got.length, 1);
    assert.deepEqual(got[0], { from: a.localAddress, data, reliable: true });
    assert.equal(b.counters.reliableReceived, 1);
  });

  withHarness("reliable messages to one peer arrive in order", async (h) => {
    const [a, b] = [await h.open(), await h.open()];
    const got = collect(b);
    const sends = Array.from({ length: 20 }, (_, i) =>
      a.sendReliable(b.localAddress, bytes(1 + i * 500, i)),
    );
    await h.settle(Promise.all(sends));
    assert.deepEqual(
      got.map((r) => r.data.length),
      sends.map((_, i) => 1 + i * 500),
    );
  });

  withHarness("stream messages arrive in order with reliable ones, unacknowledged", async (h) => {
    const [a, b] = [await h.open(), await h.open()];
    const got = collect(b);
    for (let i = 0; i < 10; i++) {
      const data = bytes(1 + i * 300, i);
      if (i % 3 === 0) void a.sendReliable(b.localAddress, data);
      else a.sendStream(b.localAddress, data);
    }
    // A reliable send after them resolves: the acknowledgements skip stream messages.
    await h.settle(a.sendReliable(b.localAddress, bytes(7, 99)));
    assert.deepEqual(
      got.map((r) => r.data.length),
      [...Array.from({ length: 10 }, (_, i) => 1 + i * 300), 7],
    );
    assert.ok(got.every((r) => r.from === a.localAddress && r.reliable));
  });

  withHarness("messages of several MiB arrive whole, in order with small ones", async (h) => {
    const [a, b] = [await h.open(), await h.open()];
    const got = collect(b);
    const big = (n: number, seed: number) => {
      const data = new Uint8Array(n);
      for (let i = 0; i < n; i += 997) data[i] = (i + seed) & 0xff;
      return data;
    };
    const sent = [big(3 * 1024 * 1024 + 7, 1), bytes(10, 2), big(reliableBytesMax, 3)];
    a.sendStream(b.localAddress, sent[0] as Uint8Array);
    a.sendStream(b.localAddress, sent[1] as Uint8Array);
    await h.settle(a.sendReliable(b.localAddress, sent[2] as Uint8Array));
    assert.equal(got.length, 3);
    for (const [i, r] of got.entries()) {
      assert.ok(Buffer.from(r.data).equals(sent[i] as Uint8Array), `message ${i} whole`);
    }
    assert.equal(b.counters.reliableReceived, 3);
  });

  withHarness("a reliable message over reliableBytesMax is rejected", async (h) => {
    const [a, b] = [await h.open(), await h.open()];
    const error = await h
      .settle(a.sendReliable(b.localAddress, new Uint8Array(reliableBytesMax + 1)))
      .catch((e: unknown) => e);
    assert.ok(error instanceof TransportError);
    assert.equal(error.code, "too-large");
  });

  withHarness("nobody at the address: datagram vanishes, reliable rejects", async (h) => {
    const a = await h.open();
    const dead = await h.deadAddress();
    a.send(dead, bytes(10, 5));
    const error = await h.settle(a.sendReliable(dead, bytes(10, 5))).catch((e: unknown) => e);
    assert.ok(error instanceof TransportError, String(error));
    assert.ok(["unreachable", "timeout"].includes(error.code), error.code);
  });

  withHarness("a closed peer rejects reliable sends; a closed sender too", async (h) => {
    const [a, b] = [await h.open(), await h.open()];
    collect(b);
    await h.settle(a.sendReliable(b.localAddress, bytes(10, 6)));
    await b.close();
    const toClosed = await h.settle(a.sendReliable(b.localAddress, bytes(10, 6))).catch((e) => e);
    assert.ok(toClosed instanceof TransportError);
    await a.close();
    const fromClosed = await h.settle(a.sendReliable(b.localAddress, bytes(1, 1))).catch((e) => e);
    assert.ok(fromClosed instanceof TransportError);
    assert.equal(fromClosed.code, "closed");
    a.send(b.localAddress, bytes(1, 1)); // no throw after close
  });

  withHarness("a later handler replaces the earlier one", async (h) => {
    const [a, b] = [await h.open(), await h.open()];
    const first = collect(b);
    const second = collect(b);
    a.send(b.localAddress, bytes(5, 7));
    assert.ok(await h.waitFor(() => second.length > 0));
    assert.equal(first.length, 0);
  });

  withHarness("many nodes talk to each other both ways", async (h) => {
    const nodes = await Promise.all(Array.from({ length: 5 }, () => h.open()));
    const got = nodes.map(collect);
    for (const from of nodes)
      for (const to of nodes) if (from !== to) from.send(to.localAddress, bytes(8, 8));
    assert.ok(await h.waitFor(() => got.every((g) => g.length === 4)));
    for (const [i, g] of got.entries()) {
      const senders = g.map((r) => r.from).sort();
      const expected = nodes
        .filter((_, j) => j !== i)
        .map((n) => n.localAddress)
        .sort();
      assert.deepEqual(senders, expected);
    }
  });
}
