import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { it } from "node:test";
import { CLI, removeDir, startNode, tempDir } from "./harness.js";

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
