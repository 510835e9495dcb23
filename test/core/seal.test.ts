import assert from "node:assert/strict";
import { createCipheriv, createDecipheriv } from "node:crypto";
import dgram from "node:dgram";
import net from "node:net";
import { describe, it } from "node:test";
import { encodeFrameHeader, FrameReader } from "../../src/core/framing.js";
import { deriveClusterKey, Sealer, SealKind } from "../../src/core/seal.js";
import { parseAddress, UdpTransport } from "../../src/core/udp-transport.js";
import { testKey } from "./keys.js";

const sealer = new Sealer(testKey);
const plain = Buffer.from("ping n1 incarnation 7");

describe("Sealer", () => {
  it("opens what it sealed, only as the same kind", () => {
    const sealed = sealer.seal(SealKind.datagram, [plain.subarray(0, 4), plain.subarray(4)]);
    assert.deepEqual(sealer.open(SealKind.datagram, sealed), plain);
    assert.equal(sealer.open(SealKind.frame, sealed), null);
  });

  it("rejects every flipped bit, every truncation and another key", () => {
    const sealed = sealer.seal(SealKind.datagram, [plain]);
    for (let i = 0; i < sealed.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const bad = Buffer.from(sealed);
        bad[i] ^= bit;
        assert.equal(sealer.open(SealKind.datagram, bad), null, `byte ${i}`);
      }
    }
    for (let n = 0; n < sealed.length; n++) {
      assert.equal(sealer.open(SealKind.datagram, sealed.subarray(0, n)), null);
    }
    const other = new Sealer(deriveClusterKey("another secret"));
    assert.equal(other.open(SealKind.datagram, sealed), null);
  });

  it("is standard ChaCha20-Poly1305 (RFC 8439): OpenSSL opens its envelopes and makes ones it opens", () => {
    // An independent implementation (node:crypto's OpenSSL) pins the wire format.
    const sealed = sealer.seal(SealKind.frame, [plain.subarray(0, 3), plain.subarray(3)], 4);
    const envelope = sealed.subarray(4); // the headroom is left to the caller
    assert.deepEqual([...envelope.subarray(0, 2)], [2, SealKind.frame]);
    const nonce = envelope.subarray(2, 14);
    const decipher = createDecipheriv("chacha20-poly1305", testKey, nonce, { authTagLength: 16 });
    decipher.setAAD(envelope.subarray(0, 2), { plaintextLength: envelope.length - 30 });
    decipher.setAuthTag(envelope.subarray(envelope.length - 16));
    const text = decipher.update(envelope.subarray(14, envelope.length - 16));
    assert.deepEqual(Buffer.concat([text, decipher.final()]), plain);

    const header = Buffer.from([2, SealKind.ack]);
    const cipher = createCipheriv("chacha20-poly1305", testKey, nonce, { authTagLength: 16 });
    cipher.setAAD(header, { plaintextLength: plain.length });
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    const theirs = Buffer.concat([header, nonce, body, cipher.getAuthTag()]);
    assert.deepEqual(sealer.open(SealKind.ack, theirs), plain);
    theirs[0] = 1; // version 1 (AES-256-GCM) is not read
    assert.equal(sealer.open(SealKind.ack, theirs), null);
  });

  it("leaves `headroom` bytes before the envelope", () => {
    const sealed = sealer.seal(SealKind.datagram, [plain], 7);
    assert.equal(sealed.length, 7 + 30 + plain.length);
    assert.deepEqual(sealer.open(SealKind.datagram, sealed.subarray(7)), plain);
  });

  it("never repeats a nonce: a random field per sealer, then a counter", () => {
    const a = sealer.seal(SealKind.datagram, [plain]);
    const b = sealer.seal(SealKind.datagram, [plain]);
    assert.notDeepEqual(a, b);
    const nonce = (sealed: Buffer) => sealed.subarray(2, 14);
    // Same field, counter one up.
    assert.deepEqual(nonce(a).subarray(0, 8), nonce(b).subarray(0, 8));
    assert.equal(nonce(b).readUInt32BE(8), nonce(a).readUInt32BE(8) + 1);
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++)
      seen.add(nonce(sealer.seal(SealKind.frame, [plain])).toString("hex"));
    assert.equal(seen.size, 1000);
    // Another sealer (another process) draws another field.
    const other = new Sealer(testKey);
    assert.notDeepEqual(
      nonce(other.seal(SealKind.datagram, [plain])).subarray(0, 8),
      nonce(a).subarray(0, 8),
    );
    assert.deepEqual(other.open(SealKind.datagram, a), plain);
  });
});

