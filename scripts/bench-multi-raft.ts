// Idle raft traffic between nodes of a multi-raft cluster: what heartbeats cost per node
// pair with coalescing (src/cluster/multi-raft.ts: one envelope per peer per flush,
// heartbeats as compact records, src/cluster/envelope.ts) against what the same messages
// would cost uncoalesced (one transport message per raft message).
//
//   npm run build && node dist/scripts/bench-multi-raft.js [--nodes N] [--groups G]
//                                                           [--ticks T] [--tick-ms MS]
//
// N nodes each hold a replica of every one of G groups (3 replicas per group with N = 3),
// on an in-process lock-step network: every tick each node receives what was sent in the
// previous one, ticks, and flushes once. Once every group has a leader and has settled,
// T ticks are measured; with heartbeatTicks = 1 each tick is one heartbeat round, and
// figures per second assume one tick every MS milliseconds (lanConfig's 100).

import { decodeEnvelope, envelopeHeaderBytes, itemHeaderBytes } from "../src/cluster/envelope.js";
import { MemoryRaftLogs } from "../src/cluster/memory-logs.js";
import { type GroupMachine, MultiRaft } from "../src/cluster/multi-raft.js";
import { frameHeaderBytes } from "../src/core/framing.js";
import { SeededRandom } from "../src/core/random.js";
import { sealOverheadBytes } from "../src/core/seal.js";
import { encodeMessage, lanConfig, type NodeId } from "../src/raft/index.js";
import { exitOnUsageError, intArg, parseOptions } from "./lib/options.js";

const usage = `Usage: node dist/scripts/bench-multi-raft.js [options]

What idle raft traffic costs per node pair: heartbeats coalesced into one envelope per
peer per flush, against one transport message per raft message (in process, no sockets).

Options:
  --nodes N      nodes, each with a replica of every group (default 3)
  --groups G     raft groups (default 1000)
  --ticks T      ticks measured once the groups have settled (default 100)
  --tick-ms MS   milliseconds per tick, for the per-second figures (default 100)
  -h, --help     this text`;
const { values } = parseOptions(
  {
    nodes: { type: "string", default: "3" },
    groups: { type: "string", default: "1000" },
    ticks: { type: "string", default: "100" },
    "tick-ms": { type: "string", default: "100" },
  },
  usage,
);
const [nodeCount, groupCount, ticks, tickMs] = exitOnUsageError(() => [
  intArg("--nodes", values.nodes, 2),
  intArg("--groups", values.groups),
  intArg("--ticks", values.ticks),
  intArg("--tick-ms", values["tick-ms"]),
]);
const perSecond = 1000 / tickMs;

/**
 * What one reliable message costs on the real transport (core/udp-transport.ts) beyond its
 * payload: the frame length, the seal, seq and sender address ("10.0.0.17:16380", 15
 * bytes), and the peer's sealed ack frame.
 */
const addressBytes = 15;
const frameOverheadBytes =
  frameHeaderBytes +
  sealOverheadBytes +
  4 +
  1 +
  addressBytes +
  (frameHeaderBytes + sealOverheadBytes + 4);

const idleMachine = (): GroupMachine => ({
  apply: () => {},
  restore: () => {},
  snapshot: () => new Uint8Array(0),
  reads: () => {},
});

interface Wire {
  from: NodeId;
  to: NodeId;
  bytes: Uint8Array;
}

const ids = Array.from({ length: nodeCount }, (_, k) => k + 1);
const conf = { voters: ids, learners: [] };
const seed = new SeededRandom(42);
let queue: Wire[] = [];
const nodes = ids.map((id) => {
  const send = (to: NodeId, bytes: Uint8Array) => queue.push({ from: id, to, bytes });
  const mr = new MultiRaft(id, lanConfig(id), seed.fork(), new MemoryRaftLogs(), send);
  for (let g = 0; g < groupCount; g++) mr.addGroup(g, conf, idleMachine());
  return mr;
});

