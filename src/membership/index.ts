export { BroadcastQueue } from "./broadcast.js";
export * from "./codec.js";
export * from "./config.js";
export { Awareness, Suspicion } from "./health.js";
export { idHash, Membership, seedsMax } from "./membership.js";
export * from "./types.js";
