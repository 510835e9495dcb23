import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  formatNotifyFlags,
  NOTIFY_ALL,
  NOTIFY_GENERIC,
  NOTIFY_KEYEVENT,
  NOTIFY_KEYSPACE,
  NOTIFY_NEW,
  parseNotifyFlags,
} from "../../src/kv/notify.js";

describe("notify-keyspace-events flags", () => {
  it("parse and print as Redis 7.0 does", () => {
    // Redis's own CONFIG GET/SET round trips (unit/pubsub).
    const cases: [string, string][] = [
      ["gKE", "gKE"],
      ["$lshzxeKE", "$lshzxeKE"],
      ["KA", "AK"],
      ["EA", "AE"],
      ["", ""],
      ["En", "nE"],
      ["AnKEm", "AnKEm"],
      ["gg", "g"],
    ];
    for (const [input, printed] of cases) {
      const flags = parseNotifyFlags(input);
      assert.ok(flags !== undefined, input);
      assert.equal(formatNotifyFlags(flags), printed, input);
    }
    assert.equal(parseNotifyFlags("KEg"), NOTIFY_KEYSPACE | NOTIFY_KEYEVENT | NOTIFY_GENERIC);
    assert.equal(parseNotifyFlags("A"), NOTIFY_ALL);
    assert.equal((parseNotifyFlags("A") as number) & NOTIFY_NEW, 0, "A leaves out n");
  });

  it("refuses an unknown class letter", () => {
    for (const bad of ["Q", "KEq", " ", "a"]) assert.equal(parseNotifyFlags(bad), undefined, bad);
  });
});
