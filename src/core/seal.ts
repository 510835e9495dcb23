import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  type KeyObject,
  randomFillSync,
  scryptSync,
} from "node:crypto";

/**
 * Every message between nodes is sealed with AES-256-GCM under a cluster key: a node
 * without the key can neither read nor forge membership traffic.
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
 */
export const sealVersion = 1;
export const nonceBytes = 12;
export const tagBytes = 16;
export const sealOverheadBytes = 2 + nonceBytes + tagBytes;

export const SealKind = { datagram: 0, frame: 1, ack: 2 } as const;
export type SealKind = (typeof SealKind)[keyof typeof SealKind];

export const clusterKeyBytes = 32;

/** The first two bytes of each kind's envelopes, made once. */
const headers = new Map(
  Object.values(SealKind).map((kind) => [kind, Buffer.from([sealVersion, kind])] as const),
);

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
  private readonly key: KeyObject;
  /** The next nonce: a random 8-byte field, then a big-endian 32-bit message counter. */
  private readonly nonce = Buffer.alloc(nonceBytes);
  private sealed = 0;

  constructor(key: Uint8Array) {
    if (key.length !== clusterKeyBytes) {
      throw new RangeError(`cluster key must be ${clusterKeyBytes} bytes, got ${key.length}`);
    }
    this.key = createSecretKey(key);
    randomFillSync(this.nonce, 0, 8);
  }

  /** The nonce for the next message, in `this.nonce` (copied out by seal's concat). */
  private nextNonce(): Buffer {
    if (this.sealed === 2 ** 32) {
      randomFillSync(this.nonce, 0, 8);
      this.sealed = 0;
    }
    this.nonce.writeUInt32BE(this.sealed, 8);
    this.sealed += 1;
    return this.nonce;
  }

  /** `parts` are concatenated as the plaintext, sparing the caller a copy. */
  seal(kind: SealKind, parts: readonly Uint8Array[]): Buffer {
    const header = headers.get(kind) as Buffer;
    const nonce = this.nextNonce();
    const cipher = createCipheriv("aes-256-gcm", this.key, nonce, { authTagLength: tagBytes });
    cipher.setAAD(header);
    const out: Buffer[] = [header, nonce];
    for (const p of parts) out.push(cipher.update(p));
    const last = cipher.final(); // empty: GCM is a stream mode
    if (last.length > 0) out.push(last);
    out.push(cipher.getAuthTag());
    return Buffer.concat(out);
  }

  /** The plaintext, or null for anything short, of another kind or version, or forged. */
  open(kind: SealKind, sealed: Uint8Array): Buffer | null {
    if (sealed.length < sealOverheadBytes) return null;
    if (sealed[0] !== sealVersion || sealed[1] !== kind) return null;
    const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.length);
    const nonce = bytes.subarray(2, 2 + nonceBytes);
    const tag = bytes.subarray(bytes.length - tagBytes);
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.key, nonce, {
        authTagLength: tagBytes,
      });
      decipher.setAAD(bytes.subarray(0, 2));
      decipher.setAuthTag(tag);
      const plain = decipher.update(bytes.subarray(2 + nonceBytes, bytes.length - tagBytes));
      const last = decipher.final(); // checks the tag; empty, GCM being a stream mode
      return last.length === 0 ? plain : Buffer.concat([plain, last]);
    } catch {
      return null;
    }
  }
}
