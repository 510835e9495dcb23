/**
 * What the meta group keeps besides the registry and the shard map: the service contract's
 * versions and the decision journal. Both are bounded histories in the replicated state
 * (the oldest dropped first), carried in its snapshots, so every meta replica can show
 * them and a new meta leader starts from the same record.
 *
 * The meta machine does not parse the contract (the cluster layer does not depend on the
 * contract layer): the node that applies a contract validates the file and proposes its
 * text together with the few values the cluster acts on.
 */
import { type ByteReader, type ByteWriter, readText, writeText } from "../core/bytes.js";

/** One applied version of the service contract. */
export interface ContractVersion {
  /** 1 for the first contract applied, then +1 each time. */
  readonly version: number;
  /** When the proposer applied it (its clock, ms since the epoch). */
  readonly appliedAtMs: number;
  /** The YAML file as given. */
  readonly text: string;
  /** durability.replicas: the replica target of every shard. */
  readonly replicas: number;
  /** availability.deadNodeAfter: how long a silent node is only down. */
  readonly deadNodeAfterMs: number;
}

/** One decision of a reconciler: what it saw, what it did, and how that ended. */
export interface JournalEntry {
  /** Numbered by the meta machine, from 1, without gaps. */
  readonly seq: number;
  /** When the meta leader made the decision (its clock, ms since the epoch). */
  readonly atMs: number;
  /** placement, repair, drain, meta, record, contract... */
  readonly reconciler: string;
  /** The values the decision was made from, in words. */
  readonly observed: string;
  /** What was done (or "settled" / "timed out" for an earlier decision's outcome). */
  readonly action: string;
}

export type JournalDraft = Omit<JournalEntry, "seq">;

/** Versions kept (the current one included). */
export const contractVersionsKept = 16;
/** A contract file's size bound, as the contract layer's. */
export const contractTextBytesMax = 64 * 1024;
/** Journal entries kept; older ones are dropped. */
export const journalEntriesKept = 512;
/** Entries one journal-append may carry. */
export const journalBatchMax = 64;
const reconcilerBytesMax = 32;
const journalTextBytesMax = 1024;

const textEncoder = new TextEncoder();

/** A journal text cut to its bound (on a character boundary), so a long "why" never fails a plan. */
export function clip(s: string, max = journalTextBytesMax): string {
  if (textEncoder.encode(s).length <= max) return s;
  let out = s.slice(0, max);
  while (textEncoder.encode(`${out}…`).length > max) out = out.slice(0, -1);
  return `${out}…`;
}

export function writeContract(w: ByteWriter, c: ContractVersion): void {
  w.u32(c.version);
  w.f64(c.appliedAtMs);
  writeText(w, c.text, contractTextBytesMax, "contract", "u32");
  w.u8(c.replicas);
  w.u64(c.deadNodeAfterMs);
}

export function readContract(r: ByteReader): ContractVersion {
  const version = r.u32();
  const appliedAtMs = r.f64();
  const text = readText(r, contractTextBytesMax, "contract", "u32");
  return { version, appliedAtMs, text, replicas: r.u8(), deadNodeAfterMs: r.u64() };
}

export function writeDraft(w: ByteWriter, e: JournalDraft): void {
  w.f64(e.atMs);
  writeText(w, e.reconciler, reconcilerBytesMax, "reconciler", "u32");
  writeText(w, e.observed, journalTextBytesMax, "observation", "u32");
  writeText(w, e.action, journalTextBytesMax, "action", "u32");
}

export function readDraft(r: ByteReader): JournalDraft {
  const atMs = r.f64();
  const reconciler = readText(r, reconcilerBytesMax, "reconciler", "u32");
  const observed = readText(r, journalTextBytesMax, "observation", "u32");
  return { atMs, reconciler, observed, action: readText(r, journalTextBytesMax, "action", "u32") };
}

export function writeEntry(w: ByteWriter, e: JournalEntry): void {
  w.u64(e.seq);
  writeDraft(w, e);
}

export function readEntry(r: ByteReader): JournalEntry {
  const seq = r.u64();
  return { seq, ...readDraft(r) };
}

/** `list` with `added` at its end, keeping the last `kept`. */
export function bounded<T>(list: readonly T[], added: readonly T[], kept: number): readonly T[] {
  const all = [...list, ...added];
  return Object.freeze(all.length > kept ? all.slice(all.length - kept) : all);
}
