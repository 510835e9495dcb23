import type { Args } from "../resp/types.js";
import { redacted } from "./slowlog.js";

/**
 * MONITOR's lines, as Redis writes them (replicationFeedMonitors): the time in seconds and
 * microseconds, the database and the client's address, then every argument quoted the way
 * Redis's sdscatrepr quotes it, passwords redacted as the slow log redacts them:
 *
 *   +1732896000.123456 [0 127.0.0.1:50312] "set" "foo" "bar"
 */

/** An argument as sdscatrepr writes it: quoted, with C escapes for what does not print. */
export function quoted(arg: Uint8Array): string {
  let out = '"';
  for (const c of arg) {
    switch (c) {
      case 0x5c:
        out += "\\\\";
        break;
      case 0x22:
        out += '\\"';
        break;
      case 0x0a:
        out += "\\n";
        break;
      case 0x0d:
        out += "\\r";
        break;
      case 0x09:
        out += "\\t";
        break;
      case 0x07:
        out += "\\a";
        break;
      case 0x08:
        out += "\\b";
        break;
      default:
        out +=
          c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, "0")}`;
    }
  }
  return `${out}"`;
}

const REDACTED = Buffer.from("(redacted)");

/** A command's arguments as MONITOR shows them: whole, but secrets as "(redacted)". */
export function monitorArgs(args: Args): Uint8Array[] {
  const secret = redacted(args);
  const out: Uint8Array[] = [];
  for (let i = 0; i < args.length; i++) out.push(secret.has(i) ? REDACTED : args.buf(i));
  return out;
}

/** One MONITOR line for a command `peer` ran at `nowUs` (µs since the Unix epoch). */
export function monitorLine(nowUs: number, peer: string, args: readonly Uint8Array[]): string {
  const sec = Math.floor(nowUs / 1e6);
  const usec = String(Math.floor(nowUs - sec * 1e6)).padStart(6, "0");
  return `+${sec}.${usec} [0 ${peer}] ${args.map(quoted).join(" ")}\r\n`;
}
