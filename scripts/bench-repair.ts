// Repair benchmark: how long after a node's death a 5-node cluster (`start --cluster`)
// has every shard back at 3 voters, against the amount of data the dead node held.
//
// For each size, a fresh cluster (so every size starts from the same placement, and no
// earlier repair or rejoin is still moving replicas): 5 nodes, 8 shards, 3 replicas,
// `--dead-node-after D`; S MB of V-byte values written through ioredis in cluster mode by
// many concurrent writers; then SIGKILL of one node other than the first (raft id 1), and
// the live nodes' HOMEOSTAT GROUPS polled every 200 ms until every shard has 3 voters, none
// on the dead node, and no learner. The meta group's decision journal then gives when the
// meta leader first saw the node silent and when each shard's learner was added and
// promoted, so the parts of the documented bound can be checked:
//
//   restored <= detection + D + data / copy rate + controller rounds
//   (rounds: 500 ms each, 3 per shard, conf-changes-max (4) shards at a time)
//
//   npm run build && node dist/scripts/bench-repair.js     # 1, 16, 64 MB: several minutes
//   node dist/scripts/bench-repair.js --sizes 1,4 --dead-node-after 3
//   node dist/scripts/bench-repair.js --help
//
// `node dist/scripts/bench.js --repair` runs it after the other sections, `--repair-only`
// alone.

import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { Cluster, Redis } from "ioredis";
import { type GroupRow, leadersOf, parseGroupRow, waitUntil } from "./lib/cluster-groups.js";
import { spawnClusterNodes, withLogTails } from "./lib/cluster-nodes.js";
import { intArg } from "./lib/options.js";
import {
  interrupted,
  type ManagedProcess,
  makeTempDir,
  repoRoot,
  runMain,
  sleep,
} from "./lib/proc.js";
import { homeostatCli } from "./lib/targets.js";

export interface RepairBenchOptions {
  /** Values written before the kill, in MB (2^20 bytes) of value bytes; one cluster each. */
  sizesMb: number[];
  valueBytes: number;
  /** --dead-node-after of every node, in seconds. */
  deadNodeAfterS: number;
  /** Concurrent writers while loading. */
  writers: number;
  /** Keep each cluster's data dirs and logs (paths printed). */
  keepDirs: boolean;
  jsonFile: string;
}

export function defaultRepairBenchOptions(): RepairBenchOptions {
  return {
    sizesMb: [1, 16, 64],
    valueBytes: 1000,
    deadNodeAfterS: 5,
    writers: 100,
    keepDirs: false,
    jsonFile: path.join(repoRoot(), ".cache", "bench-repair-last.json"),
  };
}

const HELP = `Usage: node dist/scripts/bench-repair.js [options]

For each size: starts 5 Homeostat nodes (--cluster --shards 8, 3 replicas) on free ports,
writes that many MB of values through ioredis in cluster mode, SIGKILLs one node other
than the first, and polls the live nodes' HOMEOSTAT GROUPS every 200 ms until every shard
is back at 3 voters with none on the dead node and no learner. Prints the time to the
first repair action and to full replication, against the data the dead node held, and
the measured parts of the bound restored <= detection + D + data/rate + controller rounds.

Options:
  --sizes a,b,c          MB (2^20 bytes) of values, one fresh cluster each (default 1,16,64)
  --value-bytes B        value size (default 1000)
  --dead-node-after D    seconds a node may be silent before its replicas are rebuilt
                         (every node's --dead-node-after; default 5)
  --writers N            concurrent writers while loading (default 100)
  --keep-dirs            keep the clusters' data dirs and logs (paths printed)
  --json FILE            results as JSON (default .cache/bench-repair-last.json)
  -h, --help             this text`;

const HOST = "127.0.0.1";
const NODES = 5;
const SHARDS = 8;
const REPLICAS = 3;
const POLL_MS = 200;
/** The controller's period on the meta leader (src/server/cluster.ts, controllerIntervalMs). */
const CONTROL_ROUND_MS = 500;
/** Conf changes a repaired shard needs: add a learner, promote it, remove the dead voter. */
const ROUNDS_PER_SHARD = 3;
/** The meta group's default conf-changes-max (src/cluster/meta.ts); no command shows it. */
const CONF_CHANGES_MAX = 4;
const MiB = 2 ** 20;
/** Tries per key while loading (ioredis already follows MOVED and retries TRYAGAIN). */
const LOAD_TRIES_MAX = 5;
/**
 * A repair whose pending shards (leader, commit, learners' applied) stay the same this long
 * after its first action has stalled.
 */
const QUIET_MS = 60_000;
/** Keys read back after the repair, compared with what was written. */
const CHECK_KEYS = 200;

const w = (s: string) => process.stdout.write(`${s}\n`);

// ---------------------------------------------------------------------------
// The cluster

interface Node {
  readonly label: string;
  readonly port: number;
  readonly proc: ManagedProcess;
  readonly logFile: string;
  /** One connection for HOMEOSTAT GROUPS, MEMBERS, JOURNAL and INFO polls. */
  readonly admin: Redis;
  raftId: number;
}

