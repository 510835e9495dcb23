// Servers the conformance and benchmark scripts run against: redis-server from
// Debian (the reference) and a Homeostat node built into dist/.

import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import {
  freePorts,
  type ManagedProcess,
  makeTempDir,
  peakRssKiB,
  repoRoot,
  run,
  startProcess,
  waitForPong,
  which,
} from "./proc.js";

export interface RunningServer {
  /** Short label used in tables, e.g. "redis", "redis-aof-always", "homeostat". */
  readonly label: string;
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  readonly dataDir: string;
  readonly logFile: string;
  readonly process: ManagedProcess;
  /** Peak RSS (VmHWM) in KiB while the process is alive. */
  peakRssKiB(): number | undefined;
  stop(): Promise<void>;
}

export type RedisPersistence = "none" | "aof-always";

export interface StartOptions {
  label?: string;
  host?: string;
  /** Keep the data dir (and log) after exit, for debugging. */
  keepData?: boolean;
  readyTimeoutMs?: number;
  /** Where the server's stdout/stderr go; default: server.log beside its data dir. */
  logFile?: string;
  /** startHomeostat: a one-node sharded cluster (every write a raft entry) instead. */
  cluster?: boolean;
}

/** A temp dir holding `data/` (the server's dir) and, by default, `server.log`. */
function serverDirs(label: string, opts: StartOptions): { dataDir: string; logFile: string } {
  const base = makeTempDir(`homeostat-${label}`, opts.keepData);
  const dataDir = path.join(base, "data");
  mkdirSync(dataDir);
  return { dataDir, logFile: opts.logFile ?? path.join(base, "server.log") };
}

const HOST = "127.0.0.1";

function wrap(
  label: string,
  host: string,
  port: number,
  dataDir: string,
  logFile: string,
  proc: ManagedProcess,
  graceMs: number,
): RunningServer {
  return {
    label,
    host,
    port,
    pid: proc.pid,
    dataDir,
    logFile,
    process: proc,
    peakRssKiB: () => peakRssKiB(proc.pid),
    stop: () => proc.stop(graceMs),
  };
}

/** Starts redis-server on a free port with a temp dir; no config file is read. */
export async function startRedis(
  persistence: RedisPersistence,
  opts: StartOptions = {},
): Promise<RunningServer> {
  const bin = await which("redis-server");
  if (!bin) {
    throw new Error("redis-server not found: apt-get install -y redis-server");
  }
  const host = opts.host ?? HOST;
  const label = opts.label ?? (persistence === "none" ? "redis" : "redis-aof-always");
  const [port] = await freePorts(1, host);
  const { dataDir, logFile } = serverDirs(label, opts);
  const persistArgs =
    persistence === "none"
      ? ["--save", "", "--appendonly", "no"]
      : ["--save", "", "--appendonly", "yes", "--appendfsync", "always"];
  const args = [
    "--port",
    String(port),
    "--bind",
    host,
    "--dir",
    dataDir,
    "--daemonize",
    "no",
    "--protected-mode",
    "no",
    "--logfile",
    "",
    ...persistArgs,
  ];
  const proc = startProcess(label, bin, args, { logFile });
  try {
    await waitForPong(host, port, opts.readyTimeoutMs ?? 15_000, proc);
  } catch (err) {
    await proc.stop();
    throw new Error(
      `${err instanceof Error ? err.message : String(err)}\n--- last lines of ${logFile}:\n${tail(logFile, 25)}`,
    );
  }
  return wrap(label, host, port, dataDir, logFile, proc, 5000);
}

/** Path of the built Homeostat CLI, or undefined when it has not been built. */
export function homeostatCli(): string | undefined {
  const cli = path.join(repoRoot(), "dist", "src", "cli", "main.js");
  return existsSync(cli) ? cli : undefined;
}

/**
 * Starts one Homeostat node: `node dist/src/cli/main.js start --host H --port P
 * --bus-port Q --data DIR`, ready when PING answers PONG.
 */
export async function startHomeostat(opts: StartOptions = {}): Promise<RunningServer> {
  const cli = homeostatCli();
  if (!cli) {
    throw new Error(
      "dist/src/cli/main.js not found: run `npm run build` (is the server written yet?)",
    );
  }
  const host = opts.host ?? HOST;
  const label = opts.label ?? "homeostat";
  const [port, busPort, redirectPort] = await freePorts(3, host);
  const { dataDir, logFile } = serverDirs(label, opts);
  const args = [
    cli,
    "start",
    "--host",
    host,
    "--port",
    String(port),
    "--bus-port",
    String(busPort),
    "--data",
    dataDir,
    // One node's engine against redis-server's: the sharded default adds raft to every write.
    ...(opts.cluster ? ["--cluster", "--redirect-port", String(redirectPort)] : ["--standalone"]),
  ];
  const proc = startProcess(label, process.execPath, args, { logFile, cwd: repoRoot() });
  try {
    await waitForPong(host, port, opts.readyTimeoutMs ?? 30_000, proc);
  } catch (err) {
    await proc.stop();
    throw new Error(
      `${err instanceof Error ? err.message : String(err)}\n--- last lines of ${logFile}:\n${tail(logFile, 25)}`,
    );
  }
  return wrap(label, host, port, dataDir, logFile, proc, 10_000);
}

/** The last `lines` lines of a text file ("" when unreadable). */
export function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/** "Redis server v=7.0.15 sha=..." → "7.0.15". */
export async function redisVersion(): Promise<string> {
  const r = await run("redis-server", ["--version"]).catch(() => undefined);
  const m = r ? /v=(\S+)/.exec(r.stdout) : null;
  return m ? m[1] : "unknown";
}
