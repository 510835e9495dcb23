// Fetches and unpacks Debian's source package of Redis (for its Tcl test suite) into
// .cache/redis-src/, adding a deb-src entry derived from the machine's own apt sources
// when none is configured. Nothing of Redis is kept in the repository.

import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { run, which } from "./proc.js";

export const REDIS_SRC_VERSION = "7.0.15";
const DEB_SRC_FILE = "/etc/apt/sources.list.d/homeostat-deb-src.sources";

function log(msg: string): void {
  process.stdout.write(`[redis-src] ${msg}\n`);
}

/** A Tcl shell runtest accepts (it looks for tclsh8.5, tclsh8.6 or tclsh8.7). */
export async function ensureTclsh(): Promise<void> {
  for (const v of ["8.7", "8.6", "8.5"]) {
    if (await which(`tclsh${v}`)) return;
  }
  log("tclsh not found; installing Debian package tcl");
  await aptInstall(["tcl"]);
  for (const v of ["8.7", "8.6", "8.5"]) {
    if (await which(`tclsh${v}`)) return;
  }
  throw new Error("tclsh8.x still missing after apt-get install tcl");
}

async function aptInstall(packages: string[]): Promise<void> {
  requireRoot(`apt-get install -y ${packages.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  let r = await run("apt-get", ["install", "-y", "-q", ...packages], { env });
  if (r.code !== 0) {
    await run("apt-get", ["update", "-q"], { env });
    r = await run("apt-get", ["install", "-y", "-q", ...packages], { env });
  }
  if (r.code !== 0) {
    throw new Error(`apt-get install ${packages.join(" ")} failed:\n${r.stderr.slice(-2000)}`);
  }
}

function requireRoot(what: string): void {
  if (typeof process.getuid === "function" && process.getuid() !== 0) {
    throw new Error(`need root to run \`${what}\`; run it by hand or run this script as root`);
  }
}

interface AptStanza {
  fields: Map<string, string>;
}

/** Parses deb822 `.sources` text into stanzas (comments dropped). */
function parseDeb822(text: string): AptStanza[] {
  const stanzas: AptStanza[] = [];
  let fields = new Map<string, string>();
  let lastKey = "";
  const flush = () => {
    if (fields.size > 0) stanzas.push({ fields });
    fields = new Map();
    lastKey = "";
  };
  for (const raw of text.split("\n")) {
    if (raw.trim() === "") {
      flush();
      continue;
    }
    if (raw.startsWith("#")) continue;
    if (/^\s/.test(raw) && lastKey !== "") {
      // Continuation line (e.g. an inline Signed-By key).
      fields.set(lastKey, `${fields.get(lastKey)}\n${raw}`);
      continue;
    }
    const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(raw);
    if (m) {
      lastKey = m[1];
      fields.set(lastKey, m[2]);
    }
  }
  flush();
  return stanzas;
}

/** Debian archive URIs only: third-party repositories (nodesource...) publish no sources. */
function isDebianArchive(uri: string): boolean {
  return /\/debian(-security)?\/?$|\/debian(-security)?\//.test(uri);
}

/**
 * deb-src entries mirroring the machine's `deb` entries for Debian archives, in
 * deb822 form, from /etc/apt/sources.list(.d). Empty when there are none.
 */
export function deriveDebSrc(): string {
  const out: string[] = [];
  const dir = "/etc/apt/sources.list.d";
  const files = existsSync(dir) ? readdirSync(dir).map((f) => path.join(dir, f)) : [];
  for (const file of files.filter((f) => f.endsWith(".sources") && f !== DEB_SRC_FILE)) {
    for (const st of parseDeb822(readFileSync(file, "utf8"))) {
      const types = (st.fields.get("Types") ?? "").split(/\s+/);
      const uris = (st.fields.get("URIs") ?? "").split(/\s+/).filter(isDebianArchive);
      if (!types.includes("deb") || uris.length === 0) continue;
      if ((st.fields.get("Enabled") ?? "yes").toLowerCase() === "no") continue;
      const lines = ["Types: deb-src", `URIs: ${uris.join(" ")}`];
      for (const key of ["Suites", "Components", "Signed-By"]) {
        const v = st.fields.get(key);
        if (v !== undefined) lines.push(`${key}: ${v}`);
      }
      out.push(lines.join("\n"));
    }
  }
  const listFiles = ["/etc/apt/sources.list", ...files.filter((f) => f.endsWith(".list"))].filter(
    (f) => existsSync(f),
  );
  for (const file of listFiles) {
    for (const raw of readFileSync(file, "utf8").split("\n")) {
      // deb [options] uri suite [component...]
      const m = /^\s*deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(raw);
      if (!m || !isDebianArchive(m[2])) continue;
      const opts = m[1] ?? "";
      const signed = /signed-by=(\S+?)[\s\]]/.exec(opts);
      const lines = ["Types: deb-src", `URIs: ${m[2]}`, `Suites: ${m[3]}`];
      if (m[4].trim() !== "") lines.push(`Components: ${m[4].trim()}`);
      if (signed) lines.push(`Signed-By: ${signed[1]}`);
      out.push(lines.join("\n"));
    }
  }
  return out.length === 0 ? "" : `${out.join("\n\n")}\n`;
}

