import {
  formatNotifyFlags,
  NOTIFY_KEYEVENT,
  NOTIFY_KEYSPACE,
  type Notifier,
  parseNotifyFlags,
} from "../kv/notify.js";
import type { PubSub } from "./pubsub.js";
import type { Settings } from "./settings.js";

/**
 * Keyspace notifications on a node (kv/notify.ts): each event is published on this node
 * only, to `__keyspace@0__:<key>` and `__keyevent@0__:<event>`, as a Redis Cluster node
 * publishes the events of its own keys. In a sharded cluster the events of a shard come
 * from the node that leads it when the change is applied; a client that wants every
 * event subscribes on every node, as with Redis Cluster.
 */
export class KeyspaceNotifier implements Notifier {
  constructor(
    private readonly settings: Settings,
    private readonly pubsub: PubSub,
  ) {}

  /** The flags on, or 0 when neither K nor E is (then nothing would be sent). */
  get flags(): number {
    const f = this.settings.notifyKeyspaceEvents;
    return (f & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT)) === 0 ? 0 : f;
  }

  emit(_eventClass: number, event: string, key: Buffer): void {
    const f = this.settings.notifyKeyspaceEvents;
    if (f & NOTIFY_KEYSPACE) {
      this.pubsub.deliverHere(Buffer.concat([keyspacePrefix, key]), Buffer.from(event, "latin1"));
    }
    if (f & NOTIFY_KEYEVENT) {
      this.pubsub.deliverHere(Buffer.from(`__keyevent@0__:${event}`, "latin1"), Buffer.from(key));
    }
  }
}

const keyspacePrefix = Buffer.from("__keyspace@0__:", "latin1");

/** CONFIG SET notify-keyspace-events: undefined when applied, else why not. */
export function setNotifyFlags(settings: Settings, value: string): string | undefined {
  const flags = parseNotifyFlags(value);
  if (flags === undefined) return "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";
  settings.notifyKeyspaceEvents = flags;
  return undefined;
}

export function getNotifyFlags(settings: Settings): string {
  return formatNotifyFlags(settings.notifyKeyspaceEvents);
}
