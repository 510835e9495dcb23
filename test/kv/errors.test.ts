import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { ERRORS, errorReply, invalidExpire, wrongArity } from "../../src/kv/errors.js";

/** docs/errors.md, found from dist/test/kv/ or test/kv/ alike. */
function readDoc(): string {
  for (const rel of ["../../../docs/errors.md", "../../docs/errors.md"]) {
    try {
      return readFileSync(new URL(rel, import.meta.url), "utf8");
    } catch {
      // try the next location
    }
  }
  throw new Error("docs/errors.md not found");
}

const SECTION = "## Command errors (`src/kv/errors.ts`)";

/** The rows of this registry's section: name → [message, meaning]. */
function documented(): Map<string, [string, string]> {
  const doc = readDoc();
  const start = doc.indexOf(SECTION);
  assert.ok(start >= 0, `docs/errors.md has no section "${SECTION}"`);
  const rest = doc.slice(start + SECTION.length);
  const end = rest.search(/^## /m);
  const section = end < 0 ? rest : rest.slice(0, end);
  const rows = new Map<string, [string, string]>();
  for (const line of section.split("\n")) {
    // Cells may be padded: the docs are formatted as aligned tables.
    const m = /^\|\s*`([A-Z_]+)`\s*\|\s*`(.+?)`\s*\|\s*(.+?)\s*\|$/.exec(line);
    if (m === null) continue;
    assert.ok(!rows.has(m[1] as string), `${m[1]} documented twice`);
    rows.set(m[1] as string, [m[2] as string, m[3] as string]);
  }
  return rows;
}

describe("error registry", () => {
  it("docs/errors.md documents every entry, with the exact message and meaning", () => {
    const rows = documented();
    for (const [name, entry] of Object.entries(ERRORS)) {
      const row = rows.get(name);
      assert.ok(row !== undefined, `${name} is not in docs/errors.md`);
      assert.equal(row[0], entry.message, `${name}: message differs`);
      assert.equal(row[1], entry.meaning, `${name}: meaning differs`);
    }
    for (const name of rows.keys())
      assert.ok(name in ERRORS, `${name} is documented but not in the registry`);
  });

  it("every message carries a Redis error code", () => {
    for (const [name, entry] of Object.entries(ERRORS)) {
      assert.match(
        entry.message,
        /^(ERR|WRONGTYPE|NOGROUP|BUSYGROUP|BUSYKEY|NOSCRIPT|NOTBUSY|INVALIDOBJ) \S/,
        name,
      );
      assert.ok(entry.meaning.length > 10, name);
    }
  });

  it("fills parameters in order and keeps replies on one line", () => {
    assert.deepEqual(errorReply("EXPIRE_UNSUPPORTED_OPTION", "a\r\nb"), {
      kind: "error",
      value: "ERR Unsupported option a  b",
    });
    assert.deepEqual(errorReply("INT_RANGE", "1", "2"), {
      kind: "error",
      value: "ERR value is out of range, value must between 1 and 2",
    });
    assert.deepEqual(wrongArity("CONFIG|GET"), {
      kind: "error",
      value: "ERR wrong number of arguments for 'config|get' command",
    });
    assert.deepEqual(invalidExpire("SET"), {
      kind: "error",
      value: "ERR invalid expire time in 'set' command",
    });
  });
});
