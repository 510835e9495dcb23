import type { RaftConfig } from "../../src/raft/index.js";
import { Cluster, type Envelope, logOf } from "./harness.js";

/**
 * A small language for scripted raft interactions, in the spirit of etcd's datadriven
 * "interaction" tests. One command a line; `#` starts a comment. The cluster's safety
 * properties are checked after every line. Ids are numbers; IDS is a list of them.
 *
 *   add-nodes N voters=(1,2,3) [learners=(4)] [prevote=false] [checkquorum=false]
 *             [election=10] [heartbeat=1] [inflight=256] [inflightbytes=B]
 *             [maxmsgbytes=B] [chunk=B] [lease=0.1] [uncommitted=B]
 *   campaign ID              tick IDS|all [xN]        stall ID / crash ID / restart ID
 *   cycle IDS|all [xN]       (tick each, then deliver until quiet; N times)
 *   deliver [A->B]           drop A->B                (A or B may be *)
 *   partition 1 | 2 3        heal                     snapshot ID
 *   propose ID DATA...       conf ID add-voter|add-learner|remove N
 *   transfer ID TARGET       read ID RID
 *     (propose, conf, transfer and read must succeed, unless the line ends in
 *      "=> REASON", the reason they must fail with)
 *   expect leader ID term T | expect leader none
 *   expect state ID STATE [term T]    expect term T on IDS
 *   expect commit C on IDS            expect applied C on IDS
 *   expect log ID [T/I ...]           expect data ID [A B ...]
 *   expect pending A->B N [TYPE]      expect read ID RID INDEX|none | expect no-read ID
 *   expect progress LEADER ID STATE [match M] [next N] [inflight K]
 */
/** RAFT_TRACE=1 prints every line and the state it left behind. */
const trace = typeof globalThis.process === "object" && globalThis.process.env.RAFT_TRACE === "1";

function describeCluster(cluster: Cluster): string {
  const out: string[] = [];
  for (const r of cluster.replicas.values()) {
    const n = r.node;
    if (n === null) {
      out.push(`  ${r.id}: down`);
      continue;
    }
    out.push(
      `  ${r.id}: ${n.state} term ${n.term} vote ${n.vote} lead ${n.lead} commit ${n.log.committed} log [${logOf(n).join(" ")}]`,
    );
  }
  out.push(`  queue: ${cluster.queue.map((e) => `${e.from}->${e.to} ${e.type}`).join(", ")}`);
  return out.join("\n");
}

export function runScript(source: string, name: string): void {
  const cluster = new Cluster(7);
  const lines = source.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).replace(/#.*/, "").trim();
    if (line === "") continue;
    try {
      run(cluster, line);
      cluster.check();
      if (trace) console.log(`${name}:${i + 1}: ${line}\n${describeCluster(cluster)}`);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      throw new Error(`${name}:${i + 1}: ${line}\n  ${message}`);
    }
  }
}

function fail(message: string): never {
  throw new Error(message);
}

function num(s: string | undefined): number {
  const n = Number(s);
  if (s === undefined || !Number.isInteger(n)) fail(`not a number: ${s}`);
  return n;
}

function ids(words: string[], cluster: Cluster): number[] {
  if (words.length === 1 && words[0] === "all") return [...cluster.replicas.keys()];
  return words.map(num);
}

function list(s: string): string[] {
  const m = /^[([](.*)[)\]]$/.exec(s.trim());
  if (m === null) fail(`not a list: ${s}`);
  return (m[1] as string).split(/[\s,]+/).filter((x) => x !== "");
}

function link(s: string | undefined): (e: Envelope) => boolean {
  const m = /^(\*|\d+)->(\*|\d+)$/.exec(s ?? "");
  if (m === null) fail(`not a link: ${s}`);
  const from = m[1] === "*" ? null : Number(m[1]);
  const to = m[2] === "*" ? null : Number(m[2]);
  return (e) => (from === null || e.from === from) && (to === null || e.to === to);
}

/** Splits "cmd args... => reason" into the command and the expected failure. */
function outcome(line: string): [string, string | null] {
  const at = line.indexOf("=>");
  if (at < 0) return [line, null];
  return [line.slice(0, at).trim(), line.slice(at + 2).trim()];
}

