import type { ClusterNode, Shard, ShardMap } from "../../src/cluster/shard-map.js";

/** Node `raftId` at 10.0.0.<raftId>:6379 with an id made from its raft id. */
export function node(raftId: number, zone = ""): ClusterNode {
  return {
    id: raftId.toString(16).padStart(40, "0"),
    raftId,
    host: `10.0.0.${raftId}`,
    port: 6379,
    busPort: 16379,
    zone,
  };
}

export function nodes(count: number, zones: readonly string[] = [""]): ClusterNode[] {
  return Array.from({ length: count }, (_, i) => node(i + 1, zones[i % zones.length] as string));
}

export function shard(
  id: number,
  slots: [number, number][],
  replicas: number[],
  leader: number | null = replicas[0] ?? null,
  learners: number[] = [],
): Shard {
  return { id, slots, replicas, learners, leader };
}

export function shardMap(shards: Shard[], epoch = 1): ShardMap {
  return { epoch, shards };
}

/** What raft does on its own: a shard whose leader is gone elects its first live voter. */
export function elect(map: ShardMap, live: readonly ClusterNode[]): ShardMap {
  const alive = new Set(live.map((n) => n.raftId));
  const shards = map.shards.map((s) => {
    if (s.leader !== null && alive.has(s.leader) && s.replicas.includes(s.leader)) return s;
    const leader = s.replicas.filter((id) => alive.has(id)).sort((a, b) => a - b)[0] ?? null;
    return { ...s, leader };
  });
  return { ...map, shards };
}
