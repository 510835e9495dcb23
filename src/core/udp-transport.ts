import dgram from "node:dgram";
import net from "node:net";
import { assert } from "./assert.js";
import { FrameReader, frameHeaderBytes, writeFrameHeader } from "./framing.js";
import { Sealer, SealKind, sealOverheadBytes } from "./seal.js";
import {
  addressBytesMax,
  datagramBytesMax,
  type MessageHandler,
  newTransportCounters,
  reliableBytesMax,
  type Transport,
  TransportError,
  type TransportErrorCode,
} from "./transport.js";

/**
 * The real transport: UDP for datagrams, TCP for reliable messages, both on the same port
 * number (as memberlist does, so one configured bus port is all a peer needs), every
 * message sealed with the cluster key (seal.ts).
 *
 * Plaintext layouts inside the seal:
 *   datagram: fromLength u8 | from | payload
 *   frame:    seq u32 | fromLength u8 | from | payload      (TCP, peer answers with an ack)
 *   part:     payload piece                                  (TCP, before its frame)
 *   ack:      seq u32
 * A reliable send resolves on the ack, i.e. once the peer's handler has taken the message.
 *
 * A stream message longer than framePayloadBytesMax goes as parts of that size, each
 * sealed on its own, then a frame with the rest: the receiver authenticates each before it
 * reads on, so what a connection makes it buffer unauthenticated is one frame (about
 * 1 MiB), not a whole message (up to reliableBytesMax, 17 MiB).
 */
export interface UdpTransportOptions {
  host: string;
  /** 0 picks a free port; `localAddress` then reports it. */
  port: number;
  /** 32 bytes, from deriveClusterKey(). */
  key: Uint8Array;
  /** What peers are told to answer to, when `host` is a wildcard such as 0.0.0.0. */
  advertiseHost?: string;
  reliableTimeoutMs?: number;
  idleTimeoutMs?: number;
}

/**
 * A reliable send that has no ack by then fails. Reliable sends carry membership's
 * push-pull and published messages, a few MiB at most in practice: 8 MiB at a slow 10 MB/s
 * takes ~1 s; 10 s covers that plus a peer's GC pause without hanging a caller.
 */
export const reliableTimeoutMsDefault = 10_000;
/** An outbound connection with nothing pending is closed after this: push-pull is rare. */
export const idleTimeoutMsDefault = 30_000;
/** Unacknowledged reliable sends to one peer; more is a caller outrunning the network. */
export const reliableInflightMax = 64;
/** Open outbound connections: push-pull talks to a few peers at a time, not thousands. */
export const peersMax = 1024;
/** Open inbound connections: as many as peers may reasonably hold to us. */
export const inboundConnectionsMax = 1024;
/** Datagrams handed to the OS and not yet confirmed written: bounds libuv's send queue. */
export const datagramsInflightMax = 4096;
/** Acks queued to a peer that does not read them: beyond this it is dropped. */
export const inboundWriteBytesMax = 1024 * 1024;
/** With port 0 the TCP port is free but its UDP twin may not be: try a few ports. */
export const bindAttemptsMax = 8;

/** The most payload one sealed stream frame carries; a longer message is sent in parts. */
export const framePayloadBytesMax = 1024 * 1024;

const datagramWireBytesMax = sealOverheadBytes + 1 + addressBytesMax + datagramBytesMax;
const frameBytesMax = sealOverheadBytes + 4 + 1 + addressBytesMax + framePayloadBytesMax;

interface Pending {
  resolve: () => void;
  reject: (error: TransportError) => void;
  timer: NodeJS.Timeout;
}

interface Peer {
  socket: net.Socket;
  pending: Map<number, Pending>;
}

export class UdpTransport implements Transport {
  readonly counters = newTransportCounters();
  private handler: MessageHandler = () => {};
  private readonly sealer: Sealer;
  private readonly fromHeader: Buffer;
  private readonly peers = new Map<string, Peer>();
  private readonly inbound = new Set<net.Socket>();
  private readonly reliableTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private datagramsInflight = 0;
  private nextSeq = 1;
  private closed = false;

