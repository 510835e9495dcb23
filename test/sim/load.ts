import { SeededRandom } from "../../src/core/random.js";
import { SimNetwork } from "../../src/sim/network.js";
import { Scheduler } from "../../src/sim/scheduler.js";

/**
 * SWIM-shaped load: every node probes a random peer every `probeIntervalMs` (jittered) with
 * a small datagram and the peer acks it, as SWIM's ping/ack does. Used by the load test and
 * by load.bench.ts for the figures in docs/runtime.md.
 */
export interface LoadResult {
  nodes: number;
  virtualMs: number;
  wallMs: number;
  events: number;
  delivered: number;
  trace: number;
}

export function runLoad(nodes: number, virtualMs: number, seed = 1): LoadResult {
  const probeIntervalMs = 200;
  const scheduler = new Scheduler();
  const network = new SimNetwork(scheduler, new SeededRandom(seed), { lossProbability: 0.01 });
  const addresses = Array.from({ length: nodes }, (_, i) => `n${i}`);
  const ping = new Uint8Array(64).fill(1);
  const ack = new Uint8Array(64).fill(2);
  for (const address of addresses) {
    const node = network.addNode(address);
    node.transport.onMessage((from, data) => {
      if (data[0] === 1) node.transport.send(from, ack);
    });
    const probe = (): void => {
      const peer = addresses[node.random.int(nodes)];
      if (peer !== address) node.transport.send(peer, ping);
      node.timers.schedule(probeIntervalMs * (0.9 + 0.2 * node.random.next()), probe);
    };
    node.timers.schedule(node.random.next() * probeIntervalMs, probe);
  }
  const start = performance.now();
  scheduler.runUntil(virtualMs);
  return {
    nodes,
    virtualMs,
    wallMs: performance.now() - start,
    events: scheduler.eventsRun,
    delivered: network.counters.delivered,
    trace: scheduler.trace,
  };
}
