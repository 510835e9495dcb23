// The few functions of sodium-native (libsodium's bindings) this project calls; the
// package ships no types. Each throws an Error when libsodium fails (for a decryption:
// when the tag does not verify).
declare module "sodium-native" {
  /** Encrypts `m` into `c` (same length; may be the same bytes) and writes the tag to `mac`. */
  export function crypto_aead_chacha20poly1305_ietf_encrypt_detached(
    c: Uint8Array,
    mac: Uint8Array,
    m: Uint8Array,
    ad: Uint8Array | null,
    nsec: null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  /** Verifies `mac` over `c` and `ad`, then decrypts `c` into `m`; throws if it does not verify. */
  export function crypto_aead_chacha20poly1305_ietf_decrypt_detached(
    m: Uint8Array,
    nsec: null,
    c: Uint8Array,
    mac: Uint8Array,
    ad: Uint8Array | null,
    npub: Uint8Array,
    k: Uint8Array,
  ): void;
}
