import type { RegisteredNode } from "../cluster/meta.js";
import { moved } from "../cluster/replies.js";
import { CROSS_SLOT, keyHashSlot, slotOfKeys } from "../cluster/slots.js";
import { assert } from "../core/assert.js";
import type { Random } from "../core/random.js";
import { COMMAND_SPECS, type CommandSpec, runSpec } from "../kv/command-table.js";
import { memoryKeyless, objectKeyless } from "../kv/keyspace.js";
import { mpopKeyless } from "../kv/lists.js";
import {
  decodeLogCommand,
  isInternal,
  ProposalLost,
  ReadAborted,
  slotKeysArgs,
} from "../kv/machine.js";
import { sintercardKeyless } from "../kv/sets.js";
import { xgroupKeyless, xinfoKeyless } from "../kv/streams.js";
import { decodeTransaction, encodeTransaction, type Watch } from "../kv/transaction.js";
import { zsetKeyless } from "../kv/zsets.js";
import { lanEntryBytesMax } from "../raft/config.js";
import { ArrayArgs } from "../resp/args.js";
import * as R from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";
import type { Client, QueuedCommand } from "./client.js";
import type { ClusterRuntime } from "./cluster.js";
import { type Forwarder, unreachablePrefix } from "./forwarder.js";
import type { CommandRouter } from "./node.js";
import { collect, commandSlot, sameSlot } from "./transactions.js";

/** What the router needs of a shard's state machine on this node (kv/machine.ts). */
export interface ShardReplica {
  /** The time of the last entry applied: a leader's entries never go back before it. */
  readonly lastNowMs: number;
  /**
   * The reply of the command proposed at (index, term), once applied; rejects with a
   * ProposalLost if it was lost, whose didNotRun says whether it may be run again.
   */
  expect(index: number, term: number): Promise<Reply>;
  newReadId(): number;
  /** Runs a read once read-index request `id` is applied here, at time `nowMs`. */
  read(id: number, args: readonly Uint8Array[], nowMs: number): Promise<Reply>;
}

/** How a client command becomes a log entry: its arguments, the leader's time and a seed. */
export type EncodeCommand = (args: readonly Buffer[], nowMs: number, seed: number) => Uint8Array;

/** How long a command waits for its shard to have a leader before TRYAGAIN. */
const leaderWaitMs = 2000;
/** How often a write refused by a leadership transfer looks again for the shard's leader. */
const transferPollMs = 50;
/** Forwarding rounds when the leader moved meanwhile (each answers MOVED). */
const forwardRetriesMax = 3;

const homeostatWord = Buffer.from("HOMEOSTAT");
const transactionWord = Buffer.from("TRANSACTION");
const fingerprintWord = Buffer.from("FINGERPRINT");
const slotKeysWord = Buffer.from("SLOTKEYS");

const crossSlot = R.error("CROSSSLOT Keys in request don't hash to the same slot");
const noLeader = R.error("TRYAGAIN the shard is electing a leader; retry shortly");
/** A read this node could not serve as the shard's leader: atLeader looks for one again. */
const notServedHere: unique symbol = Symbol("not served here");

/**
 * Runs a node's key-space commands on the shard that owns their keys (CommandRouter):
 *
 *   - keys in different slots: CROSSSLOT, as Redis Cluster;
 *   - we lead the shard: a write is proposed to its raft group and answered once applied
 *     (so once a quorum has it durably); a read goes through read-index, so it sees every
 *     write acknowledged before it began (linearizable), and waits for this client's own
 *     earlier writes to that shard, so a pipeline reads its writes;
 *   - another node leads it: a cluster-aware client (it asked for the slot map) gets
 *     MOVED; any other client's command is forwarded to the leader and answered from
 *     there, so redis-cli and redis-benchmark work against any node;
 *   - no leader (an election), or its node cannot be reached (restarting, or back on
 *     other ports not yet registered), or (a read) a leader not ready to serve it yet:
 *     waits up to 2 s, then TRYAGAIN. Never a wrong answer.
 */
