import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";

const here = dirname(fileURLToPath(import.meta.url));
/** The built CLI entry point (dist/src/cli/main.js), next to this compiled test. */
export const CLI = resolve(here, "../../src/cli/main.js");

export interface RunningNode {
  port: number;
  /** A cluster node's port for cluster-aware clients (0 for a standalone node). */
  redirectPort: number;
  dir: string;
  proc: ChildProcess;
  /** Every log line the node printed so far. */
  logs: string[];
  /** SIGTERM and wait for exit: the exit code, or the signal that ended the process. */
  stop(): Promise<number | NodeJS.Signals | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
}

export function tempDir(prefix = "homeostat-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * After the enclosing suite: kills every node in `nodes` and removes every folder in
 * `dirs` (both may grow as the suite runs). HOMEOSTAT_TEST_LOGS=FILE keeps the nodes' logs.
 */
export function cleanUpAfter(nodes: RunningNode[], dirs: string[]): void {
  after(async () => {
    for (const node of nodes) await node.kill().catch(() => {});
    const dump = process.env.HOMEOSTAT_TEST_LOGS;
    if (dump !== undefined) writeFileSync(dump, nodes.map((x) => x.logs.join("\n")).join("\n"));
    for (const dir of dirs) removeDir(dir);
  });
}

/**
 * A node is started standalone unless `extra` says --cluster (or --standalone itself), or
 * the caller asks for the default mode (the sharded one): most server tests are about one
 * node's key space; cluster.test.ts asks for the cluster.
 */
function mode(extra: readonly string[]): string[] {
  return extra.includes("--cluster") || extra.includes("--standalone") ? [] : ["--standalone"];
}

/**
 * Starts a node as a separate process on a free port (the node binds port 0 and reports the
 * port it got in its "ready" log line), with its data in `dir`.
 */
export async function startNode(
  dir: string,
  extra: string[] = [],
  options: { defaultMode?: boolean } = {},
): Promise<RunningNode> {
  const chosen = options.defaultMode === true ? [] : mode(extra);
  const proc = spawn(
    process.execPath,
    [CLI, "start", "--port", "0", "--data", dir, "--log-format", "json", ...chosen, ...extra],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const logs: string[] = [];
  const exited = new Promise<number | NodeJS.Signals | null>((r) =>
    proc.once("exit", (code, signal) => r(code ?? signal)),
  );
  let redirectPort = 0;
  const port = await new Promise<number>((resolvePort, reject) => {
    let pending = "";
    const timer = setTimeout(
      () => reject(new Error(`node did not start:\n${logs.join("\n")}`)),
      15000,
    );
    const onLine = (line: string) => {
      logs.push(line);
      try {
        const rec = JSON.parse(line) as { msg?: string; port?: number; redirectPort?: number };
        if (rec.msg?.startsWith("ready") && typeof rec.port === "number") {
          clearTimeout(timer);
          redirectPort = rec.redirectPort ?? 0;
          resolvePort(rec.port);
        }
      } catch {
        // not JSON: keep it in the log
      }
    };
    proc.stdout?.on("data", (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const l of lines) if (l.length > 0) onLine(l);
    });
    proc.stderr?.on("data", (chunk: Buffer) => logs.push(chunk.toString()));
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`node exited with ${code} before it was ready:\n${logs.join("\n")}`));
    });
  });
  return {
    port,
    redirectPort,
    dir,
    proc,
    logs,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      return exited;
    },
    kill: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await exited;
    },
  };
}

/** Throws, with its exit and its last log lines, if `node` is no longer running. */
export function assertRunning(node: RunningNode, name: string): void {
  const { exitCode, signalCode } = node.proc;
  if (exitCode === null && signalCode === null) return;
  const tail = node.logs.slice(-30).join("\n");
  throw new Error(`${name} exited (${exitCode ?? signalCode}); its last log lines:\n${tail}`);
}

/**
 * A loopback TCP port nothing listens on (bound, then released): a seed that refuses
 * connections. Another process could take it meanwhile; on loopback that is unlikely.
 */
export async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/**
 * A port on 127.0.0.1 that refuses connections for the rest of the test: free now, and
 * below the kernel's range for listen(0) and outgoing connections, which unusedPort and
 * every other test take their ports from, so that none of them can be given it meanwhile.
 * A port from unusedPort is free only when asked: a seed meant to be down there could be
 * answered by a node another test started after.
 */
export async function refusingPort(): Promise<number> {
  let low = 32768;
  try {
    low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").split(/\s+/)[0]);
  } catch {
    // Not Linux: its default range starts higher still.
  }
  return freePortIn(10_000, low);
}

/** A port on 127.0.0.1 in [from, to) that nothing listens on now, tried at random. */
export async function freePortIn(from: number, to: number): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = from + Math.floor(Math.random() * Math.max(1, to - from));
    const server = createServer();
    const free = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (free) {
      await new Promise<void>((r) => server.close(() => r()));
      return port;
    }
  }
  throw new Error(`no free port in ${from}..${to - 1}`);
}

/** Polls `check` every 100 ms until it holds; resolves with the time it took. */
export async function waitFor(
  what: string,
  timeoutMs: number,
  check: () => boolean | Promise<boolean>,
): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await check()) return performance.now() - start;
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until INFO says `count` clients are blocked. */
/**
 * Waits until `probe` (a command on a node just restarted) gets an answer: a cluster node
 * answers CLUSTERDOWN or TRYAGAIN until its shards have elected and replayed their logs.
 * Any other error is thrown.
 */
export async function waitUntilServed(probe: () => Promise<unknown>): Promise<void> {
  await waitFor("the restarted node serves the key", 30_000, () =>
    probe().then(
      () => true,
      (e: Error) => {
        if (/CLUSTERDOWN|TRYAGAIN/.test(e.message)) return false;
        throw e;
      },
    ),
  );
}

