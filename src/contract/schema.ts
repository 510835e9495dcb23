/**
 * The service contract: the one file operators edit to say what they want of the cluster.
 *
 * This schema is the single source of truth for the file format. The descriptions below
 * are what editors show (through schema/contract.schema.json) and what docs/contract.md
 * repeats, so they speak to the person writing the file. Every field has a default, so an
 * empty file is a valid contract; every object is strict, so a misspelt field is an error
 * instead of a silently ignored wish.
 *
 * Field names in the file carry no units ("deadNodeAfter: 5m" reads well); the parsed
 * contract, read by code, does (`deadNodeAfterMs`), as everywhere else in this code base.
 */
import { z } from "zod";
import { durationExamples, durationPattern, formatDuration, parseDuration } from "./duration.js";

/**
 * The one message for every way a field can be wrong: what it takes. parse.ts appends what
 * it got, so each schema states its expectation once instead of per check.
 */
function expecting(what: string): { error: string } {
  return { error: `expected ${what}` };
}

/**
 * A duration written as text ("30s") that parses to milliseconds. `minMs` bounds it from
 * below; `why` tells the user the reason for that bound.
 */
function duration(minMs: number, why: string) {
  return z
    .string({
      error: (issue) =>
        typeof issue.input === "number"
          ? `expected a duration with a unit, such as "${issue.input}s" or "${issue.input}ms"`
          : `expected a duration such as ${durationExamples}`,
    })
    .regex(durationPattern, {
      // The pattern says only "no"; the parser says what is wrong with this text.
      error: (issue) => {
        const parsed = parseDuration(String(issue.input));
        return parsed.ok ? `expected a duration such as ${durationExamples}` : parsed.message;
      },
    })
    .transform((text, ctx) => {
      const parsed = parseDuration(text);
      if (!parsed.ok) {
        ctx.issues.push({ code: "custom", message: parsed.message, input: text });
        return z.NEVER;
      }
      if (parsed.ms < minMs) {
        const message = `expected at least ${formatDuration(minMs)}${why}, got "${text}"`;
        ctx.issues.push({ code: "custom", message, input: text });
        return z.NEVER;
      }
      return parsed.ms;
    });
}

const replicasMax = 7;

const durability = z
  .strictObject(
    {
      replicas: z
        .int(expecting(`an integer from 1 to ${replicasMax}`))
        .min(1, expecting(`an integer from 1 to ${replicasMax}`))
        .max(replicasMax, expecting(`an integer from 1 to ${replicasMax}`))
        .default(3)
        .describe(
          "Copies of each shard, each on a different node (1 to 7). A shard stays writable " +
            "while a majority of its replicas is up, so 3 replicas ride out 1 lost node and 5 " +
            "ride out 2; an even number costs a copy without tolerating one more loss.",
        ),
      spreadOverZones: z
        .boolean(expecting("true or false"))
        .default(true)
        .describe(
          "Place the replicas of a shard in distinct zones (each node's --zone) when possible, " +
            "so that losing a whole zone loses at most one copy. The feasibility check reports " +
            "when the live nodes span fewer zones than there are replicas.",
        ),
      sync: z
        .enum(["always", "batch"], expecting('"always" or "batch"'))
        .default("always")
        .describe(
          '"always": a write is acknowledged once a quorum of its replicas has fsynced it. ' +
            '"batch" is stored but not acted upon yet: writes are still handled as "always".',
        ),
    },
    expecting("a mapping with the fields replicas, spreadOverZones and sync"),
  )
  .prefault({})
  .describe("How data survives failures: how many copies, where, and when a write counts.");

const availability = z
  .strictObject(
    {
      target: z
        .number(expecting("a number between 0 and 1 such as 0.999 (99.9%)"))
        .gt(0, expecting("a number between 0 and 1 such as 0.999 (99.9%)"))
        .lt(1, expecting("a number between 0 and 1 such as 0.999 (99.9%)"))
        .default(0.999)
        .describe(
          "Fraction of time the service should answer, between 0 and 1 (exclusive): 0.999 is " +
            "99.9%, about 43 minutes of unavailability allowed per 30 days.",
        ),
      deadNodeAfter: duration(
        5_000,
        " (shorter turns restarts and brief network blips into full copies of data)",
      )
        .prefault("5m")
        .describe(
          'How long a silent node counts as only down (e.g. "30s", "5m", "1h"; at least 5s) ' +
            "before it counts as dead and its replicas are rebuilt on other nodes. Longer " +
            "saves needless copying after a reboot; shorter restores full redundancy sooner.",
        ),
    },
    expecting("a mapping with the fields target and deadNodeAfter"),
  )
  .transform(({ target, deadNodeAfter }) => ({ target, deadNodeAfterMs: deadNodeAfter }))
  .prefault({})
  .describe("How much of the time the service answers, and how the cluster treats silent nodes.");