export class ClusterRouter implements CommandRouter {
  /** Commands sent on to another node's leader (INFO's cluster_forwarded_commands). */
  forwarded = 0;
  /** Per client and shard, the last write proposed: a later read waits for it. */
  private readonly lastWrite = new WeakMap<Client, Map<number, Promise<unknown>>>();

  constructor(
    private readonly cluster: ClusterRuntime,
    private readonly replicaOf: (group: number) => ShardReplica | undefined,
    private readonly encode: EncodeCommand,
    private readonly forwarder: Forwarder,
    private readonly random: Random,
    private readonly nowMs: () => number,
  ) {}

  route(
    client: Client,
    name: string,
    spec: CommandSpec,
    args: Args,
  ): Reply | Promise<Reply> | null {
    // A container's (XGROUP's) flags and keys are its subcommand's.
    const own = runSpec(spec, args) ?? spec;
    const slot = commandSlot(own, args);
    // A command that may write without being flagged write (EVAL: Redis's may_replicate)
    // is one entry of its shard's log.
    const write = own.flags.includes("write") || own.hiddenFlags.includes("may_replicate");
    if (slot === null) {
      const copy = copyArgs(args, 0);
      switch (name) {
        case "eval":
        case "eval_ro":
        case "fcall":
        case "fcall_ro":
          // A script that names no key runs on slot 0's shard (Redis Cluster runs it on the
          // node it is sent to); the keys it touches must be there.
          return this.run(client, 0, args, write);
        case "dbsize":
        case "keys":
          return this.everyShard(client, name, this.ledShardIds(), copy, write);
        case "flushall":
        case "flushdb":
          return this.everyShard(client, name, this.shardIds(), copy, write);
        case "scan":
          return this.scan(client, copy);
        case "randomkey":
          return this.randomKey(client, copy);
        case "memory":
          return memoryKeyless(args);
        case "object":
          return objectKeyless(args);
        case "xinfo":
          return xinfoKeyless(args);
        case "xgroup":
          return xgroupKeyless(args);
        case "sintercard":
          return sintercardKeyless(args);
        case "lmpop":
        case "blmpop":
          return mpopKeyless(name, args);
        case "zmpop":
        case "bzmpop":
        case "zunion":
        case "zinter":
        case "zdiff":
        case "zintercard":
          return zsetKeyless(name, args);
        default:
          return R.error(`ERR '${name}' is not supported by a sharded cluster`);
      }
    }
    if (slot === CROSS_SLOT) return crossSlot;
    return this.run(client, slot, args, write);
  }

  /**
   * Runs `args` on `slot`'s shard. A client that follows redirects (or another node
   * forwarding) is sent MOVED to the leader; with `redirect` false only another node is
   * (a CLUSTER command, which Redis Cluster never redirects).
   */
  private run(
    client: Client,
    slot: number,
    args: Args,
    write: boolean,
    redirect = true,
  ): Promise<Reply> {
    const group = this.cluster.shardOf(slot);
    if (group === null) return Promise.resolve(R.error("CLUSTERDOWN Hash slot not served"));
    const away = (node: RegisteredNode) =>
      client.forwarded || (redirect && client.clusterAware) ? moved(slot, node) : null;
    if (write && this.cluster.runtime.multi.leads(group)) {
      // Most writes: proposed here and now, the arguments copied once, into the entry.
      const views: Buffer[] = [];
      for (let i = 0; i < args.length; i++) views.push(args.buf(i));
      return this.rememberWrite(client, group, true, this.propose(client, group, views, 0, away));
    }
    const copy = copyArgs(args, 0);
    return this.rememberWrite(
      client,
      group,
      write,
      this.atLeader(client, group, copy, write, away, copy),
    );
  }

