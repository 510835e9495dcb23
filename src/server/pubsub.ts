import { GlobPattern } from "../kv/glob.js";
import * as R from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";
import type { Client } from "./client.js";

/**
 * Pub/Sub, as Redis 7.0 and Redis Cluster serve it: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE,
 * PUNSUBSCRIBE, PUBLISH and PUBSUB CHANNELS | NUMSUB | NUMPAT.
 *
 * Messages are not stored and not replicated: a message reaches the clients subscribed
 * when it is published, on this node and, in a sharded cluster, on every other node (the
 * node that receives PUBLISH sends it once to each member over the bus, as a Redis
 * Cluster node does); a client that is disconnected then misses it, as with Redis.
 * PUBLISH answers the number of clients of THIS node that received it, and PUBSUB counts
 * this node's subscriptions, as in Redis Cluster.
 *
 * In RESP2 a subscribed client may only (un)subscribe, PING, QUIT and RESET; in RESP3 it
 * may run any command, and messages arrive as push replies between its replies.
 */
export class PubSub {
  /** Channel (latin1) → its subscribers. */
  private readonly channels = new Map<string, Set<Client>>();
  /** Pattern (latin1) → its subscribers, and its compiled form while it has any. */
  private readonly patterns = new Map<string, Set<Client>>();
  private readonly globs = new Map<string, GlobPattern>();
  /** Shard channel (latin1; SSUBSCRIBE) → its subscribers; a namespace of its own. */
  private readonly shardChannels = new Map<string, Set<Client>>();
  /** The three namespaces: which map, which of the client's sets, the reply kinds. */
  private readonly spaces: Record<SpaceName, Space> = {
    channel: {
      subscribers: this.channels,
      mine: (c) => c.channels,
      kinds: ["subscribe", "unsubscribe"],
      count: (c) => c.channels.size + c.patterns.size,
    },
    pattern: {
      subscribers: this.patterns,
      mine: (c) => c.patterns,
      kinds: ["psubscribe", "punsubscribe"],
      count: (c) => c.channels.size + c.patterns.size,
    },
    shard: {
      subscribers: this.shardChannels,
      mine: (c) => c.shardChannels,
      kinds: ["ssubscribe", "sunsubscribe"],
      count: (c) => c.shardChannels.size,
    },
  };

  /** Messages published here or received from other nodes, and deliveries made. */
  readonly stats = { published: 0, received: 0, delivered: 0 };

  /**
   * @param deliver sends a push reply to a client, in order with its other replies
   * @param broadcast sends a message published here to the other nodes (sharded mode)
   */
  constructor(
    private readonly deliver: (client: Client, reply: Reply) => void,
    private broadcast: Broadcast | null = null,
  ) {}

  /** The largest channel plus message the broadcast carries (the bus's message bound). */
  private broadcastBytesMax = Number.POSITIVE_INFINITY;

  setBroadcast(broadcast: Broadcast | null, bytesMax = Number.POSITIVE_INFINITY): void {
    this.broadcast = broadcast;
    this.broadcastBytesMax = bytesMax;
  }

  /** Why PUBLISH cannot carry this message to every node, or null when it can. */
  refusal(channel: Buffer, message: Buffer): string | null {
    const bytes = channel.length + message.length;
    if (this.broadcast === null || bytes <= this.broadcastBytesMax) return null;
    return (
      `ERR the channel and message are ${bytes} bytes; a cluster's Pub/Sub carries at ` +
      `most ${this.broadcastBytesMax} between nodes`
    );
  }

  /**
   * SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE: one confirmation per name (with the client's count
   * of subscriptions, as Redis), all but the last delivered now, the last returned.
   */
  subscribe(client: Client, args: Args, space: SpaceName): Reply {
    const s = this.spaces[space];
    const mine = s.mine(client);
    let last: Reply = R.NULL;
    for (let i = 1; i < args.length; i++) {
      const name = args.buf(i).toString("latin1");
      if (!mine.has(name)) {
        mine.add(name);
        join(s.subscribers, name, client);
        if (space === "pattern" && !this.globs.has(name)) {
          this.globs.set(name, new GlobPattern(Buffer.from(name, "latin1")));
        }
      }
      if (i > 1) this.deliver(client, last);
      last = push(s.kinds[0], Buffer.from(name, "latin1"), s.count(client));
    }
    return last;
  }

  /**
   * UNSUBSCRIBE, PUNSUBSCRIBE, SUNSUBSCRIBE: the names given, or every one the client has
   * there; one confirmation each (one with a null name when it had none), all but the
   * last delivered now.
   */
  unsubscribe(client: Client, args: Args, space: SpaceName): Reply {
    const s = this.spaces[space];
    const names: string[] = [];
    if (args.length > 1) {
      for (let i = 1; i < args.length; i++) names.push(args.buf(i).toString("latin1"));
    } else {
      names.push(...s.mine(client));
    }
    if (names.length === 0) return push(s.kinds[1], null, s.count(client));
    let last: Reply = R.NULL;
    for (const [i, name] of names.entries()) {
      this.drop(client, name, space);
      if (i > 0) this.deliver(client, last);
      last = push(s.kinds[1], Buffer.from(name, "latin1"), s.count(client));
    }
    return last;
  }

  /** Everything `client` subscribed to goes (RESET, a closed connection). */
  forget(client: Client): void {
    for (const space of spaceNames) {
      for (const name of [...this.spaces[space].mine(client)]) this.drop(client, name, space);
    }
  }

