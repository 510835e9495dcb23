/**
 * A parsed contract back in the file's own form: every field written out, durations as
 * text. What `validate --json` prints, so its output is itself a valid contract file (JSON
 * is YAML) that parses back to the same contract.
 */
import { formatDuration } from "./duration.js";
import type { Contract, Objective } from "./schema.js";

/** The file form of one command class's objectives. */
export interface ObjectiveDocument {
  p99?: string;
  throughput?: number;
}

/** A contract as a file writes it with every default spelled out. */
export interface FullContractDocument {
  version: 1;
  durability: Contract["durability"];
  availability: { target: number; deadNodeAfter: string };
  performance: { read?: ObjectiveDocument; write?: ObjectiveDocument; other?: ObjectiveDocument };
  alerts: Contract["alerts"];
}

export function contractDocument(contract: Contract): FullContractDocument {
  const performance: FullContractDocument["performance"] = {};
  for (const name of ["read", "write", "other"] as const) {
    const objective = contract.performance[name];
    if (objective !== undefined) performance[name] = objectiveDocument(objective);
  }
  return {
    version: contract.version,
    durability: { ...contract.durability },
    availability: {
      target: contract.availability.target,
      deadNodeAfter: formatDuration(contract.availability.deadNodeAfterMs),
    },
    performance,
    alerts: { channels: contract.alerts.channels.map((channel) => ({ ...channel })) },
  };
}

function objectiveDocument(objective: Objective): ObjectiveDocument {
  const document: ObjectiveDocument = {};
  if (objective.p99Ms !== undefined) document.p99 = formatDuration(objective.p99Ms);
  if (objective.throughputOpsPerSec !== undefined) {
    document.throughput = objective.throughputOpsPerSec;
  }
  return document;
}
