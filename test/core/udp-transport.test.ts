import assert from "node:assert/strict";
import net from "node:net";
import { describe, it } from "node:test";
import { frameHeaderBytes, writeFrameHeader } from "../../src/core/framing.js";
import { Sealer, SealKind } from "../../src/core/seal.js";
import { reliableBytesMax, type Transport } from "../../src/core/transport.js";
import { framePayloadBytesMax, parseAddress, UdpTransport } from "../../src/core/udp-transport.js";
import { testKey } from "./keys.js";
import { type TransportHarness, transportCompliance } from "./transport.compliance.js";

function realHarness(): TransportHarness {
  const open: Transport[] = [];
  const harness: TransportHarness = {
    async open() {
      const t = await UdpTransport.open({ host: "127.0.0.1", port: 0, key: testKey });
      open.push(t);
      return t;
    },
    settle: (promise) => promise,
    async waitFor(condition, maxMs = 2_000) {
      const deadline = performance.now() + maxMs;
      while (!condition()) {
        if (performance.now() > deadline) return false;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      return true;
    },
    async deadAddress() {
      const t = await harness.open();
      await t.close();
      return t.localAddress;
    },
    async dispose() {
      await Promise.all(open.map((t) => t.close()));
    },
  };
  return harness;
}

describe("UdpTransport", () => transportCompliance("udp+tcp", realHarness));

/** A frame as a peer would write it: sealed with `key`, its length first. */
function frame(sealer: Sealer, kind: SealKind, payload: Uint8Array): Buffer {
  const sealed = sealer.seal(kind, [payload], frameHeaderBytes);
  writeFrameHeader(sealed, sealed.length - frameHeaderBytes);
  return sealed;
}

/** Writes `frames` on a new connection to `to`; resolves once the peer has closed it. */
function writeUntilClosed(to: string, frames: Buffer[]): Promise<void> {
  const target = parseAddress(to);
  assert.ok(target);
  return new Promise((resolve) => {
    const socket = net.connect(target.port, target.host, () => {
      for (const f of frames) socket.write(f);
    });
    socket.on("error", () => {});
    socket.on("close", () => resolve());
  });
}

describe("UdpTransport: messages in parts", () => {
  it("closes a connection whose parts outgrow reliableBytesMax, or that sends a forged part", async () => {
    const b = await UdpTransport.open({ host: "127.0.0.1", port: 0, key: testKey });
    try {
      const got: number[] = [];
      b.onMessage((_from, data) => got.push(data.length));
      const sealer = new Sealer(testKey);
      const piece = new Uint8Array(framePayloadBytesMax);
      const parts = Math.ceil(reliableBytesMax / piece.length) + 1;
      const tooMany = Array.from({ length: parts }, () => frame(sealer, SealKind.part, piece));
      await writeUntilClosed(b.localAddress, tooMany);
      assert.equal(b.counters.droppedInvalid, 1);

      const other = new Sealer(new Uint8Array(testKey.length).fill(7));
      const forged = [frame(sealer, SealKind.part, piece), frame(other, SealKind.part, piece)];
      await writeUntilClosed(b.localAddress, forged);
      assert.equal(b.counters.droppedInvalid, 2);

      // A frame longer than one part's bound is refused before it is read in full.
      const long = frame(sealer, SealKind.part, new Uint8Array(framePayloadBytesMax + 1024));
      await writeUntilClosed(b.localAddress, [long]);
      assert.equal(b.counters.droppedInvalid, 3);
      assert.deepEqual(got, [], "nothing delivered");
    } finally {
      await b.close();
    }
  });
});
