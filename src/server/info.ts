import { arch, platform, release } from "node:os";
import { REDIS_COMPAT_VERSION } from "./commands.js";
import type { HomeostatNode } from "./node.js";

export const HOMEOSTAT_VERSION = "0.1.0";

type Section = [name: string, fields: [string, string | number][]];

function human(bytes: number): string {
  const units = ["B", "K", "M", "G", "T"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v}B` : `${v.toFixed(2)}${units[u]}`;
}

function sections(node: HomeostatNode): Section[] {
  const now = node.clock.nowMs();
  const uptimeS = Math.floor((now - node.startedAtMs) / 1000);
  const mem = process.memoryUsage();
  const functions = node.functions;
  const cpu = process.cpuUsage();
  const stats = node.stats;
  const flushError = stats.lastFlushError;
  const space = node.keyspace?.() ?? {
    keys: node.store.size(),
    expires: node.store.expiringCount(),
    usedBytes: node.store.usedBytes(),
  };
  const keys = space.keys;
  return [
    [
      "server",
      [
        ["redis_version", REDIS_COMPAT_VERSION],
        ["homeostat_version", HOMEOSTAT_VERSION],
        ["redis_mode", "standalone"],
        ["os", `${platform()} ${release()} ${arch()}`],
        ["arch_bits", 64],
        ["process_id", process.pid],
        ["run_id", node.runId],
        ["tcp_port", node.settings.port],
        ["bus_port", node.settings.busPort],
        ["server_time_usec", Math.floor(now * 1000)],
        ["uptime_in_seconds", uptimeS],
        ["uptime_in_days", Math.floor(uptimeS / 86400)],
        ["hz", node.settings.hz],
        ["executable", process.argv[1] ?? ""],
        ["node_version", process.version],
      ],
    ],
    [
      "clients",
      [
        ["connected_clients", node.clients.size],
        ["maxclients", node.settings.maxclients],
        ["blocked_clients", node.blocking.size + node.postponedClients],
        ["clients_waiting_for_durability", node.waitingClients()],
      ],
    ],
    [
      "memory",
      [
        ["used_memory", mem.heapUsed + mem.external],
        ["used_memory_human", human(mem.heapUsed + mem.external)],
        ["used_memory_rss", mem.rss],
        ["used_memory_rss_human", human(mem.rss)],
        ["used_memory_dataset_disk", space.usedBytes],
        ["used_memory_dataset_disk_human", human(space.usedBytes)],
        // The scripts this node knows (EVALSHA's cache), and its function libraries.
        ["used_memory_scripts_eval", node.scripts.bytes],
        ["number_of_cached_scripts", node.scripts.size],
        ["number_of_functions", functions.functionCount],
        ["number_of_libraries", functions.libraries.size],
        ["used_memory_functions", functions.codeBytes],
        ["maxmemory", 0],
        ["maxmemory_policy", "noeviction"],
      ],
    ],
    [
      "persistence",
      [
        ["loading", 0],
        ["async_loading", 0],
        ["rdb_bgsave_in_progress", 0],
        ["rdb_changes_since_last_save", node.store.writeSeq - node.store.durableSeq],
        ["aof_enabled", 1],
        ["aof_rewrite_in_progress", 0],
        ["aof_last_write_status", flushError === null ? "ok" : "err"],
        ["storage_engine", "lmdb"],
        ["storage_fsync", "always"],
        ["storage_group_commits", stats.flushes],
        ["storage_last_commit_ms", stats.lastFlushMs.toFixed(3)],
        ["storage_commit_failures", stats.flushFailures],
        ["storage_last_error", flushError === null ? "" : `${flushError.code}`],
      ],
    ],
    [
      "stats",
      [
        ["total_connections_received", stats.connectionsReceived],
        ["total_commands_processed", stats.commandsProcessed],
        ["total_net_input_bytes", stats.netInputBytes],
        ["total_net_output_bytes", stats.netOutputBytes],
        ["rejected_connections", stats.connectionsRejected],
        ["expired_keys", stats.expiredKeys],
        ["total_error_replies", stats.errorReplies],
        ["evicted_keys", 0],
        // As Redis: this node's subscriptions. Then what Pub/Sub moved (ours).
        ["pubsub_channels", node.pubsub.channelTotal()],
        ["pubsub_patterns", node.pubsub.numpat()],
        ["pubsub_published", node.pubsub.stats.published],
        ["pubsub_received_from_nodes", node.pubsub.stats.received],
        ["pubsub_deliveries", node.pubsub.stats.delivered],
      ],
    ],
    [
      "replication",
      [
        ["role", "master"],
        ["connected_slaves", 0],
      ],
    ],
    [
      "cpu",
      [
        ["used_cpu_sys", (cpu.system / 1e6).toFixed(6)],
        ["used_cpu_user", (cpu.user / 1e6).toFixed(6)],
      ],
    ],
    // As Redis: redis-cli --cluster and other tools check cluster_enabled before anything.
    [
      "cluster",
      node.cluster === null
        ? [["cluster_enabled", 0]]
        : [
            ["cluster_enabled", 1],
            ["cluster_redirect_port", node.settings.redirectPort],
            ["cluster_forwarded_commands", node.router?.forwarded ?? 0],
          ],
    ],
    ["membership", membershipFields(node)],
    ["raft", raftFields(node)],
    ["keyspace", keys > 0 ? [["db0", `keys=${keys},expires=${space.expires},avg_ttl=0`]] : []],
    ["commandstats", commandStats(node)],
    ["errorstats", [...stats.errors].map(([code, n]) => [`errorstat_${code}`, `count=${n}`])],
    ["latencystats", node.latency.infoFields(node.settings.latencyTrackingInfoPercentiles)],
  ];
}

/** As Redis's: cmdstat_<name>:calls=…,usec=…,usec_per_call=…,rejected_calls=…,failed_calls=… */
function commandStats(node: HomeostatNode): [string, string][] {
  const rows: [string, string][] = [];
  for (const [name, s] of node.stats.commands) {
    if (s.calls === 0 && s.rejected === 0) continue;
    const usec = Math.round(s.usec);
    const perCall = s.calls === 0 ? 0 : s.usec / s.calls;
    rows.push([
      `cmdstat_${name}`,
      `calls=${s.calls},usec=${usec},usec_per_call=${perCall.toFixed(2)},` +
        `rejected_calls=${s.rejected},failed_calls=${s.failed}`,
    ]);
  }
  return rows;
}

/** Sections INFO leaves out unless named (or "all", "everything"), as Redis does. */
const notByDefault = new Set(["commandstats", "latencystats"]);

function membershipFields(node: HomeostatNode): [string, string | number][] {
  const driver = node.membership;
  if (driver === null) return [["membership_enabled", 0]];
  const count = { alive: 0, suspect: 0, dead: 0, left: 0 };
  for (const m of driver.members()) count[m.state]++;
  const m = driver.membership;
  const t = driver.transport.counters;
  return [
    ["membership_enabled", 1],
    ["node_id", driver.id],
    ["bus_address", driver.transport.localAddress],
    ["members_alive", count.alive],
    ["members_suspect", count.suspect],
    ["members_dead", count.dead],
    ["members_left", count.left],
    ["incarnation", m.incarnation],
    ["health_score", m.health],
    ["probe_interval_ms", driver.config.probeIntervalMs],
    ["probes", m.stats.probes],
    ["probes_failed", m.stats.probesFailed],
    ["indirect_probes", m.stats.indirectProbes],
    ["refutations", m.stats.refutations],
    ["push_pulls", m.stats.pushPulls],
    ["datagrams_sent", t.datagramsSent],
    ["datagrams_received", t.datagramsReceived],
    ["streams_sent", t.reliableSent],
    ["streams_received", t.reliableReceived],
    ["bus_bytes_sent", t.bytesSent],
    ["bus_bytes_received", t.bytesReceived],
    ["dropped_unauthenticated", t.droppedInvalid],
    ["dropped_queue_full", t.droppedQueueFull],
    ["bus_send_failures", t.sendFailures],
    ["dropped_garbled", m.stats.droppedGarbled],
    ["dropped_oversized", m.stats.droppedOversized],
  ];
}

/** Sharded mode's raft host: how much each flush batches (the figures behind throughput). */
function raftFields(node: HomeostatNode): [string, string | number][] {
  const cluster = node.cluster;
  if (cluster === null) return [["raft_enabled", 0]];
  const m = cluster.runtime.multi.stats;
  const r = cluster.runtime.stats;
  return [
    ["raft_enabled", 1],
    ["raft_id", cluster.raftId],
    ["raft_groups", cluster.runtime.multi.size],
    ["raft_flushes", m.flushes],
    ["raft_persists", m.persists],
    ["raft_log_direct_writes", cluster.raftLogWritesDirect() ? 1 : 0],
    ["raft_group_writes", m.groupWrites],
    ["raft_hard_states_deferred", m.hardStatesDeferred],
    ["raft_messages_sent", m.messagesSent],
    ["raft_envelopes_sent", m.envelopesSent],
    ["raft_bytes_sent", m.bytesSent],
    ["raft_entries_applied", m.entriesApplied],
    ["raft_reads_served", m.readsServed],
    ["raft_snapshots_taken", m.snapshotsTaken],
    ["raft_snapshots_installed", m.snapshotsInstalled],
    ["raft_images_pending", cluster.runtime.multi.imagesPending],
    ["raft_images_dropped", m.imagesDropped],
    // Why the last image was given up ("" if none was): a value, so no line breaks.
    ["raft_last_image_error", cluster.runtime.multi.lastImageError.replace(/[\r\n]+/g, " ")],
    ["raft_unroutable", r.unroutable],
  ];
}

/** INFO's text: "# Section" headers, "field:value" lines, CRLF, as Redis writes it. */
export function infoText(node: HomeostatNode, wanted: string[]): string {
  const all = sections(node);
  const names = new Set(wanted.length === 0 ? ["default"] : wanted);
  const everything = names.has("all") || names.has("everything");
  const byDefault = names.has("default");
  const out: string[] = [];
  for (const [name, fields] of all) {
    const shown = everything || names.has(name) || (byDefault && !notByDefault.has(name));
    if (!shown) continue;
    if (out.length > 0) out.push("");
    out.push(`# ${name[0]?.toUpperCase()}${name.slice(1)}`);
    for (const [k, v] of fields) out.push(`${k}:${v}`);
  }
  return out.length === 0 ? "" : `${out.join("\r\n")}\r\n`;
}
