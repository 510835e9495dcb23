/**
 * A contract in a few lines of prose, for people: what `validate` prints after "valid",
 * so the user sees the effective contract (defaults included) and not only their file.
 */
import { formatDuration } from "./duration.js";
import type { AlertChannel, Contract, Objective } from "./schema.js";

/** One line per section, as `label: text` pairs, in file order. */
export function summarizeContract(contract: Contract): Array<[string, string]> {
  return [
    ["durability", durabilityText(contract.durability)],
    ["availability", availabilityText(contract.availability)],
    ["performance", performanceText(contract.performance)],
    ["alerts", alertsText(contract.alerts.channels)],
  ];
}

/**
 * What the contract asks for that this release stores but does not act on yet, so nobody
 * believes a setting is in force when it is not.
 */
export function contractNotes(contract: Contract): string[] {
  const notes: string[] = [];
  if (contract.durability.sync === "batch") {
    notes.push(
      'durability.sync "batch" is stored but not acted on yet: writes are still ' +
        "acknowledged once a quorum has fsynced them",
    );
  }
  if (Object.keys(contract.performance).length > 0) {
    notes.push("performance objectives are stored but not acted on yet (a later release will)");
  }
  return notes;
}

function durabilityText(durability: Contract["durability"]): string {
  const { replicas, spreadOverZones, sync } = durability;
  const copies = `${replicas} ${replicas === 1 ? "replica" : "replicas"} per shard`;
  const spread = replicas > 1 && spreadOverZones ? ", spread over zones" : "";
  const ack =
    sync === "always"
      ? "a write is acknowledged once a quorum has fsynced it"
      : 'handled as "always" for now';
  return `${copies}${spread}, sync ${sync} (${ack})`;
}

function availabilityText(availability: Contract["availability"]): string {
  // toPrecision drops the float noise of 0.999 * 100 (99.89999999999999).
  const percent = Number((availability.target * 100).toPrecision(12));
  const after = formatDuration(availability.deadNodeAfterMs);
  return `target ${percent}%, a node silent for ${after} is dead and its replicas are rebuilt`;
}

function performanceText(performance: Contract["performance"]): string {
  const parts: string[] = [];
  for (const name of ["read", "write", "other"] as const) {
    const objective = performance[name];
    if (objective !== undefined) parts.push(`${name} ${objectiveText(objective)}`);
  }
  return parts.length === 0 ? "no objectives" : parts.join("; ");
}

function objectiveText(objective: Objective): string {
  const parts: string[] = [];
  if (objective.p99Ms !== undefined) parts.push(`p99 ${formatDuration(objective.p99Ms)}`);
  if (objective.throughputOpsPerSec !== undefined) {
    parts.push(`${objective.throughputOpsPerSec} ops/s`);
  }
  return parts.length === 0 ? "(nothing set)" : parts.join(", ");
}

function alertsText(channels: readonly AlertChannel[]): string {
  if (channels.length === 0) return "no channels (alerts are recorded, not delivered)";
  return channels
    .map((channel) =>
      channel.type === "log"
        ? "log"
        : `webhook ${channel.url} (${channel.minSeverity}${channel.minSeverity === "critical" ? " only" : " and above"})`,
    )
    .join("; ");
}
