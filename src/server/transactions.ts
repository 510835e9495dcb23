import { CROSS_SLOT, slotOfKeys } from "../cluster/slots.js";
import { type CommandSpec, keyIndexesOf, runSpec } from "../kv/command-table.js";
import { fingerprint, sameFingerprint, type Watch } from "../kv/transaction.js";
import * as R from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";
import type { Client, QueuedCommand } from "./client.js";
import type { HomeostatNode } from "./node.js";

/**
 * MULTI, EXEC, DISCARD, WATCH and UNWATCH, as Redis 7.0 answers them (its multi.c and
 * processCommand):
 *
 *   - after MULTI every command but EXEC, DISCARD, MULTI, WATCH, QUIT and RESET is
 *     checked (known, arity, authenticated; in a sharded cluster its keys in one slot)
 *     and queued, answered QUEUED; one refused makes EXEC answer EXECABORT;
 *   - EXEC runs the queued commands one after the other with nothing in between and
 *     answers the array of their replies (an error among them is one element, the rest
 *     still ran: Redis has no rollback), or a null array when a watched key changed;
 *   - EXEC, DISCARD and RESET forget the watched keys (UNWATCH too).
 *
 * On one node the commands run synchronously, so nothing else runs between them, and
 * the reply leaves once their writes are durable, as any write's. In a sharded cluster
 * the transaction is one log entry of its shard (router.exec): every key it names, its
 * watched keys included, must be in one slot (CROSSSLOT otherwise, as Redis Cluster).
 * WATCH compares values (kv/transaction.ts).
 */

/** Commands that act at once inside MULTI instead of being queued (Redis's list). */
const immediate = new Set(["exec", "discard", "multi", "watch", "quit", "reset"]);

const execAbort = R.error("EXECABORT Transaction discarded because of previous errors.");

/** Whether `name` is queued now (the client is in MULTI and it is not one of the above). */
export function queues(client: Client, name: string): boolean {
  return client.tx !== null && !immediate.has(name);
}

/** A command the dispatcher refused while the client was in MULTI: EXEC will abort. */
export function refusedInMulti(client: Client): void {
  if (client.tx !== null) client.txFailed = true;
}

/**
 * The slot a command's keys are in: null without keys, CROSS_SLOT for several slots. What
 * the cluster router routes by, and MULTI's queue checks.
 */
export function commandSlot(spec: CommandSpec, args: Args): number | null {
  const own = runSpec(spec, args);
  const indexes = own === undefined ? [] : keyIndexesOf(own, args);
  return indexes.length === 0 ? null : slotOfKeys(args, indexes);
}

/** The one slot of `slots`: null when there is none, CROSS_SLOT when they differ. */
export function sameSlot(slots: readonly number[]): number | null {
  const first = slots[0];
  if (first === undefined) return null;
  return slots.every((s) => s === first) ? first : CROSS_SLOT;
}

/** Queues a checked command of a client in MULTI: QUEUED, or why not (and EXEC aborts). */
export function queue(
  node: HomeostatNode,
  client: Client,
  name: string,
  spec: CommandSpec,
  kv: boolean,
  args: Args,
): Reply {
  const tx = client.tx as QueuedCommand[];
  let refusal: Reply | null = null;
  if (spec.flags.includes("no_multi")) {
    refusal = R.error("ERR Command not allowed inside a transaction");
  }
  const slot = commandSlot(spec, args);
  const router = node.router;
  if (refusal === null && kv && router?.queued !== undefined) {
    refusal = router.queued(client, name, slot);
  }
  if (refusal !== null) {
    client.txFailed = true;
    return refusal;
  }
  const copy: Buffer[] = [];
  for (let i = 0; i < args.length; i++) copy.push(Buffer.from(args.buf(i)));
  // Only key-space commands go to a shard at EXEC: the slot marks them.
  tx.push({ name, args: copy, slot: kv && slot !== CROSS_SLOT ? slot : null });
  return R.QUEUED;
}

export function multi(_node: HomeostatNode, client: Client): Reply {
  if (client.tx !== null) return R.error("ERR MULTI calls can not be nested");
  client.tx = [];
  client.txFailed = false;
  return R.OK;
}

export function discard(_node: HomeostatNode, client: Client): Reply {
  if (client.tx === null) return R.error("ERR DISCARD without MULTI");
  endTransaction(client);
  return R.OK;
}

export function unwatch(_node: HomeostatNode, client: Client): Reply {
  client.watches = [];
  return R.OK;
}

/** Leaves MULTI and forgets the watched keys (EXEC, DISCARD, RESET). */
export function endTransaction(client: Client): void {
  client.tx = null;
  client.txFailed = false;
  client.watches = [];
}

export function watch(node: HomeostatNode, client: Client, args: Args): Reply | Promise<Reply> {
  if (client.tx !== null) return R.error("ERR WATCH inside MULTI is not allowed");
  const keys: Buffer[] = [];
  for (let i = 1; i < args.length; i++) keys.push(Buffer.from(args.buf(i)));
  const router = node.router;
  if (router?.watch === undefined) {
    const now = node.commandNowMs();
    client.watches.push(
      keys.map((key) => ({ key, fingerprint: fingerprint(node.store.get(key), now) })),
    );
    return R.OK;
  }
  const read = router.watch(client, keys);
  // EXEC waits for the fingerprints; a WATCH that failed watches nothing, as in Redis.
  const list = client.watches;
  list.push(read.then((r) => (Array.isArray(r) ? r : [])));
  return read.then((r) => (Array.isArray(r) ? R.OK : (r as Reply)));
}

export function exec(node: HomeostatNode, client: Client): Reply | Promise<Reply> {
  const tx = client.tx;
  if (tx === null) return R.error("ERR EXEC without MULTI");
  const failed = client.txFailed;
  const watches = client.watches;
  endTransaction(client);
  if (failed) return execAbort;
  const router = node.router;
  if (router?.exec !== undefined) {
    const watched = Promise.all(watches).then((lists) => lists.flat());
    return router.exec(client, tx, watched, (q) => node.runQueued(client, q));
  }
  const now = node.commandNowMs();
  for (const list of watches) {
    for (const w of list as readonly Watch[]) {
      const key = Buffer.from(w.key);
      if (!sameFingerprint(fingerprint(node.store.get(key), now), w.fingerprint)) {
        return R.NULL_ARRAY;
      }
    }
  }
  return collect(tx.map((q) => node.runQueued(client, q)));
}

/** The replies of a transaction's commands as one array, once every one has come. */
export function collect(replies: (Reply | Promise<Reply>)[]): Reply | Promise<Reply> {
  if (!replies.some((r) => r instanceof Promise)) return R.array(replies as Reply[]);
  return Promise.all(replies).then((all) => R.array(all));
}
