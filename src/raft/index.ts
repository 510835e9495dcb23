export { SafetyChecker } from "./checker.js";
export {
  decodeConfChange,
  decodeMessage,
  encodeConfChange,
  encodeMessage,
  messageBytesMax,
} from "./codec.js";
export {
  entriesPerMessageMax,
  lanConfig,
  leaseTicks,
  membersMax,
  pendingReadsMax,
  type RaftConfig,
  validateConfig,
} from "./config.js";
export { RaftLog } from "./log.js";
export type { ProgressState } from "./progress.js";
export { applyChange, RaftNode, type RaftStats, type ReadResult } from "./raft.js";
export { type ReadyHost, runReady } from "./ready.js";
export { copyConf, type LogStorage, MemoryLogStorage } from "./storage.js";
export * from "./types.js";