  /** PUBLISH here: delivered on this node, sent to the others; this node's receivers. */
  publish(channel: Buffer, message: Buffer): number {
    this.stats.published++;
    this.broadcast?.(channel, message, false);
    return this.deliverHere(channel, message);
  }

  /** SPUBLISH here: as PUBLISH, to the shard channels' subscribers. */
  spublish(channel: Buffer, message: Buffer): number {
    this.stats.published++;
    this.broadcast?.(channel, message, true);
    return this.deliverShard(channel, message);
  }

  /** A message another node published (SPUBLISH: `shard`): to this node's subscribers. */
  received(channel: Buffer, message: Buffer, shard = false): void {
    this.stats.received++;
    if (shard) this.deliverShard(channel, message);
    else this.deliverHere(channel, message);
  }

  /**
   * A message for this node's channel and pattern subscribers only (PUBLISH's local part,
   * keyspace notifications); the number of receivers.
   */
  deliverHere(channel: Buffer, message: Buffer): number {
    let receivers = 0;
    const subscribers = this.channels.get(channel.toString("latin1"));
    if (subscribers !== undefined) {
      const reply = R.push([R.bulk("message"), R.bulk(channel), R.bulk(message)]);
      for (const c of subscribers) this.deliver(c, reply);
      receivers += subscribers.size;
    }
    for (const [name, glob] of this.globs) {
      if (!glob.matches(channel)) continue;
      const clients = this.patterns.get(name) as Set<Client>;
      const reply = R.push([
        R.bulk("pmessage"),
        R.bulk(Buffer.from(name, "latin1")),
        R.bulk(channel),
        R.bulk(message),
      ]);
      for (const c of clients) this.deliver(c, reply);
      receivers += clients.size;
    }
    this.stats.delivered += receivers;
    return receivers;
  }

  /** PUBSUB CHANNELS / SHARDCHANNELS [pattern]: those with a subscriber on this node. */
  activeChannels(pattern: Buffer | undefined, shard: boolean): Reply {
    const glob = pattern === undefined ? null : new GlobPattern(pattern);
    const out: Reply[] = [];
    for (const name of (shard ? this.shardChannels : this.channels).keys()) {
      const b = Buffer.from(name, "latin1");
      if (glob === null || glob.matches(b)) out.push(R.bulk(b));
    }
    return R.array(out);
  }

  /** PUBSUB NUMSUB / SHARDNUMSUB: each channel asked, then its subscribers on this node. */
  numsub(asked: readonly Buffer[], shard: boolean): Reply {
    const channels = shard ? this.shardChannels : this.channels;
    const out: Reply[] = [];
    for (const c of asked) {
      out.push(R.bulk(c), R.integer(channels.get(c.toString("latin1"))?.size ?? 0));
    }
    return R.array(out);
  }

  /** Channels with a subscriber on this node (INFO's pubsub_channels). */
  channelTotal(): number {
    return this.channels.size;
  }

  /** PUBSUB NUMPAT: distinct patterns subscribed on this node. */
  numpat(): number {
    return this.patterns.size;
  }

  private deliverShard(channel: Buffer, message: Buffer): number {
    const subscribers = this.shardChannels.get(channel.toString("latin1"));
    if (subscribers === undefined) return 0;
    const reply = R.push([R.bulk("smessage"), R.bulk(channel), R.bulk(message)]);
    for (const c of subscribers) this.deliver(c, reply);
    this.stats.delivered += subscribers.size;
    return subscribers.size;
  }

  private drop(client: Client, name: string, space: SpaceName): void {
    const s = this.spaces[space];
    if (!s.mine(client).delete(name)) return;
    leave(s.subscribers, name, client);
    if (space === "pattern" && !this.patterns.has(name)) this.globs.delete(name);
  }
}

export type SpaceName = "channel" | "pattern" | "shard";
const spaceNames: readonly SpaceName[] = ["channel", "pattern", "shard"];

/** One namespace of subscriptions (see PubSub.spaces). */
interface Space {
  readonly subscribers: Map<string, Set<Client>>;
  /** The client's own names there (kept on the Client, for CLIENT LIST and RESP2's rule). */
  readonly mine: (client: Client) => Set<string>;
  /** Its confirmations: [subscribe, unsubscribe]. */
  readonly kinds: readonly [string, string];
  /** The count its confirmations carry. */
  readonly count: (client: Client) => number;
}

/** Adds `client` to the subscribers of channel `name`. */
function join(channels: Map<string, Set<Client>>, name: string, client: Client): void {
  let set = channels.get(name);
  if (set === undefined) {
    set = new Set();
    channels.set(name, set);
  }
  set.add(client);
}

/** Removes `client` from the subscribers of channel `name`; a channel left empty goes. */
function leave(channels: Map<string, Set<Client>>, name: string, client: Client): void {
  const set = channels.get(name);
  set?.delete(client);
  if (set !== undefined && set.size === 0) channels.delete(name);
}

/** Sends a message published here to the other nodes; `shard`: an SPUBLISH. */
export type Broadcast = (channel: Buffer, message: Buffer, shard: boolean) => void;

/** A (un)subscribe confirmation: [kind, name or null, subscriptions left]. */
function push(kind: string, name: Buffer | null, count: number): Reply {
  return R.push([R.bulk(kind), name === null ? R.NULL : R.bulk(name), R.integer(count)]);
}