/** Each node's HOMEOSTAT GROUPS, by raft id (no rows from a node that did not answer). */
async function groupViews(nodes: readonly Node[]): Promise<Map<number, GroupRow[]>> {
  const views = await Promise.all(
    nodes.map((n) =>
      (n.admin.call("HOMEOSTAT", "GROUPS") as Promise<string[]>).then(
        (rows) => rows.map(parseGroupRow),
        () => [] as GroupRow[],
      ),
    ),
  );
  return new Map(nodes.map((n, i) => [n.raftId, views[i]]));
}

/** Each group (meta group 0 included) as its leader reports it; the highest term wins. */
async function ledGroups(nodes: readonly Node[]): Promise<Map<number, GroupRow>> {
  return ledOf(await groupViews(nodes));
}

function ledOf(views: Map<number, GroupRow[]>): Map<number, GroupRow> {
  return leadersOf([...views.values()].flat());
}

/** Every shard led, with 3 voters and no learner. */
function placed(led: Map<number, GroupRow>): boolean {
  const shards = [...led.values()].filter((g) => g.group !== 0);
  return (
    shards.length === SHARDS &&
    shards.every((g) => g.voters.length === REPLICAS && g.learners.length === 0)
  );
}

/** Shard replicas per raft id (0 for a node holding none). */
function replicaCounts(led: Map<number, GroupRow>, raftIds: number[]): Map<number, number> {
  const counts = new Map(raftIds.map((id) => [id, 0]));
  for (const g of led.values()) {
    if (g.group === 0) continue;
    for (const v of g.voters) counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  return counts;
}

/** Placed, and replicas spread over the nodes as evenly as they go (at most one apart). */
function settled(led: Map<number, GroupRow>, raftIds: number[]): boolean {
  const c = [...replicaCounts(led, raftIds).values()];
  return placed(led) && Math.max(...c) - Math.min(...c) <= 1;
}

async function adminClient(port: number): Promise<Redis> {
  const r = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    commandTimeout: 2000,
    retryStrategy: () => 200,
  });
  r.on("error", () => {});
  await r.connect();
  return r;
}

async function raftIdOf(n: Node): Promise<number> {
  const info = await n.admin.info("raft");
  return Number(/raft_id:(\d+)/.exec(info)?.[1] ?? 0);
}

async function stopCluster(nodes: readonly Node[]): Promise<void> {
  for (const n of nodes) n.admin.disconnect();
  await Promise.all(nodes.map((n) => n.proc.stop(5000)));
}

/**
 * 5 nodes: the first creates the cluster (`--shards 8`), the others `--join` it, each with
 * its own data dir under `base` and explicit free Redis and bus ports. Resolves once every
 * shard has 3 voters and no learner; then waits (without failing) for the replicas to be
 * spread over the 5 nodes, so the kill does not race the placement's own moves.
 */
async function startCluster(cli: string, base: string, deadNodeAfterS: number): Promise<Node[]> {
  const spawned = await spawnClusterNodes({
    cli,
    base,
    host: HOST,
    count: NODES,
    shards: SHARDS,
    extraArgs: ["--dead-node-after", String(deadNodeAfterS)],
  });
  const nodes: Node[] = [];
  try {
    for (const n of spawned) {
      const admin = await adminClient(n.port);
      nodes.push({
        label: n.label,
        port: n.port,
        proc: n.proc,
        logFile: n.logFile,
        admin,
        raftId: 0,
      });
    }
    await waitUntil("every node has a raft id", 60_000, nodes, async () => {
      for (const n of nodes) n.raftId = await raftIdOf(n);
      return nodes.every((n) => n.raftId > 0);
    });
    const t0 = Date.now();
    await waitUntil("every shard at 3 voters, no learner", 120_000, nodes, async () =>
      placed(await ledGroups(nodes)),
    );
    const spread = await settle(nodes, 60_000);
    w(
      `  cluster: ${nodes.map((n) => `${n.label}=raft id ${n.raftId}`).join(", ")}; ` +
        `every shard at 3 voters after ${secs(Date.now() - t0)}; replicas per node ` +
        `${spread ? "" : "NOT YET evenly "}${fmtCounts(nodes, await ledGroups(nodes))}`,
    );
    return nodes;
  } catch (err) {
    for (const n of nodes) n.admin.disconnect();
    await Promise.all(spawned.map((n) => n.proc.stop(5000)));
    throw withLogTails("the cluster did not form", err, spawned, 10);
  }
}

/** Waits up to `timeoutMs` for settled(); false (not an error) when it does not come. */
function settle(nodes: readonly Node[], timeoutMs: number): Promise<boolean> {
  const raftIds = nodes.map((n) => n.raftId);
  return waitUntil("replicas spread", timeoutMs, nodes, async () =>
    settled(await ledGroups(nodes), raftIds),
  ).then(
    () => true,
    () => false,
  );
}

