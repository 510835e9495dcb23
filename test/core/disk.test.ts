import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe } from "node:test";
import { FsDisk } from "../../src/core/disk.js";
import { diskCompliance } from "./disk.compliance.js";

describe("FsDisk", () =>
  diskCompliance("fs", async () => {
    const dir = await mkdtemp(join(tmpdir(), "homeostat-disk-"));
    return {
      disk: await FsDisk.open(dir),
      settle: (promise) => promise,
      reopen: () => FsDisk.open(dir),
      dispose: () => rm(dir, { recursive: true, force: true }),
    };
  }));