  private constructor(
    readonly localAddress: string,
    private readonly udp: dgram.Socket,
    private readonly server: net.Server,
    options: UdpTransportOptions,
  ) {
    this.sealer = new Sealer(options.key);
    const from = Buffer.from(localAddress, "utf8");
    assert(from.length <= addressBytesMax, "local address too long");
    this.fromHeader = Buffer.concat([Buffer.from([from.length]), from]);
    this.reliableTimeoutMs = options.reliableTimeoutMs ?? reliableTimeoutMsDefault;
    this.idleTimeoutMs = options.idleTimeoutMs ?? idleTimeoutMsDefault;
    udp.on("message", (msg) => this.onDatagram(msg));
    // After bind, errors are per-send (ICMP unreachable and the like): count, go on.
    udp.on("error", () => this.counters.sendFailures++);
    server.on("connection", (socket) => this.onInbound(socket));
  }

  /** Binds TCP and UDP on host:port; binding errors are thrown to the caller at startup. */
  static async open(options: UdpTransportOptions): Promise<UdpTransport> {
    for (let attempt = 1; ; attempt++) {
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(options.port, options.host, () => resolve());
      });
      const port = (server.address() as net.AddressInfo).port;
      const udp = dgram.createSocket({ type: net.isIPv6(options.host) ? "udp6" : "udp4" });
      try {
        await new Promise<void>((resolve, reject) => {
          udp.once("error", reject);
          udp.bind(port, options.host, () => {
            udp.off("error", reject);
            resolve();
          });
        });
        const address = formatAddress(options.advertiseHost ?? options.host, port);
        return new UdpTransport(address, udp, server, options);
      } catch (error) {
        server.close();
        udp.close();
        const inUse = (error as NodeJS.ErrnoException).code === "EADDRINUSE";
        if (options.port !== 0 || !inUse || attempt >= bindAttemptsMax) throw error;
      }
    }
  }

  onMessage(handler: MessageHandler): void {
    this.handler = handler;
  }

  send(to: string, data: Uint8Array): void {
    assert(data.length <= datagramBytesMax, `datagram of ${data.length} bytes is too large`);
    if (this.closed) return;
    const target = parseAddress(to);
    if (target === null) {
      this.counters.sendFailures++;
      return;
    }
    if (this.datagramsInflight >= datagramsInflightMax) {
      this.counters.droppedQueueFull++;
      return;
    }
    const sealed = this.sealer.seal(SealKind.datagram, [this.fromHeader, data]);
    this.datagramsInflight++;
    this.counters.datagramsSent++;
    this.counters.bytesSent += sealed.length;
    this.udp.send(sealed, target.port, target.host, (error) => {
      this.datagramsInflight--;
      if (error) this.counters.sendFailures++;
    });
  }

  sendStream(to: string, data: Uint8Array): void {
    if (this.closed || data.length > reliableBytesMax) {
      this.counters.sendFailures++;
      return;
    }
    const peer = this.peers.get(to) ?? this.connect(to);
    if (peer === null || peer === "full" || peer.socket.writableLength > streamQueueBytesMax) {
      this.counters.droppedQueueFull++;
      return;
    }
    // Sequence number 0: the receiver does not acknowledge it.
    this.writeMessage(peer.socket, unackedHead, data);
  }

  /**
   * Writes `data` as a stream message with sequence number `head`: its parts beyond
   * framePayloadBytesMax first, then the frame with our address and the rest, each sealed
   * and its length first; counted as sent.
   */
  private writeMessage(socket: net.Socket, head: Buffer, data: Uint8Array): void {
    let at = 0;
    for (; data.length - at > framePayloadBytesMax; at += framePayloadBytesMax) {
      const piece = data.subarray(at, at + framePayloadBytesMax);
      const part = sealedFrame(this.sealer, SealKind.part, [piece]);
      this.counters.bytesSent += part.length;
      socket.write(part);
    }
    const rest = at === 0 ? data : data.subarray(at);
    const frame = sealedFrame(this.sealer, SealKind.frame, [head, this.fromHeader, rest]);
    this.counters.reliableSent++;
    this.counters.bytesSent += frame.length;
    socket.write(frame);
  }

  sendReliable(to: string, data: Uint8Array): Promise<void> {
    if (this.closed) return rejected("closed", "transport closed");
    if (data.length > reliableBytesMax) {
      return rejected("too-large", `${data.length} bytes exceeds ${reliableBytesMax}`);
    }
    const peer = this.peers.get(to) ?? this.connect(to);
    if (peer === null) return rejected("unreachable", `bad address ${to}`);
    if (peer === "full" || peer.pending.size >= reliableInflightMax) {
      this.counters.droppedQueueFull++;
      return rejected("queue-full", `too many reliable sends in flight to ${to}`);
    }
    const seq = this.nextSeq;
    this.nextSeq = (this.nextSeq + 1) >>> 0 || 1;
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(seq, 0);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.counters.sendFailures++;
        this.drop(to, peer, "timeout", `no ack from ${to} in ${this.reliableTimeoutMs} ms`);
      }, this.reliableTimeoutMs);
      peer.pending.set(seq, { resolve, reject, timer });
      this.writeMessage(peer.socket, head, data);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.handler = () => {};
    for (const [to, peer] of this.peers) this.drop(to, peer, "closed", "transport closed");
    for (const socket of this.inbound) socket.destroy();
    await Promise.all([
      new Promise<void>((resolve) => this.server.close(() => resolve())),
      new Promise<void>((resolve) => this.udp.close(() => resolve())),
    ]);
  }

  private onDatagram(msg: Buffer): void {
    const plain =
      msg.length <= datagramWireBytesMax ? this.sealer.open(SealKind.datagram, msg) : null;
    const body = plain === null ? null : splitFrom(plain, 0);
    if (body === null) {
      this.counters.droppedInvalid++;
      return;
    }
    this.counters.datagramsReceived++;
    this.counters.bytesReceived += msg.length;
    this.handler(body.from, body.payload, false);
  }

  /** A connection a peer opened to send us reliable messages; we answer with acks. */
  private onInbound(socket: net.Socket): void {
    if (this.closed || this.inbound.size >= inboundConnectionsMax) {
      this.counters.droppedQueueFull++;
      socket.destroy();
      return;
    }
    this.inbound.add(socket);
    socket.setNoDelay(true);
    socket.setTimeout(this.idleTimeoutMs, () => socket.destroy());
    socket.on("error", () => {});
    socket.on("close", () => this.inbound.delete(socket));
    const reader = new FrameReader(frameBytesMax);
    // The parts of the message being received, each authenticated.
    let parts: Buffer[] = [];
    let partsBytes = 0;
    socket.on("data", (chunk: Buffer) => {
      const frames = reader.push(chunk);
      if (frames === "oversized") return this.reject(socket);
      // One ack per chunk, for its last frame: the sender takes it for every frame it sent
      // on this connection up to that one (a stream delivers them in order).
      let last: Buffer | null = null;
      for (const frame of frames) {
        if (frame.length > 1 && frame[1] === SealKind.part) {
          const piece = this.sealer.open(SealKind.part, frame);
          partsBytes += piece?.length ?? 0;
          if (piece === null || partsBytes > reliableBytesMax) return this.reject(socket);
          this.counters.bytesReceived += frameHeaderBytes + frame.length;
          parts.push(piece);
          continue;
        }
        const plain = this.sealer.open(SealKind.frame, frame);
        const body = plain === null || plain.length < 4 ? null : splitFrom(plain, 4);
        if (plain === null || body === null) return this.reject(socket);
        let payload = body.payload;
        if (parts.length > 0) {
          if (partsBytes + payload.length > reliableBytesMax) return this.reject(socket);
          parts.push(payload);
          payload = Buffer.concat(parts, partsBytes + payload.length);
          parts = [];
          partsBytes = 0;
        }
        this.counters.reliableReceived++;
        this.counters.bytesReceived += frameHeaderBytes + frame.length;
        this.handler(body.from, payload, true);
        if (socket.destroyed) return;
        if (plain.readUInt32BE(0) !== 0) last = plain;
      }
      if (last === null) return;
      socket.write(sealedFrame(this.sealer, SealKind.ack, [last.subarray(0, 4)]));
      if (socket.writableLength > inboundWriteBytesMax) return this.reject(socket);
    });
  }

  /** A stream carrying anything unauthenticated or malformed cannot be trusted further. */
  private reject(socket: net.Socket): void {
    this.counters.droppedInvalid++;
    socket.destroy();
  }

  private connect(to: string): Peer | "full" | null {
    const target = parseAddress(to);
    if (target === null) return null;
    if (this.peers.size >= peersMax) return "full";
    const socket = net.connect({ host: target.host, port: target.port });
    const peer: Peer = { socket, pending: new Map() };
    this.peers.set(to, peer);
    socket.setNoDelay(true);
    socket.setTimeout(this.idleTimeoutMs, () => {
      if (peer.pending.size === 0) socket.destroy();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      if (peer.pending.size > 0) this.counters.sendFailures++;
      this.drop(to, peer, "unreachable", `connection to ${to} closed`);
    });
    const reader = new FrameReader(sealOverheadBytes + 4);
    socket.on("data", (chunk: Buffer) => {
      const frames = reader.push(chunk);
      if (frames === "oversized") return this.reject(socket);
      for (const frame of frames) {
        const plain = this.sealer.open(SealKind.ack, frame);
        if (plain === null || plain.length !== 4) return this.reject(socket);
        const acked = plain.readUInt32BE(0);
        // Cumulative: the frames sent before it on this connection arrived too. Pending
        // sends are kept in the order they were written (a Map keeps insertion order).
        if (!peer.pending.has(acked)) continue; // acked after it timed out
        for (const [seq, pending] of peer.pending) {
          peer.pending.delete(seq);
          clearTimeout(pending.timer);
          pending.resolve();
          if (seq === acked) break;
        }
      }
    });
    return peer;
  }

  /** Fails everything pending on a connection and forgets it; the next send reconnects. */
  private drop(to: string, peer: Peer, code: TransportErrorCode, message: string): void {
    if (this.peers.get(to) === peer) this.peers.delete(to);
    const pending = [...peer.pending.values()];
    peer.pending.clear();
    peer.socket.destroy();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(new TransportError(code, message));
    }
  }
}

