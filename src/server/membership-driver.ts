import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, networkInterfaces, totalmem } from "node:os";
import { join } from "node:path";
import type { Clock, TimerHandle, Timers } from "../core/clock.js";
import { timerDelayMsMax } from "../core/clock.js";
import type { Random } from "../core/random.js";
import { deriveClusterKey } from "../core/seal.js";
import { formatAddress, parseAddress, UdpTransport } from "../core/udp-transport.js";
import {
  lanConfig,
  localConfig,
  type Member,
  type MemberEvent,
  Membership,
  type MembershipConfig,
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

/** A wildcard bind (0.0.0.0, ::) is not an address peers can use: advertise a real one. */
function advertiseHostFor(host: string): string {
  if (host !== "0.0.0.0" && host !== "::" && host !== "") return host;
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal && a.family === "IPv4") return a.address;
  }
  return "127.0.0.1";
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
  const id = randomBytes(10).toString("hex");
  writeFileSync(file, `${id}\n`);
  return id;
}

export interface MembershipDriverOptions {
  host: string;
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

/**
 * The impure shell around the pure `Membership`: a sealed UDP/TCP transport on the bus
 * port, one real timer armed at `nextWakeMs()`, and the messages and events `ready()`
 * returns after every call carried out (sent, logged).
 */
export class MembershipDriver {
  private timer: TimerHandle | null = null;
  private timerAtMs = Number.POSITIVE_INFINITY;
  private closed = false;
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
    transport.onMessage((from, data) => {
      if (this.closed) return;
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
    const advertise = advertiseHostFor(o.host);
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

  members(): Member[] {
    return this.membership.members();
  }

  /**
   * Joins through a member's Redis address: asks it for its bus port (CONFIG GET
   * cluster-port), then joins through host:busPort. Retries with backoff while the seed
   * does not answer; resolves false (logged) if it never does: the node runs alone.
   */
  async joinThrough(seed: string, password = ""): Promise<boolean> {
    const target = parseAddress(seed);
    if (target === null) {
      this.log.error({ seed }, "--join needs HOST:PORT (a member's Redis port)");
      return false;
    }
    let waitMs = seedRetryMsFirst;
    let lastError = "";
    for (let attempt = 1; attempt <= seedAttemptsMax && !this.closed; attempt++) {
      try {
        // Nodes of one cluster share their password: a seed that wants AUTH gets ours.
        const commands = [["CONFIG", "GET", "cluster-port"]];
        if (password !== "") commands.unshift(["AUTH", password]);
        const replies = await callAll(target, commands, 2000);
        const failed = replies.find((r) => r.kind === "error");
        if (failed !== undefined) throw new Error(String(failed.value));
        const reply = replies[replies.length - 1] as Reply;
        const busPort = busPortOf(reply);
        if (busPort === null) throw new Error(`unexpected reply to CONFIG GET cluster-port`);
        const bus = formatAddress(target.host, busPort);
        this.log.info({ seed, bus }, "joining the cluster");
        this.membership.join([bus], this.now());
        this.flush();
        return true;
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
        this.log.debug({ seed, attempt, reason: lastError }, "seed not answering yet");
      }
      await new Promise((r) => setTimeout(r, waitMs));
      waitMs = Math.min(seedRetryMsMax, waitMs * 2);
    }
    this.log.error(
      { seed, attempts: seedAttemptsMax, reason: lastError },
      "could not reach the seed to join; running alone until another node joins this one",
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

/** One command to a node's Redis port (as cli/client.ts's call, which server/ cannot use). */
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