/** The objectives of one command class; only the ones written are kept. */
function objective(commands: string) {
  return z
    .strictObject(
      {
        p99: duration(1, "")
          .optional()
          .describe(
            `Latency that 99% of ${commands} should beat, as a duration (e.g. "10ms", "250ms").`,
          ),
        throughput: z
          .int(expecting("a positive whole number of operations per second"))
          .min(1, expecting("a positive whole number of operations per second"))
          .optional()
          .describe(`Operations per second of ${commands} the cluster should sustain.`),
      },
      expecting("a mapping with the fields p99 and/or throughput"),
    )
    .transform(({ p99, throughput }) => ({
      ...(p99 === undefined ? {} : { p99Ms: p99 }),
      ...(throughput === undefined ? {} : { throughputOpsPerSec: throughput }),
    }))
    .optional();
}

const performance = z
  .strictObject(
    {
      read: objective("read commands").describe("Objectives for read commands (GET, MGET, ...)."),
      write: objective("write commands").describe(
        "Objectives for write commands (SET, DEL, INCR, ...).",
      ),
      other: objective("other commands").describe(
        "Objectives for every other command (PING, INFO, ...).",
      ),
    },
    expecting("a mapping with the fields read, write and other"),
  )
  .transform((classes) => {
    // Keep only the classes written, so "no objective" is one shape: absent.
    const kept: { read?: Objective; write?: Objective; other?: Objective } = {};
    if (classes.read !== undefined) kept.read = classes.read;
    if (classes.write !== undefined) kept.write = classes.write;
    if (classes.other !== undefined) kept.other = classes.other;
    return kept;
  })
  .prefault({})
  .describe(
    "Latency and throughput objectives per command class (read, write, other). Stored now, " +
      "acted on in a later release.",
  );

/** The objectives of one command class, as the parsed contract holds them. */
export interface Objective {
  p99Ms?: number;
  throughputOpsPerSec?: number;
}

export const severities = ["info", "warning", "critical"] as const;
export type Severity = (typeof severities)[number];

const logChannel = z
  .strictObject({
    type: z.literal("log").describe("Write each alert as a line in the node log."),
  })
  .describe("Write each alert as a line in the node log.");

const webhookChannel = z
  .strictObject({
    type: z.literal("webhook").describe("POST each alert as JSON to url."),
    url: z
      .url({ protocol: /^https?$/, ...expecting("an http or https URL") })
      .describe("Where to POST alerts: an http:// or https:// URL."),
    minSeverity: z
      .enum(severities, expecting('"info", "warning" or "critical"'))
      .default("info")
      .describe(
        'Least severe alert to send: "info" sends all, "warning" skips info, "critical" ' +
          "sends only critical ones.",
      ),
  })
  .describe("POST each alert as JSON to an http(s) URL.");

const alerts = z
  .strictObject(
    {
      channels: z
        .array(
          z.discriminatedUnion(
            "type",
            [logChannel, webhookChannel],
            expecting('a channel type: "log" or "webhook"'),
          ),
          expecting('a list of channels, e.g. [{ type: "log" }]'),
        )
        .default([{ type: "log" }])
        .describe(
          "Where alerts are delivered; each goes to every channel listed. An empty list " +
            "delivers nowhere (alerts are still recorded by the cluster).",
        ),
    },
    expecting("a mapping with the field channels"),
  )
  .prefault({})
  .describe(
    "Where alerts go. An alert is raised only when a contract clause is violated, or " +
      "forecast to be, and the cluster cannot fix it by itself.",
  );

/** The contract file format (version 1). */
export const contractSchema = z
  .strictObject(
    {
      version: z
        .literal(1, expecting("1 (the only contract format version this homeostat reads)"))
        .default(1)
        .describe("Format version of this file. Always 1 for now."),
      durability,
      availability,
      performance,
      alerts,
    },
    expecting("a mapping with the sections durability, availability, performance and alerts"),
  )
  .meta({
    title: "Homeostat service contract",
    description:
      "What operators want of a Homeostat cluster: durability, availability, performance " +
      "and where alerts go. Every field has a default; an empty file is a valid contract.",
  });

/** The contract with every default applied, as code reads it (durations in milliseconds). */
export type Contract = z.output<typeof contractSchema>;

/** The contract as a file holds it (every field optional, durations as text). */
export type ContractDocument = z.input<typeof contractSchema>;

export type AlertChannel = Contract["alerts"]["channels"][number];

/** The contract of an empty file: every default. */
export function defaultContract(): Contract {
  return contractSchema.parse({});
}
