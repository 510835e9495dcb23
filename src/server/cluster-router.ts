import { moved } from "../cluster/replies.js";
import { slotOfKeys } from "../cluster/slots.js";
import type { Random } from "../core/random.js";
import { type CommandSpec, commandKeyIndexes } from "../kv/command-table.js";
import * as R from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";
import type { Client } from "./client.js";
import type { ClusterRuntime } from "./cluster.js";
import type { Forwarder } from "./forwarder.js";
import type { CommandRouter } from "./node.js";

/** What the router needs of a shard's state machine on this node (kv/machine.ts). */
export interface ShardReplica {
  /** The time of the last entry applied: a leader's entries never go back before it. */
  readonly lastNowMs: number;
  /** The reply of the command proposed at (index, term), once applied; rejects if it was lost. */
  expect(index: number, term: number): Promise<Reply>;
  newReadId(): number;
  /** Runs a read once read-index request `id` is applied here, at time `nowMs`. */
  read(id: number, args: readonly Uint8Array[], nowMs: number): Promise<Reply>;
}

/** How a client command becomes a log entry: its arguments, the leader's time and a seed. */
export type EncodeCommand = (args: readonly Buffer[], nowMs: number, seed: number) => Uint8Array;

/** How long a command waits for its shard to have a leader before TRYAGAIN. */
const leaderWaitMs = 2000;
/** Forwarding rounds when the leader moved meanwhile (each answers MOVED). */
const forwardRetriesMax = 3;

const crossSlot = R.error("CROSSSLOT Keys in request don't hash to the same slot");
const noLeader = R.error("TRYAGAIN the shard is electing a leader; retry shortly");

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
 *   - no leader (an election): waits up to 2 s for one, then TRYAGAIN. Never a wrong answer.
 */
export class ClusterRouter implements CommandRouter {
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
    const indexes = commandKeyIndexes(args) ?? [];
    if (indexes.length === 0) {
      // DBSIZE, KEYS, SCAN, RANDOMKEY, FLUSHALL: a cluster-wide answer needs every shard.
      return R.error(
        `ERR '${name}' spans every shard and is not supported by a cluster yet: ask per key`,
      );
    }
    const keys = indexes.map((i) => args.buf(i));
    const where = slotOfKeys(keys);
    if (where.kind === "crossslot") return crossSlot;
    const slot = where.kind === "slot" ? where.slot : 0;
    const copy: Buffer[] = [];
    for (let i = 0; i < args.length; i++) copy.push(Buffer.from(args.buf(i)));
    const write = spec.flags.includes("write");
    return this.run(client, slot, copy, write, 0);
  }

  private async run(
    client: Client,
    slot: number,
    args: Buffer[],
    write: boolean,
    round: number,
  ): Promise<Reply> {
    const group = this.cluster.shardOf(slot);
    if (group === null) return R.error("CLUSTERDOWN Hash slot not served");
    const deadline = Date.now() + leaderWaitMs;
    for (;;) {
      const multi = this.cluster.runtime.multi;
      const status = multi.status(group);
      if (status?.role === "leader") return this.local(client, group, args, write);
      const leader = this.cluster.leaderOf(group);
      const node = leader?.node;
      if (leader !== null && node !== undefined && leader.raftId !== this.cluster.raftId) {
        if (client.clusterAware || client.forwarded) return moved(slot, node);
        const reply = await this.forwarder.send(node.host, node.port, args);
        if (isRedirect(reply) && round < forwardRetriesMax) {
          await sleep(50 * (round + 1));
          return this.run(client, slot, args, write, round + 1);
        }
        return reply;
      }
      if (Date.now() > deadline) return noLeader;
      await sleep(25);
    }
  }

  private local(client: Client, group: number, args: Buffer[], write: boolean): Promise<Reply> {
    const runtime = this.cluster.runtime;
    const replica = this.replicaOf(group);
    if (replica === undefined) return Promise.resolve(noLeader);
    if (write) {
      const nowMs = Math.max(this.nowMs(), replica.lastNowMs);
      const data = this.encode(args, nowMs, this.random.int(2 ** 31));
      const r = runtime.multi.propose(group, data);
      if (!r.ok) return Promise.resolve(proposeRefused(r.reason));
      const done = replica.expect(r.index, r.term).catch(() => outcomeUnknown);
      this.writesOf(client).set(group, done);
      runtime.flushSoon();
      return done;
    }
    const before = this.writesOf(client).get(group);
    const read = async (): Promise<Reply> => {
      if (before !== undefined) await before;
      const id = replica.newReadId();
      const r = runtime.multi.readIndex(group, id);
      if (!r.ok) return noLeader;
      const reply = replica.read(id, args, this.nowMs()).catch(() => noLeader);
      runtime.flushSoon();
      return reply;
    };
    return read();
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

/** A write whose leader changed before it was applied: it may or may not have been. */
const outcomeUnknown = R.error(
  "TRYAGAIN the shard's leader changed before the write was applied; it may or may not have been",
);

function proposeRefused(reason: string): Reply {
  if (reason === "too-large") return R.error("ERR the command is too large for one log entry");
  if (reason === "overloaded") return R.error("TRYAGAIN the shard is overloaded; retry shortly");
  return noLeader;
}

function isRedirect(reply: Reply): boolean {
  if (reply.kind !== "error") return false;
  const text = String(reply.value);
  return text.startsWith("MOVED ") || text.startsWith("TRYAGAIN ");
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
