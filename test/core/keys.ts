import { deriveClusterKey } from "../../src/core/seal.js";

/** Derived once per process: scrypt is deliberately slow. */
export const testKey = deriveClusterKey("compliance-test-secret");