function fmtCounts(nodes: readonly Node[], led: Map<number, GroupRow>): string {
  const counts = replicaCounts(
    led,
    nodes.map((n) => n.raftId),
  );
  return nodes.map((n) => `${n.label} ${counts.get(n.raftId) ?? 0}`).join(", ");
}

// ---------------------------------------------------------------------------
// Load

interface LoadResult {
  values: number;
  seconds: number;
  writesPerSecond: number;
  mbPerSecond: number;
  /** Keys not written after LOAD_TRIES_MAX tries. */
  failed: number;
  /** Failed tries by first word of the error (TRYAGAIN, ...). */
  errors: Record<string, number>;
}

const keyOf = (i: number) => `repair:${i}`;

/** Distinct values without generating each: a slice of one random pool per key. */
function valueSource(valueBytes: number): (i: number) => string {
  const pool = randomBytes(2 * valueBytes)
    .toString("base64")
    .slice(0, 2 * valueBytes);
  return (i) => pool.slice(i % valueBytes, (i % valueBytes) + valueBytes);
}

async function clusterClient(nodes: readonly Node[]): Promise<Cluster> {
  const client = new Cluster(
    nodes.map((n) => ({ host: HOST, port: n.port })),
    { scaleReads: "master", redisOptions: { connectTimeout: 5000 } },
  );
  client.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("ioredis cluster not ready in 15 s")), 15_000);
    client.once("ready", () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return client;
}

/** `writers` closed loops writing keys repair:0 .. repair:<count - 1> once each. */
async function loadData(
  nodes: readonly Node[],
  count: number,
  value: (i: number) => string,
  opts: RepairBenchOptions,
): Promise<LoadResult> {
  const client = await clusterClient(nodes);
  const errors = new Map<string, number>();
  let next = 0;
  let written = 0;
  let failed = 0;
  const t0 = Date.now();
  const progress = setInterval(() => {
    const s = (Date.now() - t0) / 1000;
    w(`    ${written}/${count} values after ${s.toFixed(0)} s (${fmtInt(written / s)}/s)`);
  }, 15_000);
  const writer = async () => {
    while (next < count && !interrupted()) {
      const i = next++;
      for (let attempt = 1; ; attempt++) {
        try {
          await client.set(keyOf(i), value(i));
          written += 1;
          break;
        } catch (err) {
          const word = (err instanceof Error ? err.message : String(err)).split(/[\s:]/)[0];
          errors.set(word || "?", (errors.get(word || "?") ?? 0) + 1);
          if (attempt >= LOAD_TRIES_MAX) {
            failed += 1;
            break;
          }
          await sleep(100);
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.writers }, writer));
  } finally {
    clearInterval(progress);
    client.disconnect();
  }
  const seconds = (Date.now() - t0) / 1000;
  return {
    values: written,
    seconds,
    writesPerSecond: written / seconds,
    mbPerSecond: (written * opts.valueBytes) / MiB / seconds,
    failed,
    errors: Object.fromEntries(errors),
  };
}

// ---------------------------------------------------------------------------
// Kill and watch

/**
 * Not the first node (raft id 1 created the cluster and likely leads the meta group);
 * preferably not a meta voter (its death would add a meta repair to the shards'); among
 * those, the one holding the most shards.
 */
function pickVictim(nodes: readonly Node[], led: Map<number, GroupRow>): Node {
  const metaVoters = led.get(0)?.voters ?? [];
  const counts = replicaCounts(
    led,
    nodes.map((n) => n.raftId),
  );
  const candidates = nodes.filter((n) => n.raftId !== 1);
  const score = (n: Node) =>
    (metaVoters.includes(n.raftId) ? 0 : 100) + (counts.get(n.raftId) ?? 0);
  return candidates.reduce((best, n) => (score(n) >= score(best) ? n : best));
}

/** Membership's state of the member whose Redis address ends in `:port`, as `n` sees it. */
async function memberState(n: Node, port: number): Promise<string | undefined> {
  // RESP2 maps arrive as flat [key, value, ...] arrays.
  const rows = (await n.admin.call("HOMEOSTAT", "MEMBERS")) as unknown[][];
  for (const row of rows) {
    const f = new Map<string, unknown>();
    for (let i = 0; i + 1 < row.length; i += 2) f.set(String(row[i]), row[i + 1]);
    if (String(f.get("client")).endsWith(`:${port}`)) return String(f.get("state"));
  }
  return undefined;
}

interface RepairWatch {
  /** Milliseconds after the kill; undefined when not seen before the watch ended. */
  suspectMs?: number;
  deadStateMs?: number;
  firstActionMs?: number;
  restoredMs?: number;
  /** Per shard the dead node held: first poll with a live learner, first poll restored. */
  learnerSeenMs: Map<number, number>;
  shardRestoredMs: Map<number, number>;
  polls: number;
  /** Why the watch ended without a full repair ("" when it did not). */
  stalled: string;
  /** The last view of the shards not yet restored: leader, commit, learners' applied. */
  lastView: string;
}

function restoredShard(g: GroupRow | undefined, deadId: number): boolean {
  return (
    g !== undefined &&
    g.voters.length === REPLICAS &&
    !g.voters.includes(deadId) &&
    g.learners.length === 0
  );
}