describe("FrameReader", () => {
  it("yields the same frames however the stream is split", () => {
    const frames = [Buffer.from("a"), Buffer.alloc(0), Buffer.from("hello world")];
    const stream = Buffer.concat(frames.flatMap((f) => [encodeFrameHeader(f.length), f]));
    for (let cut = 0; cut <= stream.length; cut++) {
      for (let cut2 = cut; cut2 <= stream.length; cut2 += 3) {
        const reader = new FrameReader(100);
        const got = [stream.subarray(0, cut), stream.subarray(cut, cut2), stream.subarray(cut2)]
          .flatMap((chunk) => reader.push(chunk) as Buffer[])
          .map((b) => b.toString());
        assert.deepEqual(got, ["a", "", "hello world"], `cuts ${cut} ${cut2}`);
      }
    }
  });

  it("refuses a length over the bound, and everything after it", () => {
    const reader = new FrameReader(10);
    assert.equal(reader.push(encodeFrameHeader(11)), "oversized");
    assert.equal(reader.push(Buffer.from([0, 0, 0, 1, 5])), "oversized");
  });
});

describe("UdpTransport under attack", () => {
  it("drops and counts forged, tampered, short and oversized datagrams, then works on", async () => {
    const victim = await UdpTransport.open({ host: "127.0.0.1", port: 0, key: testKey });
    const friend = await UdpTransport.open({ host: "127.0.0.1", port: 0, key: testKey });
    const got: string[] = [];
    victim.onMessage((from, data) => got.push(`${from}:${Buffer.from(data).toString()}`));
    const { port } = parseAddress(victim.localAddress) as { port: number };
    const raw = dgram.createSocket("udp4");
    const forged = new Sealer(deriveClusterKey("attacker")).seal(SealKind.datagram, [plain]);
    const genuine = sealer.seal(SealKind.datagram, [Buffer.from([2]), Buffer.from("n1hi")]);
    const tampered = Buffer.from(genuine);
    tampered[20] ^= 1;
    const noSender = sealer.seal(SealKind.datagram, [Buffer.from([200]), Buffer.from("x")]);
    const attacks = [forged, tampered, genuine.subarray(0, 10), Buffer.alloc(0), noSender];
    attacks.push(Buffer.alloc(2_000, 7), Buffer.from("garbage"));
    for (const packet of attacks) {
      await new Promise<void>((resolve) => raw.send(packet, port, "127.0.0.1", () => resolve()));
    }
    friend.send(victim.localAddress, Buffer.from("still alive"));
    const deadline = Date.now() + 2_000;
    while (got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(got, [`${friend.localAddress}:still alive`]);
    assert.equal(victim.counters.droppedInvalid, attacks.length);
    raw.close();
    await Promise.all([victim.close(), friend.close()]);
  });

  it("closes a stream that sends garbage or a huge length, and counts it", async () => {
    const victim = await UdpTransport.open({ host: "127.0.0.1", port: 0, key: testKey });
    const { port } = parseAddress(victim.localAddress) as { port: number };
    for (const payload of [
      Buffer.concat([encodeFrameHeader(40), Buffer.alloc(40, 1)]),
      encodeFrameHeader(0xffff_ffff),
    ]) {
      const socket = net.connect(port, "127.0.0.1");
      socket.on("error", () => {});
      socket.write(payload);
      await new Promise((resolve) => socket.on("close", resolve));
    }
    assert.equal(victim.counters.droppedInvalid, 2);
    await victim.close();
  });
});