  /**
   * A command run on one shard, whichever node leads it (HOMEOSTAT SHARD, and the
   * cluster-wide commands below): locally on its leader, else forwarded there as
   * HOMEOSTAT SHARD.
   */
  onShard(client: Client, group: number, args: Buffer[], write: boolean): Promise<Reply> {
    if (!this.shardIds().includes(group)) return Promise.resolve(R.error(`ERR no shard ${group}`));
    // A forwarded request that finds us not leading says so; the sender asks again.
    const away = () => (client.forwarded ? notLeading : null);
    const wrapped = [Buffer.from("HOMEOSTAT"), Buffer.from("SHARD"), Buffer.from(String(group))];
    const reply = this.atLeader(client, group, args, write, away, [...wrapped, ...args]);
    return this.rememberWrite(client, group, write, reply);
  }

  /**
   * A write's reply is what this client's later reads of the shard wait for (local): the
   * whole of it, with the runs again that atLeader may make, forwarded ones included.
   */
  private rememberWrite(
    client: Client,
    group: number,
    write: boolean,
    reply: Promise<Reply>,
  ): Promise<Reply> {
    if (write) this.writesOf(client).set(group, reply);
    return reply;
  }

  /**
   * Runs `args` on `group`'s leader: here if we lead it; else `away(leader)` answers at
   * once, or (null) `forward` is sent to the leader, again up to forwardRetriesMax times
   * when its answer allows (mayRetry: its leadership moved meanwhile, and the command did
   * not run or is a read). Waits up to leaderWaitMs for a leader each round, then TRYAGAIN.
   */
  private async atLeader(
    client: Client,
    group: number,
    args: readonly Buffer[],
    write: boolean,
    away: (leader: RegisteredNode) => Reply | null,
    forward: readonly Buffer[],
    firstRound = 0,
    transferUntil?: number,
  ): Promise<Reply> {
    // A leader that cannot be reached (a node restarting, whose new address the registry
    // does not have yet) is waited for as long as a missing one, asking the registry again.
    const reachableBy = Date.now() + leaderWaitMs;
    for (let round = firstRound; ; round++) {
      const deadline = Date.now() + leaderWaitMs;
      let node: RegisteredNode | undefined;
      while (node === undefined) {
        if (this.cluster.runtime.multi.leads(group)) {
          if (write) return this.propose(client, group, args, round, away, forward, transferUntil);
          const reply = await this.read(client, group, args);
          if (reply !== notServedHere) return reply;
          // A leader not ready to serve reads yet (elected, its first entry not committed)
          // or one that lost the role before the read was served: the read had no effect,
          // so it is made again, here or at the next leader, until the deadline.
          if (Date.now() > deadline) return noLeader;
          await sleep(10);
          continue;
        }
        const leader = this.cluster.leaderOf(group);
        if (leader !== null && leader.raftId !== this.cluster.raftId) node = leader.node;
        if (node !== undefined) break;
        if (Date.now() > deadline) return noLeader;
        await sleep(25);
      }
      const answer = away(node);
      if (answer !== null) return answer;
      this.forwarded += 1;
      const reply = await this.forwarder.send(node.host, node.port, forward, client.protocol);
      if (!mayRetry(reply, write)) return reply;
      const waitMore = isUnreachable(reply) && Date.now() < reachableBy;
      if (round >= forwardRetriesMax && !waitMore) return reply;
      await sleep(Math.min(50 * (round + 1), 200));
    }
  }

  // ---- MULTI/EXEC and WATCH (transactions.ts) ----------------------------------------------

  /**
   * A key-space command queued after MULTI: its keys in one slot (keyless ones, which
   * span shards, are refused), and a client that follows redirects is sent MOVED when
   * another node leads that slot's shard, as Redis Cluster does (EXEC then aborts, and
   * ioredis sends the whole transaction again there).
   */
  queued(client: Client, name: string, slot: number | null): Reply | null {
    if (slot === null) {
      return R.error(`ERR '${name}' inside MULTI is not supported by a sharded cluster`);
    }
    if (slot === CROSS_SLOT) return crossSlot;
    if (!client.clusterAware && !client.forwarded) return null;
    const group = this.cluster.shardOf(slot);
    if (group === null || this.cluster.runtime.multi.leads(group)) return null;
    const leader = this.cluster.leaderOf(group);
    if (leader === null || leader.raftId === this.cluster.raftId || leader.node === undefined) {
      return null;
    }
    return moved(slot, leader.node);
  }