/** True when apt knows a source package of redis at the wanted upstream version. */
async function aptHasRedisSource(): Promise<boolean> {
  const r = await run("apt-cache", ["showsrc", "redis"]);
  return r.code === 0 && new RegExp(`^Version: (\\d+:)?${REDIS_SRC_VERSION}-`, "m").test(r.stdout);
}

async function ensureDebSrc(): Promise<void> {
  if (await aptHasRedisSource()) return;
  requireRoot("apt-get update (with a deb-src entry)");
  if (!existsSync(DEB_SRC_FILE)) {
    const text = deriveDebSrc();
    if (text === "") {
      throw new Error("no Debian `deb` entry found in /etc/apt to derive a deb-src entry from");
    }
    log(`writing ${DEB_SRC_FILE} (deb-src twin of the machine's Debian sources)`);
    writeFileSync(
      DEB_SRC_FILE,
      `# Written by homeostat scripts/conformance.ts: source packages for the Redis test suite.\n${text}`,
    );
  }
  log("apt-get update");
  // A failing third-party repository must not stop us; the check below decides.
  await run("apt-get", ["update", "-q"], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  if (!(await aptHasRedisSource())) {
    throw new Error(
      `apt has no source package redis ${REDIS_SRC_VERSION} even with ${DEB_SRC_FILE}`,
    );
  }
}

/**
 * Returns the unpacked source tree (containing `runtest` and `tests/`), fetching and
 * unpacking it into `cacheDir` only when missing.
 */
export async function ensureRedisSource(cacheDir: string): Promise<string> {
  const tree = path.join(cacheDir, `redis-${REDIS_SRC_VERSION}`);
  if (existsSync(path.join(tree, "runtest")) && existsSync(path.join(tree, "tests"))) return tree;
  mkdirSync(cacheDir, { recursive: true });

  const orig = `redis_${REDIS_SRC_VERSION}.orig.tar.gz`;
  const findDsc = () =>
    readdirSync(cacheDir).find(
      (f) => f.startsWith(`redis_${REDIS_SRC_VERSION}-`) && f.endsWith(".dsc"),
    );
  if (!existsSync(path.join(cacheDir, orig)) || findDsc() === undefined) {
    await ensureDebSrc();
    log(`apt-get source --download-only redis (into ${cacheDir})`);
    const r = await run("apt-get", ["source", "--download-only", "-q", "redis"], { cwd: cacheDir });
    if (r.code !== 0) throw new Error(`apt-get source failed:\n${r.stderr.slice(-2000)}`);
    if (!existsSync(path.join(cacheDir, orig))) {
      throw new Error(
        `apt-get source did not bring ${orig}; got: ${readdirSync(cacheDir).join(", ")}`,
      );
    }
  }

  // Unpack into a scratch dir and rename, so a half-unpacked tree is never taken as done.
  const scratch = path.join(cacheDir, "unpack.tmp");
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch);
  const dsc = findDsc();
  if (dsc !== undefined && (await which("dpkg-source"))) {
    // Debian's patches (security fixes) also touch tests; they match the installed server.
    log(`dpkg-source -x ${dsc}`);
    const r = await run(
      "dpkg-source",
      ["-x", path.join(cacheDir, dsc), path.join(scratch, "tree")],
      {
        cwd: scratch,
      },
    );
    if (r.code !== 0) throw new Error(`dpkg-source -x failed:\n${r.stderr.slice(-2000)}`);
  } else {
    log(`dpkg-source not found (Debian dpkg-dev): unpacking ${orig} without Debian's patches`);
    const r = await run("tar", ["-xzf", path.join(cacheDir, orig), "-C", scratch]);
    if (r.code !== 0) throw new Error(`tar -xzf ${orig} failed:\n${r.stderr.slice(-2000)}`);
    renameSync(path.join(scratch, `redis-${REDIS_SRC_VERSION}`), path.join(scratch, "tree"));
  }
  rmSync(tree, { recursive: true, force: true });
  renameSync(path.join(scratch, "tree"), tree);
  rmSync(scratch, { recursive: true, force: true });
  if (!existsSync(path.join(tree, "runtest")))
    throw new Error(`${tree}/runtest missing after unpacking`);
  return tree;
}
