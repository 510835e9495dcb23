import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { it } from "node:test";
import { CLI, freePortIn, removeDir, startNode, tempDir, unusedPort, waitFor } from "./harness.js";

const run = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 15000 });

it("homeostat --help and start --help explain themselves", () => {
  const top = run("--help");
  assert.equal(top.status, 0);
  assert.match(top.stdout, /Usage: homeostat/);
  assert.match(top.stdout, /start/);
  const start = run("start", "--help");
  assert.equal(start.status, 0);
  for (const option of ["--host", "--port", "--bus-port", "--data"]) {
    assert.ok(start.stdout.includes(option), `start --help lacks ${option}`);
  }
});

it("rejects a bad port with a clear message", () => {
  const r = run("start", "--port", "70000");
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /must be a port number/);
});

it("says so when the port is taken", async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
  const address = blocker.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  const dir = tempDir();
  try {
    const r = run(
      "start",
      "--port",
      String(port),
      "--bus-port",
      "0",
      "--data",
      dir,
      "--log-format",
      "json",
    );
    assert.equal(r.status, 1);
    assert.match(r.stdout, /cannot listen/);
    assert.match(r.stdout, /EADDRINUSE/);
  } finally {
    blocker.close();
    removeDir(dir);
  }
});

it("homeostat info reaches a node through its Redis port, and says when it cannot", async () => {
  const dir = tempDir();
  const node = await startNode(dir);
  try {
    const r = spawnSync(process.execPath, [CLI, "info", "-p", String(node.port), "persistence"], {
      encoding: "utf8",
      timeout: 15000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^# Persistence\n/);
    assert.match(r.stdout, /aof_last_write_status:ok/);
  } finally {
    await node.stop();
    removeDir(dir);
  }
  const down = run("info", "-p", "1");
  assert.equal(down.status, 1);
  assert.match(down.stderr, /cannot reach a node at 127\.0\.0\.1:1: ECONNREFUSED/);
});

it("start with no mode creates a one-node cluster, and a folder refuses the other mode", async () => {
  const dir = tempDir();
  const plain = tempDir();
  try {
    const node = await startNode(dir, ["--shards", "4"], { defaultMode: true });
    try {
      const cli = (...args: string[]) =>
        spawnSync("redis-cli", ["-p", String(node.port), ...args], { encoding: "utf8" });
      let info = "";
      for (let i = 0; i < 100 && !/cluster_state:ok/.test(info); i++) {
        info = cli("cluster", "info").stdout;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(info, /cluster_state:ok/);
      assert.match(info, /cluster_known_nodes:1/);
      assert.equal(cli("set", "greeting", "hello").stdout.trim(), "OK");
      assert.equal(cli("get", "greeting").stdout.trim(), "hello");
      assert.match(cli("mset", "a", "1", "b", "2").stdout, /CROSSSLOT/);
    } finally {
      await node.stop();
    }
    const startOn = (data: string, ...more: string[]) =>
      run(
        "start",
        "--port",
        "0",
        "--bus-port",
        "0",
        "--data",
        data,
        "--log-format",
        "json",
        ...more,
      );
    const standalone = startOn(dir, "--standalone");
    assert.equal(standalone.status, 2);
    assert.match(
      standalone.stdout + standalone.stderr,
      /belongs to a cluster node: start it without --standalone/,
    );
    const both = run("start", "--cluster", "--standalone");
    assert.equal(both.status, 2);
    assert.match(both.stderr, /exclude each other/);
    // A standalone node's folder with keys in it is not silently ignored by a cluster node.
    const one = await startNode(plain);
    spawnSync("redis-cli", ["-p", String(one.port), "set", "k", "v"], { encoding: "utf8" });
    await one.stop();
    const clustered = startOn(plain);
    assert.equal(clustered.status, 2);
    assert.match(
      clustered.stdout,
      /holds the keys of a standalone node \(1\): start it with --standalone/,
    );
  } finally {
    removeDir(dir);
    removeDir(plain);
  }
});

/** CLUSTER SLOTS as redis-cli prints it, once every slot is served (its shards have leaders). */
async function slotMap(port: number): Promise<string> {
  let out = "";
  await waitFor("every slot served", 10_000, async () => {
    out = spawnSync("redis-cli", ["-p", String(port), "cluster", "slots"], {
      encoding: "utf8",
    }).stdout;
    const info = spawnSync("redis-cli", ["-p", String(port), "cluster", "info"], {
      encoding: "utf8",
    }).stdout;
    return /cluster_state:ok/.test(info) && out.trim() !== "";
  });
  return out;
}

it("a cluster node takes its redirect port from --redirect-port, port + 20000, a free one, or none", async () => {
  // A free Redis port above 45535, where port + 20000 would pass 65535.
  const high = await freePortIn(46_000, 60_000);
  const dirs = [tempDir(), tempDir(), tempDir()];
  try {
    const free = await startNode(dirs[0] as string, [
      "--cluster",
      "--port",
      String(high),
      "--bus-port",
      "0",
    ]);
    try {
      assert.equal(free.port, high);
      assert.ok(free.redirectPort > 0 && free.redirectPort !== high + 20_000);
      assert.ok(free.logs.some((l) => l.includes("would exceed 65535: using a free port")));
      const moved = spawnSync("redis-cli", ["-p", String(free.redirectPort), "cluster", "myid"], {
        encoding: "utf8",
      });
      assert.match(moved.stdout, /^[0-9a-f]{40}$/m, "the redirect port serves Redis");
    } finally {
      await free.stop();
    }
    const want = await unusedPort();
    const chosen = await startNode(dirs[1] as string, [
      "--cluster",
      "--redirect-port",
      String(want),
    ]);
    try {
      assert.equal(chosen.redirectPort, want);
      const slots = await slotMap(chosen.port);
      assert.match(slots, new RegExp(`^${want}$`, "m"), "the slot map names it");
    } finally {
      await chosen.stop();
    }
    // Without one, the slot map names the Redis port, as before redirect ports.
    const none = await startNode(dirs[2] as string, ["--cluster", "--no-redirect-port"]);
    try {
      assert.equal(none.redirectPort, 0);
      const slots = await slotMap(none.port);
      assert.match(slots, new RegExp(`^${none.port}$`, "m"));
      assert.doesNotMatch(slots, new RegExp(`^${want}$`, "m"));
    } finally {
      await none.stop();
    }
  } finally {
    for (const d of dirs) removeDir(d);
  }
});