/**
 * `parts` sealed as one envelope of `kind`, after the frame header giving its length: one
 * buffer, so a frame goes out in one write, one system call with no delay (no Nagle),
 * which a raft leader relies on to have its appends on the wire before it blocks in its
 * own fsync.
 */
function sealedFrame(sealer: Sealer, kind: SealKind, parts: readonly Uint8Array[]): Buffer {
  const frame = sealer.seal(kind, parts, frameHeaderBytes);
  writeFrameHeader(frame, frame.length - frameHeaderBytes);
  return frame;
}

/** The sequence field of a frame sent with sendStream: 0, never acknowledged. */
const unackedHead = Buffer.alloc(4);
/** Bytes queued on a connection beyond which sendStream drops (the peer is not reading). */
const streamQueueBytesMax = 64 * 1024 * 1024;

function rejected(code: TransportErrorCode, message: string): Promise<never> {
  return Promise.reject(new TransportError(code, message));
}

function splitFrom(plain: Buffer, offset: number): { from: string; payload: Buffer } | null {
  if (plain.length < offset + 1) return null;
  const fromEnd = offset + 1 + plain[offset];
  if (plain.length < fromEnd) return null;
  return { from: plain.toString("utf8", offset + 1, fromEnd), payload: plain.subarray(fromEnd) };
}

export function formatAddress(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** host:port or [v6]:port; null for anything else (addresses arrive from the network). */
export function parseAddress(address: string): { host: string; port: number } | null {
  const colon = address.lastIndexOf(":");
  if (colon <= 0) return null;
  let host = address.slice(0, colon);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  const portText = address.slice(colon + 1);
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535 || host.length === 0) return null;
  return { host, port };
}
