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
  /** Pattern (latin1) → its compiled form and subscribers. */
  private readonly patterns = new Map<string, { glob: GlobPattern; clients: Set<Client> }>();
  private readonly subscriptions = new Map<
    Client,
    { channels: Set<string>; patterns: Set<string> }
  >();

  /** Shard channel (latin1; SSUBSCRIBE) → its subscribers; a namespace of its own. */
  private readonly shardChannels = new Map<string, Set<Client>>();
  private readonly shardSubscriptions = new Map<Client, Set<string>>();

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

  /** Subscriptions of `client`: channels plus patterns (Redis's count in its replies). */
  count(client: Client): number {
    const s = this.subscriptions.get(client);
    return s === undefined ? 0 : s.channels.size + s.patterns.size;
  }

  channelCount(client: Client): number {
    return this.subscriptions.get(client)?.channels.size ?? 0;
  }

  patternCount(client: Client): number {
    return this.subscriptions.get(client)?.patterns.size ?? 0;
  }

  /** SUBSCRIBE / PSUBSCRIBE: one confirmation per name, all but the last delivered now. */
  subscribe(client: Client, args: Args, pattern: boolean): Reply {
    const s = this.of(client);
    const kind = pattern ? "psubscribe" : "subscribe";
    let last: Reply = R.NULL;
    for (let i = 1; i < args.length; i++) {
      const name = args.buf(i).toString("latin1");
      if (pattern) {
        if (!s.patterns.has(name)) {
          s.patterns.add(name);
          let p = this.patterns.get(name);
          if (p === undefined) {
            p = { glob: new GlobPattern(Buffer.from(name, "latin1")), clients: new Set() };
            this.patterns.set(name, p);
          }
          p.clients.add(client);
        }
      } else if (!s.channels.has(name)) {
        s.channels.add(name);
        join(this.channels, name, client);
      }
      client.subscribedChannels = s.channels.size;
      client.subscribedPatterns = s.patterns.size;
      if (i > 1) this.deliver(client, last);
      last = push(kind, Buffer.from(name, "latin1"), this.count(client));
    }
    return last;
  }

  /**
   * UNSUBSCRIBE / PUNSUBSCRIBE: the names given, or every one the client has; one
   * confirmation each (one with a null name when it had none), all but the last delivered
   * now.
   */
  unsubscribe(client: Client, args: Args, pattern: boolean): Reply {
    const kind = pattern ? "punsubscribe" : "unsubscribe";
    const s = this.subscriptions.get(client);
    const names: string[] = [];
    if (args.length > 1) {
      for (let i = 1; i < args.length; i++) names.push(args.buf(i).toString("latin1"));
    } else if (s !== undefined) {
      names.push(...(pattern ? s.patterns : s.channels));
    }
    if (names.length === 0) return push(kind, null, this.count(client));
    let last: Reply = R.NULL;
    for (const [i, name] of names.entries()) {
      this.drop(client, name, pattern);
      if (i > 0) this.deliver(client, last);
      last = push(kind, Buffer.from(name, "latin1"), this.count(client));
    }
    return last;
  }

  /** Everything `client` subscribed to goes (RESET, a closed connection). */
  forget(client: Client): void {
    for (const name of [...(this.shardSubscriptions.get(client) ?? [])]) {
      this.dropShard(client, name);
    }
    const s = this.subscriptions.get(client);
    if (s === undefined) return;
    for (const name of [...s.channels]) this.drop(client, name, false);
    for (const name of [...s.patterns]) this.drop(client, name, true);
    this.subscriptions.delete(client);
  }

  /** PUBLISH here: delivered on this node, sent to the others; this node's receivers. */
  publish(channel: Buffer, message: Buffer): number {
    this.stats.published++;
    this.broadcast?.(channel, message, false);
    return this.deliverLocal(channel, message);
  }

  /** SPUBLISH here: as PUBLISH, to the shard channels' subscribers. */
  spublish(channel: Buffer, message: Buffer): number {
    this.stats.published++;
    this.broadcast?.(channel, message, true);
    return this.deliverShard(channel, message);
  }

  /** A message for this node's subscribers only (keyspace notifications); receivers. */
  deliverHere(channel: Buffer, message: Buffer): number {
    return this.deliverLocal(channel, message);
  }

  /** A message another node published (SPUBLISH: `shard`): to this node's subscribers. */
  received(channel: Buffer, message: Buffer, shard = false): void {
    this.stats.received++;
    if (shard) this.deliverShard(channel, message);
    else this.deliverLocal(channel, message);
  }

  /** SSUBSCRIBE: one confirmation per shard channel, all but the last delivered now. */
  ssubscribe(client: Client, args: Args): Reply {
    let mine = this.shardSubscriptions.get(client);
    if (mine === undefined) {
      mine = new Set();
      this.shardSubscriptions.set(client, mine);
    }
    let last: Reply = R.NULL;
    for (let i = 1; i < args.length; i++) {
      const name = args.buf(i).toString("latin1");
      if (!mine.has(name)) {
        mine.add(name);
        join(this.shardChannels, name, client);
      }
      client.subscribedShardChannels = mine.size;
      if (i > 1) this.deliver(client, last);
      last = push("ssubscribe", Buffer.from(name, "latin1"), mine.size);
    }
    return last;
  }

  /** SUNSUBSCRIBE: the shard channels given, or all the client has, as UNSUBSCRIBE. */
  sunsubscribe(client: Client, args: Args): Reply {
    const mine = this.shardSubscriptions.get(client);
    const names: string[] = [];
    if (args.length > 1) {
      for (let i = 1; i < args.length; i++) names.push(args.buf(i).toString("latin1"));
    } else if (mine !== undefined) {
      names.push(...mine);
    }
    if (names.length === 0) return push("sunsubscribe", null, 0);
    let last: Reply = R.NULL;
    for (const [i, name] of names.entries()) {
      this.dropShard(client, name);
      if (i > 0) this.deliver(client, last);
      last = push("sunsubscribe", Buffer.from(name, "latin1"), client.subscribedShardChannels);
    }
    return last;
  }

  /** PUBSUB SHARDCHANNELS [pattern]: shard channels with a subscriber on this node. */
  activeShardChannels(pattern: Buffer | undefined): Reply {
    return channelList(this.shardChannels, pattern);
  }

  /** PUBSUB SHARDNUMSUB: subscribers on this node per shard channel. */
  shardNumsub(channels: readonly Buffer[]): Reply {
    return subscriberCounts(this.shardChannels, channels);
  }

  private deliverShard(channel: Buffer, message: Buffer): number {
    const subscribers = this.shardChannels.get(channel.toString("latin1"));
    if (subscribers === undefined) return 0;
    const reply = R.push([R.bulk("smessage"), R.bulk(channel), R.bulk(message)]);
    for (const c of subscribers) this.deliver(c, reply);
    this.stats.delivered += subscribers.size;
    return subscribers.size;
  }

  private dropShard(client: Client, name: string): void {
    const mine = this.shardSubscriptions.get(client);
    if (mine === undefined || !mine.delete(name)) return;
    leave(this.shardChannels, name, client);
    client.subscribedShardChannels = mine.size;
    if (mine.size === 0) this.shardSubscriptions.delete(client);
  }

  /** PUBSUB CHANNELS [pattern]: the channels with a subscriber on this node. */
  activeChannels(pattern: Buffer | undefined): Reply {
    return channelList(this.channels, pattern);
  }

  /** PUBSUB NUMSUB: subscribers on this node per channel. */
  numsub(channels: readonly Buffer[]): Reply {
    return subscriberCounts(this.channels, channels);
  }

  /** Channels with a subscriber on this node (INFO's pubsub_channels). */
  channelTotal(): number {
    return this.channels.size;
  }

  /** PUBSUB NUMPAT: distinct patterns subscribed on this node. */
  numpat(): number {
    return this.patterns.size;
  }

  private deliverLocal(channel: Buffer, message: Buffer): number {
    let receivers = 0;
    const subscribers = this.channels.get(channel.toString("latin1"));
    if (subscribers !== undefined) {
      const reply = R.push([R.bulk("message"), R.bulk(channel), R.bulk(message)]);
      for (const c of subscribers) {
        this.deliver(c, reply);
        receivers++;
      }
    }
    for (const [name, p] of this.patterns) {
      if (!p.glob.matches(channel)) continue;
      const reply = R.push([
        R.bulk("pmessage"),
        R.bulk(Buffer.from(name, "latin1")),
        R.bulk(channel),
        R.bulk(message),
      ]);
      for (const c of p.clients) {
        this.deliver(c, reply);
        receivers++;
      }
    }
    this.stats.delivered += receivers;
    return receivers;
  }

  private of(client: Client): { channels: Set<string>; patterns: Set<string> } {
    let s = this.subscriptions.get(client);
    if (s === undefined) {
      s = { channels: new Set(), patterns: new Set() };
      this.subscriptions.set(client, s);
    }
    return s;
  }

  private drop(client: Client, name: string, pattern: boolean): void {
    const s = this.subscriptions.get(client);
    if (s === undefined) return;
    this.dropOne(client, s, name, pattern);
    client.subscribedChannels = s.channels.size;
    client.subscribedPatterns = s.patterns.size;
  }

  private dropOne(
    client: Client,
    s: { channels: Set<string>; patterns: Set<string> },
    name: string,
    pattern: boolean,
  ): void {
    if (pattern) {
      if (!s.patterns.delete(name)) return;
      const p = this.patterns.get(name);
      p?.clients.delete(client);
      if (p !== undefined && p.clients.size === 0) this.patterns.delete(name);
    } else {
      if (!s.channels.delete(name)) return;
      leave(this.channels, name, client);
    }
    if (s.channels.size === 0 && s.patterns.size === 0) this.subscriptions.delete(client);
  }
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

