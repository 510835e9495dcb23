import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  durationMsMax,
  durationPattern,
  formatDuration,
  parseDuration,
} from "../../src/contract/duration.js";

function ms(text: string): number {
  const result = parseDuration(text);
  assert.ok(result.ok, `${text}: ${result.ok ? "" : result.message}`);
  return result.ms;
}

function problem(text: string): string {
  const result = parseDuration(text);
  assert.ok(!result.ok, `${text} should not parse`);
  return result.message;
}

describe("durations", () => {
  it("parse each unit and their combinations, largest unit first", () => {
    assert.equal(ms("250ms"), 250);
    assert.equal(ms("30s"), 30_000);
    assert.equal(ms("5m"), 300_000);
    assert.equal(ms("1h"), 3_600_000);
    assert.equal(ms("1h30m"), 5_400_000);
    assert.equal(ms("1m30s"), 90_000);
    assert.equal(ms("1s500ms"), 1_500);
    assert.equal(ms("5m5ms"), 300_005);
    assert.equal(ms("1h1m1s1ms"), 3_661_001);
    assert.equal(ms("0s"), 0);
  });

  it("reject bad input with a message that says what to write", () => {
    assert.match(problem(""), /expected a duration such as "250ms"/);
    assert.match(problem("30"), /"30" has no unit; add one of ms, s, m, h \(e\.g\. "30s"\)/);
    assert.match(problem("5min"), /"min" in "5min" is not a unit; use ms, s, m or h/);
    assert.match(problem("5 m"), /has a space; write "5m"/);
    assert.match(problem("1.5s"), /has a fraction; write whole numbers of a smaller unit/);
    assert.match(problem("30m1h"), /must each appear once, largest first/);
    assert.match(problem("1s1s"), /must each appear once, largest first/);
    assert.match(problem("1h30"), /ends in a number without a unit/);
    assert.match(problem("-5s"), /expected a duration/);
    assert.match(problem("soon"), /expected a duration/);
    assert.match(problem("9000000h"), /longer than the maximum of 8760h/);
    assert.equal(ms("8760h"), durationMsMax);
  });

  it("accept exactly what the JSON Schema pattern accepts", () => {
    for (const text of ["5m", "5ms", "1h30m", "0ms", "5", "5mm", "1.5s", "m", "30m1h", "5 m"]) {
      assert.equal(parseDuration(text).ok, durationPattern.test(text), text);
    }
  });

  it("format back to the shortest text that parses to the same value", () => {
    assert.equal(formatDuration(0), "0ms");
    assert.equal(formatDuration(250), "250ms");
    assert.equal(formatDuration(300_000), "5m");
    assert.equal(formatDuration(5_400_000), "1h30m");
    assert.equal(formatDuration(1_500), "1s500ms");
    for (const value of [1, 999, 1_000, 61_001, 86_400_000, durationMsMax]) {
      assert.equal(ms(formatDuration(value)), value);
    }
  });
});