export async function waitForBlocked(client: Redis, count: number): Promise<void> {
  const until = Date.now() + 5000;
  for (;;) {
    const info = await client.info("clients");
    const n = Number(/blocked_clients:(\d+)/.exec(info)?.[1] ?? "-1");
    if (n === count) return;
    if (Date.now() > until) throw new Error(`blocked_clients stayed ${n}, not ${count}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A node for one suite's tests, with the ioredis clients they open. */
export interface SuiteNode {
  /** The running node (another one after `restart`). */
  readonly node: RunningNode;
  /** A new client of the node, connected; every one is closed after the suite. */
  connect(): Promise<Redis>;
  /** Closes every client, stops the node (SIGTERM) and starts it again on its data. */
  restart(): Promise<void>;
}

/**
 * Starts a node with `extra` before the suite's tests and kills it, its clients and its
 * data after them. Call it inside `describe`.
 */
export function nodeForSuite(extra: string[]): SuiteNode {
  let node: RunningNode | undefined;
  const dir = tempDir();
  const clients: Redis[] = [];
  const running = (): RunningNode => {
    if (node === undefined) throw new Error("the suite's node is not started");
    return node;
  };
  before(async () => {
    node = await startNode(dir, extra);
  });
  after(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    await node?.kill();
    removeDir(dir);
  });
  return {
    get node() {
      return running();
    },
    async connect() {
      const c = new Redis({
        port: running().port,
        host: "127.0.0.1",
        lazyConnect: true,
        maxRetriesPerRequest: 0,
      });
      await c.connect();
      clients.push(c);
      return c;
    },
    async restart() {
      for (const c of clients.splice(0)) c.disconnect();
      await running().stop();
      node = await startNode(dir, extra);
    },
  };
}

/** Whether `bin` runs here (Debian's redis-server and redis-tools in CI). */
export function installed(bin: string): boolean {
  try {
    execFileSync(bin, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** redis-server on a free port without persistence, or null where it is not installed. */
export async function startRedisServer(): Promise<{
  proc: ChildProcess;
  client: Redis;
  port: number;
} | null> {
  if (!installed("redis-server")) return null;
  const port = await unusedPort();
  const proc = spawn("redis-server", ["--port", String(port), "--save", "", "--appendonly", "no"], {
    stdio: "ignore",
  });
  const client = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0 });
  client.on("error", () => {}); // refused until it listens: waitFor tries again
  await waitFor("redis-server answers", 10_000, async () => {
    try {
      await client.connect();
      return (await client.ping()) === "PONG";
    } catch {
      client.disconnect();
      return false;
    }
  });
  return { proc, client, port };
}

/** A command's reply (bulk strings as latin1 text, byte for byte), or its error. */
export async function replyOf(client: Redis, cmd: readonly (string | number)[]): Promise<unknown> {
  const plain = (r: unknown): unknown =>
    Buffer.isBuffer(r) ? r.toString("latin1") : Array.isArray(r) ? r.map(plain) : r;
  try {
    return plain(await client.callBuffer(String(cmd[0]), ...cmd.slice(1).map(String)));
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/**
 * Runs each workload through `client` and through a redis-server started for it, `keys`
 * deleted on both before each, and checks every pair of replies with `check` (equal by
 * default). Skips the test when redis-server is not installed.
 */
export async function sameAsRedis(
  t: TestContext,
  client: Redis,
  keys: readonly string[],
  workloads: readonly (readonly (readonly (string | number)[])[])[],
  check = (ours: unknown, theirs: unknown, cmd: readonly (string | number)[]): void =>
    assert.deepEqual(ours, theirs, cmd.join(" ")),
): Promise<void> {
  const redis = await startRedisServer();
  if (redis === null) {
    t.skip("redis-server is not installed");
    return;
  }
  try {
    for (const commands of workloads) {
      await client.del(...keys);
      await redis.client.del(...keys);
      for (const cmd of commands) {
        check(await replyOf(client, cmd), await replyOf(redis.client, cmd), cmd);
      }
    }
  } finally {
    redis.client.disconnect();
    redis.proc.kill("SIGKILL");
  }
}

/**
 * Starts a 3-node cluster of `shards` shards (the first node creates it, the others join
 * it), adds its processes and folders to `nodes` and `dirs` (for cleanUpAfter), and returns
 * a client of each node once every group (the meta group and each shard) is led with 3
 * voters, as the nodes' HOMEOSTAT GROUPS show.
 */
export async function startFormedCluster(
  shards: number,
  nodes: RunningNode[],
  dirs: string[],
): Promise<Redis[]> {
  const first = tempDir();
  dirs.push(first);
  nodes.push(await startNode(first, ["--cluster", "--shards", String(shards)]));
  for (let i = 1; i < 3; i++) {
    const dir = tempDir();
    dirs.push(dir);
    const seed = `127.0.0.1:${(nodes[0] as RunningNode).port}`;
    nodes.push(await startNode(dir, ["--cluster", "--join", seed]));
  }
  const clients: Redis[] = [];
  for (const n of nodes) {
    const c = new Redis({ port: n.port, lazyConnect: true, maxRetriesPerRequest: 0 });
    await c.connect();
    clients.push(c);
  }
  await waitFor("every group at 3 voters", 90_000, async () => {
    let led = 0;
    for (const client of clients) {
      for (const row of (await client.call("HOMEOSTAT", "GROUPS")) as string[]) {
        if (/ role=leader /.test(row) && / voters=\d+,\d+,\d+ /.test(row)) led++;
      }
    }
    return led === shards + 1;
  });
  return clients;
}
