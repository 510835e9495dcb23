import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Job, Queue, Worker } from "bullmq";
import { nodeForSuite, waitFor } from "./harness.js";

/**
 * BullMQ, a job queue built on Redis's Lua scripts (EVALSHA with cmsgpack and cjson,
 * streams, sorted sets, blocking pops), run unchanged against a node in both modes: jobs
 * are processed once each, a failing one fails, a retried one succeeds, a delayed one
 * waits its delay. On a cluster its keys carry a hash tag (`prefix: "{bq}"`), as BullMQ
 * asks for Redis Cluster, so that each script's keys are in one slot.
 */
for (const mode of ["--standalone", "--cluster"] as const) {
  describe(`BullMQ on a node (${mode})`, { timeout: 60_000 }, () => {
    const suite = nodeForSuite([mode]);

    it("processes jobs: each once, failures, retries and delays as BullMQ promises", async () => {
      const connection = { host: "127.0.0.1", port: suite.node.port, maxRetriesPerRequest: null };
      const prefix = mode === "--cluster" ? "{bq}" : "bull";
      const queue = new Queue("jobs", { connection, prefix });
      const seen = new Map<number, number>();
      const results: number[] = [];
      const failed: string[] = [];
      const worker = new Worker(
        "jobs",
        async (job: Job) => {
          const n = job.data.n as number;
          seen.set(n, (seen.get(n) ?? 0) + 1);
          if (n === 7) throw new Error("always fails");
          // Job 9 fails its first attempt and succeeds on the second.
          if (n === 9 && job.attemptsMade === 0) throw new Error("fails once");
          return n * 2;
        },
        { connection, prefix, concurrency: 4 },
      );
      worker.on("completed", (_job, r: number) => results.push(r));
      worker.on("failed", (job) => {
        if (job !== undefined && job.attemptsMade >= (job.opts.attempts ?? 1))
          failed.push(job.name);
      });
      try {
        const started = Date.now();
        for (let n = 0; n < 30; n++) {
          await queue.add(`job${n}`, { n }, { attempts: n === 9 ? 2 : 1 });
        }
        await queue.add("later", { n: 100 }, { delay: 400 });
        await waitFor(
          "every job settled",
          30_000,
          async () => results.length + failed.length === 31,
        );
        assert.deepEqual(failed, ["job7"]);
        assert.deepEqual(
          [...results].sort((a, b) => a - b),
          [...Array.from({ length: 30 }, (_, n) => n * 2).filter((r) => r !== 14), 200],
        );
        for (let n = 0; n < 30; n++) assert.equal(seen.get(n), n === 9 ? 2 : 1, `job ${n}`);
        assert.ok(Date.now() - started >= 400, "the delayed job waited");
        const counts = await queue.getJobCounts("completed", "failed", "waiting", "delayed");
        assert.deepEqual(
          [counts.completed, counts.failed, counts.waiting, counts.delayed],
          [30, 1, 0, 0],
        );
      } finally {
        await worker.close();
        await queue.close();
      }
    });
  });
}