/**
 * "shard 4: leader 3 at commit 2099, voters [2,3,4], learner 1 at applied 0" for every
 * shard not restored; the learners' applied index from their own nodes' rows.
 */
function pendingView(views: Map<number, GroupRow[]>, deadId: number): string {
  const led = ledOf(views);
  const parts: string[] = [];
  for (let g = 1; g <= SHARDS; g++) {
    const row = led.get(g);
    if (restoredShard(row, deadId)) continue;
    if (row === undefined) {
      parts.push(`shard ${g}: no leader`);
      continue;
    }
    const leader = [...views].find(([, rows]) => rows.includes(row))?.[0];
    const learners = row.learners.map((id) => {
      const own = views.get(id)?.find((x) => x.group === g);
      return `learner ${id} at applied ${own?.applied ?? "?"}`;
    });
    parts.push(
      `shard ${g}: leader ${leader} at commit ${row.commit}, voters [${row.voters}]` +
        (learners.length > 0 ? `, ${learners.join(", ")}` : ""),
    );
  }
  return parts.join("; ");
}

/**
 * Polls the live nodes every POLL_MS until every shard is restored, nothing changed for
 * `quietMs` (a stall), or `timeoutMs` passed. Times are taken when a poll's replies are
 * in: each is at most one poll late.
 */
async function watchRepair(
  live: readonly Node[],
  victimPort: number,
  deadId: number,
  held: ReadonlySet<number>,
  killedAt: number,
  limits: { timeoutMs: number; quietMs: number },
): Promise<RepairWatch> {
  const r: RepairWatch = {
    learnerSeenMs: new Map(),
    shardRestoredMs: new Map(),
    polls: 0,
    stalled: "",
    lastView: "",
  };
  let changedAt = Date.now();
  for (;;) {
    const started = Date.now();
    const [views, state] = await Promise.all([
      groupViews(live),
      memberState(live[0], victimPort).catch(() => undefined),
    ]);
    const led = ledOf(views);
    const t = Date.now() - killedAt;
    r.polls += 1;
    if (state !== undefined && state !== "alive") r.suspectMs ??= t;
    if (state === "dead") r.deadStateMs ??= t;
    for (const g of held) {
      const row = led.get(g);
      if (row?.learners.some((id) => id !== deadId)) {
        if (!r.learnerSeenMs.has(g)) r.learnerSeenMs.set(g, t);
        r.firstActionMs ??= t;
      }
      if (restoredShard(row, deadId) && !r.shardRestoredMs.has(g)) r.shardRestoredMs.set(g, t);
    }
    const shards = [...led.values()].filter((g) => g.group !== 0);
    if (shards.length === SHARDS && shards.every((g) => restoredShard(g, deadId))) {
      r.restoredMs = t;
      return r;
    }
    // Before the dead-node time nothing is meant to change: a stall can only start after.
    const view = pendingView(views, deadId);
    if (view !== r.lastView || r.firstActionMs === undefined) changedAt = Date.now();
    r.lastView = view;
    if (Date.now() - changedAt >= limits.quietMs) {
      r.stalled = `no progress for ${secs(limits.quietMs)}`;
      return r;
    }
    if (t >= limits.timeoutMs || interrupted()) {
      r.stalled = interrupted()
        ? "interrupted"
        : `not done ${secs(limits.timeoutMs)} after the kill`;
      return r;
    }
    await sleep(Math.max(0, POLL_MS - (Date.now() - started)));
  }
}

/** Bytes the raft runtime of each node sent so far (INFO raft raft_bytes_sent). */
async function raftBytesSent(nodes: readonly Node[]): Promise<number> {
  const each = await Promise.all(
    nodes.map((n) =>
      n.admin.info("raft").then(
        (info) => Number(/raft_bytes_sent:(\d+)/.exec(info)?.[1] ?? 0),
        () => 0,
      ),
    ),
  );
  return each.reduce((a, b) => a + b, 0);
}

interface JournalRow {
  atMs: number;
  reconciler: string;
  action: string;
  saw: string;
}

/** HOMEOSTAT JOURNAL rows: "<seq>  <ISO time>  <reconciler>  <action>  (saw: <why>)". */
async function journalOf(n: Node): Promise<JournalRow[]> {
  const rows = (await n.admin.call("HOMEOSTAT", "JOURNAL")) as string[];
  const out: JournalRow[] = [];
  for (const row of rows) {
    const m = /^\d+ {2}(\S+) {2}(\S+) {2}(.*?) {2}\(saw: (.*)\)$/s.exec(row);
    if (m) out.push({ atMs: Date.parse(m[1]), reconciler: m[2], action: m[3], saw: m[4] });
  }
  return out;
}

interface JournalTimes {
  /** Kill to the meta leader's first not-alive sighting (its dead-node clock's start). */
  detectionMs?: number;
  /** "group:raft id" of every replica removed before the kill (placement moves). */
  removedBefore: Set<string>;
  /**
   * Per shard, ms after the kill: learner added, promoted (add-voter), dead voter's removal
   * decided, and seen done.
   */
  shards: Map<
    number,
    {
      learner?: number;
      learnerMs?: number;
      promoteMs?: number;
      removeMs?: number;
      removedMs?: number;
    }
  >;
}

