import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";

/**
 * Mounts a tmpfs of `sizeMb` MiB on `dir` (created if missing): a real file system that
 * really fills up. False where it cannot (mounting needs root): the caller skips.
 */
export function mountSmallFs(dir: string, sizeMb: number): boolean {
  try {
    mkdirSync(dir, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMb}m`, "tmpfs", dir], {
      stdio: "ignore",
    });
    return true;
  } catch {
    return false;
  }
}

/** Unmounts what mountSmallFs mounted; quiet if it is gone already. */
export function unmount(dir: string): void {
  try {
    execFileSync("umount", [dir], { stdio: "ignore" });
  } catch {
    // not mounted (any more)
  }
}

/** Fills the file system of `dir` with `filler` until about `leaveBytes` are free. */
export function fillUp(dir: string, filler: string, leaveBytes: number): void {
  const free = Number(execFileSync("df", ["--output=avail", "-B1", dir]).toString().split("\n")[1]);
  writeFileSync(filler, Buffer.alloc(Math.max(0, free - leaveBytes)));
}
