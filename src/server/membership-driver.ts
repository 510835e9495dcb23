import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { availableParallelism, networkInterfaces, totalmem } from "node:os";
import { join } from "node:path";
import type { Clock, TimerHandle, Timers } from "../core/clock.js";
import { timerDelayMsMax } from "../core/clock.js";
import type { Random } from "../core/random.js";
import { deriveClusterKey } from "../core/seal.js";
import { formatAddress, parseAddress, UdpTransport } from "../core/udp-transport.js";
import {
  frameMagic,
  lanConfig,
  localConfig,
  type Member,
  type MemberEvent,
  Membership,
  type MembershipConfig,
  seedsMax,
} from "../membership/index.js";
import type { Reply } from "../resp/types.js";
import type { Logger } from "./log.js";
import { callAll } from "./resp-client.js";

/**
 * The secret a cluster uses when none is configured, so `npm start` and a local cluster
 * on one machine need no set-up. It is public: anyone who can reach the bus port can join
 * such a cluster. The node says so in its log; set --cluster-secret (or
 * HOMEOSTAT_CLUSTER_SECRET) on every node of a real deployment.
 */
export const defaultClusterSecret = "homeostat-local-cluster";

/**
 * Longest stop-the-world pause (GC, a blocked event loop, SIGSTOP, a suspended VM) a real
 * node must survive without being declared dead by the others: 2 s observed pauses plus
 * ~1 s for the paused node to read its backlog, refute, and for the refutation to spread.
 */
export const pauseToleranceMs = 3000;

/**
 * The membership configuration for a real node. Loopback: `localConfig`, since every peer
 * is on this machine and round trips are microseconds, so 5× shorter periods detect
 * failures 5× sooner at no risk; any other address: `lanConfig` (memberlist's LAN
 * defaults), since real networks have millisecond round trips and lossy moments.
 *
 * Either way the shortest suspicion is raised to at least `pauseToleranceMs`: a paused
 * process cannot refute until it runs again, so a suspicion shorter than the pause kills
 * a healthy node. `localConfig`'s own minimum (3 · 200 ms = 600 ms) suits the simulator,
 * whose pauses are modelled, not real processes; `lanConfig`'s (4 · 1 s) is already above
 * it and unchanged. The longest suspicion is kept at the preset's (never below the
 * shortest), so the detection bound stays close to the preset's.
 *
 * Retransmissions are at least the LAN's (4 · ceil(log10(N + 1))): with the local
 * preset's 2, a refutation sent twice, partly to a member just declared dead, missed one
 * live member in a run of the 5-process test, which then declared the refuter dead when
 * its suspicion ran out. On real nodes a few more small datagrams cost nothing.
 */
export function realConfig(loopback: boolean): MembershipConfig {
  const base = loopback ? localConfig : lanConfig;
  const mult = Math.max(base.suspicionMult, Math.ceil(pauseToleranceMs / base.probeIntervalMs));
  const presetMax = base.suspicionMaxTimeoutMult * base.suspicionMult;
  return {
    ...base,
    suspicionMult: mult,
    suspicionMaxTimeoutMult: Math.max(1, Math.floor(presetMax / mult)),
    retransmitMult: Math.max(base.retransmitMult, lanConfig.retransmitMult),
  };
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}

function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "";
}

/** A wildcard bind (0.0.0.0, ::) is not an address peers can use: advertise a real one. */
function advertiseHostFor(host: string): string {
  if (!isWildcard(host)) return host;
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal && a.family === "IPv4") return a.address;
  }
  return "127.0.0.1";
}

/** RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens. */
const hostLabel = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
/** Longest DNS name (RFC 1035), which also keeps a bus address within the codec's 256 bytes. */
const hostBytesMax = 253;

/**
 * Why `host` is not an IP address or host name, or null if it is one. Operating input
 * (a command-line option), so it is reported, not asserted.
 */
export function hostProblem(host: string): string | null {
  if (isIP(host) !== 0) return null;
  if (host.length === 0) return "the host is empty";
  const labels = host.split(".");
  const named =
    host.length <= hostBytesMax &&
    labels.every((l) => hostLabel.test(l)) &&
    !/^\d+$/.test(labels[labels.length - 1] as string); // 1.2.3 or 999.1.1.1: no such IP
  return named ? null : `${JSON.stringify(host)} is not an IP address or host name`;
}

