import { describe } from "node:test";
import { RealTimers, SystemClock } from "../../src/core/clock.js";
import { timersCompliance } from "./timers.compliance.js";

describe("RealTimers", () =>
  timersCompliance("real", () => ({
    timers: new RealTimers(),
    clock: new SystemClock(),
    elapse: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  })));
