import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { keyHashSlot } from "../cluster/slots.js";
import { RealTimers, SystemClock } from "../core/clock.js";
import { SeededRandom } from "../core/random.js";
import { parseAddress } from "../core/udp-transport.js";
import { encodeLogCommand, ShardMachine } from "../kv/machine.js";
import { machineBootId } from "../storage/files.js";
import { LmdbStore } from "../storage/lmdb.js";
import {
  LmdbShardSpace,
  shardCommitIntervalMs,
  shardSyncIntervalMs,
} from "../storage/shard-store.js";
import { StorageError } from "../storage/types.js";
import { defaultSegmentBytes } from "../storage/wal-raft-log.js";
import { ClusterRuntime, publishBytesMax } from "./cluster.js";
import { ClusterRouter } from "./cluster-router.js";
import { Forwarder } from "./forwarder.js";
import { HOMEOSTAT_VERSION } from "./info.js";
import { createLogger } from "./log.js";
import { advertiseHostProblem, MembershipDriver } from "./membership-driver.js";
import { HomeostatNode } from "./node.js";
import { defaultSettings } from "./settings.js";

export interface StartOptions {
  host: string;
  port: number;
  busPort?: number;
  /**
   * With cluster: the Redis port for cluster-aware clients (HomeostatNode.listenRedirect);
   * default: Redis port + 20000, or any free port with port 0 or past 65535. False: none,
   * the slot map names the Redis port (and only a connection that asked for it gets MOVED).
   */
  redirectPort?: number | false;
  data: string;
  requirepass: string;
  logLevel: string;
  pretty?: boolean;
  /** Members' Redis addresses, HOST:PORT, to join their cluster through (those that answer). */
  join?: readonly string[];
  /** The host other members and clients reach this node at; default: from `host`. */
  advertiseHost?: string;
  /** Failure domain advertised to the cluster; "" when unknown. */
  zone?: string;
  /** Cluster secret (the key sealing bus traffic); undefined: the local default. */
  clusterSecret?: string;
  /** Sharded mode: the key space in raft groups (cluster.ts). */
  cluster?: boolean;
  /** With cluster, on the first node: shards and replicas per shard. */
  shards?: number;
  replicas?: number;
  /** With cluster: how long a silent node is only down (cluster.ts, deadNodeAfterMs). */
  deadNodeAfterMs?: number;
}

/**
 * Composition root for one node with real I/O. Resolves with the process exit code once the
 * node has stopped (on SIGINT or SIGTERM), or at once when it cannot start.
 */
