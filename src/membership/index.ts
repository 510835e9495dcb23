export { BroadcastQueue } from "./broadcast.js";
export * from "./codec.js";
export * from "./config.js";
export { Awareness, Suspicion } from "./health.js";
export { Membership, seedsMax } from "./membership.js";
export { IdIndex, idHash } from "./table.js";
export * from "./types.js";
