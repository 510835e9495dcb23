import assert from "node:assert/strict";
import { it } from "node:test";
import type { Clock, Timers } from "../../src/core/clock.js";

/** The Timers/Clock contract (src/core/clock.ts), run against real and virtual time. */
export interface TimersHarness {
  timers: Timers;
  clock: Clock;
  /** Lets `ms` of time pass, running whatever falls due. */
  elapse(ms: number): Promise<void>;
}

/** Real timers may fire up to 1 ms early as measured by performance.now (ms granularity). */
const toleranceMs = 1;

export function timersCompliance(name: string, makeHarness: () => TimersHarness): void {
  it(`${name}: a timer fires once, not before its delay, never inside schedule`, async () => {
    const h = makeHarness();
    const start = h.clock.monotonicMs();
    const firedAt: number[] = [];
    h.timers.schedule(20, () => firedAt.push(h.clock.monotonicMs()));
    assert.equal(firedAt.length, 0);
    h.timers.schedule(0, () => firedAt.push(-1));
    assert.equal(firedAt.length, 0);
    await h.elapse(60);
    assert.equal(firedAt.length, 2);
    assert.equal(firedAt[0], -1);
    assert.ok(firedAt[1] - start >= 20 - toleranceMs, `fired after ${firedAt[1] - start} ms`);
  });

  it(`${name}: cancel stops a timer; cancelling twice or after firing is harmless`, async () => {
    const h = makeHarness();
    let fired = 0;
    const cancelled = h.timers.schedule(10, () => fired++);
    const kept = h.timers.schedule(10, () => fired++);
    cancelled.cancel();
    cancelled.cancel();
    await h.elapse(40);
    assert.equal(fired, 1);
    kept.cancel();
  });

  it(`${name}: timers fire in due order, equal delays in scheduling order`, async () => {
    const h = makeHarness();
    const order: string[] = [];
    h.timers.schedule(30, () => order.push("c"));
    h.timers.schedule(5, () => order.push("a1"));
    h.timers.schedule(5, () => order.push("a2"));
    h.timers.schedule(15, () => order.push("b"));
    await h.elapse(80);
    assert.deepEqual(order, ["a1", "a2", "b", "c"]);
  });

  it(`${name}: a timer may schedule another from its callback`, async () => {
    const h = makeHarness();
    const times: number[] = [];
    const start = h.clock.monotonicMs();
    const tick = () => {
      times.push(h.clock.monotonicMs() - start);
      if (times.length < 3) h.timers.schedule(10, tick);
    };
    h.timers.schedule(10, tick);
    await h.elapse(100);
    assert.equal(times.length, 3);
    assert.ok(times[2] >= 30 - 3 * toleranceMs);
  });

  it(`${name}: a negative or absurd delay is a programmer error`, () => {
    const h = makeHarness();
    assert.throws(() => h.timers.schedule(-1, () => {}), RangeError);
    assert.throws(() => h.timers.schedule(Number.NaN, () => {}), RangeError);
    assert.throws(() => h.timers.schedule(1e12, () => {}), RangeError);
  });

  it(`${name}: the monotonic clock does not go backwards, wall and monotonic move together`, async () => {
    const h = makeHarness();
    const mono = h.clock.monotonicMs();
    const wall = h.clock.nowMs();
    await h.elapse(20);
    const dMono = h.clock.monotonicMs() - mono;
    const dWall = h.clock.nowMs() - wall;
    assert.ok(dMono >= 20 - toleranceMs);
    assert.ok(Math.abs(dWall - dMono) < 10, `wall moved ${dWall}, monotonic ${dMono}`);
  });
}
