import pino, { type Logger } from "pino";

export type { Logger };

/**
 * Structured logs: JSON lines when the output is a file or a pipe (for machines), a
 * human-readable line per record on a terminal.
 */
export function createLogger(level: string, pretty = process.stdout.isTTY === true): Logger {
  if (pretty) {
    return pino({
      level,
      transport: {
        target: "pino-pretty",
        options: {
          colorize: true,
          singleLine: true,
          translateTime: "SYS:HH:MM:ss.l",
          ignore: "pid,hostname",
        },
      },
    });
  }
  return pino({ level, base: { pid: process.pid } });
}
