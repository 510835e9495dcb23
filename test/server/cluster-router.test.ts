import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SeededRandom } from "../../src/core/random.js";
import { COMMAND_SPECS, type CommandSpec } from "../../src/kv/command-table.js";
import {
  decodeLogCommand,
  encodeLogCommand,
  ProposalLost,
  type ProposalLostReason,
  ReadAborted,
} from "../../src/kv/machine.js";
import * as R from "../../src/resp/reply.js";
import type { Reply } from "../../src/resp/types.js";
import type { Client } from "../../src/server/client.js";
import type { ClusterRuntime } from "../../src/server/cluster.js";
import { ClusterRouter, type ShardReplica } from "../../src/server/cluster-router.js";
import type { Forwarder } from "../../src/server/forwarder.js";
import { TestArgs } from "../kv/helpers.js";

const shard = 7;
const setSpec = COMMAND_SPECS.get("set") as CommandSpec;
const getSpec = COMMAND_SPECS.get("get") as CommandSpec;

/**
 * A router on a node that leads `shard`, which holds every slot. The proposal at index i
 * (from 1) ends as outcomes[i - 1]: applied, or lost for that reason. The cluster is a
 * stand-in with only what a write to a shard led here uses.
 */
function leadingNode(outcomes: readonly (ProposalLostReason | "applied")[], transferring = 0) {
  const proposed: Uint8Array[] = [];
  let refused = 0;
  const cluster = {
    shardOf: () => shard,
    runtime: {
      multi: {
        leads: (group: number) => group === shard,
        propose: (_group: number, data: Uint8Array) => {
          // The first `transferring` proposals meet a leadership on its way elsewhere.
          if (refused < transferring) {
            refused += 1;
            return { ok: false, reason: "transferring", lead: 1 };
          }
          proposed.push(Uint8Array.from(data));
          return { ok: true, index: proposed.length, term: 1 };
        },
      },
      flushSoon: () => {},
    },
  } as unknown as ClusterRuntime;
  const replica: ShardReplica = {
    lastNowMs: 0,
    expect(index: number, term: number): Promise<Reply> {
      const outcome = outcomes[index - 1] ?? "applied";
      if (outcome === "applied") return Promise.resolve(R.OK);
      return Promise.reject(new ProposalLost(index, term, outcome));
    },
    newReadId: () => 1,
    read: () => Promise.resolve(R.NULL),
  };
  return { router: routerOn(cluster, replica), proposed };
}

/** A router over `cluster`, `replica` being its replica of `shard`, at time 1,000. */
function routerOn(cluster: ClusterRuntime, replica: ShardReplica): ClusterRouter {
  return new ClusterRouter(
    cluster,
    (group) => (group === shard ? replica : undefined),
    (args, nowMs, seed) => encodeLogCommand({ kind: "command", nowMs, seed, args }),
    {} as Forwarder,
    new SeededRandom(1),
    () => 1_000,
  );
}

const client = { clusterAware: false, forwarded: false } as unknown as Client;

function argsOf(data: Uint8Array): string[] {
  const d = decodeLogCommand(data);
  assert.ok(d.ok && d.value.kind === "command");
  return d.value.args.map((a) => Buffer.from(a).toString());
}

/** Routes SET k v, then scribbles over the arguments as the parser's reused buffer would. */
function routeSet(router: ClusterRouter): Promise<Reply> {
  const args = new TestArgs(["SET", "k", "v"]);
  const reply = router.route(client, "set", setSpec, args);
  args.invalidate();
  assert.ok(reply instanceof Promise);
  return reply;
}

