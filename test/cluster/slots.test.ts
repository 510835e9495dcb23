import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Command } from "ioredis";
import { CROSS_SLOT, crc16, keyHashSlot, SLOT_COUNT, slotOfKeys } from "../../src/cluster/slots.js";

const b = (s: string): Buffer => Buffer.from(s, "latin1");

/** CRC16/XMODEM one bit at a time, straight from its definition: the slow reference. */
function crc16Bitwise(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      const top = ((crc >> 15) & 1) ^ ((byte >> bit) & 1);
      crc = (crc << 1) & 0xffff;
      if (top) crc ^= 0x1021;
    }
  }
  return crc;
}

/** The hash-tag rule as the Redis cluster specification words it, on strings. */
function specSlot(key: string): number {
  const open = key.indexOf("{");
  let hashed = key;
  if (open >= 0) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) hashed = key.slice(open + 1, close);
  }
  return crc16Bitwise(b(hashed)) % SLOT_COUNT;
}

/** Keys rich in braces, so tags, empty tags and unclosed tags all come up. */
const braceKey = fc
  .array(fc.constantFrom("{", "}", "a", "b", "user", "1000", "", "é"), { maxLength: 8 })
  .map((parts) => parts.join(""));

describe("crc16", () => {
  it("gives XMODEM's check value", () => {
    assert.equal(crc16(b("123456789")), 0x31c3);
    assert.equal(crc16(new Uint8Array(0)), 0);
  });

  it("agrees with a bit-by-bit reference on any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        assert.equal(crc16(bytes), crc16Bitwise(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it("hashes a sub-range without copying", () => {
    const bytes = b("xx123456789yy");
    assert.equal(crc16(bytes, 2, 11), 0x31c3);
  });
});

describe("keyHashSlot", () => {
  it("gives the slots Redis documents and CLUSTER KEYSLOT returns", () => {
    const cases: [string, number][] = [
      ["somekey", 11058],
      ["foo{hash_tag}", 2515],
      ["foo", 12182],
      ["bar", 5061],
      ["hello", 866],
      ["", 0],
    ];
    for (const [key, slot] of cases) assert.equal(keyHashSlot(b(key)), slot, key);
  });

  it("hashes only the first non-empty tag", () => {
    assert.equal(keyHashSlot(b("{user1000}.following")), keyHashSlot(b("{user1000}.followers")));
    assert.equal(keyHashSlot(b("{user1000}.following")), keyHashSlot(b("user1000")));
    assert.equal(keyHashSlot(b("foo{hash_tag}")), keyHashSlot(b("hash_tag")));
    // An empty first tag means the whole key, even with a tag after it.
    assert.equal(keyHashSlot(b("foo{}{bar}")), crc16(b("foo{}{bar}")) % SLOT_COUNT);
    assert.notEqual(keyHashSlot(b("foo{}{bar}")), keyHashSlot(b("bar")));
    // The tag runs from the first '{' to the first '}' after it.
    assert.equal(keyHashSlot(b("foo{{bar}}zap")), keyHashSlot(b("{bar")));
    assert.equal(keyHashSlot(b("foo{bar}{zap}")), keyHashSlot(b("bar")));
    // A '}' before the first '{' does not close anything; an unclosed '{' is no tag.
    assert.equal(keyHashSlot(b("}a{b}")), keyHashSlot(b("b")));
    assert.equal(keyHashSlot(b("a{b")), crc16(b("a{b")) % SLOT_COUNT);
  });

  it("follows the specification's rule on any key", () => {
    fc.assert(
      fc.property(braceKey, (key) => {
        assert.equal(keyHashSlot(Buffer.from(key)), specSlot(Buffer.from(key).toString("latin1")));
      }),
      { numRuns: 2000 },
    );
  });

  it("agrees with the slot ioredis routes to, except where cluster-key-slot 1.1 errs", () => {
    // cluster-key-slot (ioredis's slot function) keeps scanning after an empty first tag
    // and hashes the next tagged part: "foo{}{bar}" goes to 4015 there, 8363 in Redis.
    // Such keys cost an ioredis user one MOVED per command, never a wrong answer.
    assert.equal(new Command("get", ["foo{}{bar}"]).getSlot(), 4015);
    assert.equal(keyHashSlot(b("foo{}{bar}")), 8363);
    const emptyFirstTag = (k: string) => k.indexOf("{") >= 0 && k[k.indexOf("{") + 1] === "}";
    fc.assert(
      fc.property(
        braceKey.filter((k) => !emptyFirstTag(k)),
        (key) => {
          assert.equal(keyHashSlot(Buffer.from(key)), new Command("get", [key]).getSlot());
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("stays inside the key space", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (key) => {
        const slot = keyHashSlot(key);
        assert.ok(Number.isInteger(slot) && slot >= 0 && slot < SLOT_COUNT);
      }),
    );
  });
});

describe("keyHashSlot on keys long and short", () => {
  it("finds a tag the same way in keys past 64 bytes as in short ones", () => {
    const pad = "x".repeat(70);
    assert.equal(keyHashSlot(b(`${pad}{user1000}`)), keyHashSlot(b("user1000")));
    assert.equal(keyHashSlot(b(`{user1000}${pad}`)), keyHashSlot(b("user1000")));
    assert.equal(keyHashSlot(b(`${pad}{}{user1000}`)), crc16(b(`${pad}{}{user1000}`)) & 16383);
    assert.equal(keyHashSlot(b(`${pad}{user1000`)), crc16(b(`${pad}{user1000`)) & 16383);
    for (const len of [63, 64, 65]) {
      const key = `${"y".repeat(len - 4)}{ab}`;
      assert.equal(keyHashSlot(b(key)), keyHashSlot(b("ab")), `a ${len}-byte key`);
    }
  });
});

describe("slotOfKeys", () => {
  const slotOf = (...keys: string[]) =>
    slotOfKeys(
      { buf: (i: number) => b(keys[i] as string) },
      keys.map((_, i) => i),
    );

  it("gives the keys' one slot, or CROSS_SLOT when they have several", () => {
    assert.equal(slotOf("foo"), 12182);
    assert.equal(
      slotOf("{user1000}.following", "{user1000}.followers"),
      keyHashSlot(b("user1000")),
    );
    assert.equal(slotOf("foo", "foo"), 12182);
    assert.equal(slotOf("foo", "bar"), CROSS_SLOT);
    assert.equal(slotOf("{a}1", "{a}2", "b"), CROSS_SLOT);
  });

  it("reads only the arguments named", () => {
    const args = [b("MSET"), b("{a}1"), b("x"), b("{a}2"), b("y")];
    assert.equal(slotOfKeys({ buf: (i) => args[i] as Buffer }, [1, 3]), keyHashSlot(b("a")));
  });
});
