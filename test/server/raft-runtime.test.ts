import assert from "node:assert/strict";
import { it } from "node:test";
import { afterPromiseJobs } from "../../src/server/raft-runtime.js";

it("afterPromiseJobs waits for every promise hop queued before it, and for no I/O or timer", async () => {
  await new Promise<void>((done, fail) => {
    // From a turn of the event loop, as a flush runs: a reply's chain of promise hops is
    // under way, a timer and an immediate are due.
    setImmediate(() => {
      let hops = 0;
      let chain = Promise.resolve();
      for (let i = 0; i < 40; i++) {
        chain = chain.then(() => {
          hops += 1;
        });
      }
      let immediateRan = false;
      let timerRan = false;
      setImmediate(() => {
        immediateRan = true;
      });
      setTimeout(() => {
        timerRan = true;
      }, 0);
      afterPromiseJobs().then(() => {
        try {
          assert.equal(hops, 40);
          assert.equal(immediateRan, false);
          assert.equal(timerRan, false);
          done();
        } catch (err) {
          fail(err);
        }
      }, fail);
    });
  });
});
