// A TCP proxy that forwards bytes unchanged between clients and a Redis-protocol
// server and records each command a client sends, tagged with the Redis test that
// was running. The Tcl test suite announces every test to an external server with
// `DEBUG LOG "### Starting test <name> in <file>"` on a fresh connection just before
// running it, so commands that follow belong to that test until the next marker.

import net from "node:net";

export interface TracedCommand {
  /** Test name (without " in <file>"), or "" before the first test of a unit. */
  readonly test: string;
  readonly file: string;
  readonly connection: number;
  /** The command's first arguments, each cut to 64 characters. */
  readonly args: readonly string[];
}

export interface TraceProxy {
  readonly port: number;
  readonly commands: TracedCommand[];
  /**
   * Attributes the commands that follow, until the next test marker, to `label`
   * (e.g. "(unit/expire, outside tests)") in `file`.
   */
  setContext(label: string, file: string): void;
  close(): Promise<void>;
}

const MARKER = "### Starting test ";
const ARGS_KEPT = 3;
/** Long enough for a test name in the marker; recorded args are cut further. */
const ARG_PARSE_CHARS = 1024;
const ARG_CHARS = 64;
/** A command larger than this is forwarded but no longer parsed (tests send 100+ MB values rarely). */
const PARSE_BUFFER_MAX = 64 * 1024 * 1024;

/**
 * Incremental parser of client requests: RESP arrays of bulk strings, or inline
 * commands. Gives up (returns undefined forever) on anything else.
 */
class RequestParser {
  private buf: Buffer = Buffer.alloc(0);
  private broken = false;

  push(chunk: Buffer): string[][] {
    if (this.broken) return [];
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    if (this.buf.length > PARSE_BUFFER_MAX) {
      this.broken = true;
      this.buf = Buffer.alloc(0);
      return [];
    }
    const out: string[][] = [];
    for (;;) {
      const r = this.parseOne();
      if (r === undefined) break;
      if (r === null) {
        this.broken = true;
        break;
      }
      out.push(r.args);
      this.buf = this.buf.subarray(r.end);
    }
    return out;
  }

  /** undefined: need more bytes; null: not parseable. */
  private parseOne(): { args: string[]; end: number } | undefined | null {
    const b = this.buf;
    if (b.length === 0) return undefined;
    const lineEnd = b.indexOf("\r\n");
    if (lineEnd < 0) return undefined;
    if (b[0] !== 0x2a /* '*' */) {
      const line = b.subarray(0, lineEnd).toString("latin1").trim();
      return { args: line === "" ? [] : line.split(/\s+/), end: lineEnd + 2 };
    }
    const count = Number(b.subarray(1, lineEnd).toString("latin1"));
    if (!Number.isInteger(count)) return null;
    let pos = lineEnd + 2;
    const args: string[] = [];
    for (let i = 0; i < count; i++) {
      const hdrEnd = b.indexOf("\r\n", pos);
      if (hdrEnd < 0) return undefined;
      if (b[pos] !== 0x24 /* '$' */) return null;
      const len = Number(b.subarray(pos + 1, hdrEnd).toString("latin1"));
      if (!Number.isInteger(len) || len < 0) return null;
      const start = hdrEnd + 2;
      if (b.length < start + len + 2) return undefined;
      if (i < ARGS_KEPT) {
        args.push(b.subarray(start, start + Math.min(len, ARG_PARSE_CHARS)).toString("latin1"));
      }
      pos = start + len + 2;
    }
    return { args, end: pos };
  }
}

export function startTraceProxy(targetHost: string, targetPort: number): Promise<TraceProxy> {
  const commands: TracedCommand[] = [];
  const sockets = new Set<net.Socket>();
  let currentTest = "";
  let currentFile = "";
  let nextConnection = 1;

  const server = net.createServer((client) => {
    const connection = nextConnection++;
    const upstream = net.connect({ host: targetHost, port: targetPort });
    sockets.add(client);
    sockets.add(upstream);
    const parser = new RequestParser();
    client.on("data", (chunk: Buffer) => {
      for (const args of parser.push(chunk)) {
        if (args.length === 0) continue;
        const full = args[2] ?? "";
        if (
          args[0].toLowerCase() === "debug" &&
          args[1]?.toLowerCase() === "log" &&
          full.startsWith(MARKER)
        ) {
          const named = full.slice(MARKER.length);
          const m = /^(.*) in (tests\/\S+\.tcl)$/s.exec(named);
          currentTest = m ? m[1] : named;
          currentFile = m ? m[2] : "";
          continue;
        }
        commands.push({
          test: currentTest,
          file: currentFile,
          connection,
          args: args.map((a) => a.slice(0, ARG_CHARS)),
        });
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", closeBoth);
    upstream.on("close", closeBoth);
    client.on("error", closeBoth);
    upstream.on("error", closeBoth);
  });

  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0 }, () => {
      const addr = server.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      resolve({
        port,
        commands,
        setContext: (label, file) => {
          currentTest = label;
          currentFile = file;
        },
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}