describe("ClusterRouter, a write to a shard led here", () => {
  it("proposes it from the arguments, answered once applied", async () => {
    const { router, proposed } = leadingNode(["applied"]);
    assert.deepEqual(await routeSet(router), R.OK);
    assert.equal(proposed.length, 1);
    assert.deepEqual(argsOf(proposed[0] as Uint8Array), ["SET", "k", "v"]);
  });

  it("runs a write that did not run again, its arguments taken from its entry", async () => {
    const { router, proposed } = leadingNode(["term-mismatch", "applied"]);
    assert.deepEqual(await routeSet(router), R.OK);
    assert.equal(proposed.length, 2);
    for (const data of proposed) assert.deepEqual(argsOf(data), ["SET", "k", "v"]);
  });

  it("gives up with TRYAGAIN after three runs again", async () => {
    const { router, proposed } = leadingNode(Array(10).fill("term-mismatch"));
    const reply = await routeSet(router);
    assert.equal(reply.kind, "error");
    assert.match(String(reply.kind === "error" ? reply.value : ""), /^TRYAGAIN .*did not run/);
    assert.equal(proposed.length, 4);
  });

  it("waits out a leadership transfer, then runs it where the shard is led", async () => {
    // 12 refusals: 0.6 s of a transfer (a transferee catching up after a restart).
    const { router, proposed } = leadingNode(["applied"], 12);
    assert.deepEqual(await routeSet(router), R.OK);
    assert.equal(proposed.length, 1);
    assert.deepEqual(argsOf(proposed[0] as Uint8Array), ["SET", "k", "v"]);
  });

  it("answers TRYAGAIN when the transfer does not settle in 2 s", async () => {
    const { router, proposed } = leadingNode(["applied"], 1_000);
    const reply = await routeSet(router);
    assert.equal(reply.kind, "error");
    assert.match(String(reply.kind === "error" ? reply.value : ""), /^TRYAGAIN /);
    assert.equal(proposed.length, 0);
  });

  it("answers UNCERTAIN, and runs nothing again, when the outcome is unknown", async () => {
    const { router, proposed } = leadingNode(["closed"]);
    const reply = await routeSet(router);
    assert.equal(reply.kind, "error");
    assert.match(String(reply.kind === "error" ? reply.value : ""), /^UNCERTAIN /);
    assert.equal(proposed.length, 1);
  });

  it("refuses keys of two slots with CROSSSLOT, proposing nothing", () => {
    const { router, proposed } = leadingNode([]);
    const args = new TestArgs(["MSET", "a", "1", "b", "2"]);
    const reply = router.route(client, "mset", COMMAND_SPECS.get("mset") as CommandSpec, args);
    assert.ok(!(reply instanceof Promise) && reply !== null && reply.kind === "error");
    assert.match(String(reply.value), /^CROSSSLOT/);
    assert.equal(proposed.length, 0);
  });
});

/**
 * A router on a node that leads `shard` and serves reads: readIndex answers as
 * `refusals` say, one per call ("ok" once they run out), and each read accepted is
 * served as `served` says, in turn (the value "v" once they run out).
 */
function readingNode(refusals: readonly string[], served: readonly ("v" | "leadership-lost")[]) {
  let asked = 0;
  let reads = 0;
  const cluster = {
    shardOf: () => shard,
    runtime: {
      multi: {
        leads: (group: number) => group === shard,
        readIndex: () => {
          const reason = refusals[asked++];
          return reason === undefined ? { ok: true } : { ok: false, reason, lead: 1 };
        },
      },
      flushSoon: () => {},
    },
  } as unknown as ClusterRuntime;
  const replica: ShardReplica = {
    lastNowMs: 0,
    expect: () => Promise.resolve(R.OK),
    newReadId: () => asked + 1,
    read: (id: number) => {
      const outcome = served[reads++] ?? "v";
      if (outcome === "v") return Promise.resolve(R.bulk(Buffer.from("v")));
      return Promise.reject(new ReadAborted(id, outcome));
    },
  };
  return { router: routerOn(cluster, replica), calls: () => ({ asked, reads }) };
}

function routeGet(router: ClusterRouter): Promise<Reply> {
  const reply = router.route(client, "get", getSpec, new TestArgs(["GET", "k"]));
  assert.ok(reply instanceof Promise);
  return reply;
}

describe("ClusterRouter, a read of a shard led here", () => {
  it("waits for a new leader's first entry to commit instead of answering TRYAGAIN", async () => {
    const { router, calls } = readingNode(["not-ready", "not-ready", "not-ready"], []);
    assert.deepEqual(await routeGet(router), R.bulk(Buffer.from("v")));
    assert.deepEqual(calls(), { asked: 4, reads: 1 });
  });

  it("makes a read again when the leader lost its role before serving it", async () => {
    const { router, calls } = readingNode([], ["leadership-lost"]);
    assert.deepEqual(await routeGet(router), R.bulk(Buffer.from("v")));
    assert.deepEqual(calls(), { asked: 2, reads: 2 });
  });

  it("answers TRYAGAIN when no read can be made for 2 s", async () => {
    const { router } = readingNode(Array(10_000).fill("not-ready"), []);
    const reply = await routeGet(router);
    assert.equal(reply.kind, "error");
    assert.match(String(reply.kind === "error" ? reply.value : ""), /^TRYAGAIN /);
  });

  it("answers an overloaded leader at once", async () => {
    const { router, calls } = readingNode(["overloaded"], []);
    const reply = await routeGet(router);
    assert.match(String(reply.kind === "error" ? reply.value : ""), /^TRYAGAIN .*overloaded/);
    assert.deepEqual(calls(), { asked: 1, reads: 0 });
  });
});
