// Starting a Homeostat cluster for the benchmarks: the first node creates it, the others
// join it, each with its own data dir and explicit free Redis and bus ports.

import { mkdirSync } from "node:fs";
import path from "node:path";
import { freePorts, type ManagedProcess, repoRoot, startProcess, waitForPong } from "./proc.js";
import { tail } from "./targets.js";

/** A node process of a benchmark's cluster. */
export interface SpawnedNode {
  /** n1, n2...: also its data dir and log file under the base dir. */
  readonly label: string;
  readonly port: number;
  readonly busPort: number;
  readonly proc: ManagedProcess;
  readonly logFile: string;
  /**
   * Its arguments to node (Node's own flags, the CLI, `start` and its options) without
   * --shards / --join: to start it again on its data.
   */
  readonly args: readonly string[];
}

export interface SpawnOptions {
  /** dist/src/cli/main.js */
  readonly cli: string;
  /** Where the nodes' data dirs and logs go. */
  readonly base: string;
  readonly host: string;
  readonly count: number;
  /** --shards of the first node. */
  readonly shards: number;
  /** More `start` options for every node (e.g. --dead-node-after 5). */
  readonly extraArgs?: readonly string[];
  /** Node's own flags for every node, before the script (e.g. --cpu-prof). */
  readonly nodeFlags?: readonly string[];
}

/**
 * Starts `count` nodes one after another, each answering PING before the next starts.
 * On a failure the nodes started so far are stopped and the error carries their logs.
 */
export async function spawnClusterNodes(o: SpawnOptions): Promise<SpawnedNode[]> {
  const ports = await freePorts(3 * o.count, o.host);
  const nodes: SpawnedNode[] = [];
  try {
    for (let i = 0; i < o.count; i++) {
      const label = `n${i + 1}`;
      const [port, busPort] = [ports[i] as number, ports[o.count + i] as number];
      const dataDir = path.join(o.base, label);
      mkdirSync(dataDir);
      const logFile = path.join(o.base, `${label}.log`);
      const args = [...(o.nodeFlags ?? []), o.cli, "start", "--cluster", "--host", o.host];
      args.push("--port", String(port));
      args.push("--bus-port", String(busPort), "--data", dataDir, "--log-format", "json");
      args.push("--redirect-port", String(ports[2 * o.count + i] as number));
      args.push(...(o.extraArgs ?? []));
      const first = i === 0 ? ["--shards", String(o.shards)] : ["--join", `${o.host}:${ports[0]}`];
      const proc = startProcess(`homeostat ${label}`, process.execPath, [...args, ...first], {
        logFile,
        cwd: repoRoot(),
      });
      nodes.push({ label, port, busPort, proc, logFile, args });
      await waitForPong(o.host, port, 30_000, proc);
    }
    return nodes;
  } catch (err) {
    await Promise.all(nodes.map((n) => n.proc.stop(2000)));
    throw withLogTails("the cluster's nodes did not start", err, nodes);
  }
}

/** `err` as an Error that also carries the last lines of each process's log. */
export function withLogTails(
  what: string,
  err: unknown,
  procs: readonly { readonly logFile: string }[],
  lines = 15,
): Error {
  const logs = procs.map((p) => `--- last lines of ${p.logFile}:\n${tail(p.logFile, lines)}`);
  return new Error(
    `${what}: ${err instanceof Error ? err.message : String(err)}\n${logs.join("\n")}`,
  );
}
