import assert from "node:assert/strict";
import { it } from "node:test";
import { datagramBytesMax } from "../../src/core/transport.js";
import { validateConfig } from "../../src/membership/config.js";
import { pauseToleranceMs, realConfig } from "../../src/server/membership-driver.js";

it("real nodes' membership frames fit the transport, and suspicion outlasts a 2 s pause", () => {
  for (const loopback of [true, false]) {
    const config = realConfig(loopback);
    validateConfig(config);
    assert.ok(config.datagramBytesMax <= datagramBytesMax, `loopback=${loopback}`);
    assert.ok(config.suspicionMult * config.probeIntervalMs >= pauseToleranceMs);
  }
});