export async function startNode(options: StartOptions): Promise<number> {
  const log = createLogger(options.logLevel, options.pretty);
  const busPort = options.busPort ?? (options.port === 0 ? 0 : options.port + 10000);
  if (options.busPort === undefined && options.port !== 0 && busPort > 65535) {
    log.fatal(
      { port: options.port },
      "the bus port (Redis port + 10000) would exceed 65535: choose one with --bus-port",
    );
    return 2;
  }
  // Past 65535 (a Redis port above 45535) the default is any free port, which the log
  // names and the slot map gives clients; --redirect-port fixes it.
  const offsetPort = options.port + redirectPortOffset;
  const redirectPort =
    options.redirectPort ?? (options.port === 0 || offsetPort > 65535 ? 0 : offsetPort);
  if (options.cluster === true && options.redirectPort === undefined && offsetPort > 65535) {
    log.warn(
      { port: options.port },
      `the redirect port (Redis port + ${redirectPortOffset}) would exceed 65535: using a free ` +
        "port instead (--redirect-port chooses one)",
    );
  }
  const advertiseProblem =
    options.advertiseHost === undefined ? null : advertiseHostProblem(options.advertiseHost);
  if (advertiseProblem !== null) {
    log.fatal({ advertiseHost: options.advertiseHost }, `bad advertise host: ${advertiseProblem}`);
    return 2;
  }
  const dir = resolve(options.data);
  let store: LmdbStore;
  try {
    store = new LmdbStore({ path: dir });
  } catch (err) {
    const reason = err instanceof StorageError ? err.message : String(err);
    log.fatal({ dir, reason }, "cannot open the data folder");
    return 1;
  }
  // A folder holds one kind of node: starting the other kind on it would serve none of its
  // keys (and write beside them), so it is refused with the way out.
  const mismatch = modeMismatch(dir, options.cluster === true, store.size());
  if (mismatch !== null) {
    log.fatal({ dir }, mismatch);
    await store.close();
    return 2;
  }
  // A rejection nobody handles is a bug: say so in the log before the process ends.
  process.on("unhandledRejection", (reason) => {
    log.fatal({ err: reason }, "unhandled rejection");
    process.exit(70);
  });
  const settings = defaultSettings({
    port: options.port,
    busPort,
    bind: options.host,
    dir,
    requirepass: options.requirepass,
  });
  const seed = Math.floor(Math.random() * 2 ** 32);
  let node: HomeostatNode;
  try {
    node = new HomeostatNode({
      settings,
      store,
      clock: new SystemClock(),
      random: new SeededRandom(seed),
      log,
      // A cluster's libraries are in its meta group's state.
      ...(options.cluster === true ? {} : { functionsPath: join(dir, "functions.rdb") }),
    });
  } catch (err) {
    log.fatal({ dir, reason: String(err) }, "cannot start the node");
    await store.close();
    return 1;
  }
  try {
    const port = await node.listen();
    try {
      node.membership = await MembershipDriver.open({
        host: options.host,
        advertiseHost: options.advertiseHost,
        busPort: settings.busPort,
        redisPort: port,
        dir,
        zone: options.zone ?? "",
        secret: options.clusterSecret,
        version: versionNumber(HOMEOSTAT_VERSION),
        log,
        clock: new SystemClock(),
        timers: new RealTimers(),
        random: new SeededRandom((seed ^ 0x5bd1e995) >>> 0),
      });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      log.fatal(
        { host: options.host, busPort: settings.busPort, code: e.code },
        `cannot open the bus port: ${e.message}`,
      );
      await node.stop();
      return 1;
    }
    settings.busPort = Number(/:(\d+)$/.exec(node.membership.transport.localAddress)?.[1]);
    if (options.cluster === true) {
      try {
        if (redirectPort !== false) await node.listenRedirect(redirectPort);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        log.fatal(
          { host: options.host, redirectPort, code: e.code },
          `cannot listen on the redirect port: ${e.message}`,
        );
        await node.stop();
        return 1;
      }
      try {
        await openCluster(node, options, dir, port, seed);
      } catch (err) {
        log.fatal({ err: String(err) }, "cannot start the cluster side");
        await node.stop();
        return 1;
      }
    }
    log.info(
      {
        host: options.host,
        port,
        busPort: settings.busPort,
        ...(options.cluster === true && settings.redirectPort !== 0
          ? { redirectPort: settings.redirectPort }
          : {}),
        dir,
        mode: options.cluster === true ? "cluster" : "standalone",
        // A cluster node's keys are in its shards, counted by DBSIZE across the cluster.
        ...(options.cluster === true ? {} : { keys: store.size() }),
      },
      `ready to accept connections: redis-cli -h ${options.host} -p ${port}`,
    );
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    log.fatal(
      { host: options.host, port: options.port, code: e.code },
      `cannot listen: ${e.message}`,
    );
    await store.close();
    return 1;
  }
  if (options.join !== undefined && options.join.length > 0) {
    void node.membership.joinThrough(options.join, options.requirepass);
  }
  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, "shutting down");
      // A stop that does not finish (a stage that hangs, or a handle that keeps the
      // process alive after it) says where it was and ends the process: an operator's
      // SIGTERM must end the node. Unref'd: it never keeps a finished process alive.
      setTimeout(() => {
        log.error({ stage: node.stopStage }, "stopping took over 20 s: exiting anyway");
        process.exit(1);
      }, stopWatchdogMs).unref();
      node.stop().then(
        () => {
          log.info("stopped");
          resolveExit(0);
        },
        (err: unknown) => {
          log.error({ err }, "error while stopping");
          resolveExit(1);
        },
      );
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
}

/**
 * Why `dir` cannot be opened in the mode asked for, or null. A cluster node's folder has a
 * `raft-id` file; a standalone node's keys live in the folder's own store (`keys`).
 */
