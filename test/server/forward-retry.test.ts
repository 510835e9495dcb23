import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { describe, it } from "node:test";
import * as R from "../../src/resp/reply.js";
import type { Reply } from "../../src/resp/types.js";
import { mayRetry, outcomeUnknownText } from "../../src/server/cluster-router.js";
import {
  ForwardConnection,
  lostInFlightPrefix,
  unreachablePrefix,
} from "../../src/server/forwarder.js";
import { refusingPort } from "./harness.js";

const set = [Buffer.from("SET"), Buffer.from("k"), Buffer.from("v")];

/** A loopback server that hands each connection's first bytes to `onData`. */
async function listen(onData: (socket: Socket, chunk: Buffer) => void): Promise<Server> {
  const server = createServer((socket) => socket.on("data", (chunk) => onData(socket, chunk)));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return server;
}

function portOf(server: Server): number {
  const address = server.address();
  return typeof address === "object" && address !== null ? address.port : 0;
}

function errorText(reply: Reply): string {
  assert.equal(reply.kind, "error");
  return String(reply.kind === "error" ? reply.value : "");
}

describe("forwarding retries: a write that may have run is never sent twice", () => {
  it("a forward lost in flight says it may have run: a write is not retried, a read is", async () => {
    // The leader's node takes the command and dies before answering (SIGKILL).
    const server = await listen((socket, chunk) => {
      if (chunk.includes("SET")) socket.destroy();
    });
    const forward = new ForwardConnection("127.0.0.1", portOf(server), "", () => {});
    try {
      const reply = await forward.send(set);
      const text = errorText(reply);
      assert.ok(text.startsWith(lostInFlightPrefix), text);
      assert.match(text, /^UNCERTAIN .*may or may not have run$/);
      assert.equal(mayRetry(reply, true), false);
      assert.equal(mayRetry(reply, false), true);
    } finally {
      forward.close();
      await new Promise((r) => server.close(r));
    }
  });

  it("a forward that was not sent (the connection was already gone) is retried", async () => {
    let closed!: () => void;
    const gone = new Promise<void>((r) => {
      closed = r;
    });
    const forward = new ForwardConnection("127.0.0.1", await refusingPort(), "", () => closed());
    await gone;
    const reply = await forward.send(set);
    assert.equal(errorText(reply), unreachablePrefix);
    assert.equal(mayRetry(reply, true), true);
  });

  it("a forward sent while connecting to a node that is down did not run: it is retried", async () => {
    // The leader's node was SIGKILLed: its port refuses. The command was written to a
    // socket that never connected, so it never left this node.
    const forward = new ForwardConnection("127.0.0.1", await refusingPort(), "", () => {});
    const reply = await forward.send(set);
    const text = errorText(reply);
    assert.ok(text.startsWith(unreachablePrefix), text);
    assert.match(text, /ECONNREFUSED.*not sent$/);
    assert.equal(mayRetry(reply, true), true);
  });

  it("retries a write after the answers that say it did not run, not after the others", () => {
    const didNotRun = [
      R.error("MOVED 42 127.0.0.1:7001"),
      R.error("TRYAGAIN the shard is electing a leader; retry shortly"),
      R.error("TRYAGAIN this node does not lead the shard any more"),
      R.error("TRYAGAIN the shard is overloaded; retry shortly"),
    ];
    for (const reply of didNotRun) assert.equal(mayRetry(reply, true), true, errorText(reply));
    const unknown = R.error(outcomeUnknownText);
    // Not TRYAGAIN, which cluster clients send again by themselves.
    assert.match(outcomeUnknownText, /^UNCERTAIN /);
    assert.equal(mayRetry(unknown, true), false);
    assert.equal(mayRetry(unknown, false), true);
    for (const reply of [R.OK, R.error("ERR wrong number of arguments"), R.NULL]) {
      assert.equal(mayRetry(reply, true), false);
      assert.equal(mayRetry(reply, false), false);
    }
  });
});
