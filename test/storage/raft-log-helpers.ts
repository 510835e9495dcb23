/**
 * What the raft log tests share: entries, snapshots and logs as plain data to compare.
 */
import { createHash } from "node:crypto";
import type { LogStorage } from "../../src/raft/storage.js";
import type { ConfState, Entry, EntryType, Snapshot } from "../../src/raft/types.js";

export const conf3: ConfState = { voters: [1, 2, 3], learners: [] };
export const bytes = (s: string) => new Uint8Array(Buffer.from(s));
export const ent = (
  index: number,
  term: number,
  data = `e${index}`,
  type: EntryType = "normal",
) => ({
  index,
  term,
  type,
  data: bytes(data),
});
export const run = (from: number, to: number, term: number): Entry[] =>
  Array.from({ length: to - from + 1 }, (_, k) => ent(from + k, term));
export const blob = (n: number, seed: number) => {
  const out = new Uint8Array(n);
  for (let k = 0; k < n; k++) out[k] = (k * 7 + seed) & 0xff;
  return out;
};
export const hex = (d: Uint8Array) => Buffer.from(d).toString("hex");
export const norm = (es: Entry[]) => es.map((e) => ({ ...e, data: hex(e.data) }));
export const digest = (d: Uint8Array) => createHash("sha256").update(d).digest("hex");

export function snapshotView(s: Snapshot) {
  return { meta: s.meta, bytes: s.data.length, digest: digest(s.data) };
}

/** Everything raft can read from a log, as plain data to compare. */
export function dump(log: LogStorage) {
  const first = log.firstIndex();
  const last = log.lastIndex();
  const terms: (number | null)[] = [];
  for (let i = Math.max(0, first - 2); i <= last + 1; i++) terms.push(log.term(i));
  return {
    first,
    last,
    hard: { ...log.hardState() },
    terms,
    entries: last >= first ? norm(log.entries(first, last + 1, Number.POSITIVE_INFINITY)) : [],
    snapshot: snapshotView(log.snapshot()),
  };
}
