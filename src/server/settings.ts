import { MAX_BUFFER_BYTES_LIMIT } from "../resp/parser.js";
import { formatPercentile } from "./latency.js";
import { getNotifyFlags, setNotifyFlags } from "./notifications.js";

/**
 * The settings a running node exposes through CONFIG GET / CONFIG SET, with their
 * defaults and why. Names follow Redis's where the meaning is the same, so tools that
 * read them (redis-cli, redis-benchmark, client libraries) find what they expect.
 */
export interface Settings {
  /** Redis port clients connect to. */
  port: number;
  /** Node-to-node port; Redis port + 10000 by default, as Redis Cluster's bus. */
  busPort: number;
  /**
   * A cluster node's Redis port for cluster-aware clients (HomeostatNode.listenRedirect);
   * 0 while there is none (a standalone node).
   */
  redirectPort: number;
  bind: string;
  dir: string;
  /** Largest bulk string a client may send (Redis's proto-max-bulk-len: 512 MiB). */
  protoMaxBulkLen: number;
  /** Largest unparsed input kept per client (Redis's client-query-buffer-limit: 1 GiB). */
  clientQueryBufferLimit: number;
  /** Connections beyond this are refused with an error (Redis's default: 10000). */
  maxclients: number;
  /** Seconds of idleness after which a client is closed; 0 = never (Redis's default). */
  timeout: number;
  /** Password for the default user; empty = no password. */
  requirepass: string;
  /**
   * Active expiry cycles per second (Redis's hz, default 10): every 1000/hz ms, up to
   * `activeExpireKeysPerCycle` expired keys are deleted, repeated while a full budget was
   * found and the cycle has run for less than a quarter of its period (as Redis's
   * ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC bounds its CPU share to 25%).
   */
  hz: number;
  activeExpireKeysPerCycle: number;
  /** Keyspace notifications (Redis's notify-keyspace-events; kv/notify.ts): none by default. */
  notifyKeyspaceEvents: number;
  /**
   * Redis's hash-max-listpack-entries and -value (alias hash-max-ziplist-*): where Redis
   * changes a hash's encoding. Accepted and reported for tools and test suites that set
   * them; a hash is stored one way here (kv/hashes.ts), so they change nothing.
   */
  hashMaxListpackEntries: number;
  hashMaxListpackValue: number;
  /** Redis's set-max-intset-entries: accepted and reported, as the hash ones (kv/sets.ts). */
  setMaxIntsetEntries: number;
  /**
   * Redis's list-max-listpack-size (alias list-max-ziplist-size) and list-compress-depth:
   * accepted and reported, as the hash ones; a list is stored one way here (kv/lists.ts).
   */
  listMaxListpackSize: number;
  listCompressDepth: number;
  /**
   * Redis's zset-max-listpack-entries and -value (alias zset-max-ziplist-*): accepted and
   * reported, as the hash ones; a sorted set is stored one way here (kv/zsets.ts).
   */
  zsetMaxListpackEntries: number;
  zsetMaxListpackValue: number;
  /**
   * Redis's stream-node-max-entries and -bytes: the node layout of a stream, which the
   * approximate trims (MAXLEN ~, MINID ~, LIMIT) follow (kv/streams.ts). A standalone node
   * uses them; a cluster's shards keep Redis's defaults, since the layout is replicated
   * state and every replica must trim alike.
   */
  streamNodeMaxEntries: number;
  streamNodeMaxBytes: number;
  /**
   * Redis's hll-sparse-max-bytes: how long a sparse HyperLogLog may grow before it turns
   * dense (kv/hyperloglog.ts). A standalone node uses it; a cluster's shards keep Redis's
   * default, as for the stream settings.
   */
  hllSparseMaxBytes: number;
  /** Redis's slowlog-log-slower-than (µs; -1: nothing logged, 0: everything) and slowlog-max-len. */
  slowlogLogSlowerThan: number;
  slowlogMaxLen: number;
  /** Redis's latency-tracking: per-command latency histograms (LATENCY HISTOGRAM, INFO latencystats). */
  latencyTracking: boolean;
  /** Redis's latency-tracking-info-percentiles: the percentiles INFO latencystats reports. */
  latencyTrackingInfoPercentiles: number[];
  /** Redis's latency-monitor-threshold (ms): events this long or longer are kept; 0: none. */
  latencyMonitorThreshold: number;
}

