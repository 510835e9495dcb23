import * as R from "../resp/reply.js";
import type { Reply } from "../resp/types.js";

/**
 * Per-command latency histograms (Redis 7.0's latency tracking): LATENCY HISTOGRAM and
 * INFO latencystats. Each command's durations are kept as Redis keeps them, in an HDR
 * histogram of 2 significant digits over 1 ns – 1 s, so the percentiles INFO reports and
 * the buckets LATENCY HISTOGRAM lists are the values redis-server reports for the same
 * durations. The layout follows HdrHistogram's definition (its paper and the C library
 * Redis embeds): 256 sub-buckets, of which each bucket past the first uses the upper
 * half at twice the previous resolution.
 */

/** Durations are clamped to [1 ns, 1 s], as Redis clamps them. */
const lowestNs = 1;
const highestNs = 1_000_000_000;
/** 2 significant digits: 2 · 10² needs 8 bits of sub-bucket, 256 sub-buckets. */
const subBucketCountMagnitude = 8;
const subBucketHalfCountMagnitude = subBucketCountMagnitude - 1;
const subBucketHalfCount = 1 << subBucketHalfCountMagnitude;
const subBucketMask = (1 << subBucketCountMagnitude) - 1;
/** Buckets until 256 · 2^(n−1) exceeds 1 s: 23, and one more half-bucket of indexes. */
const bucketCount = 23;
const countsLength = (bucketCount + 1) * subBucketHalfCount;

function bucketIndexOf(v: number): number {
  return 32 - Math.clz32(v | subBucketMask) - subBucketCountMagnitude;
}

function countsIndexOf(v: number): number {
  const bucket = bucketIndexOf(v);
  const sub = v >>> bucket;
  return ((bucket + 1) << subBucketHalfCountMagnitude) + sub - subBucketHalfCount;
}

/** The lowest value an index holds. */
function valueAtIndex(index: number): number {
  let bucket = (index >> subBucketHalfCountMagnitude) - 1;
  let sub = (index & (subBucketHalfCount - 1)) + subBucketHalfCount;
  if (bucket < 0) {
    sub -= subBucketHalfCount;
    bucket = 0;
  }
  return sub * 2 ** bucket;
}

/** The highest value counted with `v` (same index): its index spans 2^bucket values. */
function highestEquivalent(v: number): number {
  const bucket = bucketIndexOf(v);
  return (v >>> bucket) * 2 ** bucket + 2 ** bucket - 1;
}

class Histogram {
  readonly counts = new Float64Array(countsLength);
  total = 0;

  record(ns: number): void {
    const v = Math.min(highestNs, Math.max(lowestNs, Math.floor(ns)));
    this.counts[countsIndexOf(v)] += 1;
    this.total += 1;
  }

  /** The value at `percentile` (0–100), in ns, as hdr_value_at_percentile gives it. */
  valueAt(percentile: number): number {
    const p = Math.min(percentile, 100);
    const wanted = Math.max(1, Math.trunc((p / 100) * this.total + 0.5));
    let seen = 0;
    for (let i = 0; i < countsLength; i++) {
      seen += this.counts[i] as number;
      if (seen >= wanted) {
        const v = valueAtIndex(i);
        return percentile === 0 ? v : highestEquivalent(v);
      }
    }
    return 0;
  }

  /**
   * LATENCY HISTOGRAM's buckets: at 1,024 ns and each power of two above it, the highest
   * value counted with it (in µs, rounded down) and how many durations were at most that,
   * where that count grew (Redis's log iteration from 1,024 ns, base 2).
   */
  cdf(): [number, number][] {
    const out: [number, number][] = [];
    let seen = 0;
    let index = 0;
    let previous = 0;
    for (let level = 1024; seen < this.total && index < countsLength; level *= 2) {
      // Past the last index (durations of 0.54 s or more), the iteration ends on it.
      const upTo = Math.min(countsIndexOf(level), countsLength - 1);
      for (; index <= upTo; index++) seen += this.counts[index] as number;
      const top = highestEquivalent(valueAtIndex(upTo));
      if (seen > previous) out.push([Math.floor(top / 1000), seen]);
      previous = seen;
    }
    return out;
  }
}

/** The histograms of the commands run since the node started or CONFIG RESETSTAT. */
export class LatencyTracker {
  private readonly byCommand = new Map<string, Histogram>();

  /** A command (its full name: "client|list") took `usec` µs, counted in whole µs as Redis. */
  record(command: string, usec: number): void {
    let h = this.byCommand.get(command);
    if (h === undefined) {
      h = new Histogram();
      this.byCommand.set(command, h);
    }
    h.record(Math.floor(usec) * 1000);
  }

  reset(): void {
    this.byCommand.clear();
  }

  /** Commands with durations, by name. */
  names(): string[] {
    return [...this.byCommand.keys()].sort();
  }

  /** INFO latencystats: a field per command, its percentiles in µs (p50=1.003,...). */
  infoFields(percentiles: readonly number[]): [string, string][] {
    return this.names().map((name) => {
      const h = this.byCommand.get(name) as Histogram;
      const parts = percentiles.map(
        (p) => `p${formatPercentile(p)}=${(h.valueAt(p) / 1000).toFixed(3)}`,
      );
      return [`latency_percentiles_usec_${name}`, parts.join(",")];
    });
  }

  /** One command's entry of LATENCY HISTOGRAM: its calls and its buckets. */
  entry(command: string): Reply | null {
    const h = this.byCommand.get(command);
    if (h === undefined) return null;
    const buckets: [Reply, Reply][] = h.cdf().map(([usec, n]) => [R.integer(usec), R.integer(n)]);
    return R.map([
      [R.bulk("calls"), R.integer(h.total)],
      [R.bulk("histogram_usec"), R.map(buckets)],
    ]);
  }
}

/** A percentile as Redis names it: "%f", then its trailing zeros and point trimmed. */
export function formatPercentile(p: number): string {
  const text = p.toFixed(6);
  return text.replace(/\.?0+$/, "");
}
