/**
 * Errors of the RESP layer. A `ProtocolError` is an operating error (bad input from a peer),
 * never a bug: the server answers `-ERR <message>` (when `replies` is true) and closes the
 * connection, as Redis does.
 */

/**
 * Request-side codes carry Redis 7.0's exact reply text (networking.c); reply-side codes
 * (`REPLY_*`) are ours, used when parsing what a server sent.
 */
export const PROTOCOL_ERROR_MESSAGES = {
  INVALID_MULTIBULK_LENGTH: "Protocol error: invalid multibulk length",
  INVALID_BULK_LENGTH: "Protocol error: invalid bulk length",
  /** The message ends with the offending byte: see `expectedDollar`. */
  EXPECTED_DOLLAR: "Protocol error: expected '$', got '%c'",
  TOO_BIG_INLINE: "Protocol error: too big inline request",
  TOO_BIG_MBULK_COUNT: "Protocol error: too big mbulk count string",
  TOO_BIG_BULK_COUNT: "Protocol error: too big bulk count string",
  UNBALANCED_QUOTES: "Protocol error: unbalanced quotes in request",
  UNAUTHENTICATED_MULTIBULK_LENGTH: "Protocol error: unauthenticated multibulk length",
  UNAUTHENTICATED_BULK_LENGTH: "Protocol error: unauthenticated bulk length",
  /** Redis closes such a client without a reply (client-query-buffer-limit). */
  QUERY_BUFFER_LIMIT: "Protocol error: query buffer limit reached",
  REPLY_UNKNOWN_TYPE: "Protocol error: unknown reply type byte '%c'",
  REPLY_INVALID_LENGTH: "Protocol error: invalid length in reply",
  REPLY_INVALID_INTEGER: "Protocol error: invalid integer in reply",
  REPLY_INVALID_DOUBLE: "Protocol error: invalid double in reply",
  REPLY_INVALID_BOOLEAN: "Protocol error: invalid boolean in reply",
  REPLY_INVALID_NULL: "Protocol error: invalid null in reply",
  REPLY_INVALID_VERBATIM: "Protocol error: invalid verbatim string in reply",
  REPLY_EXPECTED_CRLF: "Protocol error: expected CRLF in reply",
  REPLY_LINE_TOO_BIG: "Protocol error: too big line in reply",
  REPLY_TOO_DEEP: "Protocol error: reply nested too deeply",
  REPLY_TOO_BIG: "Protocol error: reply too big",
} as const;

export type ProtocolErrorCode = keyof typeof PROTOCOL_ERROR_MESSAGES;

export class ProtocolError extends Error {
  override name = "ProtocolError";

  constructor(
    readonly code: ProtocolErrorCode,
    message: string = PROTOCOL_ERROR_MESSAGES[code],
  ) {
    super(message);
  }

  /**
   * Whether the server should send `-ERR <message>` before closing. Redis answers every
   * protocol error except the query buffer limit, where it just drops the client.
   */
  get replies(): boolean {
    return this.code !== "QUERY_BUFFER_LIMIT";
  }

  /**
   * "expected '$', got 'X'" with the byte as Redis's `%c` prints it (one raw byte), except
   * CR and LF, which Redis turns into spaces in every formatted error reply.
   */
  static expectedDollar(byte: number): ProtocolError {
    const shown = byte === 13 || byte === 10 ? " " : String.fromCharCode(byte);
    return new ProtocolError("EXPECTED_DOLLAR", `Protocol error: expected '$', got '${shown}'`);
  }
}
