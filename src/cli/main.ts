#!/usr/bin/env node
import { Command, InvalidArgumentError } from "commander";
import { HOMEOSTAT_VERSION } from "../server/info.js";
import { advertiseHostProblem, parseSeeds } from "../server/membership-driver.js";
import { startNode } from "../server/start.js";
import { formatReply, request, withTarget } from "./client.js";
import { registerContract } from "./contract.js";
import { registerJournal } from "./journal.js";
import { registerMembers } from "./members.js";
import { registerNode } from "./node.js";
import { registerSimCommand } from "./sim.js";

function positiveIntOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 4096) {
    throw new InvalidArgumentError("must be an integer between 1 and 4096");
  }
  return n;
}

function portNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new InvalidArgumentError("must be a port number between 0 and 65535");
  }
  return n;
}

/** `--join`, repeatable, each a comma-separated list: every seed, in order. */
function seedList(value: string, previous: string[] | undefined): string[] {
  try {
    return parseSeeds(...(previous ?? []), value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function advertiseHost(value: string): string {
  const problem = advertiseHostProblem(value);
  if (problem !== null) throw new InvalidArgumentError(problem);
  return value;
}

const program = new Command()
  .name("homeostat")
  .description(
    "Homeostat: a self-managing distributed key-value service that speaks the Redis protocol.\n" +
      "Every Redis client and tool works with it; redis-cli -p 6380 talks to a local node.",
  )
  .version(HOMEOSTAT_VERSION)
  .showHelpAfterError();

program
  .command("start")
  .description(
    "Start a node: it serves the Redis protocol on --host:--port and keeps its data under --data.\n" +
      "Writes are acknowledged only once they are on disk (fsync, shared by concurrent writes).",
  )
  .option("-h, --host <address>", "address to listen on", "127.0.0.1")
  .option("-p, --port <port>", "Redis port for clients", portNumber, 6380)
  .option(
    "--bus-port <port>",
    "port for node-to-node traffic, UDP and TCP (default: Redis port + 10000, as Redis Cluster's bus; 0 with --port 0)",
    portNumber,
  )
  .option(
    "--redirect-port <port>",
    "Redis port for cluster-aware clients: the slot map (CLUSTER SLOTS, SHARDS, NODES) and " +
      "MOVED name it, and a command there for a slot another node leads is answered MOVED " +
      "instead of forwarded (default: Redis port + 20000; any free port with --port 0 or past " +
      "65535)",
    portNumber,
  )
  .option(
    "--no-redirect-port",
    "no redirect port: the slot map names the Redis port, which then forwards the commands " +
      "of a cluster client's connections that did not ask for the slot map (one port to " +
      "expose, one hop more after a shard's leader moves)",
  )
  .option(
    "--join <host:port>",
    "join the cluster of the members with these Redis addresses (comma-separated, or repeat " +
      "the option); the node joins through every one that answers",
    seedList,
  )
  .option(
    "--advertise-host <host>",
    "host other members and clients reach this node at (default: --host, or this machine's " +
      "first non-internal IPv4 address when --host is a wildcard such as 0.0.0.0)",
    advertiseHost,
  )
  .option("--zone <zone>", "failure domain advertised to the cluster, e.g. eu-west-1a", "")
  .option(
    "--cluster-secret <secret>",
    "secret every node of the cluster shares; seals node-to-node traffic " +
      "(default: $HOMEOSTAT_CLUSTER_SECRET, else a public one for local clusters)",
  )
  .option(
    "--cluster",
    "sharded mode, the default: the key space in raft groups replicated over the nodes; " +
      "the first node creates the cluster, later ones --join it",
  )
  .option(
    "--standalone",
    "keep every key on this node alone, unreplicated (no shards, no raft); with --join it " +
      "still takes part in membership",
  )
  .option("--shards <n>", "on the first node: shards (raft groups)", positiveIntOption, 16)
  .option("--replicas <n>", "on the first node: replicas per shard", positiveIntOption, 3)
  .option(
    "--dead-node-after <seconds>",
    "how long a node may be silent before its replicas are rebuilt " +
      "on other nodes (used by whichever node leads the meta group)",
    positiveIntOption,
    300,
  )
  .option("-d, --data <dir>", "data folder (default: ./data/<port>)")
  .option("--requirepass <password>", "password clients must give with AUTH")
  .option("--log-level <level>", "fatal, error, warn, info, debug or trace", "info")
  .option("--log-format <format>", "pretty or json (default: pretty on a terminal, else json)")
  .addHelpText(
    "after",
    "\nExamples:\n  homeostat start                  # creates a cluster (of one node, so far)\n  homeostat start --port 7000 --data /var/lib/homeostat\n" +
      "  homeostat start --port 6381 --join 127.0.0.1:6380,127.0.0.1:6382\n" +
      "  redis-cli -p 6380 set greeting hello\n" +
      "\nSIGTERM or SIGINT stops the node gracefully: it tells the cluster it left.",
  )
  .action(async (opts: StartOptions) => {
    if (opts.standalone === true && opts.cluster === true) {
      process.stderr.write("homeostat start: --cluster and --standalone exclude each other\n");
      process.exitCode = 2;
      return;
    }
    const code = await startNode({
      host: opts.host,
      port: opts.port,
      busPort: opts.busPort,
      redirectPort: opts.redirectPort,
      data: opts.data ?? `data/${opts.port}`,
      requirepass: opts.requirepass ?? "",
      logLevel: opts.logLevel,
      pretty: opts.logFormat === undefined ? undefined : opts.logFormat === "pretty",
      join: opts.join,
      advertiseHost: opts.advertiseHost,
      zone: opts.zone,
      clusterSecret: opts.clusterSecret ?? process.env.HOMEOSTAT_CLUSTER_SECRET,
      cluster: opts.standalone !== true,
      shards: opts.shards,
      replicas: opts.replicas,
      deadNodeAfterMs: opts.deadNodeAfter * 1000,
    });
    if (code !== 0) process.exitCode = code;
  });

withTarget(program.command("info"))
  .description("Print a node's INFO (all sections, or the ones named).")
  .argument("[sections...]", "server, clients, memory, persistence, stats, keyspace...")
  .action(async (sections: string[], opts: { host: string; port: number }) => {
    const reply = await request(opts, ["INFO", ...sections]);
    if (reply === null) return;
    process.stdout.write(`${formatReply(reply).replace(/\r\n/g, "\n").trimEnd()}\n`);
  });

registerMembers(withTarget(program.command("members")));
registerNode(program.command("node"));
registerJournal(program.command("journal"));
registerContract(program.command("contract"));
registerSimCommand(program);

interface StartOptions {
  host: string;
  port: number;
  busPort?: number;
  /** A port, false (--no-redirect-port), or undefined: the default. */
  redirectPort?: number | false;
  data?: string;
  requirepass?: string;
  logLevel: string;
  logFormat?: string;
  join?: string[];
  advertiseHost?: string;
  zone: string;
  clusterSecret?: string;
  cluster?: boolean;
  standalone?: boolean;
  shards: number;
  replicas: number;
  deadNodeAfter: number;
}

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`homeostat: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
