import type { Command } from "commander";
import { ask, type Target, withTarget } from "./client.js";

/**
 * `homeostat node remove ID`: decommissions a node of a sharded cluster through any member
 * (HOMEOSTAT REMOVE). The cluster drains it: each of its replicas is rebuilt on another
 * node before its own is removed, so data stays at full replication, and its leaderships
 * move first. The command returns once the drain has started; `homeostat info raft` or
 * HOMEOSTAT GROUPS on the node show it emptying.
 */
export function registerNode(command: Command): void {
  withTarget(
    command
      .description("Manage the nodes of a sharded cluster.")
      .command("remove")
      .description("Drain a node (its raft id or node id) and remove it from the cluster.")
      .argument("<id>", "the node's raft id, or its node id (or a unique prefix of 4+ characters)"),
  ).action((id: string, opts: Target) => ask(opts, ["HOMEOSTAT", "REMOVE", id]));
}