/** Why `host` cannot be advertised to the other members, or null if it can. */
export function advertiseHostProblem(host: string): string | null {
  if (host !== "" && isWildcard(host)) {
    return `${host} is a wildcard, not an address peers can reach`;
  }
  return hostProblem(host);
}

/** Seeds one node may be given: as many as `Membership.join` contacts. */
export const joinSeedsMax = seedsMax;

/**
 * `--join` values (the option may be repeated): members' Redis addresses, HOST:PORT
 * ([V6]:PORT), comma separated. Throws a RangeError that names the bad entry.
 */
export function parseSeeds(...texts: string[]): string[] {
  const seeds = texts.flatMap((text) => text.split(",").map((s) => s.trim()));
  if (seeds.length > joinSeedsMax) {
    throw new RangeError(`${seeds.length} seeds: at most ${joinSeedsMax}`);
  }
  for (const seed of seeds) {
    const target = parseAddress(seed);
    const problem =
      target === null
        ? `${JSON.stringify(seed)} is not HOST:PORT (a member's Redis port, 1-65535)`
        : hostProblem(target.host);
    if (problem !== null) throw new RangeError(problem);
  }
  return seeds;
}

/** A stable id for this node: made once, kept in the data folder, so a restart keeps it. */
export function loadNodeId(dir: string): string {
  const file = join(dir, "node-id");
  try {
    const id = readFileSync(file, "utf8").trim();
    if (/^[0-9a-f]{8,64}$/.test(id)) return id;
  } catch {
    // first start: make one below
  }
  // 40 hex digits, as a Redis Cluster node id (CLUSTER MYID, NODES).
  const id = randomBytes(20).toString("hex");
  writeFileSync(file, `${id}\n`);
  return id;
}

export interface MembershipDriverOptions {
  /** The address the bus binds. */
  host: string;
  /**
   * The host other members and clients use to reach this node: in its bus address and
   * its advertised client address. Default: `advertiseHostFor(host)`.
   */
  advertiseHost?: string;
  busPort: number;
  /** This node's Redis address, host:port, advertised so others find its client port. */
  redisPort: number;
  dir: string;
  zone: string;
  /** Undefined: the documented local default, with a warning in the log. */
  secret: string | undefined;
  version: number;
  log: Logger;
  clock: Clock;
  timers: Timers;
  random: Random;
}

/** Join attempts to reach a seed's Redis port, and the first wait; it doubles, capped. */
export const seedAttemptsMax = 6;
export const seedRetryMsFirst = 250;
export const seedRetryMsMax = 4000;
/** A seed that does not answer within this is tried again next round (or given up). */
const seedCallTimeoutMs = 2000;

/**
 * The impure shell around the pure `Membership`: a sealed UDP/TCP transport on the bus
 * port, one real timer armed at `nextWakeMs()`, and the messages and events `ready()`
 * returns after every call carried out (sent, logged).
 */
export class MembershipDriver {
  private timer: TimerHandle | null = null;
  private timerAtMs = Number.POSITIVE_INFINITY;
  private closed = false;
  private foreign: ((from: string, data: Uint8Array) => void) | null = null;
  readonly config: Readonly<MembershipConfig>;

  private constructor(
    readonly membership: Membership,
    readonly transport: UdpTransport,
    private readonly log: Logger,
    private readonly clock: Clock,
    private readonly timers: Timers,
    readonly clientAddress: string,
  ) {
    this.config = membership.config;
    transport.onMessage((from, data, reliable) => {
      if (this.closed) return;
      // The bus also carries raft's envelopes (streams only): membership frames start
      // with frameMagic, anything else belongs to whoever set a foreign handler.
      if (reliable && data[0] !== frameMagic && this.foreign !== null) {
        this.foreign(from, data);
        return;
      }
      this.membership.receive(from, data, this.now());
      this.flush();
    });
  }

