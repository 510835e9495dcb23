// Process, port and clean-up helpers shared by scripts/conformance.ts and scripts/bench.ts.
//
// Everything a script starts (servers, temp dirs, child tools) is registered with
// `onCleanup`, and `runMain` runs those actions on normal exit, on error and on
// SIGINT/SIGTERM, so an interrupted run leaves no server or temp dir behind.

import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { isUsageError } from "./options.js";

type CleanupAction = () => Promise<void> | void;

const cleanupActions: CleanupAction[] = [];
let cleaningUp: Promise<void> | undefined;

/**
 * Registers an action run once at exit, in reverse order of registration.
 * Returns a function that unregisters it (for things already cleaned up).
 */
export function onCleanup(action: CleanupAction): () => void {
  cleanupActions.push(action);
  return () => {
    const i = cleanupActions.indexOf(action);
    if (i >= 0) cleanupActions.splice(i, 1);
  };
}

/** Runs all registered clean-up actions (each at most once, newest first). */
export function runCleanup(): Promise<void> {
  cleaningUp ??= (async () => {
    while (cleanupActions.length > 0) {
      const action = cleanupActions.pop();
      try {
        await action?.();
      } catch (err) {
        process.stderr.write(`cleanup: ${String(err)}\n`);
      }
    }
  })();
  return cleaningUp;
}

let interruptedBy: NodeJS.Signals | undefined;

/** The signal that interrupted the run, if any (results gathered after it are partial). */
export function interrupted(): NodeJS.Signals | undefined {
  return interruptedBy;
}

/**
 * Runs a script's main function: returns its exit code, cleans up on every path,
 * and turns SIGINT/SIGTERM into a clean-up followed by exit 130/143.
 */
export function runMain(main: () => Promise<number>): void {
  const onSignal = (signal: NodeJS.Signals) => {
    interruptedBy = signal;
    process.stderr.write(`\n${signal} received, stopping what was started...\n`);
    void runCleanup().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  main()
    .then(
      async (code) => {
        await runCleanup();
        process.exit(code);
      },
      async (err: unknown) => {
        // Bad input says what was wrong; anything else, where it went wrong too.
        const text = isUsageError(err)
          ? err.message
          : err instanceof Error
            ? (err.stack ?? err.message)
            : String(err);
        process.stderr.write(`error: ${text}\n`);
        await runCleanup();
        process.exit(2);
      },
    )
    .catch(() => process.exit(2));
}

/** A fresh temp dir, removed at clean-up unless `keep` is set. */
export function makeTempDir(prefix: string, keep = false): string {
  const dir = mkdtempSync(path.join(tmpdir(), `${prefix}-`));
  if (!keep) onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A TCP port that was free on `host` a moment ago (bind port 0, read it, close). */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen({ host, port: 0, exclusive: true }, () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error("no port from bind(0)"))));
    });
  });
}

/** Distinct free ports (bound at the same time so they cannot collide with each other). */
export async function freePorts(count: number, host = "127.0.0.1"): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const srv = net.createServer();
      servers.push(srv);
      ports.push(
        await new Promise<number>((resolve, reject) => {
          srv.once("error", reject);
          srv.listen({ host, port: 0, exclusive: true }, () => {
            const addr = srv.address();
            resolve(typeof addr === "object" && addr !== null ? addr.port : 0);
          });
        }),
      );
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code (or -1 when killed by a signal) once the process ended. */
  readonly exited: Promise<number>;
  isRunning(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has ended. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** File receiving stdout and stderr; when absent, output is discarded. */
  logFile?: string;
  /**
   * Put the child in its own process group and signal the whole group on stop, so
   * helpers it forks (runtest forks tclsh clients) end with it.
   */
  group?: boolean;
  /** Leave stdout/stderr as pipes on `child` for the caller to read (when no logFile). */
  capture?: boolean;
}

