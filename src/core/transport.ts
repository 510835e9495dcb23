/**
 * Messages between nodes, injected. The same protocol code runs over real sockets
 * (udp-transport.ts) and over the simulated network (sim/network.ts); the compliance
 * suite in test/core/transport.compliance.ts holds both to this contract.
 *
 * Addresses are opaque strings: "127.0.0.1:16380" for a real node, "n17" in the simulator.
 * Protocols pass them around and never parse them.
 */
export interface Transport {
  /** The address peers reach this node at (with the real port when bound to port 0). */
  readonly localAddress: string;
  /** Counters, updated in place; read them, never write them. */
  readonly counters: TransportCounters;

  /**
   * A datagram: may be lost, duplicated or reordered, and nobody is told. Never throws for
   * an operating error (unknown or dead peer); `data` longer than `datagramBytesMax` is a
   * programmer error and throws, because a protocol must size its packets.
   */
  send(to: string, data: Uint8Array): void;

  /**
   * A message over a stream: resolves once the peer's transport has handed it, whole, to
   * its handler; rejects with a `TransportError` otherwise (peer down or unreachable,
   * timeout, local queue full, too large, closed). Messages to one peer arrive in order.
   */
  sendReliable(to: string, data: Uint8Array): Promise<void>;

  /**
   * A message over the same stream as sendReliable, in order with it, but not
   * acknowledged: nobody is told if it is lost (the connection broke, the local queue was
   * full). For protocols that retransmit by themselves (raft): it saves the peer an
   * acknowledgement to seal and send, and the sender a timer and a promise.
   */
  sendStream(to: string, data: Uint8Array): void;

  /**
   * Sets the one handler for incoming messages (a later call replaces it). `from` is the
   * sender's `localAddress` as it stated it, authenticated where the transport has a key.
   * The handler runs synchronously in the delivery; `data` may be a view into a larger
   * buffer and stays valid only until the handler returns — copy what is kept.
   */
  onMessage(handler: MessageHandler): void;

  /** Stops sending and receiving; pending reliable sends reject with "closed". */
  close(): Promise<void>;
}

export type MessageHandler = (from: string, data: Uint8Array, reliable: boolean) => void;

/**
 * Largest datagram payload. 1500-byte Ethernet MTU − 20 (IPv4) − 8 (UDP) leaves 1472; the
 * sealed envelope adds at most 30 bytes plus the sender's address (≤ 64 in practice), so
 * 1350 leaves room and never fragments. Gossip packs its piggybacks up to this size.
 */
export const datagramBytesMax = 1350;

/**
 * Largest reliable message: one raft entry of raft's maxEntryBytes (16 MiB, the largest
 * Redis command a shard takes in one write) with its message and envelope headers. A
 * full-state push-pull of 10,000 members at ~100 bytes each is ~1 MiB. What one peer can
 * make a node buffer before it is authenticated is bounded much lower: the real transport
 * sends a big message as frames of at most 1 MiB, each sealed (udp-transport.ts).
 */
export const reliableBytesMax = 17 * 1024 * 1024;

/** A sender address is carried in every message; bounded so a frame's header is too. */
export const addressBytesMax = 255;

export interface TransportCounters {
  datagramsSent: number;
  datagramsReceived: number;
  reliableSent: number;
  reliableReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** Failed authentication, truncated, oversized or garbled input: dropped, never thrown. */
  droppedInvalid: number;
  /** Dropped because a bounded local queue was full. */
  droppedQueueFull: number;
  /** The OS or the peer refused: unreachable, reset, timed out. */
  sendFailures: number;
}

export function newTransportCounters(): TransportCounters {
  return {
    datagramsSent: 0,
    datagramsReceived: 0,
    reliableSent: 0,
    reliableReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    droppedInvalid: 0,
    droppedQueueFull: 0,
    sendFailures: 0,
  };
}

export type TransportErrorCode = "unreachable" | "timeout" | "queue-full" | "too-large" | "closed";

/** An operating error of a reliable send: the caller decides (retry, suspect, give up). */
export class TransportError extends Error {
  override name = "TransportError";
  constructor(
    readonly code: TransportErrorCode,
    message: string,
  ) {
    super(message);
  }
}
