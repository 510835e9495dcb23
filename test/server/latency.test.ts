import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LatencyTracker } from "../../src/server/latency.js";
import { nodeForSuite, sameAsRedis } from "./harness.js";

/** LATENCY HISTOGRAM's reply in RESP2 as a map: command → { calls, buckets µs → count }. */
function histograms(reply: unknown): Map<string, { calls: number; buckets: [number, number][] }> {
  const flat = reply as unknown[];
  const out = new Map<string, { calls: number; buckets: [number, number][] }>();
  for (let i = 0; i < flat.length; i += 2) {
    const entry = flat[i + 1] as unknown[];
    const pairs = entry[3] as number[];
    const buckets: [number, number][] = [];
    for (let j = 0; j < pairs.length; j += 2)
      buckets.push([pairs[j] as number, pairs[j + 1] as number]);
    out.set(String(flat[i]), { calls: entry[1] as number, buckets });
  }
  return out;
}

describe("latency histograms (HDR, 2 significant digits, as Redis keeps them)", () => {
  it("reports the percentiles and buckets redis-server reports for the same durations", () => {
    const t = new LatencyTracker();
    // 15 µs: its HDR bucket spans 14,976–15,039 ns; redis-server showed p50=15.039 for it.
    t.record("a", 15);
    assert.deepEqual(t.infoFields([50, 99, 99.9]), [
      ["latency_percentiles_usec_a", "p50=15.039,p99=15.039,p99.9=15.039"],
    ]);
    // Whole µs, as Redis counts them (0.4 µs is 0, clamped to 1 ns).
    for (const usec of [0.4, 1, 2, 31, 32, 40, 1000]) t.record("b", usec);
    const b = new Map(t.infoFields([0, 50, 100])).get("latency_percentiles_usec_b");
    assert.equal(b, "p0=0.001,p50=31.103,p100=1003.519");
    const h = histograms(flatten(t.entry("b")));
    // Buckets at 1,024 ns · 2^k: the highest value counted with it, in µs (33 for 32,768 ns).
    assert.deepEqual(h.get("")?.buckets, [
      [1, 2],
      [2, 3],
      [33, 5],
      [66, 6],
      [1056, 7],
    ]);
    t.reset();
    assert.deepEqual(t.names(), []);
  });
});

/** LatencyTracker.entry's Reply as RESP2 gives it (a map as a flat array), under "". */
function flatten(entry: unknown): unknown[] {
  const toPlain = (r: unknown): unknown => {
    const reply = r as { kind: string; value: unknown };
    if (reply.kind === "map") {
      return (reply.value as [unknown, unknown][]).flatMap(([k, v]) => [toPlain(k), toPlain(v)]);
    }
    if (reply.kind === "bulk") return Buffer.from(reply.value as Uint8Array).toString();
    return reply.value;
  };
  return ["", toPlain(entry)];
}

for (const mode of ["--standalone", "--cluster"] as const) {
  describe(`LATENCY HISTOGRAM and INFO latencystats (${mode})`, () => {
    const suite = nodeForSuite([mode]);

    it("count each command, subcommands by their full name, until CONFIG RESETSTAT", async () => {
      const r = await suite.connect();
      await r.config("RESETSTAT");
      await r.set("lat:a", "b");
      await r.set("lat:c", "d");
      await r.call("CLIENT", "ID");
      let h = histograms(await r.call("LATENCY", "HISTOGRAM", "set", "client", "nosuch"));
      assert.deepEqual([...h.keys()].sort(), ["client|id", "set"]);
      assert.equal(h.get("set")?.calls, 2);
      const buckets = h.get("set")?.buckets ?? [];
      assert.equal(buckets.at(-1)?.[1], 2, "cumulative, up to every call");
      const bounds = [1, 2, 4, 8, 16, 33, 66, 132, 264, 528, 1056, 2113, 4227, 8454, 16908];
      for (const [usec] of buckets) assert.ok(bounds.includes(usec), `bucket ${usec} µs`);
      h = histograms(await r.call("LATENCY", "HISTOGRAM", "client|id"));
      assert.deepEqual([...h.keys()], ["client|id"]);

      const info = await r.info("latencystats");
      assert.match(
        info,
        /^latency_percentiles_usec_set:p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}\r$/m,
      );
      assert.doesNotMatch(await r.info(), /latency_percentiles/, "not in INFO's default sections");

      await r.config("SET", "latency-tracking", "no");
      await r.get("lat:a");
      assert.equal(histograms(await r.call("LATENCY", "HISTOGRAM", "get")).size, 0);
      await r.config("SET", "latency-tracking", "yes");
      await r.config("SET", "latency-tracking-info-percentiles", "0.0 50.0 100.0");
      assert.match(
        await r.info("latencystats"),
        /latency_percentiles_usec_set:p0=[\d.]+,p50=[\d.]+,p100=[\d.]+\r/,
      );
      await r.config("SET", "latency-tracking-info-percentiles", "50 99 99.9");
      await r.config("RESETSTAT");
      assert.doesNotMatch(await r.info("latencystats"), /usec_set:/);
    });

    it("answers bad settings and unknown subcommands as redis-server does", async (t) => {
      const r = await suite.connect();
      await sameAsRedis(
        t,
        r,
        ["unused"],
        [
          [
            ["CONFIG", "GET", "latency-tracking"],
            ["CONFIG", "GET", "latency-tracking-info-percentiles"],
            ["CONFIG", "SET", "latency-tracking", "maybe"],
            ["CONFIG", "SET", "latency-tracking-info-percentiles", "10 a"],
            ["CONFIG", "SET", "latency-tracking-info-percentiles", "10 101"],
            ["CONFIG", "SET", "latency-tracking-info-percentiles", "0.0 50.0 99.90"],
            ["CONFIG", "GET", "latency-tracking-info-percentiles"],
            ["CONFIG", "SET", "latency-tracking-info-percentiles", ""],
            ["CONFIG", "GET", "latency-tracking-info-percentiles"],
            ["CONFIG", "SET", "latency-tracking-info-percentiles", "50 99 99.9"],
            ["LATENCY", "HISTOGRAM", "nosuch", "other|thing"],
            ["LATENCY", "FOO"],
            ["LATENCY"],
          ],
        ],
      );
    });
  });
}
