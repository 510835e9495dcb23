import * as R from "../resp/reply.js";
import type { Reply } from "../resp/types.js";

/**
 * Redis's latency monitor (LATENCY LATEST, HISTORY, RESET, GRAPH, DOCTOR): while
 * `latency-monitor-threshold` is above 0, every event that took at least that many
 * milliseconds is kept, per event, as Redis's latency.c keeps it: the last 160 seconds that
 * had one (the worst of each second), and the worst ever. The events a node records are
 * Redis's `command` and `fast-command` (a command, by its COMMAND INFO `fast` flag, with
 * SLOWLOG's duration), and Homeostat's own `raft-flush` (on a cluster node, one flush of
 * its raft groups: the raft log's write and sync, the entries applied, the messages sent;
 * no command runs meanwhile).
 */

/** Samples kept per event (Redis's LATENCY_TS_LEN). */
export const latencySamplesKept = 160;

interface Sample {
  /** Unix seconds. */
  time: number;
  /** Milliseconds. */
  latency: number;
}

class Series {
  /** A ring: `next` is where the next second goes. */
  readonly samples: Sample[] = [];
  next = 0;
  max = 0;

  add(nowSec: number, ms: number): void {
    if (ms > this.max) this.max = ms;
    const prev = this.samples[(this.next + latencySamplesKept - 1) % latencySamplesKept];
    if (prev !== undefined && prev.time === nowSec) {
      if (ms > prev.latency) prev.latency = ms;
      return;
    }
    this.samples[this.next] = { time: nowSec, latency: ms };
    this.next = (this.next + 1) % latencySamplesKept;
  }

  /** The samples oldest first. */
  inOrder(): Sample[] {
    const out: Sample[] = [];
    for (let j = 0; j < latencySamplesKept; j++) {
      const s = this.samples[(this.next + j) % latencySamplesKept];
      if (s !== undefined) out.push(s);
    }
    return out;
  }

  latest(): Sample {
    return this.samples[(this.next + latencySamplesKept - 1) % latencySamplesKept] as Sample;
  }
}

export class LatencyMonitor {
  private readonly events = new Map<string, Series>();

  /** Records `ms` for `event` at `nowSec` (the caller checked the threshold). */
  add(event: string, ms: number, nowSec: number): void {
    let s = this.events.get(event);
    if (s === undefined) {
      s = new Series();
      this.events.set(event, s);
    }
    s.add(nowSec, Math.floor(ms));
  }

  get size(): number {
    return this.events.size;
  }

  /** Forgets `names` (any case), or every event: how many were forgotten. */
  reset(names: readonly string[] = []): number {
    let n = 0;
    for (const event of [...this.events.keys()]) {
      if (names.length === 0 || names.some((name) => name.toLowerCase() === event)) {
        this.events.delete(event);
        n++;
      }
    }
    return n;
  }

  /** LATENCY LATEST: [event, time of the latest, its latency, the worst ever] per event. */
  latest(): Reply {
    return R.array(
      [...this.events].map(([event, s]) => {
        const last = s.latest();
        return R.array([
          R.bulk(event),
          R.integer(last.time),
          R.integer(last.latency),
          R.integer(s.max),
        ]);
      }),
    );
  }

  /** LATENCY HISTORY event: [time, latency] per second kept, oldest first. */
  history(event: string): Reply {
    const s = this.events.get(event);
    if (s === undefined) return R.EMPTY_ARRAY;
    return R.array(s.inOrder().map((x) => R.array([R.integer(x.time), R.integer(x.latency)])));
  }

  /** LATENCY GRAPH event: Redis's ASCII graph, or null for an event with no samples. */
  graph(event: string, nowSec: number): string | null {
    const s = this.events.get(event);
    if (s === undefined) return null;
    const samples = s.inOrder();
    const min = Math.min(...samples.map((x) => x.latency));
    const max = Math.max(...samples.map((x) => x.latency));
    const labelled = samples.map((x) => ({ value: x.latency, label: ago(nowSec - x.time) }));
    return (
      `${event} - high ${max} ms, low ${min} ms (all time high ${s.max} ms)\n` +
      `${"-".repeat(graphColumns)}\n` +
      sparkline(labelled, graphColumns, 4)
    );
  }

