import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  type KeyObject,
  randomBytes,
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
 * Nonces are random. With 96 random bits a repeat is expected after ~2^48 messages; NIST
 * SP 800-38D caps one key at 2^32 messages to keep the odds under 2^-32. A 1,000-node
 * cluster sending 10 messages per node per second reaches 2^32 in ~5 days, and 2^40 (odds
 * of a repeat still ~2^-17) in ~3.5 years: key rotation is future work, noted in
 * docs/runtime.md. Replays are not detected: SWIM tolerates duplicates by design.
 */
export const sealVersion = 1;
export const nonceBytes = 12;
export const tagBytes = 16;
export const sealOverheadBytes = 2 + nonceBytes + tagBytes;

export const SealKind = { datagram: 0, frame: 1, ack: 2 } as const;
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
  private readonly key: KeyObject;

  constructor(key: Uint8Array) {
    if (key.length !== clusterKeyBytes) {
      throw new RangeError(`cluster key must be ${clusterKeyBytes} bytes, got ${key.length}`);
    }
    this.key = createSecretKey(key);
  }

  /** `parts` are concatenated as the plaintext, sparing the caller a copy. */
  seal(kind: SealKind, parts: readonly Uint8Array[]): Buffer {
    const header = Buffer.from([sealVersion, kind]);
    const nonce = randomBytes(nonceBytes);
    const cipher = createCipheriv("aes-256-gcm", this.key, nonce, { authTagLength: tagBytes });
    cipher.setAAD(header);
    const body = parts.map((p) => cipher.update(p));
    body.push(cipher.final());
    return Buffer.concat([header, nonce, ...body, cipher.getAuthTag()]);
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
      return Buffer.concat([plain, decipher.final()]);
    } catch {
      return null;
    }
  }
}