/** One tick of the whole cluster; returns what was sent. */
function tick(): Wire[] {
  const inflight = queue;
  queue = [];
  for (const w of inflight) nodes[w.to - 1]?.receive(w.from, w.bytes);
  for (const mr of nodes) {
    mr.tick();
    mr.flush();
  }
  return queue;
}

function settled(): boolean {
  for (let g = 0; g < groupCount; g++) {
    const lead = nodes[0]?.status(g)?.lead ?? 0;
    if (lead === 0) return false;
    for (const mr of nodes) {
      const s = mr.status(g);
      if (s === null || s.lead !== lead || s.applied !== s.commit) return false;
    }
  }
  return true;
}

let warm = 0;
while (!settled()) {
  tick();
  if (++warm > 1000) throw new Error("groups did not settle in 1,000 ticks");
}
for (let i = 0; i < 10; i++) tick();

let envelopes = 0;
let bytes = 0;
let messages = 0;
let wholeBytes = 0;
let batchedWholeBytes = 0;
const startNs = process.hrtime.bigint();
let decodeNs = 0n;
for (let t = 0; t < ticks; t++) {
  for (const w of tick()) {
    envelopes += 1;
    bytes += w.bytes.length;
    // What the same traffic would be as whole raft messages (measured outside the clock).
    const t0 = process.hrtime.bigint();
    const d = decodeEnvelope(w.bytes);
    if (!d.ok) throw new Error(d.error);
    batchedWholeBytes += envelopeHeaderBytes;
    for (const item of d.value.items) {
      const size = encodeMessage(item.message).length;
      messages += 1;
      wholeBytes += size;
      batchedWholeBytes += itemHeaderBytes + 4 + size;
    }
    decodeNs += process.hrtime.bigint() - t0;
  }
}
const elapsedMs = Number(process.hrtime.bigint() - startNs - decodeNs) / 1e6;

const pairs = nodeCount * (nodeCount - 1);
const perPairPerS = (v: number) => (v / pairs / ticks) * perSecond;
const fmt = (v: number) => Math.round(v).toLocaleString("en-US");
const kb = (v: number) => `${(v / 1024).toFixed(1)} KiB`;

const rows: Array<[string, number, number]> = [
  ["coalesced (envelopes, compact heartbeats)", perPairPerS(envelopes), perPairPerS(bytes)],
  [
    "batched, whole messages (no compaction)",
    perPairPerS(envelopes),
    perPairPerS(batchedWholeBytes),
  ],
  ["uncoalesced (a message per raft message)", perPairPerS(messages), perPairPerS(wholeBytes)],
];
console.log(
  `${nodeCount} nodes × ${groupCount} idle groups, ${ticks} ticks of ${tickMs} ms ` +
    `(one heartbeat round each); per ordered node pair (A→B), per second:`,
);
for (const [name, msgs, payload] of rows) {
  const wire = payload + msgs * frameOverheadBytes;
  console.log(
    `  ${name.padEnd(44)} ${fmt(msgs).padStart(7)} transport msgs/s  ` +
      `${kb(payload).padStart(11)}/s payload  ${kb(wire).padStart(11)}/s with framing+acks`,
  );
}
// Each group's leader has N − 1 followers: one heartbeat and one answer per link per round.
const links = groupCount * (nodeCount - 1) * ticks;
console.log(
  `  per leader–follower link per heartbeat round (heartbeat + answer): ` +
    `${(bytes / links).toFixed(1)} bytes coalesced vs ${(wholeBytes / links).toFixed(1)} ` +
    `uncoalesced (${((wholeBytes / links + 2 * frameOverheadBytes) / (bytes / links)).toFixed(0)}× ` +
    `with framing+acks)`,
);
console.log(
  `  CPU: ${(elapsedMs / ticks).toFixed(2)} ms per tick for all ${nodeCount} nodes ` +
    `(${((elapsedMs / ticks / tickMs / nodeCount) * 100).toFixed(2)}% of a core per node at ` +
    `${tickMs} ms ticks); framing+acks assume ${frameOverheadBytes} bytes per transport message`,
);