  /**
   * LATENCY DOCTOR: each event's samples, average, mean deviation and period, as Redis's
   * report gives them, and what to look at, in words of this server's own.
   */
  doctor(thresholdMs: number, slowlogUs: number, nowSec: number): string {
    if (this.events.size === 0 && thresholdMs === 0) {
      return (
        "Latency monitoring is disabled on this node. Enable it with " +
        '"CONFIG SET latency-monitor-threshold <milliseconds>".\n'
      );
    }
    if (this.events.size === 0) {
      return `No event of ${thresholdMs} ms or more was observed on this node since monitoring began (or LATENCY RESET).\n`;
    }
    let report = "Latency spikes observed on this node:\n\n";
    const advice = new Set<string>();
    let n = 0;
    for (const [event, s] of this.events) {
      n++;
      const samples = s.inOrder();
      const sum = samples.reduce((a, x) => a + x.latency, 0);
      const avg = Math.floor(sum / samples.length);
      const mad = Math.floor(
        samples.reduce((a, x) => a + Math.abs(avg - x.latency), 0) / samples.length,
      );
      const oldest = Math.min(...samples.map((x) => x.time));
      const period = Math.max(1, nowSec - oldest);
      report +=
        `${n}. ${event}: ${samples.length} latency spikes (average ${avg}ms, mean deviation ` +
        `${mad}ms, period ${(period / samples.length).toFixed(2)} sec). Worst all time event ${s.max}ms.\n`;
      if (event === "command") {
        if (slowlogUs < 0) {
          advice.add(
            `- Slow commands were seen, and SLOWLOG is off: 'CONFIG SET slowlog-log-slower-than ${thresholdMs * 1000}' keeps them for SLOWLOG GET.`,
          );
        } else if (slowlogUs / 1000 > thresholdMs) {
          advice.add(
            `- SLOWLOG keeps only commands slower than ${slowlogUs} µs, more than this threshold: 'CONFIG SET slowlog-log-slower-than ${thresholdMs * 1000}' keeps these too.`,
          );
        }
        advice.add(
          "- SLOWLOG GET names the slow commands. On a cluster a write's time includes its replication and sync: a slow write with fast reads beside it points at the disk or the network, a slow read at the command's work (a big value, a long range, a script).",
        );
      }
      if (event === "fast-command") {
        advice.add(
          "- Commands that are O(1) took long: the node did not get a core for that long (a loaded machine, another process, the collector). Compare with INFO's used_cpu_* and the machine's load.",
        );
      }
      if (event === "raft-flush") {
        advice.add(
          "- A flush of the raft groups held the node: the raft log's write and sync (a slow or shared disk; a disk of its own for the data folder helps) or the entries it applied (a slow script or a big value, which then shows in the command event too).",
        );
      }
    }
    report += `\n${[...advice].join("\n")}\n`;
    return report;
  }
}

const graphColumns = 80;

/** A sample's age as LATENCY GRAPH labels it: 12s, 5m, 3h, 2d. */
function ago(sec: number): string {
  if (sec < 60) return `${sec}s`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m`;
  if (sec < 86400) return `${Math.floor(sec / 3600)}h`;
  return `${Math.floor(sec / 86400)}d`;
}

const fill = "_o#";

/**
 * Redis's sparkline (sparkline.c, filled): `rows` rows of `_o#|` per `columns` samples,
 * then the labels written downwards one character per row under their column.
 */
function sparkline(
  samples: readonly { value: number; label: string }[],
  columns: number,
  rows: number,
): string {
  let out = "";
  if (samples.length === 0) return out;
  const min = Math.min(...samples.map((s) => s.value));
  const max = Math.max(...samples.map((s) => s.value));
  const relmax = max - min === 0 ? 1 : max - min;
  const steps = fill.length * rows;
  for (let from = 0; from < samples.length; from += columns) {
    if (from !== 0) out += "\n";
    const part = samples.slice(from, from + columns);
    for (let row = 0; ; row++) {
      let line = "";
      let more = false;
      if (row < rows) {
        more = true;
        for (const s of part) {
          let step = Math.trunc(Math.trunc((s.value - min) * steps) / relmax);
          step = Math.min(steps - 1, Math.max(0, step));
          const at = step - (rows - row - 1) * fill.length;
          line += at >= 0 && at < fill.length ? fill[at] : at >= fill.length ? "|" : " ";
        }
      } else if (row - rows < 1) {
        // One blank row between the graph and the labels.
        more = true;
        line = " ".repeat(part.length);
      } else {
        const at = row - rows - 1;
        for (const s of part) {
          if (s.label.length > at) {
            more = true;
            line += s.label[at];
          } else {
            line += " ";
          }
        }
      }
      if (!more) break;
      out += `${line}\n`;
    }
  }
  return out;
}
