import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { contractDocument } from "../../src/contract/document.js";
import {
  type ContractError,
  contractErrorsMax,
  contractLengthMax,
  formatErrors,
  parseContract,
} from "../../src/contract/parse.js";
import { closest, editDistance } from "../../src/contract/suggest.js";

function errorsOf(text: string, fileName?: string): ContractError[] {
  const result = parseContract(text, fileName);
  assert.ok(!result.ok, "should be invalid");
  return result.errors;
}

/** Errors as `line:column path: message`, the shape that is easiest to read in a diff. */
function brief(errors: readonly ContractError[]): string[] {
  return errors.map((e) => `${e.line}:${e.column} ${e.path}: ${e.message}`);
}

const multiLine = `# yaml-language-server: $schema=../schema/contract.schema.json
version: 1
durability:
  replicas: 0
  replica: 3
availability:
  target: 0.999
  deadNodeAfter: 2s
alerts:
  channels:
    - type: log
    - type: webhook
      url: "https://hooks.example.com/x"
      minSeverty: critical
    - type: webhook
replicas: 3
`;

describe("parseContract", () => {
  it("points every error at the line and column of its node in a multi-line file", () => {
    assert.deepEqual(brief(errorsOf(multiLine)), [
      "4:13 durability.replicas: expected an integer from 1 to 7, got 0",
      "5:3 durability.replica: unknown field 'replica' (did you mean 'replicas'?)",
      "8:18 availability.deadNodeAfter: expected at least 5s (shorter turns restarts and brief " +
        'network blips into full copies of data), got "2s"',
      "14:7 alerts.channels[1].minSeverty: unknown field 'minSeverty' (did you mean 'minSeverity'?)",
      // A missing field has no node of its own: the error points at its mapping.
      "15:7 alerts.channels[2].url: expected an http or https URL, but it is missing",
      "16:1 replicas: unknown field 'replicas' here (it belongs under 'durability')",
    ]);
  });

  it("suggests the intended field, or lists the ones allowed", () => {
    assert.deepEqual(brief(errorsOf("durabilty:\n  replicas: 3\n")), [
      "1:1 durabilty: unknown field 'durabilty' (did you mean 'durability'?)",
    ]);
    assert.deepEqual(brief(errorsOf("durability:\n  Replicas: 3\n")), [
      "2:3 durability.Replicas: unknown field 'Replicas' (did you mean 'replicas'?)",
    ]);
    assert.deepEqual(brief(errorsOf("availability:\n  spreadOverZone: true\n")), [
      "2:3 availability.spreadOverZone: unknown field 'spreadOverZone' (did you mean " +
        "'spreadOverZones' under 'durability'?)",
    ]);
    assert.deepEqual(brief(errorsOf("availability:\n  replicas: 3\n")), [
      "2:3 availability.replicas: unknown field 'replicas' here (it belongs under 'durability')",
    ]);
    assert.deepEqual(brief(errorsOf("url: https://a.b\n")), [
      "1:1 url: unknown field 'url' here (it belongs in an entry of 'alerts.channels')",
    ]);
    assert.deepEqual(brief(errorsOf("performance:\n  read:\n    latency: 5ms\n")), [
      "3:5 performance.read.latency: unknown field 'latency'; the fields here are p99, throughput",
    ]);
    assert.deepEqual(brief(errorsOf("owner: ops-team\n")), [
      "1:1 owner: unknown field 'owner'; the fields here are version, durability, " +
        "availability, performance, alerts",
    ]);
  });

  it("reports YAML syntax errors at their position", () => {
    assert.deepEqual(brief(errorsOf("durability:\n  replicas: [3\navailability: {}\n")), [
      "3:1 : YAML syntax error: Flow sequence in block collection must be sufficiently " +
        "indented and end with a ]",
    ]);
    assert.deepEqual(brief(errorsOf("durability:\n  replicas: 3\n sync: always\n")), [
      "3:1 : YAML syntax error: All mapping items must start at the same column",
    ]);
    assert.deepEqual(brief(errorsOf("durability:\n  replicas: 3\n  replicas: 5\n")), [
      "3:3 : field 'replicas' is written twice in this mapping; keep one",
    ]);
    assert.deepEqual(brief(errorsOf("durability: {}\n---\nalerts: {}\n")), [
      "2:1 : a contract file holds one YAML document; remove this '---' and what follows, or " +
        "merge them",
    ]);
    assert.deepEqual(brief(errorsOf("durability:\n\treplicas: 3\n")).length, 1);
    assert.match(brief(errorsOf("durability:\n\treplicas: 3\n"))[0] ?? "", /^2:1 .*tabs/);
    assert.match(brief(errorsOf("alerts: 'unclosed\n"))[0] ?? "", /^2:1 : YAML syntax error/);
  });

  it("counts lines the same with CRLF endings and a byte-order mark", () => {
    assert.deepEqual(brief(errorsOf("\ufeffdurability:\r\n  replicas: 9\r\n")), [
      "2:13 durability.replicas: expected an integer from 1 to 7, got 9",
    ]);
  });

  it("rejects alias bombs and oversized files instead of expanding them", () => {
    const bomb = [
      "a: &a [x, x, x, x, x, x, x, x, x, x]",
      ...["b", "c", "d", "e", "f", "g"].map(
        (name, i) => `${name}: &${name} [${Array(10).fill(`*${"abcdefg"[i]}`).join(", ")}]`,
      ),
    ].join("\n");
    assert.match(errorsOf(bomb)[0]?.message ?? "", /^YAML: .*alias/i);
    const huge = `# ${"x".repeat(contractLengthMax)}\n`;
    assert.match(errorsOf(huge)[0]?.message ?? "", /a contract has at most 65536/);
  });

  it("reports at most contractErrorsMax errors", () => {
    const text = Array.from({ length: 80 }, (_, i) => `unknown${i}: 1`).join("\n");
    assert.equal(errorsOf(text).length, contractErrorsMax);
  });

  it("round-trips the effective contract through its file form", () => {
    const text =
      "durability: { replicas: 5, sync: batch }\navailability: { deadNodeAfter: 90s }\n" +
      "performance: { read: { p99: 1500ms } }\n" +
      "alerts: { channels: [{ type: webhook, url: 'https://a.b/c' }] }\n";
    const first = parseContract(text);
    assert.ok(first.ok);
    const document = contractDocument(first.contract);
    assert.equal(document.availability.deadNodeAfter, "1m30s");
    assert.deepEqual(document.performance, { read: { p99: "1s500ms" } });
    const again = parseContract(JSON.stringify(document));
    assert.ok(again.ok);
    assert.deepEqual(again.contract, first.contract);
  });
});

