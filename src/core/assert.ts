/**
 * Assertions are for programmer errors and stay on in production (see STYLE.md, 3).
 * Operating errors — bad input, a lost peer, a full disk — are handled and reported,
 * never asserted.
 */
export class AssertionError extends Error {
  override name = "AssertionError";
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}
