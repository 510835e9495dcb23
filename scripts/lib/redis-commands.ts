// Which family each Redis command belongs to, taken from the ACL categories that
// `COMMAND` reports on redis-server 7.0 (a command's first data-type category wins).
// Used to tell which conformance tests exercise more than strings and the keyspace.

const FAMILIES: Record<string, string> = {
  string:
    "append decr decrby get getdel getex getrange getset incr incrby incrbyfloat lcs mget mset msetnx psetex set setex setnx setrange strlen substr",
  bitmap: "bitcount bitfield bitfield_ro bitop bitpos getbit setbit",
  keyspace:
    "copy dbsize del dump exists expire expireat expiretime flushall flushdb keys migrate move persist pexpire pexpireat pexpiretime pttl randomkey rename renamenx restore restore-asking scan swapdb touch ttl type unlink",
  connection: "asking auth command echo hello ping quit readonly readwrite reset select",
  replication: "wait",
  list: "blmove blmpop blpop brpop brpoplpush lindex linsert llen lmove lmpop lpop lpos lpush lpushx lrange lrem lset ltrim rpop rpoplpush rpush rpushx",
  hash: "hdel hexists hget hgetall hincrby hincrbyfloat hkeys hlen hmget hmset hrandfield hscan hset hsetnx hstrlen hvals",
  set: "sadd scard sdiff sdiffstore sinter sintercard sinterstore sismember smembers smismember smove spop srandmember srem sscan sunion sunionstore",
  sort: "sort sort_ro",
  zset: "bzmpop bzpopmax bzpopmin zadd zcard zcount zdiff zdiffstore zincrby zinter zintercard zinterstore zlexcount zmpop zmscore zpopmax zpopmin zrandmember zrange zrangebylex zrangebyscore zrangestore zrank zrem zremrangebylex zremrangebyrank zremrangebyscore zrevrange zrevrangebylex zrevrangebyscore zrevrank zscan zscore zunion zunionstore",
  stream:
    "xack xadd xautoclaim xclaim xdel xgroup xinfo xlen xpending xrange xread xreadgroup xrevrange xsetid xtrim",
  hyperloglog: "pfadd pfcount pfdebug pfmerge pfselftest",
  geo: "geoadd geodist geohash geopos georadius georadius_ro georadiusbymember georadiusbymember_ro geosearch geosearchstore",
  transaction: "discard exec multi unwatch watch",
  scripting: "eval eval_ro evalsha evalsha_ro fcall fcall_ro function script",
  pubsub:
    "psubscribe publish punsubscribe spublish ssubscribe subscribe sunsubscribe unsubscribe pubsub",
  server:
    "acl bgrewriteaof bgsave client cluster config debug failover info lastsave latency lolwut memory module monitor object psync replconf replicaof role save shutdown slaveof slowlog sync time",
};

const familyOf = new Map<string, string>();
for (const [family, names] of Object.entries(FAMILIES)) {
  for (const name of names.split(" ")) familyOf.set(name, family);
}

/** Families a string/keyspace-only server is expected to serve. */
export const BASE_FAMILIES: ReadonlySet<string> = new Set([
  "string",
  "bitmap",
  "keyspace",
  "connection",
]);

/** Commands whose first argument is a subcommand worth telling apart. */
const CONTAINERS = new Set([
  "acl",
  "client",
  "cluster",
  "command",
  "config",
  "debug",
  "function",
  "latency",
  "memory",
  "module",
  "object",
  "pubsub",
  "script",
  "slowlog",
  "xgroup",
  "xinfo",
]);

export function commandFamily(name: string): string {
  return familyOf.get(name.toLowerCase()) ?? "unknown";
}

/** "OBJECT", "encoding", "k" → "object encoding"; "SET", "k", "v" → "set". */
export function commandKey(args: readonly string[]): string {
  const name = (args[0] ?? "").toLowerCase();
  if (CONTAINERS.has(name) && args.length > 1) return `${name} ${args[1].toLowerCase()}`;
  return name;
}