export function modeMismatch(dir: string, cluster: boolean, keys: number): string | null {
  const clusterFolder = existsSync(join(dir, "raft-id"));
  if (cluster && !clusterFolder && keys > 0) {
    return (
      `the data folder ${dir} holds the keys of a standalone node (${keys}): start it with ` +
      "--standalone, or give a cluster node another --data folder"
    );
  }
  if (!cluster && clusterFolder) {
    return (
      `the data folder ${dir} belongs to a cluster node: start it without --standalone, or ` +
      "give the standalone node another --data folder"
    );
  }
  return null;
}

/** Sharded mode: the raft groups, the meta group and the router (docs/cluster.md). */
async function openCluster(
  node: HomeostatNode,
  options: StartOptions,
  dir: string,
  port: number,
  seed: number,
): Promise<void> {
  const membership = node.membership as MembershipDriver;
  // One LMDB environment for every shard's keys on this node, apart from the raft logs:
  // its writes need no sync of their own (the logs are the durable record), and where the
  // machine has a boot id it is synced only at close: the kernel writes it back
  // (shardSyncIntervalMs, docs/cluster.md).
  const bootId = machineBootId();
  const space = new LmdbShardSpace({
    path: join(dir, "kv"),
    slotOf: keyHashSlot,
    commitIntervalMs: shardCommitIntervalMs,
    // Two of the raft log's segments (the one it writes and the one ahead): the log is
    // the durable record, so the key space's reserve of zeros never takes its room.
    reserveKeepFreeBytes: 2 * defaultSegmentBytes,
    ...(bootId === null ? {} : { bootId, syncIntervalMs: shardSyncIntervalMs }),
    onCommitFailing: (err) =>
      node.log.error(
        { err },
        "shard key space write failed: the applied writes are kept in memory and tried " +
          "again until the disk takes them (the raft logs hold them durably)",
      ),
    onCommitResumed: (failures) =>
      node.log.info({ failures }, "shard key space writes succeed again"),
  });
  if (space.discarded !== null) {
    node.log.warn(
      { path: space.path, reason: space.discarded },
      "shard key spaces deleted; rebuilding them from the raft logs",
    );
  }
  if (space.writeMapOff !== null) {
    // More CPU per write (docs/cluster.md, "Pages written through LMDB's write map").
    node.log.info(
      { path: space.path, reason: space.writeMapOff },
      "shard key space writes its pages with pwrite, not through LMDB's write map",
    );
  }
  // Connections to other nodes for the commands forwarded to their shards' leaders: closed
  // with the cluster, or their sockets would keep a stopped node's process alive.
  const forwarder = new Forwarder(options.requirepass);
  const machines = new Map<number, ShardMachine>();
  // Shards whose replica left this node and whose keys are still to be deleted (a delete
  // that failed, e.g. on a full disk, is tried again every 5 s).
  const dropping = new Set<number>();
  const dropRetries = new Set<NodeJS.Timeout>();
  const dropKeys = (group: number, tries = 0): void => {
    try {
      space.dropShard(group);
      dropping.delete(group);
    } catch (err) {
      if (tries === 0) node.log.error({ err, group }, "cannot delete a dropped shard's keys yet");
      const t = setTimeout(() => {
        dropRetries.delete(t);
        dropKeys(group, tries + 1);
      }, 5000);
      dropRetries.add(t);
    }
  };
  // Active expiry's timer and the orphans' (below); closing stops them before the shard
  // store closes.
  let expiry: NodeJS.Timeout | undefined;
  let orphans: NodeJS.Timeout | undefined;
  const now = () => Date.now();
  const host = parseAddress(membership.clientAddress)?.host ?? options.host;
  const cluster = await ClusterRuntime.open({
    dir,
    log: node.log,
    membership,
    random: new SeededRandom((seed ^ 0x9e3779b9) >>> 0),
    host,
    port,
    busPort: node.settings.busPort,
    // Without a redirect port of its own the node is registered with its Redis port.
    redirectPort: node.settings.redirectPort === 0 ? port : node.settings.redirectPort,
    zone: options.zone ?? "",
    seeds: options.join ?? [],
    password: options.requirepass,
    shardCount: options.shards,
    replicaTarget: options.replicas,
    deadNodeAfterMs: options.deadNodeAfterMs,
    onFlushMs: (ms) => node.monitorLatency("raft-flush", ms),
    shardMachine: (group, slots) => {
      // A replica dropped here whose keys are not deleted yet: not again until they are.
      if (dropping.has(group)) return null;
      const store = space.openShard(
        group,
        slots.map(([from, to]) => ({ from, to })),
      );
      // Every replica of a group must use the same bulk bound: it decides replies.
      const m = new ShardMachine({
        store,
        maxBulkBytes: 512 * 1024 * 1024,
        notifier: node.notifier,
        ran: (name, args) => node.shardApplied(name, args),
      });
      machines.set(group, m);
      return m;
    },
    shardRemoved: (group) => {
      const m = machines.get(group);
      machines.delete(group);
      dropping.add(group);
      void (m?.close() ?? Promise.resolve()).then(() => dropKeys(group));
    },
    onClose: async () => {
      clearInterval(expiry);
      clearInterval(orphans);
      forwarder.close();
      for (const t of dropRetries) clearTimeout(t);
      for (const m of machines.values()) await m.close();
      await space.close();
    },
  });
  node.cluster = cluster;
  // Pub/Sub over the cluster: PUBLISH reaches the subscribers of every node.
  node.pubsub.setBroadcast(
    (channel, message, shard) => cluster.publishToOthers(channel, message, shard),
    publishBytesMax,
  );
  cluster.published = (channel, message, shard) => node.pubsub.received(channel, message, shard);
  // INFO keyspace: the keys this node serves as a shard's leader, as a Redis Cluster
  // primary reports its own (summed over the nodes: every key once); the data files are
  // the whole shard space's.
  node.keyspace = () => {
    let keys = 0;
    let expires = 0;
    for (const [group, m] of machines) {
      if (!cluster.runtime.multi.leads(group)) continue;
      keys += m.store.size();
      expires += m.store.expiringCount();
    }
    return { keys, expires, usedBytes: space.usedBytes() };
  };
  const random = new SeededRandom((seed ^ 0x85ebca6b) >>> 0);
  node.router = new ClusterRouter(
    cluster,
    (group) => machines.get(group),
    (args, nowMs, s) => encodeLogCommand({ kind: "command", nowMs, seed: s, args }),
    forwarder,
    random,
    now,
  );
  // Active expiry on the shards this node leads: the leader names the expired keys in a
  // log entry (a replica deletes each only if it is expired at the entry's time).
  expiry = setInterval(() => {
    for (const [group, m] of machines) {
      if (!cluster.runtime.multi.leads(group)) continue;
      const nowMs = Math.max(now(), m.lastNowMs);
      const keys = m.expiredKeys(nowMs, 200);
      if (keys.length === 0) continue;
      cluster.runtime.multi.propose(group, encodeLogCommand({ kind: "expire", nowMs, keys }));
      cluster.runtime.flushSoon();
    }
  }, 100);
  expiry.unref();
  // A write whose leader stepped down before it was applied waits for the entry at its
  // index to be applied here (ShardMachine.roleChanged): 2-4 s, then UNCERTAIN. A meta
  // proposal likewise (MetaMachine.roleChanged), then "outcome unknown".
  orphans = setInterval(() => {
    for (const m of machines.values()) m.dropOrphans();
    cluster.meta.dropOrphans();
  }, orphanWaitMs);
  orphans.unref();
  node.log.info({ raftId: cluster.raftId }, "cluster side started");
}

/**
 * The redirect port's distance from the Redis port by default, as the bus port's is 10000
 * (Redis Cluster's convention): 6380 has its bus on 16380 and its redirect port on 26380.
 */
const redirectPortOffset = 20000;

/** Longest a stop may take before the process ends anyway (handOver 3 s, clients 1 s...). */
const stopWatchdogMs = 20_000;

/**
 * How often orphaned proposals are given up (ShardMachine and MetaMachine.dropOrphans). A
 * leadership transfer or an election settles them in well under this; a node cut off from
 * its group does not learn their fate, and its clients hear UNCERTAIN after 2-4 s.
 */
const orphanWaitMs = 2000;

/** "1.2.3" as 10203: metadata carries numbers; later layers compare versions with it. */
function versionNumber(version: string): number {
  const [major = 0, minor = 0, patch = 0] = version.split(".").map((p) => Number.parseInt(p, 10));
  return major * 10000 + minor * 100 + patch;
}
