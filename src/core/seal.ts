import { randomFillSync, scryptSync } from "node:crypto";
import sodium from "sodium-native";

/**
 * Every message between nodes is sealed with ChaCha20-Poly1305 (IETF, libsodium) under a
 * cluster key: a node without the key can neither read nor forge membership traffic.
 *
 * Envelope: version (1) | kind (1) | nonce (12) | ciphertext | tag (16). The first two
 * bytes are authenticated as associated data, so a datagram cannot be replayed as a
 * stream frame or an ack.
 *
 * Nonces follow NIST SP 800-38D's deterministic construction (§8.2.1): a 64-bit field
 * drawn at random for each Sealer (each process and key), then a 32-bit counter of the
 * messages it sealed; a new field is drawn when the counter wraps. One sender never
 * repeats a nonce; two senders share one only if their random fields collide (odds about
 * n²/2^65 for n fields ever drawn under one key: ~2^-45 for a million). Drawing 12 random
 * bytes per message, as before, cost 1–1.5% of a node's CPU under write load. Key
 * rotation is future work, noted in docs/runtime.md. Replays are not detected: SWIM
 * tolerates duplicates by design.
 *
 * libsodium rather than node:crypto: node:crypto makes a cipher object per message (a
 * native object with a weak handle) and a new array buffer per output, and the young
 * generation's collections spent about 40% of their pauses releasing them (version 1 of
 * the envelope was AES-256-GCM through node:crypto; see docs/runtime.md). Here a message
 * is encrypted in place in the buffer that is sent, and nothing else is allocated.
 */
export const sealVersion = 2;
export const nonceBytes = 12;
export const tagBytes = 16;
export const sealOverheadBytes = 2 + nonceBytes + tagBytes;

/**
 * What a sealed envelope is: a datagram, a stream frame (a whole message, or the last
 * piece of one), an acknowledgement, or a leading piece of a stream message too big for
 * one frame (udp-transport.ts, framePayloadBytesMax).
 */
export const SealKind = { datagram: 0, frame: 1, ack: 2, part: 3 } as const;
export type SealKind = (typeof SealKind)[keyof typeof SealKind];

export const clusterKeyBytes = 32;

/**
 * scrypt, so a configured passphrase is not brute-forced cheaply from one captured packet.
 * The salt is fixed (every node must derive the same key from the same secret); N = 2^14
 * costs ~30 ms once per process start.
 */
export function deriveClusterKey(secret: string): Uint8Array {
  if (secret.length === 0) throw new RangeError("the cluster secret must not be empty");
  return scryptSync(secret, "homeostat/cluster-key/v1", clusterKeyBytes, { N: 1 << 14 });
}

export class Sealer {
  private readonly key: Buffer;
  /** The next nonce: a random 8-byte field, then a big-endian 32-bit message counter. */
  private readonly nonce = Buffer.alloc(nonceBytes);
  private sealed = 0;

  constructor(key: Uint8Array) {
    if (key.length !== clusterKeyBytes) {
      throw new RangeError(`cluster key must be ${clusterKeyBytes} bytes, got ${key.length}`);
    }
    this.key = Buffer.from(key);
    randomFillSync(this.nonce, 0, 8);
  }

  /** The nonce for the next message, in `this.nonce` (copied into the envelope by seal). */
  private nextNonce(): Buffer {
    if (this.sealed === 2 ** 32) {
      randomFillSync(this.nonce, 0, 8);
      this.sealed = 0;
    }
    this.nonce.writeUInt32BE(this.sealed, 8);
    this.sealed += 1;
    return this.nonce;
  }

  /**
   * The envelope of `parts` concatenated as the plaintext (sparing the caller a copy),
   * after `headroom` bytes left for the caller to fill (a frame's length, say; they are
   * not zeroed).
   */
  seal(kind: SealKind, parts: readonly Uint8Array[], headroom = 0): Buffer {
    let plainBytes = 0;
    for (const p of parts) plainBytes += p.length;
    const out = Buffer.allocUnsafe(headroom + sealOverheadBytes + plainBytes);
    const header = out.subarray(headroom, headroom + 2);
    header[0] = sealVersion;
    header[1] = kind;
    const nonce = out.subarray(headroom + 2, headroom + 2 + nonceBytes);
    nonce.set(this.nextNonce());
    const text = out.subarray(headroom + 2 + nonceBytes, out.length - tagBytes);
    let at = 0;
    for (const p of parts) {
      text.set(p, at);
      at += p.length;
    }
    const tag = out.subarray(out.length - tagBytes);
    sodium.crypto_aead_chacha20poly1305_ietf_encrypt_detached(
      text,
      tag,
      text,
      header,
      null,
      nonce,
      this.key,
    );
    return out;
  }

  /** The plaintext, or null for anything short, of another kind or version, or forged. */
  open(kind: SealKind, sealed: Uint8Array): Buffer | null {
    if (sealed.length < sealOverheadBytes) return null;
    if (sealed[0] !== sealVersion || sealed[1] !== kind) return null;
    const plain = Buffer.allocUnsafe(sealed.length - sealOverheadBytes);
    try {
      sodium.crypto_aead_chacha20poly1305_ietf_decrypt_detached(
        plain,
        null,
        sealed.subarray(2 + nonceBytes, sealed.length - tagBytes),
        sealed.subarray(sealed.length - tagBytes),
        sealed.subarray(0, 2),
        sealed.subarray(2, 2 + nonceBytes),
        this.key,
      );
    } catch {
      return null; // the tag does not verify: forged, damaged, or another key
    }
    return plain;
  }
}