/** The repair's steps from the decision journal (stamped by the meta leader's clock). */
function journalTimes(rows: JournalRow[], deadId: number, killedAt: number): JournalTimes {
  const out: JournalTimes = { shards: new Map(), removedBefore: new Set() };
  const shard = (g: number) => {
    const s = out.shards.get(g) ?? {};
    out.shards.set(g, s);
    return s;
  };
  for (const row of rows) {
    const m = /^(done: )?group (\d+): (add-learner|add-voter|remove) (\d+)/.exec(row.action);
    if (!m) continue;
    if (row.atMs < killedAt && m[1] !== undefined && m[3] === "remove") {
      out.removedBefore.add(`${m[2]}:${m[4]}`);
    }
    if (row.reconciler !== "repair" || row.atMs < killedAt) continue;
    const t = row.atMs - killedAt;
    const [done, g, kind] = [m[1] !== undefined, Number(m[2]), m[3]];
    if (!done && kind === "add-learner") {
      shard(g).learner ??= Number(m[4]);
      shard(g).learnerMs ??= t;
      const silent = new RegExp(`node ${deadId} silent for ([\\d.]+) s`).exec(row.saw);
      if (silent) out.detectionMs ??= t - Number(silent[1]) * 1000;
    }
    if (!done && kind === "add-voter") shard(g).promoteMs ??= t;
    if (!done && kind === "remove" && Number(m[4]) === deadId) shard(g).removeMs ??= t;
    if (done && kind === "remove" && Number(m[4]) === deadId) shard(g).removedMs ??= t;
  }
  return out;
}

// ---------------------------------------------------------------------------
// One size

interface ShardTimes {
  shard: number;
  keys: number;
  /** Raft id of the node the new replica went to (journal). */
  newReplicaOn?: number;
  /** That node held this shard before and placement had removed it from there. */
  readded: boolean;
  learnerSeenS?: number;
  restoredSeenS?: number;
  journalLearnerS?: number;
  journalPromoteS?: number;
  journalRemoveS?: number;
  journalRemovedS?: number;
}

interface SizeResult {
  sizeMb: number;
  load: LoadResult;
  victim: string;
  deadRaftId: number;
  /** Shards whose voters included the dead node. */
  shardsHeld: number;
  /** S × shardsHeld / SHARDS: each held shard's data is copied to one new replica. */
  movedMbNominal: number;
  /** The same from the held shards' key counts (DBSIZE) × value bytes. */
  movedMb: number;
  deadNodeAfterS: number;
  firstActionS?: number;
  restoredS?: number;
  /** Membership on the first node: the victim suspect, then dead. */
  suspectS?: number;
  deadStateS?: number;
  /** Kill to the start of the meta leader's dead-node clock (from the journal). */
  detectionS?: number;
  /** ceil(shardsHeld / conf-changes-max) waves × 3 conf changes × 500 ms. */
  roundsS: number;
  shards: ShardTimes[];
  keysChecked: number;
  keysWrong: number;
  polls: number;
  /** What the live nodes' raft runtimes sent from the kill to the end of the watch. */
  raftMbSent: number;
  problems: string[];
}

async function runSize(cli: string, sizeMb: number, opts: RepairBenchOptions): Promise<SizeResult> {
  const base = makeTempDir(`homeostat-bench-repair-${sizeMb}mb`, opts.keepDirs);
  w(`\n== ${sizeMb} MB: 5 nodes, ${SHARDS} shards, --dead-node-after ${opts.deadNodeAfterS} ==`);
  if (opts.keepDirs) w(`  data and logs in ${base} (kept)`);
  const nodes = await startCluster(cli, base, opts.deadNodeAfterS);
  try {
    return await loadKillWatch(nodes, sizeMb, opts);
  } catch (err) {
    throw withLogTails(`${sizeMb} MB run failed`, err, nodes, 10);
  } finally {
    await stopCluster(nodes);
    if (!opts.keepDirs) rmSync(base, { recursive: true, force: true });
  }
}

