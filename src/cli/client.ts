import type { Reply } from "../resp/types.js";

export { call, type Target, UnreachableError } from "../server/resp-client.js";

/** A reply as text for a terminal, roughly as redis-cli prints it. */
export function formatReply(reply: Reply, indent = ""): string {
  switch (reply.kind) {
    case "simple":
    case "verbatim":
      return reply.value;
    case "bulk":
      return typeof reply.value === "string" ? reply.value : reply.value.toString("utf8");
    case "error":
      return `(error) ${reply.value}`;
    case "integer":
      return `(integer) ${reply.value}`;
    case "double":
      return `(double) ${reply.value}`;
    case "boolean":
      return reply.value ? "(true)" : "(false)";
    case "null":
    case "nullArray":
      return "(nil)";
    case "array":
    case "set":
      if (reply.value.length === 0) return "(empty array)";
      return reply.value
        .map((r, i) => `${indent}${i + 1}) ${formatReply(r, `${indent}   `)}`)
        .join("\n");
    case "map":
      if (reply.value.length === 0) return "(empty map)";
      return reply.value
        .map(([k, v]) => `${indent}${formatReply(k)}: ${formatReply(v, `${indent}   `)}`)
        .join("\n");
  }
}
