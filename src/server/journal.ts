/**
 * The decision journal's writer on the meta leader: every action the controller takes, and
 * how it ended, becomes an entry (meta-records.ts, JournalEntry) in the meta group, so an
 * operator can ask any node why the cluster did what it did.
 *
 * Entries are gathered during a control round and proposed together (one meta entry per
 * round with decisions, at most journalBatchMax entries each). The journal's own proposals
 * are not journaled. Outcomes: "done" once the action shows in an observation, "timed out"
 * when it is forgotten without (the controller plans it again if still needed).
 */
import type { Action } from "../cluster/controller.js";
import { type MetaState, nodeByRaftId } from "../cluster/meta.js";
import { clip, type JournalDraft, journalBatchMax } from "../cluster/meta-records.js";

/** What the writer needs to know to name the reconciler and the values behind a decision. */
export interface JournalContext {
  readonly meta: MetaState;
  /** Registry node ids whose replicas are being rebuilt (dead longer than the dead-node time). */
  readonly expired: ReadonlySet<string>;
  /** How long each not-alive node has been so, in ms (registry node id). */
  readonly silentForMs: ReadonlyMap<string, number>;
  readonly deadNodeAfterMs: number;
}

export class JournalWriter {
  private pending: JournalDraft[] = [];
  /** Drafts dropped because a round produced more than a batch can hold. */
  dropped = 0;

  /** Records a decision the controller just carried out. */
  decided(a: Action, ctx: JournalContext, atMs: number): void {
    if (a.kind === "propose" && a.command.kind === "journal") return;
    this.add({
      atMs,
      reconciler: reconcilerOf(a, ctx),
      observed: clip(observation(a, ctx)),
      action: clip(describe(a)),
    });
  }

  /** Records how an earlier decision ended. */
  ended(a: Action, outcome: "done" | "timed out", ctx: JournalContext, atMs: number): void {
    if (a.kind === "propose") return;
    this.add({
      atMs,
      reconciler: reconcilerOf(a, ctx),
      observed: clip(a.why),
      action: clip(`${outcome}: ${describe(a)}`),
    });
  }

  /** Something the cluster decided outside the controller (a contract, a removal). */
  note(draft: JournalDraft): void {
    this.add({ ...draft, observed: clip(draft.observed), action: clip(draft.action) });
  }

  /** The drafts gathered since the last call, for one journal proposal; [] if none. */
  take(): JournalDraft[] {
    const out = this.pending;
    this.pending = [];
    return out;
  }

  private add(d: JournalDraft): void {
    if (this.pending.length >= journalBatchMax) {
      this.dropped += 1;
      return;
    }
    this.pending.push(d);
  }
}

/** Which loop a decision belongs to: repair, drain, meta, record, or placement. */
function reconcilerOf(a: Action, ctx: JournalContext): string {
  if (a.kind === "propose") {
    if (a.command.kind === "record-shard-change") return "record";
    if (a.command.kind === "set-node-status") return "drain";
    return "meta";
  }
  if (a.group === 0) return "meta";
  const shard = ctx.meta.shardMap.shards.find((s) => s.id === a.group);
  const holders = [...(shard?.replicas ?? []), ...(shard?.learners ?? [])];
  const on = (pred: (id: string, status: string) => boolean) =>
    holders.some((raftId) => {
      const n = nodeByRaftId(ctx.meta, raftId);
      return n !== undefined && pred(n.id, n.status);
    });
  if (on((id) => ctx.expired.has(id))) return "repair";
  if (on((_, status) => status === "removing")) return "drain";
  return "placement";
}

/** The reason, with the values behind it where they are not in it already. */
function observation(a: Action, ctx: JournalContext): string {
  const parts = [a.why];
  if (a.kind !== "propose" && a.group !== 0) {
    const shard = ctx.meta.shardMap.shards.find((s) => s.id === a.group);
    if (shard !== undefined) {
      parts.push(`voters [${shard.replicas.join(", ")}], learners [${shard.learners.join(", ")}]`);
      for (const raftId of shard.replicas) {
        const n = nodeByRaftId(ctx.meta, raftId);
        const silent = n === undefined ? undefined : ctx.silentForMs.get(n.id);
        if (silent !== undefined) {
          parts.push(
            `node ${raftId} silent for ${(silent / 1000).toFixed(1)} s ` +
              `(dead after ${(ctx.deadNodeAfterMs / 1000).toFixed(0)} s)`,
          );
        }
      }
    }
  }
  return parts.join("; ");
}

function describe(a: Action): string {
  switch (a.kind) {
    case "conf-change":
      return `group ${a.group}: ${a.change.type} ${a.change.node} (on node ${a.at})`;
    case "transfer-leader":
      return `group ${a.group}: leadership ${a.at} -> ${a.to}`;
    case "propose": {
      const c = a.command;
      if (c.kind === "record-shard-change") {
        return `record shard ${c.shard}: ${c.change.kind} ${c.change.node} (epoch ${c.expectedEpoch})`;
      }
      if (c.kind === "set-node-status") return `node ${c.id.slice(0, 8)}: ${c.status}`;
      if (c.kind === "set-meta-voters") return `meta voters -> [${c.to.join(", ")}]`;
      return c.kind;
    }
  }
}
