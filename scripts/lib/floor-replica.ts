// One replica of the floor (scripts/lib/floor.ts): what a replicated write costs on this
// machine with nothing of a database in it. Run as a child process:
//
//   node floor-replica.js ID DIR PORT PEER_ID:PEER_PORT,...
//
// It leads the writes its clients send and follows its peers' writes. Each turn of the
// event loop it sends what it leads to every peer, appends everything (its own and its
// peers' writes) to one zero-filled file with one pwrite and one fdatasync, acknowledges
// what it follows and answers each client write once it is synced here and acknowledged
// by one peer (a majority of 3). No raft, no RESP, no key space, no encryption: those are
// what the real system adds on top.
//
// Wire: every message is a frame (u32 length, body). The first byte on a connection says
// who opened it: 0 a peer, 1 a client. Client frame: u32 request id, value; its answer: u32
// request id. Peer frames: append [1, leader id, (u32 seq, u32 length, bytes)...] and
// acknowledgement [2, follower id, u32 highest seq synced].

import { closeSync, fdatasyncSync, openSync, writeSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { join } from "node:path";
import { encodeFrameHeader, FrameReader } from "../../src/core/framing.js";

const logBytes = 64 * 1024 * 1024;
const entryHeaderBytes = 8;

/** A frame bigger than anything the floor sends: the stream is broken. */
const frameBytesMax = 64 * 1024 * 1024;

/**
 * Calls `onFrame` with each whole frame of a byte stream (the bus's framing:
 * core/framing.ts), holding partial ones.
 */
export function frameReader(onFrame: (body: Buffer) => void): (chunk: Buffer) => void {
  const reader = new FrameReader(frameBytesMax);
  return (chunk) => {
    const frames = reader.push(chunk);
    if (frames === "oversized") throw new Error("floor: a frame past 64 MiB, the stream is broken");
    for (const f of frames) onFrame(f);
  };
}

/** `parts` as one frame. */
export function frameOf(parts: readonly Uint8Array[]): Buffer {
  const length = parts.reduce((s, p) => s + p.length, 0);
  return Buffer.concat([encodeFrameHeader(length), ...parts]);
}

interface Pending {
  client: Socket;
  request: Buffer;
  synced: boolean;
}

function replica(id: number, dir: string, port: number, peerPorts: Map<number, number>): void {
  const fd = openSync(join(dir, `log-${id}`), "w+");
  writeSync(fd, Buffer.alloc(logBytes));
  fdatasyncSync(fd);
  let cursor = 0;
  let seq = 0;
  let ackedUpTo = 0;
  let queued = false;
  const peers = new Map<number, Socket>();
  let writes: { client: Socket; request: Buffer; value: Buffer }[] = [];
  let follows: { leader: number; last: number; entries: Buffer }[] = [];
  /** Writes this replica leads, by seq, in order, until answered. */
  const pending = new Map<number, Pending>();

  const answer = (s: number, p: Pending) => {
    if (!p.synced || s > ackedUpTo) return;
    pending.delete(s);
    p.client.write(frameOf([p.request]));
  };

  const flush = () => {
    queued = false;
    const mine = writes;
    const theirs = follows;
    writes = [];
    follows = [];
    const entries: Buffer[] = [];
    const led: number[] = [];
    for (const w of mine) {
      seq += 1;
      const head = Buffer.alloc(entryHeaderBytes);
      head.writeUInt32BE(seq, 0);
      head.writeUInt32BE(w.value.length, 4);
      entries.push(head, w.value);
      led.push(seq);
      pending.set(seq, { client: w.client, request: w.request, synced: false });
    }
    // Sent before the own sync, as a raft leader may.
    if (entries.length > 0) {
      const append = frameOf([Buffer.from([1, id]), ...entries]);
      for (const p of peers.values()) p.write(append);
    }
    for (const f of theirs) entries.push(f.entries);
    if (entries.length > 0) {
      const bytes = Buffer.concat(entries);
      if (cursor + bytes.length > logBytes) cursor = 0;
      writeSync(fd, bytes, 0, bytes.length, cursor);
      cursor += bytes.length;
      fdatasyncSync(fd);
    }
    const highest = new Map<number, number>();
    for (const f of theirs) highest.set(f.leader, Math.max(highest.get(f.leader) ?? 0, f.last));
    for (const [leader, last] of highest) {
      const ack = Buffer.alloc(6);
      ack[0] = 2;
      ack[1] = id;
      ack.writeUInt32BE(last, 2);
      peers.get(leader)?.write(frameOf([ack]));
    }
    for (const s of led) {
      const p = pending.get(s) as Pending;
      p.synced = true;
      answer(s, p);
    }
  };
  const flushSoon = () => {
    if (queued) return;
    queued = true;
    setImmediate(flush);
  };

  const onPeerFrame = (body: Buffer) => {
    if (body[0] === 1) {
      let last = 0;
      for (let at = 2; at < body.length; at += entryHeaderBytes + body.readUInt32BE(at + 4)) {
        last = body.readUInt32BE(at);
      }
      follows.push({ leader: body[1] as number, last, entries: Buffer.from(body.subarray(2)) });
      flushSoon();
    } else if (body[0] === 2) {
      ackedUpTo = Math.max(ackedUpTo, body.readUInt32BE(2));
      for (const [s, p] of pending) {
        if (s > ackedUpTo) break;
        answer(s, p);
      }
    }
  };

  const server = createServer((socket) => {
    socket.setNoDelay(true);
    let read: ((chunk: Buffer) => void) | null = null;
    socket.on("data", (chunk: Buffer) => {
      if (read === null) {
        read =
          chunk[0] === 0
            ? frameReader(onPeerFrame)
            : frameReader((body) => {
                const request = Buffer.from(body.subarray(0, 4));
                writes.push({ client: socket, request, value: Buffer.from(body.subarray(4)) });
                flushSoon();
              });
        chunk = chunk.subarray(1);
      }
      read(chunk);
    });
    socket.on("error", () => socket.destroy());
  });
  server.listen(port, "127.0.0.1", () => {
    for (const [peer, peerPort] of peerPorts) {
      const attempt = () => {
        const socket = connect(peerPort, "127.0.0.1", () => {
          socket.setNoDelay(true);
          socket.write(Buffer.from([0]));
          peers.set(peer, socket);
          if (peers.size === peerPorts.size) process.stdout.write("ready\n");
        });
        socket.on("error", () => {
          if (!peers.has(peer)) setTimeout(attempt, 50);
        });
      };
      attempt();
    }
  });
  process.on("SIGTERM", () => {
    closeSync(fd);
    process.exit(0);
  });
}

if (process.argv[1]?.endsWith("floor-replica.js")) {
  const [id, dir, port, peers] = process.argv.slice(2);
  const peerPorts = new Map(
    (peers ?? "").split(",").map((p) => p.split(":").map(Number) as [number, number]),
  );
  replica(Number(id), dir as string, Number(port), peerPorts);
}