function settle(expected: string | null, result: { ok: boolean; reason?: string }): void {
  if (expected === null && !result.ok) fail(`failed: ${result.reason}`);
  if (expected !== null && result.ok) fail(`succeeded, expected ${expected}`);
  if (expected !== null && result.reason !== expected) {
    fail(`failed with ${result.reason}, expected ${expected}`);
  }
}

function run(cluster: Cluster, full: string): void {
  const [line, expected] = outcome(full);
  const w = line.split(/\s+/);
  const cmd = w[0];
  switch (cmd) {
    case "add-nodes":
      addNodes(cluster, line);
      return;
    case "campaign":
      cluster.node(num(w[1])).campaign();
      cluster.process(num(w[1]));
      return;
    case "tick": {
      const rest = w.slice(1);
      let times = 1;
      const last = rest[rest.length - 1] as string;
      if (/^x\d+$/.test(last)) {
        times = num(last.slice(1));
        rest.pop();
      }
      const targets = ids(rest, cluster);
      for (let t = 0; t < times; t++) for (const id of targets) cluster.tick(id);
      return;
    }
    case "cycle": {
      // Ticks each id, then delivers until quiet; N times. Time passing on a healthy net.
      const rest = w.slice(1);
      let times = 1;
      const last = rest[rest.length - 1] as string;
      if (/^x\d+$/.test(last)) {
        times = num(last.slice(1));
        rest.pop();
      }
      const targets = ids(rest, cluster);
      for (let t = 0; t < times; t++) {
        for (const id of targets) cluster.tick(id);
        cluster.stabilize();
        cluster.check();
      }
      return;
    }
    case "deliver":
      if (w.length === 1) cluster.stabilize();
      else cluster.deliverMatching(link(w[1]));
      return;
    case "drop":
      cluster.drop(link(w[1]));
      return;
    case "partition": {
      const groups = line
        .slice("partition".length)
        .split("|")
        .map((g) => g.trim().split(/\s+/).filter(Boolean).map(num));
      cluster.partition(groups);
      return;
    }
    case "heal":
      cluster.heal();
      return;
    case "stall":
      cluster.get(num(w[1])).stalled = true;
      return;
    case "crash":
      cluster.crash(num(w[1]));
      return;
    case "restart":
      cluster.restart(num(w[1]));
      return;
    case "snapshot":
      cluster.snapshot(num(w[1]));
      return;
    case "propose": {
      const id = num(w[1]);
      for (const data of w.slice(2)) {
        const result = cluster.node(id).propose(new TextEncoder().encode(data));
        cluster.process(id);
        settle(expected, result);
      }
      return;
    }
    case "conf": {
      const id = num(w[1]);
      const type = w[2];
      if (type !== "add-voter" && type !== "add-learner" && type !== "remove") {
        fail(`unknown change ${type}`);
      }
      const result = cluster.node(id).proposeConfChange({ type, node: num(w[3]) });
      cluster.process(id);
      settle(expected, result);
      return;
    }
    case "transfer": {
      const id = num(w[1]);
      const ok = cluster.node(id).transferLeader(num(w[2]));
      cluster.process(id);
      settle(expected, ok ? { ok } : { ok, reason: "refused" });
      return;
    }
    case "read": {
      const id = num(w[1]);
      const result = cluster.node(id).readIndex(num(w[2]));
      cluster.process(id);
      settle(expected, result);
      return;
    }
    case "expect":
      expect(cluster, line, w.slice(1));
      return;
    default:
      fail(`unknown command ${cmd}`);
  }
}

function addNodes(cluster: Cluster, line: string): void {
  const w = line.split(/\s+/);
  const count = num(w[1]);
  const opts = new Map<string, string>();
  for (const m of line.matchAll(/(\w+)=(\([^)]*\)|\S+)/g)) opts.set(m[1] as string, m[2] as string);
  const voters = list(opts.get("voters") ?? "()").map(num);
  const learners = list(opts.get("learners") ?? "()").map(num);
  const configure = (c: RaftConfig): RaftConfig => {
    const out = { ...c };
    for (const [k, v] of opts) {
      if (k === "voters" || k === "learners") continue;
      if (k === "prevote") out.preVote = v === "true";
      else if (k === "checkquorum") out.checkQuorum = v === "true";
      else if (k === "election") out.electionTicks = num(v);
      else if (k === "heartbeat") out.heartbeatTicks = num(v);
      else if (k === "inflight") out.maxInflightMsgs = num(v);
      else if (k === "inflightbytes") out.maxInflightBytes = num(v);
      else if (k === "maxmsgbytes") out.maxMsgBytes = num(v);
      else if (k === "chunk") out.snapshotChunkBytes = num(v);
      else if (k === "uncommitted") out.maxUncommittedBytes = num(v);
      else if (k === "lease") out.clockDriftBound = Number(v);
      else if (k === "spares") {
        if (v !== "heartbeat" && v !== "eager") fail(`spares=${v}: heartbeat or eager`);
        out.sparesAtHeartbeat = v === "heartbeat";
      } else fail(`unknown option ${k}`);
    }
    return out;
  };
  const first = Math.max(0, ...cluster.replicas.keys()) + 1;
  for (let id = first; id < first + count; id++) {
    cluster.add(id, { voters, learners }, configure);
  }
}