async function loadKillWatch(
  nodes: Node[],
  sizeMb: number,
  opts: RepairBenchOptions,
): Promise<SizeResult> {
  const problems: string[] = [];
  const count = Math.ceil((sizeMb * MiB) / opts.valueBytes);
  const value = valueSource(opts.valueBytes);
  w(`  loading ${count} values of ${opts.valueBytes} bytes with ${opts.writers} writers...`);
  const load = await loadData(nodes, count, value, opts);
  w(
    `  loaded ${load.values} values in ${load.seconds.toFixed(1)} s: ` +
      `${fmtInt(load.writesPerSecond)} writes/s, ${load.mbPerSecond.toFixed(2)} MB/s` +
      (Object.keys(load.errors).length > 0 ? `; retried errors ${fmtRecord(load.errors)}` : ""),
  );
  if (load.failed > 0) problems.push(`${load.failed} keys not written while loading`);
  if (interrupted()) throw new Error("interrupted");
  if (!(await settle(nodes, 60_000))) {
    problems.push("replicas not evenly spread before the kill (placement still moving)");
  }
  const led = await ledGroups(nodes);
  const victim = pickVictim(nodes, led);
  const deadId = victim.raftId;
  const held = new Set(
    [...led.values()].filter((g) => g.group !== 0 && g.voters.includes(deadId)).map((g) => g.group),
  );
  const keys = new Map<number, number>();
  for (let g = 1; g <= SHARDS; g++) {
    keys.set(g, Number(await nodes[0].admin.call("HOMEOSTAT", "SHARD", String(g), "DBSIZE")));
  }
  const movedKeys = [...held].reduce((s, g) => s + (keys.get(g) ?? 0), 0);
  const metaVoter = (led.get(0)?.voters ?? []).includes(deadId);
  w(
    `  killing ${victim.label} (raft id ${deadId}${metaVoter ? ", a meta voter" : ""}): it ` +
      `holds shards ${[...held].sort((a, b) => a - b).join(", ")} (${held.size} of ${SHARDS})` +
      `, ${((movedKeys * opts.valueBytes) / MiB).toFixed(1)} MB to copy`,
  );
  const live = nodes.filter((n) => n !== victim);
  const limits = {
    timeoutMs: opts.deadNodeAfterS * 1000 + 180_000 + sizeMb * 3000,
    quietMs: QUIET_MS,
  };
  const sentBefore = await raftBytesSent(live);
  const killedAt = Date.now();
  process.kill(victim.proc.pid, "SIGKILL");
  await victim.proc.exited;
  victim.admin.disconnect();
  const watch = await watchRepair(live, victim.port, deadId, held, killedAt, limits);
  // The clean-up is stopping the nodes: what follows would only report its effects.
  if (interrupted()) throw new Error("interrupted");
  const raftMbSent = ((await raftBytesSent(live)) - sentBefore) / MiB;
  const s = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);
  if (watch.restoredMs === undefined) {
    problems.push(
      `repair STALLED (${watch.stalled}); raft sent ${raftMbSent.toFixed(0)} MB meanwhile; ` +
        `still pending: ${watch.lastView}`,
    );
  }
  // The last "done" entries are journaled a control round or two after the change shows.
  await sleep(3 * CONTROL_ROUND_MS);
  const journal = journalTimes(await journalOf(live[0]).catch(() => []), deadId, killedAt);
  // Through every live node: each forwards to the shard's leader as it sees it.
  const check = await checkKeys(live, count, value);
  if (interrupted()) throw new Error("interrupted");
  if (check.wrong > 0) {
    problems.push(
      `${check.wrong} of ${check.checked} reads of written keys answered wrong ` +
        `(${check.missing} of them nil; by node read through: ${check.byNode})`,
    );
  }
  const result: SizeResult = {
    sizeMb,
    load,
    victim: victim.label,
    deadRaftId: deadId,
    shardsHeld: held.size,
    movedMbNominal: (sizeMb * held.size) / SHARDS,
    movedMb: (movedKeys * opts.valueBytes) / MiB,
    deadNodeAfterS: opts.deadNodeAfterS,
    firstActionS: s(watch.firstActionMs),
    restoredS: s(watch.restoredMs),
    suspectS: s(watch.suspectMs),
    deadStateS: s(watch.deadStateMs),
    detectionS: s(journal.detectionMs),
    roundsS: (Math.ceil(held.size / CONF_CHANGES_MAX) * ROUNDS_PER_SHARD * CONTROL_ROUND_MS) / 1000,
    shards: [...held]
      .sort((a, b) => a - b)
      .map((g) => ({
        shard: g,
        keys: keys.get(g) ?? 0,
        newReplicaOn: journal.shards.get(g)?.learner,
        readded: journal.removedBefore.has(`${g}:${journal.shards.get(g)?.learner}`),
        learnerSeenS: s(watch.learnerSeenMs.get(g)),
        restoredSeenS: s(watch.shardRestoredMs.get(g)),
        journalLearnerS: s(journal.shards.get(g)?.learnerMs),
        journalPromoteS: s(journal.shards.get(g)?.promoteMs),
        journalRemoveS: s(journal.shards.get(g)?.removeMs),
        journalRemovedS: s(journal.shards.get(g)?.removedMs),
      })),
    keysChecked: check.checked,
    keysWrong: check.wrong,
    polls: watch.polls,
    raftMbSent,
    problems,
  };
  printSizeDetail(result, opts.valueBytes);
  return result;
}

