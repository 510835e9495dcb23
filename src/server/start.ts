import { resolve } from "node:path";
import { SystemClock } from "../core/clock.js";
import { SeededRandom } from "../core/random.js";
import { LmdbStore } from "../storage/lmdb.js";
import { StorageError } from "../storage/types.js";
import { createLogger } from "./log.js";
import { HomeostatNode } from "./node.js";
import { defaultSettings } from "./settings.js";

export interface StartOptions {
  host: string;
  port: number;
  busPort?: number;
  data: string;
  requirepass: string;
  logLevel: string;
  pretty?: boolean;
}

/**
 * Composition root for one node with real I/O. Resolves with the process exit code once the
 * node has stopped (on SIGINT or SIGTERM), or at once when it cannot start.
 */
export async function startNode(options: StartOptions): Promise<number> {
  const log = createLogger(options.logLevel, options.pretty);
  const busPort = options.busPort ?? (options.port === 0 ? 0 : options.port + 10000);
  if (options.busPort === undefined && options.port !== 0 && busPort > 65535) {
    log.fatal(
      { port: options.port },
      "the bus port (Redis port + 10000) would exceed 65535: choose one with --bus-port",
    );
    return 2;
  }
  const dir = resolve(options.data);
  let store: LmdbStore;
  try {
    store = new LmdbStore({ path: dir });
  } catch (err) {
    const reason = err instanceof StorageError ? err.message : String(err);
    log.fatal({ dir, reason }, "cannot open the data folder");
    return 1;
  }
  // A rejection nobody handles is a bug: say so in the log before the process ends.
  process.on("unhandledRejection", (reason) => {
    log.fatal({ err: reason }, "unhandled rejection");
    process.exit(70);
  });
  const settings = defaultSettings({
    port: options.port,
    busPort,
    bind: options.host,
    dir,
    requirepass: options.requirepass,
  });
  const seed = Math.floor(Math.random() * 2 ** 32);
  const node = new HomeostatNode({
    settings,
    store,
    clock: new SystemClock(),
    random: new SeededRandom(seed),
    log,
  });
  try {
    const port = await node.listen();
    log.info(
      {
        host: options.host,
        port,
        busPort: settings.busPort,
        dir,
        keys: store.size(),
      },
      `ready to accept connections: redis-cli -h ${options.host} -p ${port}`,
    );
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    log.fatal(
      { host: options.host, port: options.port, code: e.code },
      `cannot listen: ${e.message}`,
    );
    await store.close();
    return 1;
  }
  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, "shutting down");
      node.stop().then(
        () => {
          log.info("stopped");
          resolveExit(0);
        },
        (err: unknown) => {
          log.error({ err }, "error while stopping");
          resolveExit(1);
        },
      );
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
}