  /**
   * EXEC: the key-space commands and the watches go to their shard as ONE entry (HOMEOSTAT
   * TRANSACTION, run by kv/machine.ts), proposed here or forwarded to the leader like any
   * write; every key they name must be in one slot. The other commands (PING, INFO...)
   * run here. A null array (a watched key changed) or an error of the shard's is EXEC's
   * answer; otherwise the replies in the order the commands were queued.
   */
  async exec(
    client: Client,
    commands: readonly QueuedCommand[],
    watchesReady: Promise<readonly Watch[]>,
    runHere: (q: QueuedCommand) => Reply | Promise<Reply>,
  ): Promise<Reply> {
    const watches = await watchesReady;
    const slots = commands.map((q) => q.slot).filter((s) => s !== null);
    for (const w of watches) slots.push(keyHashSlot(w.key));
    const slot = sameSlot(slots);
    if (slot === null) return collect(commands.map(runHere));
    if (slot === CROSS_SLOT) return crossSlot;
    const body = encodeTransaction({
      watches,
      commands: commands.filter((q) => q.slot !== null).map((q) => q.args),
    });
    const args = new ArrayArgs([homeostatWord, transactionWord, Buffer.from(body)]);
    const shard = await this.run(client, slot, args, true);
    if (shard.kind !== "array") return shard;
    const replies: (Reply | Promise<Reply>)[] = [];
    let k = 0;
    for (const q of commands)
      replies.push(q.slot === null ? runHere(q) : (shard.value[k++] as Reply));
    return collect(replies);
  }

  /** WATCH: the keys' fingerprints as their shard's leader reads them now (read-index). */
  async watch(client: Client, keys: Buffer[]): Promise<readonly Watch[] | Reply> {
    const slot = slotOfKeys(
      new ArrayArgs(keys),
      keys.map((_, i) => i),
    );
    if (slot === CROSS_SLOT) return crossSlot;
    const args = new ArrayArgs([homeostatWord, fingerprintWord, ...keys]);
    const reply = await this.run(client, slot, args, false);
    if (reply.kind !== "array" || reply.value.length !== keys.length) return reply;
    return keys.map((key, i) => {
      const f = reply.value[i] as Reply;
      return { key, fingerprint: f.kind === "bulk" ? Buffer.from(f.value) : null };
    });
  }

  /**
   * CLUSTER COUNTKEYSINSLOT (`max` undefined) and GETKEYSINSLOT: a read on the slot's
   * shard (HOMEOSTAT SLOTKEYS), here or forwarded to its leader, whatever node the client
   * asked. Redis Cluster answers for the node's own slots only, 0 and none for the others.
   */
  slotKeys(client: Client, slot: number, max: number | undefined): Promise<Reply> {
    const args = [homeostatWord, slotKeysWord, Buffer.from(String(slot))];
    if (max !== undefined) args.push(Buffer.from(String(max)));
    return this.run(client, slot, new ArrayArgs(args), false, false);
  }

  /** A transaction, a fingerprint or a slot's keys forwarded by another node: run where it is led. */
  internal(client: Client, args: Buffer[]): Promise<Reply> {
    const inner = new ArrayArgs(args);
    if (isInternal(inner, "slotkeys")) {
      const a = slotKeysArgs(inner);
      if (a === null)
        return Promise.resolve(R.error("ERR syntax: HOMEOSTAT SLOTKEYS <slot> [<max>]"));
      return this.run(client, a.slot, inner, false);
    }
    if (isInternal(inner, "fingerprint")) {
      const slot = slotOfKeys(
        inner,
        args.slice(2).map((_, i) => i + 2),
      );
      if (slot === CROSS_SLOT) return Promise.resolve(crossSlot);
      return this.run(client, slot, inner, false);
    }
    const decoded = decodeTransaction(args[2] as Buffer);
    if (args.length !== 3 || !decoded.ok) return Promise.resolve(R.error("ERR bad transaction"));
    const slots = decoded.value.watches.map((w) => keyHashSlot(w.key));
    for (const parts of decoded.value.commands) {
      const cmd = new ArrayArgs(parts);
      const spec = COMMAND_SPECS.get(cmd.lower(0));
      const s = spec === undefined ? null : commandSlot(spec, cmd);
      if (s !== null) slots.push(s);
    }
    const slot = sameSlot(slots);
    if (slot === null) return Promise.resolve(R.error("ERR bad transaction"));
    if (slot === CROSS_SLOT) return Promise.resolve(crossSlot);
    return this.run(client, slot, inner, true);
  }

