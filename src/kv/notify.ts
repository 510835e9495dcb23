import { lookup } from "./db.js";
import type { ExecContext } from "./types.js";

/**
 * Keyspace notifications (Redis's notify-keyspace-events): a command that changes a key
 * names the change, an event ("set", "del", "expire", "expired"...) of a class, and the
 * node publishes it to `__keyspace@0__:<key>` (the event as the message, flag K) and to
 * `__keyevent@0__:<event>` (the key as the message, flag E), for the classes turned on.
 * Handlers only call notifyKey; what is on, and where the messages go, is the host's
 * (server/notifications.ts).
 */

export const NOTIFY_KEYSPACE = 1 << 0; // K
export const NOTIFY_KEYEVENT = 1 << 1; // E
export const NOTIFY_GENERIC = 1 << 2; // g
export const NOTIFY_STRING = 1 << 3; // $
export const NOTIFY_LIST = 1 << 4; // l
export const NOTIFY_SET = 1 << 5; // s
export const NOTIFY_HASH = 1 << 6; // h
export const NOTIFY_ZSET = 1 << 7; // z
export const NOTIFY_EXPIRED = 1 << 8; // x
export const NOTIFY_EVICTED = 1 << 9; // e
export const NOTIFY_STREAM = 1 << 10; // t
export const NOTIFY_KEY_MISS = 1 << 11; // m
export const NOTIFY_MODULE = 1 << 13; // d
export const NOTIFY_NEW = 1 << 14; // n
/** "A": every class but m and n, as Redis's NOTIFY_ALL. */
export const NOTIFY_ALL =
  NOTIFY_GENERIC |
  NOTIFY_STRING |
  NOTIFY_LIST |
  NOTIFY_SET |
  NOTIFY_HASH |
  NOTIFY_ZSET |
  NOTIFY_EXPIRED |
  NOTIFY_EVICTED |
  NOTIFY_STREAM |
  NOTIFY_MODULE;

const letters: readonly (readonly [string, number])[] = [
  ["g", NOTIFY_GENERIC],
  ["$", NOTIFY_STRING],
  ["l", NOTIFY_LIST],
  ["s", NOTIFY_SET],
  ["h", NOTIFY_HASH],
  ["z", NOTIFY_ZSET],
  ["x", NOTIFY_EXPIRED],
  ["e", NOTIFY_EVICTED],
  ["t", NOTIFY_STREAM],
  ["d", NOTIFY_MODULE],
  ["n", NOTIFY_NEW],
];

/** CONFIG SET notify-keyspace-events: the flags, or undefined for an unknown letter. */
export function parseNotifyFlags(text: string): number | undefined {
  let flags = 0;
  for (const c of text) {
    if (c === "A") flags |= NOTIFY_ALL;
    else if (c === "K") flags |= NOTIFY_KEYSPACE;
    else if (c === "E") flags |= NOTIFY_KEYEVENT;
    else if (c === "m") flags |= NOTIFY_KEY_MISS;
    else {
      const found = letters.find(([l]) => l === c);
      if (found === undefined) return undefined;
      flags |= found[1];
    }
  }
  return flags;
}

/**
 * CONFIG GET notify-keyspace-events: Redis's canonical spelling of the flags, but for one
 * case: Redis 7.0 prints A with n as "A", losing n; this prints "An".
 */
export function formatNotifyFlags(flags: number): string {
  let out = "";
  if ((flags & NOTIFY_ALL) === NOTIFY_ALL) {
    out = "A";
    if (flags & NOTIFY_NEW) out += "n";
  } else {
    for (const [l, bit] of letters) if (flags & bit) out += l;
  }
  if (flags & NOTIFY_KEYSPACE) out += "K";
  if (flags & NOTIFY_KEYEVENT) out += "E";
  if (flags & NOTIFY_KEY_MISS) out += "m";
  return out;
}

/** Where a context's events go: the flags on now, and the publisher. */
export interface Notifier {
  /** The notify-keyspace-events flags; nothing is sent without K or E. */
  readonly flags: number;
  emit(eventClass: number, event: string, key: Buffer): void;
}

/** A command changed `key`: `event` of `eventClass` (one of the NOTIFY_ classes). */
export function notifyKey(ctx: ExecContext, eventClass: number, event: string, key: Buffer): void {
  const n = ctx.notify;
  if (n === undefined || (n.flags & eventClass) === 0) return;
  n.emit(eventClass, event, key);
}

/**
 * Before a write that may create `key`: a "new" event when it does not exist (n). The
 * read is made only when n is on.
 */
export function notifyIfNew(ctx: ExecContext, key: Buffer, existed?: boolean): void {
  const n = ctx.notify;
  if (n === undefined || (n.flags & NOTIFY_NEW) === 0) return;
  if (!(existed ?? lookup(ctx, key) !== undefined)) n.emit(NOTIFY_NEW, "new", key);
}
