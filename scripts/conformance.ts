// Conformance: runs Redis 7.0's own Tcl test units for strings and the keyspace
// (fetched from Debian's source package into .cache/redis-src/) against a Homeostat
// node, or against redis-server with --target redis to validate the harness.
//
//   npm run conformance                          # build, start a node, run, stop
//   node dist/scripts/conformance.js --target redis
//   node dist/scripts/conformance.js --trace     # also list the commands each test sends
//   node dist/scripts/conformance.js --help

import { appendFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { intArg, UsageError } from "./lib/options.js";
import { interrupted, repoRoot, runMain, startProcess, waitForPong } from "./lib/proc.js";
import { BASE_FAMILIES, commandFamily, commandKey } from "./lib/redis-commands.js";
import { ensureRedisSource, ensureTclsh } from "./lib/redis-src.js";
import { parseRuntestOutput, type RuntestResult, readSkipFile } from "./lib/runtest.js";
import { type RunningServer, startHomeostat, startRedis } from "./lib/targets.js";
import { startTraceProxy, type TracedCommand, type TraceProxy } from "./lib/trace-proxy.js";

const UNITS = [
  "unit/type/string",
  "unit/type/incr",
  "unit/keyspace",
  "unit/expire",
  "unit/multi",
  "unit/pubsub",
  "unit/type/hash",
  "unit/type/set",
  "unit/type/list",
  "unit/type/list-2",
  "unit/type/list-3",
  "unit/type/zset",
  "unit/sort",
  "unit/type/stream",
  "unit/type/stream-cgroups",
  "unit/dump",
  "unit/scripting",
  "unit/geo",
  "unit/bitops",
  "unit/bitfield",
  "unit/hyperloglog",
  "unit/slowlog",
  "unit/pause",
  "unit/functions",
];

const DENIED_TAGS = [
  "needs:debug",
  "needs:repl",
  "needs:config-maxmemory",
  "needs:save",
  "needs:reset",
  "needs:config-resetstat",
];

const HELP = `Usage: node dist/scripts/conformance.js [options]

Runs Redis ${"7.0.15"}'s Tcl test units ${UNITS.join(", ")} against one server.

Options:
  --target homeostat|redis  server to start (default homeostat: dist/src/cli/main.js)
  --host H --port P         use a server that is already running instead of starting one
  --units a,b               test units to run (default: all of the above)
  --one-run                 run all units in one runtest process (default: one per unit,
                            so a Tcl exception in one unit does not hide the others)
  --no-skip                 ignore conformance/skip.txt
  --trace                   proxy the traffic and report, per test, the commands that are
                            not strings/keyspace (written to .cache/conformance-commands.txt)
  --test-timeout S          runtest --timeout: seconds without progress before it gives up
                            (default 300)
  --keep                    keep the server's temp data dir and log
  -h, --help                this text

Writes the full runtest log to .cache/conformance-last.log and exits 1 if any test
failed, 2 if the run could not be set up.`;

interface Options {
  target: "homeostat" | "redis";
  host?: string;
  port?: number;
  units: string[];
  oneRun: boolean;
  useSkipFile: boolean;
  trace: boolean;
  testTimeoutS: number;
  keep: boolean;
}

function parseOptions(): Options | undefined {
  const { values } = parseArgs({
    options: {
      target: { type: "string", default: "homeostat" },
      host: { type: "string" },
      port: { type: "string" },
      units: { type: "string" },
      "one-run": { type: "boolean", default: false },
      "no-skip": { type: "boolean", default: false },
      trace: { type: "boolean", default: false },
      "test-timeout": { type: "string", default: "300" },
      keep: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return undefined;
  }
  if (values.target !== "homeostat" && values.target !== "redis") {
    throw new UsageError(`--target must be homeostat or redis, not ${values.target}`);
  }
  if ((values.host === undefined) !== (values.port === undefined)) {
    throw new UsageError("--host and --port go together");
  }
  const testTimeoutS = intArg("--test-timeout", values["test-timeout"]);
  return {
    target: values.target,
    host: values.host,
    port: values.port === undefined ? undefined : intArg("--port", values.port),
    units: values.units ? values.units.split(",").map((u) => u.trim()) : UNITS,
    oneRun: values["one-run"],
    useSkipFile: !values["no-skip"],
    trace: values.trace,
    testTimeoutS,
    keep: values.keep,
  };
}

async function main(): Promise<number> {
  const opts = parseOptions();
  if (!opts) return 0;
  const root = repoRoot();
  const cache = path.join(root, ".cache");
  mkdirSync(cache, { recursive: true });
  const logFile = path.join(cache, "conformance-last.log");
  const serverLog = path.join(cache, "conformance-server.log");

  await ensureTclsh();
  const srcTree = await ensureRedisSource(path.join(cache, "redis-src"));

  const skipFile = path.join(root, "conformance", "skip.txt");
  const skips = opts.useSkipFile ? readSkipFile(skipFile) : [];

  // The server under test.
  let server: RunningServer | undefined;
  let host: string;
  let port: number;
  if (opts.host !== undefined && opts.port !== undefined) {
    host = opts.host;
    port = opts.port;
    await waitForPong(host, port, 5000);
    process.stdout.write(`Using the server already running on ${host}:${port}\n`);
  } else {
    rmSync(serverLog, { force: true });
    server =
      opts.target === "redis"
        ? await startRedis("none", { keepData: opts.keep, logFile: serverLog })
        : await startHomeostat({ keepData: opts.keep, logFile: serverLog });
    host = server.host;
    port = server.port;
    process.stdout.write(
      `Started ${server.label} (pid ${server.pid}) on ${host}:${port}, data ${server.dataDir}\n`,
    );
  }

  let proxy: TraceProxy | undefined;
  if (opts.trace) {
    proxy = await startTraceProxy(host, port);
    process.stdout.write(`Tracing commands through a proxy on 127.0.0.1:${proxy.port}\n`);
  }

  const baseArgs = [
    "--host",
    proxy ? "127.0.0.1" : host,
    "--port",
    String(proxy ? proxy.port : port),
    "--singledb",
    "--ignore-encoding",
    "--ignore-digest",
    "--durable",
    "--timeout",
    String(opts.testTimeoutS),
    "--tags",
    DENIED_TAGS.map((t) => `-${t}`).join(" "),
    ...skips.flatMap((s) => ["--skiptest", s.name]),
  ];
  const batches = opts.oneRun ? [opts.units] : opts.units.map((u) => [u]);

  writeFileSync(logFile, "");
  const results: RuntestResult[] = [];
  const started = Date.now();
  for (const units of batches) {
    const args = [...baseArgs, ...units.flatMap((u) => ["--single", u])];
    appendFileSync(logFile, `\n$ ./runtest ${args.map(shellQuote).join(" ")}\n`);
    process.stdout.write(`Running ${units.join(", ")} ...\n`);
    proxy?.setContext(
      `(${units.join(", ")}: start_server and file-level code, before the first test)`,
      units.length === 1 ? `tests/${units[0]}.tcl` : "",
    );
    const text = await runRuntest(srcTree, args, logFile, opts.testTimeoutS);
    const r = parseRuntestOutput(text);
    results.push(r);
    process.stdout.write(
      `  ${r.passed.length} passed, ${r.failed.length} failed, ${r.skipped.length} skipped` +
        `${r.exceptions.length > 0 ? `, EXCEPTION (unit aborted)` : ""}` +
        `${r.timedOut ? ", TIMEOUT" : ""}${r.finished ? "" : ", did not finish"}\n`,
    );
    if (interrupted()) break;
    if (server && !server.process.isRunning()) {
      process.stdout.write(`  ${server.label} is no longer running (log: ${serverLog})\n`);
      break;
    }
  }
  const elapsedS = Math.round((Date.now() - started) / 1000);
  if (interrupted()) {
    process.stdout.write(`Interrupted (${interrupted()}); partial log in ${logFile}\n`);
    return 130;
  }

  await proxy?.close();
  if (server) await server.stop();

  const total = merge(results);
  const failedCount = total.failed.length + total.exceptions.length + (total.timedOut ? 1 : 0);
  const incomplete = results.length < batches.length || results.some((r) => !r.finished);
  printReport(total, skips, opts, elapsedS);
  if (proxy) writeTraceReport(proxy.commands, path.join(cache, "conformance-commands.txt"));
  process.stdout.write(`Full log: ${logFile}\n`);
  if (server) process.stdout.write(`Server log: ${serverLog}\n`);
  // The plain closing line CI-style readers look for.
  process.stdout.write(
    `conformance: ${total.passed.length} passed, ${failedCount} failed, ${total.skipped.length} skipped\n`,
  );
  return failedCount > 0 || incomplete ? 1 : 0;
}

/** Runs runtest in its own process group (it forks tclsh clients), teeing output to the log. */
async function runRuntest(
  srcTree: string,
  args: string[],
  logFile: string,
  testTimeoutS: number,
): Promise<string> {
  // A run that makes no progress is ended by runtest's own --timeout; this is the backstop.
  const hardLimitMs = (testTimeoutS + 120) * 1000 * 4;
  const chunks: string[] = [];
  const proc = startProcess("runtest", "./runtest", args, {
    cwd: srcTree,
    // No "xterm" in TERM: runtest prints no colour codes.
    env: { ...process.env, TERM: "dumb" },
    group: true,
    capture: true,
  });
  let pending = "";
  const onData = (d: Buffer) => {
    const s = d.toString();
    chunks.push(s);
    appendFileSync(logFile, s);
    pending += s;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      // Echo progress and failures; [ok] lines stay in the log.
      if (/^\[(err|exception|TIMEOUT)\]|^Testing unit\//.test(line)) {
        process.stdout.write(`  ${line}\n`);
      }
    }
  };
  proc.child.stdout?.on("data", onData);
  proc.child.stderr?.on("data", onData);
  const timer = setTimeout(() => {
    chunks.push("\n[exception]: conformance.ts: hard time limit reached, runtest killed\n");
    void proc.stop(2000);
  }, hardLimitMs);
  await proc.exited.catch(() => {});
  clearTimeout(timer);
  await proc.stop(); // ends the process group's leftovers, if any
  return chunks.join("");
}

function merge(results: RuntestResult[]): RuntestResult {
  return {
    passed: results.flatMap((r) => r.passed),
    failed: results.flatMap((r) => r.failed),
    skipped: results.flatMap((r) => r.skipped),
    ignored: results.flatMap((r) => r.ignored),
    exceptions: results.flatMap((r) => r.exceptions),
    timedOut: results.some((r) => r.timedOut),
    finished: results.every((r) => r.finished),
  };
}

function printReport(
  r: RuntestResult,
  skips: { name: string; reason: string }[],
  opts: Options,
  elapsedS: number,
): void {
  const w = (s: string) => process.stdout.write(`${s}\n`);
  w("");
  w(`== Conformance: ${opts.host ? `${opts.host}:${opts.port}` : opts.target} (${elapsedS} s)`);
  const distinct = new Set(r.passed).size;
  w(
    `passed:  ${r.passed.length}${distinct === r.passed.length ? "" : ` (${distinct} distinct names: some tests share a name)`}`,
  );
  w(`failed:  ${r.failed.length}`);
  w(`skipped: ${r.skipped.length} (conformance/skip.txt, ${skips.length} entries)`);
  w(
    `ignored: ${r.ignored.length} (excluded by the suite: denied tags, --singledb, external server)`,
  );
  if (r.exceptions.length > 0) {
    w(`exceptions: ${r.exceptions.length} (a unit stopped early; its remaining tests did not run)`);
    for (const e of r.exceptions) w(`  ${e.split("\n").slice(0, 3).join("\n  ")}`);
  }
  if (r.timedOut) w("TIMEOUT: runtest saw no progress and gave up");
  if (r.failed.length > 0) {
    w("");
    w("Failed tests:");
    for (const f of r.failed) {
      // runtest cuts the first 10 characters off an error ("ERR unknow"); the Tcl stack
      // that follows repeats the whole reply, so prefer that line.
      const lines = f.detail.split("\n");
      const first =
        lines.find((l) =>
          /^(ERR|WRONGTYPE|NOPERM|EXECABORT|BUSY|MOVED|ASK|NOSCRIPT|OOM) /.test(l),
        ) ??
        lines.find((l) => l.trim() !== "") ??
        "";
      const note = /unknown (sub)?command/i.test(f.detail) ? "  [unknown command]" : "";
      w(`  - ${f.name}  (${f.file})${note}`);
      if (first !== "") w(`      ${first.slice(0, 200)}`);
    }
  }
}

/** Per test, the commands it sent that are not strings, bitmaps, keyspace or connection. */
function writeTraceReport(commands: TracedCommand[], file: string): void {
  const perTest = new Map<string, Map<string, Set<string>>>();
  for (const c of commands) {
    const key = commandKey(c.args);
    const family = commandFamily(c.args[0] ?? "");
    if (BASE_FAMILIES.has(family)) continue;
    const test = c.test;
    const label = `${test}  [${c.file || "?"}]`;
    let fams = perTest.get(label);
    if (!fams) {
      fams = new Map();
      perTest.set(label, fams);
    }
    let keys = fams.get(family);
    if (!keys) {
      keys = new Set();
      fams.set(family, keys);
    }
    keys.add(key);
  }
  const lines = [
    "Commands outside strings/bitmaps/keyspace/connection, per test (from --trace).",
    "Commands sent between two tests (file-level code such as `[s mem_allocator]`, which",
    "sends INFO) are counted in the earlier test.",
    "",
  ];
  for (const [test, fams] of perTest) {
    const parts = [...fams].map(([fam, keys]) => `${fam}: ${[...keys].sort().join(", ")}`);
    lines.push(`${test}\n    ${parts.join("; ")}`);
  }
  // Every command seen, by family, so the whole surface the units need is in one place.
  const all = new Map<string, Map<string, number>>();
  for (const c of commands) {
    const family = commandFamily(c.args[0] ?? "");
    const key = commandKey(c.args);
    const fam = all.get(family) ?? new Map<string, number>();
    fam.set(key, (fam.get(key) ?? 0) + 1);
    all.set(family, fam);
  }
  lines.push("", "All commands sent (times sent), by family:");
  for (const [family, keys] of [...all].sort(([a], [b]) => a.localeCompare(b))) {
    const list = [...keys].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} (${n})`);
    lines.push(`  ${family}: ${list.join(", ")}`);
  }
  writeFileSync(file, `${lines.join("\n")}\n`);
  process.stdout.write(
    `\n== Tests sending non-string commands: ${perTest.size} (details in ${file})\n`,
  );
  for (const line of lines.slice(4)) process.stdout.write(`${line}\n`);
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

runMain(main);