  private shardIds(): number[] {
    return this.cluster.meta
      .shardMap()
      .shards.map((s) => s.id)
      .sort((a, b) => a - b);
  }

  /** The shards this node leads now: its share of the key space, as a Redis Cluster primary's. */
  private ledShardIds(): number[] {
    const multi = this.cluster.runtime.multi;
    return this.shardIds().filter((g) => multi.leads(g));
  }

  /**
   * Runs a keyless command on each of `ids` at once: DBSIZE (the sum) and KEYS (every
   * shard's, concatenated) on the shards this node leads, FLUSHALL and FLUSHDB (OK once
   * every shard has flushed; each shard's flush is atomic, the whole is not) on all of
   * them. Any shard's error is the answer.
   *
   * DBSIZE and KEYS answer for this node's share, as a Redis Cluster node does: cluster
   * clients follow the command tips (`REQUEST_POLICY:ALL_SHARDS`, DBSIZE's
   * `RESPONSE_POLICY:AGG_SUM`) and send them to every primary, then add the replies up
   * (node-redis does); an answer for the whole key space from each would be counted once
   * per node. A flush of everything from each primary flushes the same key space again.
   */
  private async everyShard(
    client: Client,
    name: string,
    ids: readonly number[],
    args: Buffer[],
    write: boolean,
  ): Promise<Reply> {
    const replies = await Promise.all(ids.map((g) => this.onShard(client, g, args, write)));
    const failed = replies.find((r) => r.kind === "error");
    if (failed !== undefined) return failed;
    if (name === "dbsize") {
      let total = 0;
      for (const r of replies) if (r.kind === "integer") total += Number(r.value);
      return R.integer(total);
    }
    if (name === "keys") {
      const all: Reply[] = [];
      for (const r of replies) if (r.kind === "array" && r.value !== null) all.push(...r.value);
      return R.array(all);
    }
    return R.OK;
  }

  /**
   * SCAN over the shards this node leads (its share, as DBSIZE and KEYS: cluster clients
   * scan every primary in turn), one shard after the other in shard order. The cursor is
   * inner × shards + the shard's position among all shards, where inner is the shard's
   * own SCAN cursor (0 starts a shard), so the cursor alone carries the iteration, as
   * Redis requires; the shard count never changes (no splits). A shard not led here is
   * skipped when its turn comes; one begun here is finished wherever it is led now, so a
   * leadership that moves away mid-shard loses none of its keys (Redis allows a key to be
   * returned twice, not to be missed). A shard that moves here after its turn is left to
   * the node that led it then, as keys that change hands during a Redis Cluster scan are.
   */
  private async scan(client: Client, args: Buffer[]): Promise<Reply> {
    const ids = this.shardIds();
    const n = BigInt(ids.length);
    const cursor = parseCursorArg(args[1] as Buffer);
    if (cursor === undefined || n === 0n) return R.error("ERR invalid cursor");
    let position = Number(cursor % n);
    const inner = cursor / n;
    if (inner === 0n) {
      const multi = this.cluster.runtime.multi;
      while (position < ids.length && !multi.leads(ids[position] as number)) position += 1;
      if (position === ids.length) return R.array([R.bulk("0"), R.EMPTY_ARRAY]);
    }
    const sub = [...args];
    sub[1] = Buffer.from(inner.toString());
    const reply = await this.onShard(client, ids[position] as number, sub, false);
    if (reply.kind !== "array" || reply.value === null || reply.value.length !== 2) return reply;
    const [next, keys] = reply.value as [Reply, Reply];
    const nextInner = next.kind === "bulk" && next.value !== null ? BigInt(String(next.value)) : 0n;
    let outer: bigint;
    if (nextInner !== 0n) outer = nextInner * n + BigInt(position);
    else outer = position + 1 < ids.length ? BigInt(position + 1) : 0n;
    return R.array([R.bulk(outer.toString()), keys]);
  }

