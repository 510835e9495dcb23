import { runLoad } from "./load.js";

/** `node dist/test/sim/load.bench.js [nodes] [virtualSeconds]`: figures for docs/runtime.md. */
const nodes = Number(process.argv[2] ?? 1000);
const seconds = Number(process.argv[3] ?? 600);
const r = runLoad(nodes, seconds * 1000);
const perSecond = Math.round(r.events / (r.wallMs / 1000));
console.log(
  `nodes=${r.nodes} virtual=${seconds}s wall=${(r.wallMs / 1000).toFixed(2)}s ` +
    `events=${r.events} delivered=${r.delivered} events/s=${perSecond} ` +
    `heapMiB=${Math.round(process.memoryUsage().heapUsed / 2 ** 20)}`,
);