function eq(actual: unknown, want: unknown, what: string): void {
  if (JSON.stringify(actual) !== JSON.stringify(want)) {
    fail(`${what}: got ${JSON.stringify(actual)}, want ${JSON.stringify(want)}`);
  }
}

function onIds(w: string[], cluster: Cluster): number[] {
  const at = w.indexOf("on");
  if (at < 0) fail("missing 'on IDS'");
  return ids(w.slice(at + 1), cluster);
}

function expect(cluster: Cluster, line: string, w: string[]): void {
  switch (w[0]) {
    case "leader": {
      if (w[1] === "none") {
        eq(
          cluster.leaders().map((n) => n.id),
          [],
          "leaders",
        );
        return;
      }
      const n = cluster.node(num(w[1]));
      eq(n.state, "leader", `state of ${n.id}`);
      if (w[2] === "term") eq(n.term, num(w[3]), `term of ${n.id}`);
      // Every other live replica of that term or later agrees.
      for (const o of cluster.live()) {
        if (o !== n && o.state === "leader") eq(o.term < n.term, true, `leader ${o.id} too`);
      }
      return;
    }
    case "state": {
      const n = cluster.node(num(w[1]));
      eq(n.state, w[2], `state of ${n.id}`);
      if (w[3] === "term") eq(n.term, num(w[4]), `term of ${n.id}`);
      return;
    }
    case "term":
      for (const id of onIds(w, cluster)) eq(cluster.node(id).term, num(w[1]), `term of ${id}`);
      return;
    case "commit":
      for (const id of onIds(w, cluster)) {
        eq(cluster.node(id).log.committed, num(w[1]), `commit of ${id}`);
      }
      return;
    case "applied":
      for (const id of onIds(w, cluster))
        eq(cluster.get(id).smIndex, num(w[1]), `applied of ${id}`);
      return;
    case "log": {
      const id = num(w[1]);
      eq(logOf(cluster.node(id)), list(line.slice(line.indexOf("["))), `log of ${id}`);
      return;
    }
    case "data": {
      const id = num(w[1]);
      eq(cluster.get(id).sm, list(line.slice(line.indexOf("["))), `data of ${id}`);
      return;
    }
    case "pending": {
      const filter = link(w[1]);
      const type = w[3];
      const got = cluster.queue.filter((e) => filter(e) && (type === undefined || e.type === type));
      eq(got.length, num(w[2]), `pending ${w[1]} ${type ?? ""}`);
      return;
    }
    case "read": {
      const r = cluster.get(num(w[1]));
      const found = r.readStates.find((s) => s.id === num(w[2]));
      eq(found?.index ?? "none", w[3] === "none" ? "none" : num(w[3]), `read ${w[2]} on ${w[1]}`);
      return;
    }
    case "no-read":
      eq(cluster.get(num(w[1])).readStates, [], `reads on ${w[1]}`);
      return;
    case "progress": {
      const pr = cluster.node(num(w[1])).progressOf(num(w[2]));
      if (pr === undefined) fail(`${w[1]} has no progress of ${w[2]} (not leader?)`);
      eq(pr.state, w[3], "progress state");
      for (let k = 4; k + 1 < w.length; k += 2) {
        const v = num(w[k + 1]);
        if (w[k] === "match") eq(pr.match, v, "match");
        else if (w[k] === "next") eq(pr.next, v, "next");
        else if (w[k] === "inflight") eq(pr.inflights.size, v, "inflight");
        else fail(`unknown progress field ${w[k]}`);
      }
      return;
    }
    default:
      fail(`unknown expectation ${w[0]}`);
  }
}
