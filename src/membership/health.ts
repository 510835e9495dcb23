import { assert } from "../core/assert.js";
import { suspicionTimeoutMs } from "./config.js";

/**
 * Lifeguard's local health awareness. A member whose own probes fail without the nacks
 * that would prove its links fine — or who has to refute suspicion of itself — is more
 * likely the sick one than its peers are. Its score rises, and it multiplies its probe
 * interval and timeout by (score + 1), so it judges others more slowly while unwell.
 */
export class Awareness {
  private score = 0;

  constructor(private readonly max: number) {
    assert(max >= 1, "Awareness: max >= 1");
  }

  apply(delta: number): void {
    this.score = Math.min(this.max - 1, Math.max(0, this.score + delta));
  }

  get health(): number {
    return this.score;
  }

  scale(ms: number): number {
    return ms * (this.score + 1);
  }
}

/**
 * One member's suspicion (Lifeguard's dynamic timeout). It starts at maxMs and shrinks
 * toward minMs as distinct members confirm it: independent evidence that the first
 * suspecter was right, so there is less reason to wait for a refutation.
 */
export class Suspicion {
  /** Members that suspect it; the first is the accuser, the rest confirmations. */
  private readonly accusers = new Set<string>();
  deadlineMs: number;

  constructor(
    from: string,
    readonly startMs: number,
    private readonly minMs: number,
    private readonly maxMs: number,
    /** Confirmations that bring the timeout down to minMs; more are not counted. */
    private readonly expected: number,
  ) {
    this.accusers.add(from);
    this.deadlineMs = startMs + suspicionTimeoutMs(minMs, maxMs, expected, 0);
  }

  get confirmations(): number {
    return this.accusers.size - 1;
  }

  /** True if `from` is a new confirmation (worth re-gossiping); moves the deadline in. */
  confirm(from: string): boolean {
    if (this.confirmations >= this.expected || this.accusers.has(from)) return false;
    this.accusers.add(from);
    const timeout = suspicionTimeoutMs(this.minMs, this.maxMs, this.expected, this.confirmations);
    this.deadlineMs = this.startMs + timeout;
    return true;
  }
}