/** PUBSUB CHANNELS / SHARDCHANNELS: the channels of `channels` matching `pattern`. */
function channelList(channels: Map<string, Set<Client>>, pattern: Buffer | undefined): Reply {
  const glob = pattern === undefined ? null : new GlobPattern(pattern);
  const out: Reply[] = [];
  for (const name of channels.keys()) {
    const b = Buffer.from(name, "latin1");
    if (glob === null || glob.matches(b)) out.push(R.bulk(b));
  }
  return R.array(out);
}

/** PUBSUB NUMSUB / SHARDNUMSUB: each channel asked, then its subscribers here. */
function subscriberCounts(channels: Map<string, Set<Client>>, asked: readonly Buffer[]): Reply {
  const out: Reply[] = [];
  for (const c of asked) {
    out.push(R.bulk(c), R.integer(channels.get(c.toString("latin1"))?.size ?? 0));
  }
  return R.array(out);
}

/** Sends a message published here to the other nodes; `shard`: an SPUBLISH. */
export type Broadcast = (channel: Buffer, message: Buffer, shard: boolean) => void;

/** A (un)subscribe confirmation: [kind, name or null, subscriptions left]. */
function push(kind: string, name: Buffer | null, count: number): Reply {
  return R.push([R.bulk(kind), name === null ? R.NULL : R.bulk(name), R.integer(count)]);
}