  static async open(o: MembershipDriverOptions): Promise<MembershipDriver> {
    let secret = o.secret;
    if (secret === undefined || secret === "") {
      o.log.warn(
        "no cluster secret set (--cluster-secret or HOMEOSTAT_CLUSTER_SECRET): using the " +
          "public default for a local cluster; any host that reaches the bus port can join",
      );
      secret = defaultClusterSecret;
    }
    const key = deriveClusterKey(secret);
    const advertise = o.advertiseHost ?? advertiseHostFor(o.host);
    if (isLoopback(o.host) && !isLoopback(advertise)) {
      o.log.warn(
        { host: o.host, advertiseHost: advertise },
        "the bus listens on a loopback address but advertises another: other machines " +
          "will not reach this node (listen with --host 0.0.0.0 or the advertised address)",
      );
    }
    const transport = await UdpTransport.open({
      host: o.host,
      port: o.busPort,
      key,
      advertiseHost: advertise,
    });
    const id = loadNodeId(o.dir);
    const loopback = isLoopback(o.host);
    const config = realConfig(loopback);
    const clientAddress = formatAddress(advertise, o.redisPort);
    const membership = new Membership(
      config,
      {
        id,
        address: transport.localAddress,
        meta: {
          zone: o.zone,
          addresses: [clientAddress],
          capacity: { cpus: availableParallelism(), memoryBytes: totalmem() },
          version: o.version,
        },
      },
      o.random,
    );
    const driver = new MembershipDriver(
      membership,
      transport,
      o.log,
      o.clock,
      o.timers,
      clientAddress,
    );
    o.log.info(
      {
        id,
        bus: transport.localAddress,
        preset: loopback ? "local" : "lan",
        probeIntervalMs: config.probeIntervalMs,
      },
      "membership started",
    );
    membership.tick(driver.now());
    driver.flush();
    return driver;
  }

  get id(): string {
    return this.membership.id;
  }

  /** Takes the bus's stream messages that are not membership's (raft envelopes). */
  onForeign(handler: (from: string, data: Uint8Array) => void): void {
    this.foreign = handler;
  }

  members(): Member[] {
    return this.membership.members();
  }

  /**
   * Joins through members' Redis addresses: asks each seed for its bus port (CONFIG GET
   * cluster-port) and node id (INFO membership), then joins through the bus address of
   * every seed that answered. Seeds are asked together, each round; a round in which
   * none answers is retried with backoff. A seed that turns out to be this node (a seed
   * list shared by every node names it too) is dropped. Resolves false (logged) if no
   * other seed ever answers: the node runs alone until another joins it.
   */
  async joinThrough(seeds: readonly string[], password = ""): Promise<boolean> {
    const targets = new Map<string, { host: string; port: number }>();
    for (const seed of seeds) {
      const target = parseAddress(seed);
      if (target === null) {
        this.log.error({ seed }, "--join needs HOST:PORT (a member's Redis port)");
      } else {
        targets.set(seed, target);
      }
    }
    const reasons = new Map<string, string>();
    let selfSeen = false;
    let waitMs = seedRetryMsFirst;
    for (let attempt = 1; attempt <= seedAttemptsMax && targets.size > 0; attempt++) {
      if (attempt > 1) {
        this.log.debug({ attempt, reasons: Object.fromEntries(reasons) }, "no seed answering yet");
        // Unref'd: a node stopped while it waits for its seeds exits without waiting more.
        await new Promise((r) => setTimeout(r, waitMs).unref());
        waitMs = Math.min(seedRetryMsMax, waitMs * 2);
      }
      if (this.closed) return false;
      const answers = await askSeeds(targets, password, reasons);
      if (this.closed) return false;
      const buses: string[] = [];
      for (const [seed, a] of answers) {
        targets.delete(seed);
        if (a.id !== this.id) buses.push(a.bus);
        else {
          selfSeen = true;
          this.log.info({ seed }, "a seed is this node: skipped");
        }
      }
      if (buses.length > 0) {
        for (const seed of targets.keys()) {
          this.log.warn(
            { seed, reason: reasons.get(seed) },
            "seed not answering; joining through the others",
          );
        }
        this.log.info({ seeds, buses }, "joining the cluster");
        this.membership.join(buses, this.now());
        this.flush();
        return true;
      }
    }
    if (targets.size === 0 && selfSeen) {
      this.log.info("every seed is this node: it starts the cluster; others join it");
      return false;
    }
    this.log.error(
      { seeds, attempts: seedAttemptsMax, reasons: Object.fromEntries(reasons) },
      "could not reach any seed to join; running alone until another node joins this one",
    );
    return false;
  }

