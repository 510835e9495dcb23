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
