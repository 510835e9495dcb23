import { assert } from "../../core/assert.js";

/**
 * A history: what clients saw of a concurrent object — each operation's input, when it was
 * called, and when and with what it returned. Times are numbers on one timeline (virtual
 * milliseconds in the simulator, a monotonic clock read by the test harness against a real
 * cluster); only their order matters.
 */

/** Who issued an operation. Used only to describe operations in failure messages. */
export type ClientId = number | string;

/** An operation whose reply the client received: it took effect once, inside its interval. */
export interface ReturnedOperation<I, O> {
  readonly outcome: "returned";
  readonly client: ClientId;
  readonly input: I;
  readonly callTime: number;
  /** When the reply arrived; at or after `callTime`, and finite. */
  readonly returnTime: number;
  readonly output: O;
}

/**
 * An operation whose outcome the client does not know: it timed out, or the connection was
 * lost before the reply. It may have taken effect at any moment after its call — even long
 * after the client gave up — or never. The checker treats it as returning at +infinity with
 * any output, and as optional (docs/linearizability.md, "Unknown outcomes").
 */
export interface UnknownOperation<I> {
  readonly outcome: "unknown";
  readonly client: ClientId;
  readonly input: I;
  readonly callTime: number;
}

export type Operation<I, O> = ReturnedOperation<I, O> | UnknownOperation<I>;

export function returned<I, O>(
  client: ClientId,
  input: I,
  callTime: number,
  returnTime: number,
  output: O,
): ReturnedOperation<I, O> {
  return { outcome: "returned", client, input, callTime, returnTime, output };
}

export function unknownOutcome<I>(
  client: ClientId,
  input: I,
  callTime: number,
): UnknownOperation<I> {
  return { outcome: "unknown", client, input, callTime };
}

/** A malformed history: bad input to the checker, reported, never asserted. */
export class HistoryError extends Error {
  override name = "HistoryError";
  readonly code = "HISTORY_INVALID";
}

/** Throws HistoryError naming the first operation whose times make no sense. */
export function validateHistory<I, O>(history: readonly Operation<I, O>[]): void {
  for (let i = 0; i < history.length; i++) {
    const op = history[i] as Operation<I, O>;
    if (!Number.isFinite(op.callTime)) {
      throw new HistoryError(`operation #${i}: call time ${op.callTime} is not a finite number`);
    }
    if (op.outcome === "returned") {
      if (!Number.isFinite(op.returnTime)) {
        throw new HistoryError(
          `operation #${i}: return time ${op.returnTime} is not a finite number ` +
            `(an operation that never returned has outcome "unknown")`,
        );
      }
      if (op.returnTime < op.callTime) {
        throw new HistoryError(
          `operation #${i}: returns at ${op.returnTime}, before its call at ${op.callTime}`,
        );
      }
    } else if (op.outcome !== "unknown") {
      throw new HistoryError(`operation #${i}: outcome must be "returned" or "unknown"`);
    }
  }
}

/**
 * Records a history as a harness drives clients: `invoke` when a request is sent, then
 * `ok` with the reply, or `fail` (timeout, connection lost). Operations still pending when
 * `history()` is read are unknown: their replies never came. Times are passed in, so the
 * recorder works the same on virtual and real time.
 */
export class HistoryRecorder<I, O> {
  /**
   * Runaway guard: a harness that records without bound fails loudly, not by OOM. Ten
   * million operations is beyond what the checker can search in reasonable time anyway.
   */
  static readonly operationsMax = 10_000_000;

  private readonly ops: Operation<I, O>[] = [];
  private readonly pending = new Set<number>();

  /** Records a call; returns the handle to complete it with. */
  invoke(client: ClientId, input: I, timeNow: number): number {
    assert(this.ops.length < HistoryRecorder.operationsMax, "history: too many operations");
    assert(Number.isFinite(timeNow), "history: call time must be finite");
    this.ops.push(unknownOutcome(client, input, timeNow));
    this.pending.add(this.ops.length - 1);
    return this.ops.length - 1;
  }

  /** The reply arrived. */
  ok(handle: number, output: O, timeNow: number): void {
    const op = this.take(handle);
    assert(timeNow >= op.callTime, "history: an operation returns before its call");
    this.ops[handle] = returned(op.client, op.input, op.callTime, timeNow, output);
  }

  /** The client gave up without knowing whether the operation took effect. */
  fail(handle: number): void {
    this.take(handle);
  }

  /** Every operation so far, in call order; pending ones are unknown. */
  history(): Operation<I, O>[] {
    return this.ops.slice();
  }

  private take(handle: number): UnknownOperation<I> {
    assert(this.pending.delete(handle), `history: operation ${handle} is not pending`);
    const op = this.ops[handle];
    assert(op !== undefined && op.outcome === "unknown", "history: pending operation lost");
    return op;
  }
}
