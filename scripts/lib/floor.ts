// The floor: three replica processes (floor-replica.ts) doing only what any replicated,
// durable write needs here (loopback hops, one pwrite and fdatasync per turn of each
// event loop, a majority's acknowledgement) and nothing of a database. bench-cluster
// runs it beside Homeostat and etcd (--floor) to show how much of a write's cost is the
// machine's and how much is the system's.

import { existsSync } from "node:fs";
import { connect, type Socket } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { frameOf, frameReader } from "./floor-replica.js";
import { freePorts, type ManagedProcess, makeTempDir, startProcess } from "./proc.js";

const host = "127.0.0.1";
const replicas = 3;

export interface Floor {
  readonly procs: ManagedProcess[];
  /** Each replica's output (its errors, if it fails). */
  readonly logFiles: string[];
  /** One write of `value`, sent to the replica `key` falls on (each leads a third). */
  write(key: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startFloor(value: string): Promise<Floor> {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "floor-replica.js");
  if (!existsSync(script)) throw new Error(`${script} not found: run \`npm run build\``);
  const dir = makeTempDir("homeostat-bench-floor");
  const ports = await freePorts(replicas, host);
  const procs: ManagedProcess[] = [];
  const ready: Promise<void>[] = [];
  for (let i = 0; i < replicas; i++) {
    const peers = ports.flatMap((p, j) => (j === i ? [] : [`${j}:${p}`])).join(",");
    const proc = startProcess(
      `floor replica ${i}`,
      process.execPath,
      [script, String(i), dir, String(ports[i]), peers],
      { logFile: path.join(dir, `replica-${i}.log`) },
    );
    procs.push(proc);
    ready.push(
      new Promise<void>((resolve, reject) => {
        proc.child.stdout?.on("data", (d: Buffer) => {
          if (d.toString().includes("ready")) resolve();
        });
        proc.exited.then((code) => reject(new Error(`floor replica ${i} exited with ${code}`)));
      }),
    );
  }
  await Promise.all(ready);
  const sockets = await Promise.all(
    ports.map(
      (port) =>
        new Promise<Socket>((resolve, reject) => {
          const s = connect(port, host, () => {
            s.setNoDelay(true);
            s.write(Buffer.from([1]));
            resolve(s);
          });
          s.once("error", reject);
        }),
    ),
  );
  const waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  for (const s of sockets) {
    s.on(
      "data",
      frameReader((body) => {
        const id = body.readUInt32BE(0);
        waiting.get(id)?.resolve();
        waiting.delete(id);
      }),
    );
    s.on("close", () => {
      for (const w of waiting.values()) w.reject(new Error("CLOSED a floor replica went away"));
      waiting.clear();
    });
  }
  const payload = Buffer.from(value);
  let next = 0;
  return {
    procs,
    logFiles: procs.map((_, i) => path.join(dir, `replica-${i}.log`)),
    write: (key) =>
      new Promise<void>((resolve, reject) => {
        next = (next + 1) >>> 0;
        const id = Buffer.alloc(4);
        id.writeUInt32BE(next);
        waiting.set(next, { resolve, reject });
        const to = sockets[hashOf(key) % replicas] as Socket;
        to.write(frameOf([id, Buffer.from(key), payload]));
      }),
    stop: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all(procs.map((p) => p.stop(2000)));
    },
  };
}

/** FNV-1a of a key: which replica leads it. */
function hashOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