  /** RANDOMKEY: shards in a random order until one has a key. */
  private async randomKey(client: Client, args: Buffer[]): Promise<Reply> {
    const ids = this.shardIds();
    for (let i = ids.length - 1; i > 0; i--) {
      const j = this.random.int(i + 1);
      [ids[i], ids[j]] = [ids[j] as number, ids[i] as number];
    }
    for (const g of ids) {
      const reply = await this.onShard(client, g, args, false);
      if (reply.kind === "error" || (reply.kind === "bulk" && reply.value !== null)) return reply;
    }
    return R.NULL;
  }

  /**
   * Proposes a write to `group`, which we lead, and answers once it is applied. A write
   * whose leadership moved before it was applied, and that did not run, is run again where
   * the shard is led now (atLeader: here again, forwarded, or MOVED), for rounds up to
   * forwardRetriesMax. `forward` is what a forward sends; by default the write itself, as
   * its entry holds it (`args` are views that die with the caller's turn). A leadership
   * on its way elsewhere is waited for until `transferUntil` (set at the first refusal,
   * leaderWaitMs later).
   */
  private propose(
    client: Client,
    group: number,
    args: readonly Buffer[],
    round: number,
    away: (leader: RegisteredNode) => Reply | null,
    forward?: readonly Buffer[],
    transferUntil?: number,
  ): Promise<Reply> {
    const runtime = this.cluster.runtime;
    const replica = this.replicaOf(group);
    if (replica === undefined) return Promise.resolve(noLeader);
    const nowMs = Math.max(this.nowMs(), replica.lastNowMs);
    const data = this.encode(args, nowMs, this.random.int(2 ** 31));
    const r = runtime.multi.propose(group, data);
    if (!r.ok) {
      // A leadership on its way to another node (a transfer: the controller spreading
      // leaders, or this node stopping) settles in a round trip or two, or once the
      // transferee has caught up (longer after a restart): the write waits for it, up to
      // leaderWaitMs, and goes where the shard is led then, instead of a TRYAGAIN that a
      // plain client does not retry. A transfer that fails ends in an election timeout.
      const until = transferUntil ?? Date.now() + leaderWaitMs;
      if (r.reason !== "transferring" || Date.now() >= until) {
        return Promise.resolve(proposeRefused(r.reason));
      }
      const again = argsOfEntry(data);
      // The same round: waiting out a transfer is no run again.
      return sleep(transferPollMs).then(() =>
        this.atLeader(client, group, again, true, away, forward ?? again, round, until),
      );
    }
    const done = replica.expect(r.index, r.term).catch((e: unknown) => {
      if (!(e instanceof ProposalLost && e.didNotRun)) return outcomeUnknown;
      if (round >= forwardRetriesMax) return notRun;
      const again = argsOfEntry(data);
      return this.atLeader(client, group, again, true, away, forward ?? again, round + 1);
    });
    runtime.flushSoon();
    return done;
  }

  /**
   * A read of `group`, which we lead, through read-index; after this client's last write
   * to the shard, so a pipeline reads its writes.
   */
  private async read(
    client: Client,
    group: number,
    args: readonly Buffer[],
  ): Promise<Reply | typeof notServedHere> {
    const runtime = this.cluster.runtime;
    const replica = this.replicaOf(group);
    if (replica === undefined) return notServedHere;
    const before = this.writesOf(client).get(group);
    if (before !== undefined) await before;
    const id = replica.newReadId();
    const r = runtime.multi.readIndex(group, id);
    if (!r.ok) {
      if (r.reason === "stalled") return logUnwritable;
      if (r.reason === "overloaded") return proposeRefused(r.reason);
      return notServedHere;
    }
    const reply = replica
      .read(id, args, this.nowMs())
      .catch((e: unknown) =>
        e instanceof ReadAborted && e.reason === "leadership-lost" ? notServedHere : noLeader,
      );
    runtime.flushSoon();
    return reply;
  }