/** Reads CHECK_KEYS keys spread over what was written, through each of `nodes`. */
async function checkKeys(
  nodes: readonly Node[],
  count: number,
  value: (i: number) => string,
): Promise<{ checked: number; wrong: number; missing: number; byNode: string }> {
  const step = Math.max(1, Math.floor(count / CHECK_KEYS));
  let checked = 0;
  let wrong = 0;
  let missing = 0;
  const byNode: string[] = [];
  for (const n of nodes) {
    let wrongHere = 0;
    for (let i = 0; i < count; i += step) {
      const got = await n.admin.get(keyOf(i)).catch(() => undefined);
      checked += 1;
      if (got === value(i)) continue;
      wrongHere += 1;
      if (got === null) missing += 1;
    }
    wrong += wrongHere;
    byNode.push(`${n.label} ${wrongHere}`);
  }
  return { checked, wrong, missing, byNode: byNode.join(", ") };
}

// ---------------------------------------------------------------------------
// Report

function printSizeDetail(r: SizeResult, valueBytes: number): void {
  const f = (x: number | undefined) => (x === undefined ? "n/a" : x.toFixed(1));
  w(
    `  membership (seen from n1): suspect after ${f(r.suspectS)} s, dead after ` +
      `${f(r.deadStateS)} s; meta leader's dead-node clock started ${f(r.detectionS)} s ` +
      "after the kill (journal)",
  );
  w(
    `  first repair learner seen after ${f(r.firstActionS)} s; every shard at 3 live voters ` +
      `after ${f(r.restoredS)} s (${r.polls} polls); live nodes' raft sent ` +
      `${r.raftMbSent.toFixed(1)} MB meanwhile; ${r.keysChecked - r.keysWrong}/` +
      `${r.keysChecked} keys read back`,
  );
  w("  per shard, s after the kill (journal: learner added / promoted / dead voter's removal");
  w("  decided / done; polls: learner first seen / shard restored first seen):");
  for (const s of r.shards) {
    w(
      `    shard ${s.shard} (${((s.keys * valueBytes) / MiB).toFixed(1)} MB, to raft id ` +
        `${s.newReplicaOn ?? "?"}${s.readded ? ", which held it before" : ""}): journal ` +
        `${f(s.journalLearnerS)} / ${f(s.journalPromoteS)} / ${f(s.journalRemoveS)} / ` +
        `${f(s.journalRemovedS)}; polls ${f(s.learnerSeenS)} / ${f(s.restoredSeenS)}`,
    );
  }
  for (const p of r.problems) w(`  PROBLEM: ${p}`);
}

function printSummary(results: SizeResult[], opts: RepairBenchOptions): void {
  const f = (x: number | undefined, digits = 1) =>
    x === undefined || !Number.isFinite(x) ? "n/a" : x.toFixed(digits);
  w(
    `\nRepair after SIGKILL of one of 5 nodes (${SHARDS} shards, 3 replicas, ` +
      `${opts.valueBytes}-byte values, D = --dead-node-after); times in s after the kill`,
  );
  const rows: string[][] = [
    [
      "size MB",
      "load MB/s",
      "shards held",
      "moved MB",
      "D (s)",
      "first action (s)",
      "restored (s)",
      "restored - D (s)",
      "copy rate MB/s",
    ],
  ];
  for (const r of results) {
    const afterD = r.restoredS === undefined ? undefined : r.restoredS - r.deadNodeAfterS;
    rows.push([
      String(r.sizeMb),
      f(r.load.mbPerSecond, 2),
      `${r.shardsHeld}/${SHARDS}`,
      f(r.movedMb),
      String(r.deadNodeAfterS),
      f(r.firstActionS),
      r.restoredS === undefined ? stalledCell(r) : f(r.restoredS),
      f(afterD),
      f(afterD === undefined ? undefined : r.movedMb / afterD, 2),
    ]);
  }
  printRows(rows);
  w(
    "moved MB: the held shards' keys x value bytes (about size x held / shards); copy rate:\n" +
      "moved MB / (restored - D), a lower bound (that time also holds detection, elections\n" +
      "and controller rounds). STALLED k/n by t: only k of the n shards the dead node held\n" +
      "were restored (the last t s after the kill) when the watch gave up (see Problems).",
  );
  w(
    "\nBound: restored <= detection + D + moved / copy rate + rounds, rounds = " +
      `ceil(held / ${CONF_CHANGES_MAX}) x ${ROUNDS_PER_SHARD} x ${CONTROL_ROUND_MS / 1000} s` +
      "\n(detection: the meta leader's dead-node clock start, from its journal; residual:\n" +
      "restored - detection - D - rounds, the time left for copying; the bound holds for\n" +
      "any copy rate up to moved / residual; learner->voter: the longest add-learner to\n" +
      "promotion of one shard, journal times; raft MB sent: by the live nodes during the watch)",
  );
  const bound: string[][] = [
    [
      "size MB",
      "detection (s)",
      "D (s)",
      "rounds (s)",
      "learner->voter max (s)",
      "restored (s)",
      "residual (s)",
      "moved/residual MB/s",
      "raft MB sent",
    ],
  ];
  for (const r of results) {
    const residual =
      r.restoredS === undefined || r.detectionS === undefined
        ? undefined
        : r.restoredS - r.detectionS - r.deadNodeAfterS - r.roundsS;
    const catchUp = r.shards
      .filter((s) => s.journalLearnerS !== undefined && s.journalPromoteS !== undefined)
      .map((s) => (s.journalPromoteS as number) - (s.journalLearnerS as number));
    bound.push([
      String(r.sizeMb),
      f(r.detectionS),
      String(r.deadNodeAfterS),
      f(r.roundsS),
      catchUp.length > 0 ? f(Math.max(...catchUp)) : "n/a",
      r.restoredS === undefined ? "STALLED" : f(r.restoredS),
      f(residual),
      residual === undefined || residual <= 0 ? "n/a" : f(r.movedMb / residual, 2),
      f(r.raftMbSent),
    ]);
  }
  printRows(bound);
}

