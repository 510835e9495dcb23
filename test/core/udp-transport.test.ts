import { describe } from "node:test";
import type { Transport } from "../../src/core/transport.js";
import { UdpTransport } from "../../src/core/udp-transport.js";
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