export function defaultSettings(overrides: Partial<Settings> = {}): Settings {
  const port = overrides.port ?? 6380;
  return {
    port,
    busPort: port + 10000,
    redirectPort: 0,
    bind: "127.0.0.1",
    dir: "data",
    protoMaxBulkLen: 512 * 1024 * 1024,
    clientQueryBufferLimit: 1024 * 1024 * 1024,
    maxclients: 10000,
    timeout: 0,
    requirepass: "",
    hz: 10,
    activeExpireKeysPerCycle: 200,
    notifyKeyspaceEvents: 0,
    hashMaxListpackEntries: 128,
    hashMaxListpackValue: 64,
    setMaxIntsetEntries: 512,
    listMaxListpackSize: -2,
    listCompressDepth: 0,
    zsetMaxListpackEntries: 128,
    zsetMaxListpackValue: 64,
    streamNodeMaxEntries: 100,
    streamNodeMaxBytes: 4096,
    hllSparseMaxBytes: 3000,
    slowlogLogSlowerThan: 10_000,
    slowlogMaxLen: 128,
    latencyTracking: true,
    latencyTrackingInfoPercentiles: [50, 99, 99.9],
    latencyMonitorThreshold: 0,
    ...overrides,
  };
}

interface SettingSpec {
  get(s: Settings): string;
  /** Returns an error message, or undefined when the value was applied. */
  set?(s: Settings, value: string): string | undefined;
}

function intSetting(
  key:
    | "protoMaxBulkLen"
    | "clientQueryBufferLimit"
    | "maxclients"
    | "timeout"
    | "hz"
    | "hashMaxListpackEntries"
    | "hashMaxListpackValue"
    | "setMaxIntsetEntries"
    | "listMaxListpackSize"
    | "listCompressDepth"
    | "zsetMaxListpackEntries"
    | "zsetMaxListpackValue"
    | "streamNodeMaxEntries"
    | "streamNodeMaxBytes"
    | "hllSparseMaxBytes"
    | "slowlogLogSlowerThan"
    | "slowlogMaxLen"
    | "latencyMonitorThreshold",
  min: number,
  max: number,
  /** The bound the error names (Redis's LLONG_MAX for a long long setting). */
  shownMax = String(max),
): SettingSpec {
  return {
    get: (s) => String(s[key]),
    set: (s, value) => {
      const n = parseMemory(value);
      if (n === undefined) return "argument couldn't be parsed into an integer";
      if (n < min || n > max) return `argument must be between ${min} and ${shownMax} inclusive`;
      s[key] = n;
      return undefined;
    },
  };
}

/** Accepts plain integers and Redis's memory units (1k, 1kb, 1m, 1mb, 1g, 1gb). */
function parseMemory(value: string): number | undefined {
  const m = /^(-?\d+)(k|kb|m|mb|g|gb)?$/i.exec(value);
  if (m === null) return undefined;
  const units: Record<string, number> = {
    k: 1000,
    kb: 1024,
    m: 1000 ** 2,
    mb: 1024 ** 2,
    g: 1000 ** 3,
    gb: 1024 ** 3,
  };
  const n = Number(m[1]) * (m[2] === undefined ? 1 : (units[m[2].toLowerCase()] as number));
  return Number.isSafeInteger(n) ? n : undefined;
}

const fixed = (value: string): SettingSpec => ({ get: () => value });

/** A setting that is always `value`: CONFIG SET takes what `accepts`, refusing the rest. */
const only = (value: string, accepts: (v: string) => boolean, refusal: string): SettingSpec => ({
  get: () => value,
  set: (_s, v) => (accepts(v) ? undefined : refusal),
});