  /**
   * WAIT numreplicas timeout: how many of the other voters of each shard this client wrote
   * to have its writes, the fewest over those shards, once that reaches `numreplicas` or
   * `timeoutMs` passes (0: no limit). A shard's count is asked of its leader (HOMEOSTAT
   * ACKED): at the first ask, the shard's commit index, which covers the client's writes
   * (each was committed before it was answered), then how many other voters have their log
   * up to it. A shard whose leader cannot say counts none meanwhile. A client that wrote
   * nothing gets the fewest other voters a shard has.
   */
  async wait(client: Client, numreplicas: number, timeoutMs: number): Promise<Reply> {
    const writes = this.lastWrite.get(client);
    if (writes === undefined || writes.size === 0) {
      const others = this.cluster.meta.state.shardMap.shards.map((sh) => sh.replicas.length - 1);
      return R.integer(others.length === 0 ? 0 : Math.max(0, Math.min(...others)));
    }
    // Writes still in flight are answered first, as they come before the WAIT.
    await Promise.allSettled(writes.values());
    const groups = [...writes.keys()];
    const targets = new Map<number, number>();
    const until = timeoutMs === 0 ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
    for (let round = 0; ; round++) {
      let fewest = Number.POSITIVE_INFINITY;
      for (const group of groups) {
        const at = await this.ackedAt(group, targets.get(group));
        if (at === null) {
          fewest = 0;
          continue;
        }
        targets.set(group, at.index);
        fewest = Math.min(fewest, at.acked);
      }
      if (fewest >= numreplicas || Date.now() >= until || client.socket.destroyed) {
        return R.integer(fewest);
      }
      // Every 10 ms for the first 100 (a heartbeat brings the other follower up to date),
      // then every 50: a WAIT for more replicas than a shard has asks until its timeout.
      await sleep(Math.min(round < 10 ? 10 : 50, Math.max(0, until - Date.now())));
    }
  }

  /**
   * On this node, if it leads `group`: `index` (default: the commit index) and how many of
   * the group's other voters have their log up to it; null when it does not lead it.
   */
  ackedHere(group: number, index?: number): { index: number; acked: number } | null {
    const multi = this.cluster.runtime.multi;
    const raft = multi.raftOf(group);
    const status = multi.status(group);
    if (raft === undefined || status === null || status.role !== "leader") return null;
    const at = index ?? status.commit;
    let acked = 0;
    for (const id of raft.confState().voters) {
      if (id === this.cluster.raftId) continue;
      if ((raft.progressOf(id)?.match ?? 0) >= at) acked++;
    }
    return { index: at, acked };
  }

  /** ackedHere on `group`'s leader, here or asked over its Redis port; null if unknown. */
  private async ackedAt(
    group: number,
    index: number | undefined,
  ): Promise<{ index: number; acked: number } | null> {
    if (this.cluster.runtime.multi.leads(group)) return this.ackedHere(group, index);
    const leader = this.cluster.leaderOf(group);
    if (leader === null || leader.node === undefined) return null;
    const args = ["HOMEOSTAT", "ACKED", String(group)];
    if (index !== undefined) args.push(String(index));
    const reply = await this.forwarder.send(
      leader.node.host,
      leader.node.port,
      args.map((a) => Buffer.from(a)),
    );
    if (reply.kind !== "array" || reply.value.length !== 2) return null;
    const [i, n] = reply.value.map((r) => (r.kind === "integer" ? Number(r.value) : Number.NaN));
    return Number.isSafeInteger(i) && Number.isSafeInteger(n)
      ? { index: i as number, acked: n as number }
      : null;
  }

