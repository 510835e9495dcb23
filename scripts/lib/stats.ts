/** The median of the finite values in `xs` (for an even count, the mean of the middle two); NaN if none. */
export function median(xs: readonly number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1
    ? (s[mid] as number)
    : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Nearest-rank percentile `p` (0..1) of values sorted ascending; NaN if none. */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/** Nearest-rank percentile `p` (0..1) of `xs` in any order; NaN if none. */
export function percentile(xs: readonly number[], p: number): number {
  return percentileOfSorted(
    [...xs].sort((a, b) => a - b),
    p,
  );
}