/** The settings table, by CONFIG name. Read-only entries report what this node does. */
export const SETTINGS: ReadonlyMap<string, SettingSpec> = new Map<string, SettingSpec>([
  ["port", { get: (s) => String(s.port) }],
  ["cluster-port", { get: (s) => String(s.busPort) }],
  ["bind", { get: (s) => s.bind }],
  ["dir", { get: (s) => s.dir }],
  // Below 2 GiB, as the request parser's offsets need: Redis takes more, but a node given
  // more would fail every new connection.
  ["proto-max-bulk-len", intSetting("protoMaxBulkLen", 1024 * 1024, MAX_BUFFER_BYTES_LIMIT)],
  [
    "client-query-buffer-limit",
    intSetting("clientQueryBufferLimit", 1024 * 1024, MAX_BUFFER_BYTES_LIMIT),
  ],
  ["maxclients", intSetting("maxclients", 1, 1_000_000)],
  ["timeout", intSetting("timeout", 0, 2 ** 31 - 1)],
  ["hz", intSetting("hz", 1, 500)],
  ["notify-keyspace-events", { get: getNotifyFlags, set: setNotifyFlags }],
  ["hash-max-listpack-entries", intSetting("hashMaxListpackEntries", 0, 2 ** 53 - 1)],
  ["hash-max-listpack-value", intSetting("hashMaxListpackValue", 0, 2 ** 53 - 1)],
  ["hash-max-ziplist-entries", intSetting("hashMaxListpackEntries", 0, 2 ** 53 - 1)],
  ["hash-max-ziplist-value", intSetting("hashMaxListpackValue", 0, 2 ** 53 - 1)],
  ["set-max-intset-entries", intSetting("setMaxIntsetEntries", 0, 2 ** 53 - 1)],
  ["list-max-listpack-size", intSetting("listMaxListpackSize", -(2 ** 31), 2 ** 31 - 1)],
  ["list-max-ziplist-size", intSetting("listMaxListpackSize", -(2 ** 31), 2 ** 31 - 1)],
  ["list-compress-depth", intSetting("listCompressDepth", 0, 2 ** 31 - 1)],
  ["zset-max-listpack-entries", intSetting("zsetMaxListpackEntries", 0, 2 ** 53 - 1)],
  ["zset-max-listpack-value", intSetting("zsetMaxListpackValue", 0, 2 ** 53 - 1)],
  ["zset-max-ziplist-entries", intSetting("zsetMaxListpackEntries", 0, 2 ** 53 - 1)],
  ["zset-max-ziplist-value", intSetting("zsetMaxListpackValue", 0, 2 ** 53 - 1)],
  ["stream-node-max-entries", intSetting("streamNodeMaxEntries", 0, 2 ** 53 - 1)],
  ["stream-node-max-bytes", intSetting("streamNodeMaxBytes", 0, 2 ** 53 - 1)],
  ["hll-sparse-max-bytes", intSetting("hllSparseMaxBytes", 0, 2 ** 53 - 1)],
  ["slowlog-log-slower-than", intSetting("slowlogLogSlowerThan", -1, 2 ** 53 - 1)],
  ["slowlog-max-len", intSetting("slowlogMaxLen", 0, 2 ** 53 - 1)],
  [
    "latency-monitor-threshold",
    intSetting("latencyMonitorThreshold", 0, 2 ** 53 - 1, "9223372036854775807"),
  ],
  [
    "latency-tracking",
    {
      get: (s) => (s.latencyTracking ? "yes" : "no"),
      set: (s, v) => {
        const yes = v.toLowerCase() === "yes";
        if (!yes && v.toLowerCase() !== "no") return "argument must be 'yes' or 'no'";
        s.latencyTracking = yes;
        return undefined;
      },
    },
  ],
  [
    "latency-tracking-info-percentiles",
    {
      get: (s) => s.latencyTrackingInfoPercentiles.map(formatPercentile).join(" "),
      set: (s, v) => {
        const words = v.split(" ").filter((w) => w !== "");
        const values = words.map((w) =>
          /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(w) ? Number(w) : Number.NaN,
        );
        if (values.some((n) => Number.isNaN(n))) {
          return "Invalid latency-tracking-info-percentiles parameters";
        }
        if (values.some((n) => n < 0 || n > 100)) {
          return "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]";
        }
        s.latencyTrackingInfoPercentiles = values;
        return undefined;
      },
    },
  ],
  [
    "requirepass",
    {
      get: (s) => s.requirepass,
      set: (s, v) => {
        s.requirepass = v;
        return undefined;
      },
    },
  ],
  // Every write is synced before it is acknowledged: the equivalent of an append-only file
  // with fsync always. These are reported so tools see the durability they get.
  ["appendonly", fixed("yes")],
  ["appendfsync", fixed("always")],
  // No RDB snapshots: "" (what turns them off in Redis) is accepted, anything else refused.
  [
    "save",
    only(
      "",
      (v) => v.trim() === "",
      "Homeostat takes no RDB snapshots: every write is durable when acknowledged",
    ),
  ],
  // RESTORE checks every payload whole (kv/dump.ts), as Redis does with "yes": reported so,
  // and "yes" accepted; turning the check off is refused.
  [
    "sanitize-dump-payload",
    only(
      "yes",
      (v) => v.toLowerCase() === "yes",
      "Homeostat checks every RESTORE payload whole: the setting stays yes",
    ),
  ],
  ["databases", fixed("1")],
  ["maxmemory", fixed("0")],
  ["maxmemory-policy", fixed("noeviction")],
  ["cluster-enabled", fixed("no")],
]);