/** "STALLED 4/5 by 33.7": shards restored of those held, and when the last of them was. */
function stalledCell(r: SizeResult): string {
  const done = r.shards.flatMap((x) => (x.restoredSeenS === undefined ? [] : [x.restoredSeenS]));
  const by = done.length > 0 ? ` by ${Math.max(...done).toFixed(1)}` : "";
  return `STALLED ${done.length}/${r.shardsHeld}${by}`;
}

function printRows(rows: string[][]): void {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  ");
  w(line(rows[0]));
  w(widths.map((n) => "-".repeat(n)).join("  "));
  for (const r of rows.slice(1)) w(line(r));
}

function fmtInt(x: number): string {
  return Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "n/a";
}

function fmtRecord(c: Record<string, number>): string {
  return Object.entries(c)
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

// ---------------------------------------------------------------------------
// Main

/**
 * Runs every size on its own cluster and prints the tables; everything started is stopped
 * and its temp dir removed after each size (and by lib/proc.ts's clean-up on error or
 * signal). Returns 0, or 1 when a run had a problem (a stalled repair, keys lost...).
 */
export async function runRepairBench(opts: RepairBenchOptions): Promise<number> {
  const cli = homeostatCli();
  if (!cli) throw new Error("dist/src/cli/main.js not found: run `npm run build`");
  const load = os.loadavg().map((x) => x.toFixed(2));
  w(
    `repair: 5 Homeostat nodes on ${HOST}, sizes ${opts.sizesMb.join(", ")} MB of ` +
      `${opts.valueBytes}-byte values, --dead-node-after ${opts.deadNodeAfterS} s, ` +
      `${opts.writers} writers; ${os.availableParallelism()} CPUs, load average ${load.join(" ")}`,
  );
  const t0 = Date.now();
  const results: SizeResult[] = [];
  for (const sizeMb of opts.sizesMb) {
    try {
      results.push(await runSize(cli, sizeMb, opts));
    } catch (err) {
      // A signal stops the nodes under the run, which then fails: not worth a report.
      if (interrupted()) return 130;
      throw err;
    }
  }
  printSummary(results, opts);
  const problems = results.flatMap((r) => r.problems.map((p) => `${r.sizeMb} MB: ${p}`));
  if (problems.length > 0) {
    w("\nProblems:");
    for (const p of problems) w(`  - ${p}`);
  }
  const json = {
    date: new Date().toISOString(),
    options: opts,
    machine: { cpus: os.availableParallelism(), loadAverage: os.loadavg() },
    constants: {
      nodes: NODES,
      shards: SHARDS,
      replicas: REPLICAS,
      pollMs: POLL_MS,
      controlRoundMs: CONTROL_ROUND_MS,
      confChangesMax: CONF_CHANGES_MAX,
    },
    elapsedSeconds: Math.round((Date.now() - t0) / 1000),
    results,
    problems,
  };
  mkdirSync(path.dirname(opts.jsonFile), { recursive: true });
  writeFileSync(opts.jsonFile, `${JSON.stringify(json, null, 2)}\n`);
  w(`\nResults (JSON): ${opts.jsonFile}`);
  return problems.length > 0 ? 1 : 0;
}

function parseOptions(): RepairBenchOptions | undefined {
  const { values } = parseArgs({
    options: {
      sizes: { type: "string" },
      "value-bytes": { type: "string" },
      "dead-node-after": { type: "string" },
      writers: { type: "string" },
      "keep-dirs": { type: "boolean", default: false },
      json: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    w(HELP);
    return undefined;
  }
  const o = defaultRepairBenchOptions();
  if (values.sizes !== undefined) {
    o.sizesMb = values.sizes.split(",").map((s) => intArg("--sizes", s.trim()));
  }
  if (values["value-bytes"] !== undefined) {
    o.valueBytes = intArg("--value-bytes", values["value-bytes"]);
  }
  if (values["dead-node-after"] !== undefined) {
    o.deadNodeAfterS = intArg("--dead-node-after", values["dead-node-after"]);
  }
  if (values.writers !== undefined) o.writers = intArg("--writers", values.writers);
  o.keepDirs = values["keep-dirs"];
  if (values.json !== undefined) o.jsonFile = values.json;
  return o;
}

async function main(): Promise<number> {
  const opts = parseOptions();
  return opts ? runRepairBench(opts) : 0;
}

// Run when executed directly (bench.ts imports runRepairBench instead).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) runMain(main);
