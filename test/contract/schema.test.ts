import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { parseContract } from "../../src/contract/parse.js";
import { type Contract, contractSchema, defaultContract } from "../../src/contract/schema.js";

/** Parses YAML text, expecting a valid contract. */
function valid(text: string): Contract {
  const result = parseContract(text);
  assert.ok(result.ok, result.ok ? "" : JSON.stringify(result.errors));
  return result.contract;
}

/** Parses YAML text, expecting exactly one error, and returns its path and message. */
function invalid(text: string): { path: string; message: string } {
  const result = parseContract(text);
  assert.ok(!result.ok, `should be invalid:\n${text}`);
  assert.equal(result.errors.length, 1, JSON.stringify(result.errors));
  const [error] = result.errors;
  assert.ok(error !== undefined);
  return { path: error.path, message: error.message };
}

describe("contract schema", () => {
  it("gives every field its default", () => {
    assert.deepEqual(defaultContract(), {
      version: 1,
      durability: { replicas: 3, spreadOverZones: true, sync: "always" },
      availability: { target: 0.999, deadNodeAfterMs: 300_000 },
      performance: {},
      alerts: { channels: [{ type: "log" }] },
    });
    assert.deepEqual(valid(""), defaultContract());
    assert.deepEqual(valid("# nothing but a comment\n"), defaultContract());
    assert.deepEqual(valid("durability: {}\navailability: {}\n"), defaultContract());
  });

  it("describes every field, for editors and docs", () => {
    const missing: string[] = [];
    const visit = (schema: Record<string, unknown>, at: string): void => {
      for (const [name, child] of Object.entries(
        (schema.properties ?? {}) as Record<string, Record<string, unknown>>,
      )) {
        if (typeof child.description !== "string" || child.description.length < 20) {
          missing.push(`${at}${name}`);
        }
        visit(child, `${at}${name}.`);
        for (const option of (child.items as { oneOf?: Record<string, unknown>[] } | undefined)
          ?.oneOf ?? []) {
          visit(option, `${at}${name}[].`);
        }
      }
    };
    visit(z.toJSONSchema(contractSchema, { io: "input" }), "");
    assert.deepEqual(missing, []);
  });

  it("accepts a full contract and keeps durations in milliseconds", () => {
    const contract = valid(
      [
        "version: 1",
        "durability: { replicas: 5, spreadOverZones: false, sync: batch }",
        "availability: { target: 0.9999, deadNodeAfter: 1h30m }",
        "performance:",
        "  read: { p99: 10ms, throughput: 50000 }",
        "  write: { p99: 25ms }",
        "  other: { throughput: 100 }",
        "alerts:",
        "  channels:",
        "    - type: log",
        "    - type: webhook",
        "      url: https://hooks.example.com/homeostat",
        "      minSeverity: critical",
        "    - { type: webhook, url: 'http://10.0.0.7:8080/alerts' }",
      ].join("\n"),
    );
    assert.deepEqual(contract, {
      version: 1,
      durability: { replicas: 5, spreadOverZones: false, sync: "batch" },
      availability: { target: 0.9999, deadNodeAfterMs: 5_400_000 },
      performance: {
        read: { p99Ms: 10, throughputOpsPerSec: 50_000 },
        write: { p99Ms: 25 },
        other: { throughputOpsPerSec: 100 },
      },
      alerts: {
        channels: [
          { type: "log" },
          {
            type: "webhook",
            url: "https://hooks.example.com/homeostat",
            minSeverity: "critical",
          },
          { type: "webhook", url: "http://10.0.0.7:8080/alerts", minSeverity: "info" },
        ],
      },
    });
  });

  it("bounds version", () => {
    assert.deepEqual(invalid("version: 2"), {
      path: "version",
      message: "expected 1 (the only contract format version this homeostat reads), got 2",
    });
  });

  it("bounds durability.replicas to integers from 1 to 7", () => {
    assert.equal(valid("durability: { replicas: 1 }").durability.replicas, 1);
    assert.equal(valid("durability: { replicas: 7 }").durability.replicas, 7);
    for (const [value, shown] of [
      ["0", "0"],
      ["8", "8"],
      ["-1", "-1"],
      ["2.5", "2.5"],
      ['"3"', '"3"'],
    ]) {
      assert.deepEqual(invalid(`durability: { replicas: ${value} }`), {
        path: "durability.replicas",
        message: `expected an integer from 1 to 7, got ${shown}`,
      });
    }
  });

  it("takes only booleans for durability.spreadOverZones (YAML 1.2: yes is a string)", () => {
    assert.equal(valid("durability: { spreadOverZones: false }").durability.spreadOverZones, false);
    assert.deepEqual(invalid("durability: { spreadOverZones: yes }"), {
      path: "durability.spreadOverZones",
      message: 'expected true or false, got "yes"',
    });
  });

  it("takes always or batch for durability.sync", () => {
    assert.equal(valid("durability: { sync: batch }").durability.sync, "batch");
    assert.deepEqual(invalid("durability: { sync: fsync }"), {
      path: "durability.sync",
      message: 'expected "always" or "batch", got "fsync"',
    });
  });

  it("bounds availability.target to (0, 1)", () => {
    assert.equal(valid("availability: { target: 0.5 }").availability.target, 0.5);
    assert.equal(valid("availability: { target: 0.99999 }").availability.target, 0.99999);
    for (const value of ["0", "1", "99.9", "-0.5"]) {
      assert.deepEqual(invalid(`availability: { target: ${value} }`), {
        path: "availability.target",
        message: `expected a number between 0 and 1 such as 0.999 (99.9%), got ${value}`,
      });
    }
  });

  it("takes availability.deadNodeAfter as a duration of at least 5s", () => {
    assert.equal(valid("availability: { deadNodeAfter: 5s }").availability.deadNodeAfterMs, 5_000);
    assert.equal(valid("availability: { deadNodeAfter: 2h }").availability.deadNodeAfterMs, 7.2e6);
    assert.match(invalid("availability: { deadNodeAfter: 4s999ms }").message, /at least 5s/);
    assert.deepEqual(invalid("availability: { deadNodeAfter: 300 }"), {
      path: "availability.deadNodeAfter",
      message: 'expected a duration with a unit, such as "300s" or "300ms", got 300',
    });
    assert.deepEqual(invalid("availability: { deadNodeAfter: 5min }"), {
      path: "availability.deadNodeAfter",
      message: '"min" in "5min" is not a unit; use ms, s, m or h (e.g. "30s", "5m")',
    });
  });

  it("takes performance objectives per command class, each optional", () => {
    assert.deepEqual(valid("performance: { read: {} }").performance, { read: {} });
    assert.deepEqual(invalid("performance: { read: { p99: 0ms } }"), {
      path: "performance.read.p99",
      message: 'expected at least 1ms, got "0ms"',
    });
    assert.deepEqual(invalid("performance: { write: { throughput: 0 } }"), {
      path: "performance.write.throughput",
      message: "expected a positive whole number of operations per second, got 0",
    });
    assert.equal(
      invalid("performance: { other: { throughput: 1.5 } }").path,
      "performance.other.throughput",
    );
    assert.match(invalid("performance: { admin: {} }").message, /unknown field 'admin'/);
  });

  it("checks alert channels: type, URL scheme, severity", () => {
    assert.deepEqual(valid("alerts: { channels: [] }").alerts.channels, []);
    assert.deepEqual(invalid("alerts: { channels: [{ type: email }] }"), {
      path: "alerts.channels[0].type",
      message: 'expected a channel type: "log" or "webhook", got "email"',
    });
    assert.deepEqual(invalid("alerts: { channels: [{ type: webhook, url: 'ftp://x.org' }] }"), {
      path: "alerts.channels[0].url",
      message: 'expected an http or https URL, got "ftp://x.org"',
    });
    assert.deepEqual(invalid("alerts: { channels: [{ type: webhook }] }"), {
      path: "alerts.channels[0].url",
      message: "expected an http or https URL, but it is missing",
    });
    assert.deepEqual(
      invalid("alerts: { channels: [{ type: webhook, url: 'https://a.b', minSeverity: high }] }"),
      {
        path: "alerts.channels[0].minSeverity",
        message: 'expected "info", "warning" or "critical", got "high"',
      },
    );
    assert.match(
      invalid("alerts: { channels: [{ type: log, url: 'https://a.b' }] }").message,
      /unknown field 'url'/,
    );
    assert.deepEqual(invalid("alerts: { channels: log }"), {
      path: "alerts.channels",
      message: 'expected a list of channels, e.g. [{ type: "log" }], got "log"',
    });
  });

  it("says when a section is empty or not a mapping", () => {
    assert.deepEqual(invalid("durability:\n"), {
      path: "durability",
      message:
        "expected a mapping with the fields replicas, spreadOverZones and sync, got an empty " +
        "value (write one, or remove the line for the default)",
    });
    assert.deepEqual(invalid("- 1\n- 2\n"), {
      path: "",
      message:
        "expected a mapping with the sections durability, availability, performance and " +
        "alerts, got a list",
    });
  });
});
