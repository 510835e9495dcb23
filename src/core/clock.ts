/**
 * Time, injected. Protocol code never reads a clock itself: it is handed a `Clock`
 * (real in production, virtual in the simulator) or, better, the time as an argument.
 */
export interface Clock {
  /** Wall-clock time in milliseconds since the Unix epoch (what TTLs are measured in). */
  nowMs(): number;
  /** Monotonic time in milliseconds, for measuring intervals; never goes backwards. */
  monotonicMs(): number;
}

/** The machine's clocks. */
export class SystemClock implements Clock {
  nowMs(): number {
    return Date.now();
  }
  monotonicMs(): number {
    return performance.now();
  }
}

/** A clock that moves only when told to: for tests and the simulator. */
export class ManualClock implements Clock {
  constructor(
    private wallMs = 1_700_000_000_000,
    private monoMs = 0,
  ) {}
  nowMs(): number {
    return this.wallMs;
  }
  monotonicMs(): number {
    return this.monoMs;
  }
  advance(ms: number): void {
    this.wallMs += ms;
    this.monoMs += ms;
  }
  setWall(ms: number): void {
    this.wallMs = ms;
  }
}

/**
 * A pending timer. An object rather than a bare cancel function so the simulator can hand
 * back its own event record and allocate nothing per timer.
 */
export interface TimerHandle {
  /** Idempotent; cancelling a timer that already fired does nothing. */
  cancel(): void;
}

/**
 * Deferred work, injected. Drivers (server/, sim/) own timers; protocol code asks for
 * `tick(nowMs)` calls instead. Contract, checked by test/core/timers.compliance.ts:
 * a callback never runs inside `schedule`, never before `delayMs` has passed on the
 * matching clock, and timers due at the same time run in the order they were scheduled.
 */
export interface Timers {
  schedule(delayMs: number, fn: () => void): TimerHandle;
}

/**
 * Longest single delay. Node's setTimeout silently turns anything above 2^31-1 ms into
 * 1 ms; a day is far beyond any protocol timeout, so a larger value is a caller's bug.
 */
export const timerDelayMsMax = 24 * 60 * 60 * 1000;

class RealTimer implements TimerHandle {
  constructor(private readonly timeout: NodeJS.Timeout) {}
  cancel(): void {
    clearTimeout(this.timeout);
  }
}

/** Timers on the event loop. */
export class RealTimers implements Timers {
  schedule(delayMs: number, fn: () => void): TimerHandle {
    checkDelay(delayMs);
    return new RealTimer(setTimeout(fn, delayMs));
  }
}

export function checkDelay(delayMs: number): void {
  if (!(delayMs >= 0 && delayMs <= timerDelayMsMax)) {
    throw new RangeError(`timer delay must be in [0, ${timerDelayMsMax}] ms, got ${delayMs}`);
  }
}
