import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as R from "../../src/resp/reply.js";
import { LatencyTracker } from "../../src/server/latency.js";
import { LatencyMonitor, latencySamplesKept } from "../../src/server/latency-monitor.js";
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

describe("the latency monitor (LATENCY LATEST, HISTORY, GRAPH, RESET)", () => {
  it("keeps the worst of each second, 160 seconds, and the worst ever, as Redis's", () => {
    const m = new LatencyMonitor();
    m.add("command", 5, 1000);
    m.add("command", 9, 1000);
    m.add("command", 7, 1000);
    assert.deepEqual(m.history("command"), {
      kind: "array",
      value: [{ kind: "array", value: [R.integer(1000), R.integer(9)] }],
    });
    for (let t = 1001; t <= 1200; t++) m.add("command", t === 1100 ? 50 : 3, t);
    const history = m.history("command");
    assert.equal(history.kind === "array" ? history.value.length : -1, latencySamplesKept);
    assert.deepEqual(m.latest(), {
      kind: "array",
      value: [
        {
          kind: "array",
          value: [R.bulk("command"), R.integer(1200), R.integer(3), R.integer(50)],
        },
      ],
    });
    assert.equal(m.reset(["COMMAND", "nosuch"]), 1);
    assert.equal(m.size, 0);
  });

  it("draws Redis's graph: filled sparkline rows, then each sample's age downwards", () => {
    const m = new LatencyMonitor();
    m.add("ev", 5, 90);
    m.add("ev", 10, 95);
    m.add("ev", 20, 100);
    assert.equal(
      m.graph("ev", 100),
      `ev - high 20 ms, low 5 ms (all time high 20 ms)\n${"-".repeat(80)}\n` +
        "  #\n  |\n o|\n_||\n   \n150\n0ss\ns  \n",
    );
    assert.equal(m.graph("nosuch", 100), null);
  });
});

for (const mode of ["--standalone", "--cluster"] as const) {
  describe(`the latency monitor on a node (${mode})`, () => {
    const suite = nodeForSuite([mode]);

    it("keeps slow commands past latency-monitor-threshold, as Redis's command event", async () => {
      const r = await suite.connect();
      const slow = "local n = 0 for i = 1, 400000 do n = n + i end return n";
      await r.call("EVAL", slow, 0);
      assert.deepEqual(await r.call("LATENCY", "LATEST"), [], "off by default");
      await r.config("SET", "latency-monitor-threshold", "1");
      await r.call("EVAL", slow, 0);
      const latest = (await r.call("LATENCY", "LATEST")) as [string, number, number, number][];
      const command = latest.find((e) => e[0] === "command");
      assert.ok(command !== undefined, JSON.stringify(latest));
      assert.ok(command[2] >= 1 && command[3] >= command[2], JSON.stringify(command));
      assert.ok(Math.abs(command[1] - Date.now() / 1000) < 5, "a Unix time in seconds");
      const history = (await r.call("LATENCY", "HISTORY", "command")) as number[][];
      assert.ok(history.length >= 1);
      assert.match(String(await r.call("LATENCY", "GRAPH", "command")), /^command - high \d+ ms/);
      assert.match(String(await r.call("LATENCY", "DOCTOR")), /\d\. command: \d+ latency spikes/);
      assert.equal(await r.call("LATENCY", "RESET", "command"), 1);
      await r.config("SET", "latency-monitor-threshold", "0");
      // A cluster node may have kept raft-flush events meanwhile.
      await r.call("LATENCY", "RESET");
    });

    it("answers what it has no samples of, and bad settings, as redis-server does", async (t) => {
      const r = await suite.connect();
      await sameAsRedis(
        t,
        r,
        ["unused"],
        [
          [
            ["CONFIG", "GET", "latency-monitor-threshold"],
            ["CONFIG", "SET", "latency-monitor-threshold", "-1"],
            ["CONFIG", "SET", "latency-monitor-threshold", "x"],
            ["LATENCY", "RESET"],
            ["LATENCY", "LATEST"],
            ["LATENCY", "HISTORY", "nosuch"],
            ["LATENCY", "GRAPH", "nosuch"],
            ["LATENCY", "HISTORY"],
            ["LATENCY", "LATEST", "x"],
            ["LATENCY", "HELP"],
          ],
        ],
      );
    });
  });
}