  private writesOf(client: Client): Map<number, Promise<unknown>> {
    let m = this.lastWrite.get(client);
    if (m === undefined) {
      m = new Map();
      this.lastWrite.set(client, m);
    }
    return m;
  }
}

/**
 * A write whose leader changed before it was applied: it may or may not have been. Not
 * TRYAGAIN, which says a command did not run: cluster clients (ioredis) send a TRYAGAIN
 * command again by themselves, and a write that had run would run twice (an INCR
 * counted twice). UNCERTAIN is no code of Redis's, so clients pass it to the caller.
 */
const uncertainCode = "UNCERTAIN ";
export const outcomeUnknownText = `${uncertainCode}the shard's leader changed before the write was applied; it may or may not have been`;
const outcomeUnknown = R.error(outcomeUnknownText);
/**
 * A write that lost its place in the log to another leader's entry: it did not run. The
 * router runs it again (atLeader); a client that still gets this may retry it, as any
 * TRYAGAIN.
 */
const notRun = R.error(
  "TRYAGAIN the shard's leader changed before the write was applied; it did not run",
);

/** raft's maxEntryBytes refused the command (the command and a few bytes of framing). */
const commandTooLarge = R.error(
  `ERR the command is too large for one log entry (at most ${lanEntryBytesMax / (1024 * 1024)} MiB on a cluster)`,
);

function proposeRefused(reason: string): Reply {
  if (reason === "too-large") return commandTooLarge;
  if (reason === "overloaded") return R.error("TRYAGAIN the shard is overloaded; retry shortly");
  if (reason === "stalled") return logUnwritable;
  return noLeader;
}

/** This node's raft logs cannot be written (MultiRaft.stalled): nothing was proposed. */
const logUnwritable = R.error(
  "MISCONF Errors writing to disk: this node cannot write its raft log, so the command " +
    "was not run. The shard's other replicas take over; this node resumes by itself " +
    "once its disk accepts writes again.",
);

const notLeading = R.error("TRYAGAIN this node does not lead the shard any more");

/** The arguments of a write's own entry (views into it), to run it again. */
function argsOfEntry(data: Uint8Array): Buffer[] {
  const d = decodeLogCommand(data);
  assert(d.ok && d.value.kind === "command", "router: a write's entry does not decode");
  return d.value.args.map((a) => Buffer.from(a.buffer, a.byteOffset, a.length));
}

/** Arguments `from`.. as Buffers of their own (the parser's buffers are reused). */
export function copyArgs(args: Args, from: number): Buffer[] {
  const copy: Buffer[] = [];
  for (let i = from; i < args.length; i++) copy.push(Buffer.from(args.buf(i)));
  return copy;
}

/** A SCAN cursor as redis-cli sends it: decimal digits; undefined when malformed. */
function parseCursorArg(b: Buffer): bigint | undefined {
  const text = b.toString("latin1");
  if (!/^\d{1,20}$/.test(text)) return undefined;
  return BigInt(text);
}

/** The forwarder's answer when the leader's node refused or dropped the connection. */
function isUnreachable(reply: Reply): boolean {
  return reply.kind === "error" && String(reply.value).startsWith(unreachablePrefix);
}

/**
 * Whether the router may send a forwarded command again after this answer: a redirect
 * (MOVED, TRYAGAIN: it did not run), or an UNCERTAIN one (it may have run: the leader
 * lost the role after proposing it, or the forward's connection was lost with it in
 * flight) for a read only. A write sent again could run twice: CI's SIGKILL test caught
 * a SET applied again after later ones when every TRYAGAIN was retried.
 */
export function mayRetry(reply: Reply, write: boolean): boolean {
  if (isRedirect(reply)) return true;
  return !write && reply.kind === "error" && String(reply.value).startsWith(uncertainCode);
}

function isRedirect(reply: Reply): boolean {
  if (reply.kind !== "error") return false;
  const text = String(reply.value);
  return text.startsWith("MOVED ") || text.startsWith("TRYAGAIN ");
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