describe("formatErrors", () => {
  it("prints FILE:LINE:COLUMN PATH: MESSAGE, one error a line", () => {
    const errors = errorsOf("durability:\n  replicas: 0\nfoo: [\n", "a.yaml");
    assert.equal(errors[0]?.file, "a.yaml");
    const text = formatErrors(errorsOf("version: 1\ndurability:\n  replicas: 0\n", "c.yaml"));
    assert.equal(text, "c.yaml:3:13 durability.replicas: expected an integer from 1 to 7, got 0");
    assert.equal(
      formatErrors(errorsOf("durability:\n  replicas: 3\n  replicas: 4\n"), "other.yaml"),
      "other.yaml:3:3 field 'replicas' is written twice in this mapping; keep one",
    );
  });
});

describe("suggestions", () => {
  it("measure edits, counting a swap of neighbours as one", () => {
    assert.equal(editDistance("replica", "replicas"), 1);
    assert.equal(editDistance("sycn", "sync"), 1);
    assert.equal(editDistance("SYNC", "sync"), 0);
    assert.equal(editDistance("", "abc"), 3);
  });

  it("suggest only names close enough to be a typo", () => {
    assert.equal(closest("replica", ["replicas", "sync"]), "replicas");
    assert.equal(closest("zone", ["sync", "replicas"]), undefined);
    assert.equal(closest("targt", ["target", "deadNodeAfter"]), "target");
  });
});