  /** Graceful leave (gossiped for up to `budgetMs`), then closes the transport. */
  async close(budgetMs = 1000): Promise<void> {
    if (this.closed) return;
    this.membership.leave(this.now());
    this.flush();
    const until = this.clock.monotonicMs() + budgetMs;
    while (this.membership.broadcastsPending() > 0 && this.clock.monotonicMs() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
    this.closed = true;
    this.timer?.cancel();
    await this.transport.close();
  }

  private now(): number {
    return this.clock.monotonicMs();
  }

  /** Sends what the protocol asked for, logs what happened, re-arms the timer. */
  private flush(): void {
    const { messages, events } = this.membership.ready();
    this.membership.advance();
    for (const m of messages) {
      if (m.reliable) {
        this.transport.sendReliable(m.to, m.data).catch((err: unknown) => {
          this.log.debug({ to: m.to, reason: (err as Error).message }, "stream send failed");
        });
      } else {
        this.transport.send(m.to, m.data);
      }
    }
    for (const e of events) this.logEvent(e);
    this.arm();
  }

  private logEvent(e: MemberEvent): void {
    if (e.kind === "updated") {
      this.log.debug({ member: e.id, address: e.address }, "member updated");
      return;
    }
    this.log.info(
      {
        event: e.kind,
        member: e.id,
        address: e.address,
        client: e.meta.addresses[0] ?? "",
        incarnation: e.incarnation,
        zone: e.meta.zone,
      },
      `member ${e.kind}`,
    );
  }

  private arm(): void {
    if (this.closed) return;
    const wake = this.membership.nextWakeMs();
    if (!Number.isFinite(wake) || wake >= this.timerAtMs) return;
    this.timer?.cancel();
    this.timerAtMs = wake;
    const delay = Math.min(timerDelayMsMax, Math.max(0, Math.ceil(wake - this.now())));
    this.timer = this.timers.schedule(delay, () => {
      this.timer = null;
      this.timerAtMs = Number.POSITIVE_INFINITY;
      if (this.closed) return;
      this.membership.tick(this.now());
      this.flush();
    });
  }
}

/**
 * Asks every seed at once; returns the answers by seed and records why each other one
 * failed in `reasons` (a seed that answers loses its old reason).
 */
async function askSeeds(
  targets: ReadonlyMap<string, { host: string; port: number }>,
  password: string,
  reasons: Map<string, string>,
): Promise<Map<string, { id: string; bus: string }>> {
  const answers = new Map<string, { id: string; bus: string }>();
  await Promise.all(
    [...targets].map(async ([seed, target]) => {
      try {
        answers.set(seed, await seedBus(target, password));
        reasons.delete(seed);
      } catch (err) {
        reasons.set(seed, err instanceof Error ? err.message : String(err));
      }
    }),
  );
  return answers;
}

/**
 * A seed's bus address (the host we reached it on, its cluster-port) and node id, asked
 * through its Redis port. Nodes of one cluster share their password: a seed that wants
 * AUTH gets ours. Throws while the seed does not answer or has no bus open yet.
 */
async function seedBus(
  target: { host: string; port: number },
  password: string,
): Promise<{ id: string; bus: string }> {
  const commands = [
    ["CONFIG", "GET", "cluster-port"],
    ["INFO", "membership"],
  ];
  if (password !== "") commands.unshift(["AUTH", password]);
  const replies = await callAll(target, commands, seedCallTimeoutMs);
  const failed = replies.find((r) => r.kind === "error");
  if (failed !== undefined) throw new Error(String(failed.value));
  const [config, info] = replies.slice(-2) as [Reply, Reply];
  const busPort = busPortOf(config);
  const id = /^node_id:(\S+)/m.exec(String((info as { value: unknown }).value))?.[1];
  if (busPort === null || id === undefined) throw new Error("the seed's bus is not open yet");
  return { id, bus: formatAddress(target.host, busPort) };
}

/** CONFIG GET cluster-port's value, RESP2 (flat array) or RESP3 (map); null if none. */
function busPortOf(reply: Reply): number | null {
  const r = reply as { kind: string; value: unknown };
  let value: unknown;
  if (r.kind === "array" && Array.isArray(r.value)) {
    value = (r.value[1] as { value?: unknown } | undefined)?.value;
  } else if (r.kind === "map" && Array.isArray(r.value)) {
    value = (r.value[0] as [unknown, { value?: unknown }] | undefined)?.[1]?.value;
  }
  const port = Number(value);
  return Number.isInteger(port) && port > 0 && port <= 65535 ? port : null;
}