/** Starts a long-running process that is stopped at clean-up. */
export function startProcess(
  name: string,
  cmd: string,
  args: string[],
  opts: StartOptions = {},
): ManagedProcess {
  const log = opts.logFile ? createWriteStream(opts.logFile, { flags: "w" }) : undefined;
  const piped = log !== undefined || opts.capture === true;
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ["ignore", piped ? "pipe" : "ignore", piped ? "pipe" : "ignore"],
    detached: opts.group === true,
  });
  if (log) {
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
  }
  let running = true;
  const exited = new Promise<number>((resolve, reject) => {
    child.once("error", (err) => {
      running = false;
      reject(new Error(`${name}: cannot start ${cmd}: ${err.message}`));
    });
    child.once("close", (code) => {
      running = false;
      log?.end();
      resolve(code ?? -1);
    });
  });
  // Callers await `exited` when they care; avoid an unhandled rejection otherwise.
  exited.catch(() => {});
  if (child.pid === undefined) {
    throw new Error(`${name}: cannot start ${cmd}`);
  }
  const pid = child.pid;
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (opts.group) process.kill(-pid, sig);
      else child.kill(sig);
    } catch {
      // Already gone.
    }
  };
  const stop = async (graceMs = 5000) => {
    if (!running) return;
    signal("SIGTERM");
    const timer = setTimeout(() => signal("SIGKILL"), graceMs);
    await exited.catch(() => {});
    clearTimeout(timer);
    // A group leader's exit does not end its children; make sure none is left.
    if (opts.group) signal("SIGKILL");
  };
  const proc: ManagedProcess = {
    name,
    child,
    pid,
    exited,
    isRunning: () => running,
    stop,
  };
  onCleanup(() => proc.stop());
  return proc;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs a command to completion, capturing its output. Never throws for a non-zero exit. */
export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; echo?: boolean } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      if (opts.echo) process.stdout.write(d);
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (opts.echo) process.stderr.write(d);
    });
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill("SIGKILL");
          }, opts.timeoutMs);
    const unregister = onCleanup(() => {
      child.kill("SIGKILL");
    });
    child.once("error", (err) => {
      if (timer) clearTimeout(timer);
      unregister();
      reject(new Error(`cannot run ${cmd}: ${err.message}`));
    });
    child.once("close", (code) => {
      if (timer) clearTimeout(timer);
      unregister();
      resolve({ code: code ?? -1, stdout, stderr, timedOut });
    });
  });
}

/** Whether an executable is on PATH. */
export async function which(cmd: string): Promise<string | undefined> {
  const r = await run("sh", ["-c", `command -v ${cmd}`]);
  const out = r.stdout.trim();
  return r.code === 0 && out !== "" ? out : undefined;
}

/** Sends one PING and resolves true on a +PONG reply within `timeoutMs`. */
export function pingOnce(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    let buf = "";
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once("connect", () => sock.write("*1\r\n$4\r\nPING\r\n"));
    sock.on("data", (d: Buffer) => {
      buf += d.toString();
      if (buf.includes("\r\n")) done(buf.startsWith("+PONG"));
    });
    sock.once("error", () => done(false));
    sock.once("close", () => done(false));
  });
}

/** Waits until PING answers PONG; fails early if `proc` exits first. */
export async function waitForPong(
  host: string,
  port: number,
  timeoutMs: number,
  proc?: ManagedProcess,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc && !proc.isRunning()) {
      throw new Error(`${proc.name} exited before answering PING on ${host}:${port}`);
    }
    if (await pingOnce(host, port, 500)) return;
    await sleep(100);
  }
  throw new Error(`no PONG from ${host}:${port} within ${timeoutMs} ms`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Peak resident set size (VmHWM) of a live process in KiB, or undefined. */
export function peakRssKiB(pid: number): number | undefined {
  return procStatusKiB(pid, "VmHWM");
}

/** Current resident set size (VmRSS) of a live process in KiB, or undefined. */
export function rssKiB(pid: number): number | undefined {
  return procStatusKiB(pid, "VmRSS");
}

function procStatusKiB(pid: number, field: string): number | undefined {
  const file = `/proc/${pid}/status`;
  if (!existsSync(file)) return undefined;
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(file, "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Repository root: scripts compile to dist/scripts/, sources live in scripts/. */
export function repoRoot(): string {
  let dir = path.dirname(new URL(import.meta.url).pathname);
  for (let i = 0; i < 5; i++) {
    if (existsSync(path.join(dir, "package.json"))) return dir;
    dir = path.dirname(dir);
  }
  return process.cwd();
}
