import { error } from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";

/**
 * The registry of client-facing error messages (STYLE.md, 6). Each entry is the exact text
 * Redis 7.0 sends, prefix included; `%s` marks a parameter, filled in by `errorReply`.
 * docs/errors.md documents every entry, and test/kv/errors.test.ts keeps the two in step.
 * Clients match on these texts (redis-py, ioredis and the Redis test suite all do), so a
 * message is never reworded here.
 */
export interface ErrorEntry {
  /** The full message with its code; `%s` marks each parameter. */
  readonly message: string;
  /** What the client did to get it, in one line. */
  readonly meaning: string;
}

export const ERRORS = {
  WRONG_TYPE: {
    message: "WRONGTYPE Operation against a key holding the wrong kind of value",
    meaning: "The key exists but holds a type the command does not operate on.",
  },
  SYNTAX: {
    message: "ERR syntax error",
    meaning: "An option is unknown, repeated in a conflicting way, or missing its value.",
  },
  NOT_INTEGER: {
    message: "ERR value is not an integer or out of range",
    meaning:
      "An argument or stored value that must be a 64-bit signed integer is not one (no sign '+', spaces or leading zeros allowed).",
  },
  INT_RANGE: {
    message: "ERR value is out of range, value must between %s and %s",
    meaning: "An integer argument is valid but outside the range the option accepts.",
  },
  NOT_FLOAT: {
    message: "ERR value is not a valid float",
    meaning: "An argument or stored value that must be a number (as strtold reads it) is not one.",
  },
  OVERFLOW: {
    message: "ERR increment or decrement would overflow",
    meaning: "INCR/DECR/INCRBY/DECRBY would take the value outside the 64-bit signed range.",
  },
  DECREMENT_OVERFLOW: {
    message: "ERR decrement would overflow",
    meaning: "DECRBY was given -9223372036854775808, whose negation does not fit in 64 bits.",
  },
  NAN_OR_INFINITY: {
    message: "ERR increment would produce NaN or Infinity",
    meaning: "INCRBYFLOAT would store an infinite or undefined number.",
  },
  NAN_OR_INFINITY_ARGUMENT: {
    message: "ERR value is NaN or Infinity",
    meaning: "HINCRBYFLOAT was given an infinite increment.",
  },
  HASH_NOT_INTEGER: {
    message: "ERR hash value is not an integer",
    meaning: "HINCRBY met a field whose value is not a 64-bit signed integer.",
  },
  HASH_NOT_FLOAT: {
    message: "ERR hash value is not a float",
    meaning: "HINCRBYFLOAT met a field whose value is not a number (as strtold reads it).",
  },
  OUT_OF_RANGE: {
    message: "ERR value is out of range",
    meaning:
      "HRANDFIELD with WITHVALUES or ZRANDMEMBER with WITHSCORES was given a count beyond ±(2^63 − 1)/2; HRANDFIELD, SRANDMEMBER or ZRANDMEMBER a negative count beyond −1,000,000 (a Homeostat bound: the reply is built whole).",
  },
  INVALID_EXPIRE: {
    message: "ERR invalid expire time in '%s' command",
    meaning:
      "An expiry is zero or negative where a positive one is required, or overflows when converted to absolute milliseconds.",
  },
  STRING_TOO_LONG: {
    message: "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
    meaning: "SETRANGE or APPEND would build a string longer than proto-max-bulk-len.",
  },
  HASH_TOO_LONG: {
    message: "ERR hash exceeds maximum allowed size (proto-max-bulk-len)",
    meaning:
      "A hash write would make the hash's encoding longer than proto-max-bulk-len (Homeostat stores a hash as one value; Redis has no such limit).",
  },
  SET_TOO_LONG: {
    message: "ERR set exceeds maximum allowed size (proto-max-bulk-len)",
    meaning:
      "A set write would make the set's encoding longer than proto-max-bulk-len (Homeostat stores a set as one value; Redis has no such limit).",
  },
  OBJECT_FREQ_NO_LFU: {
    message:
      "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
    meaning:
      "OBJECT FREQ was asked for: access frequencies are tracked only under an LFU eviction policy, which Homeostat does not have.",
  },
  SORT_NOT_DOUBLE: {
    message: "ERR One or more scores can't be converted into double",
    meaning: "SORT without ALPHA met an element (or a BY value) that is not a number.",
  },
  SORT_BY_CLUSTER: {
    message: "ERR BY option of SORT denied in Cluster mode.",
    meaning:
      "SORT BY with a pattern on a cluster node: the keys it names may live in other shards.",
  },
  SORT_GET_CLUSTER: {
    message: "ERR GET option of SORT denied in Cluster mode.",
    meaning: "SORT GET on a cluster node: the keys it names may live in other shards.",
  },
  ZSET_TOO_LONG: {
    message: "ERR sorted set exceeds maximum allowed size (proto-max-bulk-len)",
    meaning:
      "A sorted set write would make the sorted set's encoding longer than proto-max-bulk-len (Homeostat stores a sorted set as one value; Redis has no such limit).",
  },
  GEO_INVALID_POSITION: {
    message: "ERR invalid longitude,latitude pair %s,%s",
    meaning:
      "A GEO command was given a longitude outside ±180 or a latitude outside ±85.05112878 degrees (the bounds of the Web Mercator geohash).",
  },
  GEO_UNIT: {
    message: "ERR unsupported unit provided. please use M, KM, FT, MI",
    meaning: "A GEO distance unit is not m, km, ft or mi (any case).",
  },
  GEO_RADIUS_NOT_FLOAT: {
    message: "ERR need numeric radius",
    meaning: "A GEO search radius is not a number.",
  },
  GEO_WIDTH_NOT_FLOAT: {
    message: "ERR need numeric width",
    meaning: "A GEOSEARCH BYBOX width is not a number.",
  },
  GEO_HEIGHT_NOT_FLOAT: {
    message: "ERR need numeric height",
    meaning: "A GEOSEARCH BYBOX height is not a number.",
  },
  GEO_NEGATIVE_RADIUS: {
    message: "ERR radius cannot be negative",
    meaning: "A GEO search radius is below zero.",
  },
  GEO_NEGATIVE_BOX: {
    message: "ERR height or width cannot be negative",
    meaning: "A GEOSEARCH BYBOX width or height is below zero.",
  },
  GEO_COUNT: {
    message: "ERR COUNT must be > 0",
    meaning: "A GEO search's COUNT is zero or negative.",
  },
  GEO_MEMBER: {
    message: "ERR could not decode requested zset member",
    meaning:
      "The member a GEO search starts from (FROMMEMBER, GEORADIUSBYMEMBER) is not in the set.",
  },
  GEO_STORE_WITH: {
    message: "ERR %s is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
    meaning:
      "A GEO search that stores its result was also asked for distances, hashes or positions.",
  },
  GEO_FROM: {
    message: "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for %s",
    meaning: "GEOSEARCH or GEOSEARCHSTORE was given no centre (FROMMEMBER or FROMLONLAT).",
  },
  GEO_BY: {
    message: "ERR exactly one of BYRADIUS and BYBOX can be specified for %s",
    meaning: "GEOSEARCH or GEOSEARCHSTORE was given no shape (BYRADIUS or BYBOX).",
  },
  GEO_ANY: {
    message: "ERR the ANY argument requires COUNT argument",
    meaning: "A GEO search was given ANY without COUNT.",
  },
  ZSET_NAN_SCORE: {
    message: "ERR resulting score is not a number (NaN)",
    meaning: "ZINCRBY or ZADD INCR would make a score NaN (inf plus -inf).",
  },
  ZSET_RANGE_NOT_FLOAT: {
    message: "ERR min or max is not a float",
    meaning:
      "A score range (ZRANGEBYSCORE, ZCOUNT, ZRANGE BYSCORE...) has an end that is not a number, optionally after '('.",
  },
  ZSET_LEX_RANGE_INVALID: {
    message: "ERR min or max not valid string range item",
    meaning:
      "A lex range (ZRANGEBYLEX, ZLEXCOUNT, ZRANGE BYLEX...) has an end other than '-', '+', or a string after '[' or '('.",
  },
  ZADD_NX_XX: {
    message: "ERR XX and NX options at the same time are not compatible",
    meaning: "ZADD was given both NX and XX.",
  },
  ZADD_GT_LT_NX: {
    message: "ERR GT, LT, and/or NX options at the same time are not compatible",
    meaning: "ZADD was given GT with LT, or either with NX.",
  },
  ZADD_INCR_PAIRS: {
    message: "ERR INCR option supports a single increment-element pair",
    meaning: "ZADD INCR was given more than one score and member.",
  },
  ZRANGE_LIMIT_BY_RANK: {
    message:
      "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
    meaning: "ZRANGE or ZRANGESTORE was given LIMIT for a range of ranks.",
  },
  ZRANGE_WITHSCORES_BYLEX: {
    message: "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
    meaning: "ZRANGE BYLEX or ZRANGEBYLEX was given WITHSCORES.",
  },
  ZSET_NUMKEYS: {
    message: "ERR at least 1 input key is needed for '%s' command",
    meaning:
      "ZUNION, ZINTER, ZDIFF, their STORE forms or ZINTERCARD were given a key count below 1.",
  },
  ZSET_WEIGHT_NOT_FLOAT: {
    message: "ERR weight value is not a float",
    meaning: "ZUNION, ZINTER or their STORE forms were given a WEIGHTS value that is not a number.",
  },
  NOT_POSITIVE: {
    message: "ERR value is out of range, must be positive",
    meaning:
      "SPOP, LPOP, RPOP, ZPOPMIN or ZPOPMAX was given a count that is negative or not an integer.",
  },
  NUMKEYS_NOT_POSITIVE: {
    message: "ERR numkeys should be greater than 0",
    meaning:
      "SINTERCARD, LMPOP, BLMPOP, ZMPOP or BZMPOP was given a key count below 1, or not an integer.",
  },
  NUMKEYS_TOO_MANY: {
    message: "ERR Number of keys can't be greater than number of args",
    meaning: "SINTERCARD was given a key count larger than the keys that follow it.",
  },
  LIMIT_NEGATIVE: {
    message: "ERR LIMIT can't be negative",
    meaning: "SINTERCARD or ZINTERCARD was given a LIMIT that is negative or not an integer.",
  },
  LIST_TOO_LONG: {
    message: "ERR list exceeds maximum allowed size (proto-max-bulk-len)",
    meaning:
      "A list write would make the list's encoding longer than proto-max-bulk-len (Homeostat stores a list as one value; Redis has no such limit).",
  },
  INDEX_OUT_OF_RANGE: {
    message: "ERR index out of range",
    meaning: "LSET was given an index outside the list.",
  },
  TIMEOUT_NOT_FLOAT: {
    message: "ERR timeout is not a float or out of range",
    meaning:
      "A blocking command (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) was given a timeout that is not a number of seconds.",
  },
  TIMEOUT_NOT_INTEGER: {
    message: "ERR timeout is not an integer or out of range",
    meaning: "XREAD's BLOCK was given a timeout that is not a whole number of milliseconds.",
  },
  STREAM_ID_INVALID: {
    message: "ERR Invalid stream ID specified as stream command argument",
    meaning:
      "A stream ID is not <ms>-<seq> or <ms> with unsigned 64-bit parts (or '-', '+', '*', '$' where the command takes them).",
  },
  XADD_ID_ZERO: {
    message: "ERR The ID specified in XADD must be greater than 0-0",
    meaning: "XADD was given the ID 0-0.",
  },
  XADD_ID_TOO_SMALL: {
    message: "ERR The ID specified in XADD is equal or smaller than the target stream top item",
    meaning: "XADD was given an ID not above the stream's last generated ID.",
  },
  XADD_EXHAUSTED: {
    message: "ERR The stream has exhausted the last possible ID, unable to add more items",
    meaning: "The stream's last ID is 18446744073709551615-18446744073709551615.",
  },
  STREAM_START_ID_INVALID: {
    message: "ERR invalid start ID for the interval",
    meaning: "An exclusive range start '(' is the largest ID: nothing follows it.",
  },
  STREAM_END_ID_INVALID: {
    message: "ERR invalid end ID for the interval",
    meaning: "An exclusive range end '(' is 0-0: nothing precedes it.",
  },
  XTRIM_MAXLEN_MINID: {
    message: "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
    meaning: "XADD or XTRIM was given both MAXLEN and MINID.",
  },
  XTRIM_MAXLEN_NEGATIVE: {
    message: "ERR The MAXLEN argument must be >= 0.",
    meaning: "XADD or XTRIM was given a negative MAXLEN.",
  },
  XTRIM_LIMIT_NEGATIVE: {
    message: "ERR The LIMIT argument must be >= 0.",
    meaning: "XADD or XTRIM was given a negative LIMIT.",
  },
  XTRIM_LIMIT_WITHOUT_STRATEGY: {
    message: "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
    meaning: "XADD was given LIMIT without MAXLEN or MINID.",
  },
  XTRIM_NO_STRATEGY: {
    message: "ERR syntax error, XTRIM must be called with a trimming strategy",
    meaning: "XTRIM was given neither MAXLEN nor MINID.",
  },
  XTRIM_LIMIT_WITHOUT_APPROX: {
    message: "ERR syntax error, LIMIT cannot be used without the special ~ option",
    meaning: "XADD or XTRIM was given LIMIT with an exact ('=' or no operator) trim.",
  },
  XREAD_UNBALANCED: {
    message:
      "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
    meaning: "XREAD's STREAMS is followed by an odd number of arguments.",
  },
  XREAD_GROUP: {
    message: "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
    meaning: "XREAD was given GROUP.",
  },
  XREAD_NOACK: {
    message: "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
    meaning: "XREAD was given NOACK.",
  },
  XREAD_GREATER_ID: {
    message:
      "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
    meaning: "XREAD was given the ID '>'.",
  },
  XSETID_ENTRIES_ADDED: {
    message: "ERR entries_added must be positive",
    meaning: "XSETID was given a negative ENTRIESADDED.",
  },
  XSETID_BELOW_MAX_DELETED: {
    message: "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
    meaning: "XSETID's ID is below its MAXDELETEDID.",
  },
  XSETID_BELOW_TOP: {
    message: "ERR The ID specified in XSETID is smaller than the target stream top item",
    meaning: "XSETID's ID is below the stream's last entry.",
  },
  XSETID_ADDED_BELOW_LENGTH: {
    message: "ERR The entries_added specified in XSETID is smaller than the target stream length",
    meaning: "XSETID's ENTRIESADDED is below the number of entries the stream holds.",
  },
  NOGROUP_CONSUMERS: {
    message: "NOGROUP No such consumer group '%s' for key name '%s'",
    meaning:
      "XINFO CONSUMERS named a group the stream does not have (consumer groups are not served yet).",
  },
  NOGROUP_KEY: {
    message: "NOGROUP No such key '%s' or consumer group '%s'%s",
    meaning:
      "XREADGROUP, XPENDING, XCLAIM or XAUTOCLAIM named a stream that does not exist or a group it does not have.",
  },
  BUSYGROUP: {
    message: "BUSYGROUP Consumer Group name already exists",
    meaning: "XGROUP CREATE named a group the stream already has.",
  },
  XGROUP_NO_KEY: {
    message:
      "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
    meaning: "XGROUP named a stream that does not exist (CREATE without MKSTREAM).",
  },
  XGROUP_ENTRIES_READ: {
    message: "ERR value for ENTRIESREAD must be positive or -1",
    meaning: "XGROUP CREATE or SETID was given an ENTRIESREAD below -1.",
  },
  SUBCOMMAND_SYNTAX: {
    message: "ERR unknown subcommand or wrong number of arguments for '%s'. Try %s HELP.",
    meaning:
      "XGROUP, SLOWLOG or CLIENT PAUSE was given a subcommand it does not have, or the wrong arguments for one.",
  },
  XREADGROUP_NO_GROUP: {
    message: "ERR Missing GROUP option for XREADGROUP",
    meaning: "XREADGROUP was not given GROUP <group> <consumer>.",
  },
  XREADGROUP_DOLLAR: {
    message:
      "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
    meaning: "XREADGROUP was given the ID '$'.",
  },
  XCLAIM_MIN_IDLE: {
    message: "ERR Invalid min-idle-time argument for XCLAIM",
    meaning: "XCLAIM's min-idle-time is not an integer.",
  },
  XCLAIM_IDLE: {
    message: "ERR Invalid IDLE option argument for XCLAIM",
    meaning: "XCLAIM's IDLE is not an integer.",
  },
  XCLAIM_TIME: {
    message: "ERR Invalid TIME option argument for XCLAIM",
    meaning: "XCLAIM's TIME is not an integer.",
  },
  XCLAIM_RETRYCOUNT: {
    message: "ERR Invalid RETRYCOUNT option argument for XCLAIM",
    meaning: "XCLAIM's RETRYCOUNT is not an integer.",
  },
  XCLAIM_OPTION: {
    message: "ERR Unrecognized XCLAIM option '%s'",
    meaning: "XCLAIM was given an option it does not have (or one without its value).",
  },
  XAUTOCLAIM_MIN_IDLE: {
    message: "ERR Invalid min-idle-time argument for XAUTOCLAIM",
    meaning: "XAUTOCLAIM's min-idle-time is not an integer.",
  },
  XAUTOCLAIM_COUNT: {
    message: "ERR COUNT must be > 0",
    meaning: "XAUTOCLAIM's COUNT is not a positive integer (or is too large).",
  },
  TIMEOUT_NEGATIVE: {
    message: "ERR timeout is negative",
    meaning: "A blocking command was given a negative timeout.",
  },
  COUNT_NOT_POSITIVE: {
    message: "ERR count should be greater than 0",
    meaning: "LMPOP, BLMPOP, ZMPOP or BZMPOP was given a COUNT below 1, or not an integer.",
  },
  RANK_ZERO: {
    message:
      "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
    meaning: "LPOS was given RANK 0.",
  },
  COUNT_NEGATIVE: {
    message: "ERR COUNT can't be negative",
    meaning: "LPOS was given a COUNT that is negative or not an integer.",
  },
  MAXLEN_NEGATIVE: {
    message: "ERR MAXLEN can't be negative",
    meaning: "LPOS was given a MAXLEN that is negative or not an integer.",
  },
  OFFSET_OUT_OF_RANGE: {
    message: "ERR offset is out of range",
    meaning: "SETRANGE was given a negative offset.",
  },
  BIT_OFFSET: {
    message: "ERR bit offset is not an integer or out of range",
    meaning:
      "SETBIT, GETBIT or BITFIELD was given an offset that is not an integer, is negative, or lies in a byte at or past proto-max-bulk-len.",
  },
  BITOP_NOT_ONE_KEY: {
    message: "ERR BITOP NOT must be called with a single source key.",
    meaning: "BITOP NOT was given more than one source key.",
  },
  BITFIELD_TYPE: {
    message:
      "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
    meaning: "A BITFIELD type is not i1 to i64 or u1 to u63.",
  },
  BITFIELD_OVERFLOW: {
    message: "ERR Invalid OVERFLOW type specified",
    meaning: "BITFIELD's OVERFLOW is not WRAP, SAT or FAIL.",
  },
  BITFIELD_RO_WRITE: {
    message: "ERR BITFIELD_RO only supports the GET subcommand",
    meaning: "BITFIELD_RO was given SET or INCRBY.",
  },
  HLL_WRONGTYPE: {
    message: "WRONGTYPE Key is not a valid HyperLogLog string value.",
    meaning:
      "A HyperLogLog command met a string that is not an HLL (its magic, encoding or, when dense, its length is wrong).",
  },
  HLL_INVALID: {
    message: "INVALIDOBJ Corrupted HLL object detected",
    meaning: "An HLL's sparse opcodes do not cover exactly its 16,384 registers.",
  },
  HLL_NO_KEY: {
    message: "ERR The specified key does not exist",
    meaning: "PFDEBUG was given a key that does not exist.",
  },
  HLL_NOT_SPARSE: {
    message: "ERR HLL encoding is not sparse",
    meaning: "PFDEBUG DECODE was given a dense HLL.",
  },
  HLL_DEBUG_UNKNOWN: {
    message: "ERR Unknown PFDEBUG subcommand '%s'",
    meaning: "PFDEBUG knows GETREG, DECODE, ENCODING and TODENSE.",
  },
  HLL_SELFTEST: {
    message: "ERR TESTFAILED %s",
    meaning:
      "PFSELFTEST found the HLL code wrong (a register not kept, or a count out of bounds): a bug.",
  },
  BIT_VALUE: {
    message: "ERR bit is not an integer or out of range",
    meaning: "SETBIT was given a value other than 0 or 1.",
  },
  BIT_ARGUMENT: {
    message: "ERR The bit argument must be 1 or 0.",
    meaning: "BITPOS was given an integer other than 0 or 1 as the bit to look for.",
  },
  LCS_NOT_STRINGS: {
    message: "ERR The specified keys must contain string values",
    meaning: "LCS was given a key holding another type (LCS answers this, not WRONGTYPE).",
  },
  LCS_LEN_AND_IDX: {
    message: "ERR If you want both the length and indexes, please just use IDX.",
    meaning: "LCS was given both LEN and IDX.",
  },
  LCS_TOO_LARGE: {
    message: "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
    meaning:
      "LCS of strings of lengths m and n needs (m+1)×(n+1) 4-byte table cells in Redis; that exceeds proto-max-bulk-len.",
  },
  NO_SUCH_KEY: {
    message: "ERR no such key",
    meaning:
      "RENAME or RENAMENX was asked to rename a key that does not exist, or XSETID or XINFO STREAM to work on one.",
  },
  NOSCRIPT: {
    message: "NOSCRIPT No matching script. Please use EVAL.",
    meaning:
      "EVALSHA named a script this node does not know (each node has its own: send EVAL or SCRIPT LOAD to it).",
  },
  NOTBUSY: {
    message: "NOTBUSY No scripts in execution right now.",
    meaning: "SCRIPT KILL found no script running (scripts here finish within a bound).",
  },
  SCRIPT_KEYS_OVER_ARGS: {
    message: "ERR Number of keys can't be greater than number of args",
    meaning: "EVAL's numkeys is larger than the number of arguments after it.",
  },
  SCRIPT_KEYS_NEGATIVE: {
    message: "ERR Number of keys can't be negative",
    meaning: "EVAL's numkeys is below zero.",
  },
  FUNCTION_NOT_FOUND: {
    message: "ERR Function not found",
    meaning: "FCALL or FCALL_RO named a function no loaded library registers.",
  },
  FUNCTION_BAD_NUMKEYS: {
    message: "ERR Bad number of keys provided",
    meaning: "FCALL's numkeys is not an integer.",
  },
  SCRIPT_COMPILE: {
    message: "ERR Error compiling script (new function): %s",
    meaning: "The script is not valid Lua; the parser's message follows.",
  },
  SCRIPT_FLUSH_OPTION: {
    message: "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
    meaning: "SCRIPT FLUSH was given an argument other than SYNC or ASYNC.",
  },
  SCRIPT_UNKNOWN_COMMAND: {
    message: "ERR Unknown Redis command called from script",
    meaning:
      "A script's redis.call or redis.pcall named a command (or subcommand) that does not exist.",
  },
  SCRIPT_CALL_NO_ARGS: {
    message: "ERR Please specify at least one argument for this redis lib call",
    meaning: "A script called redis.call or redis.pcall with no arguments.",
  },
  SCRIPT_CALL_ARG_TYPE: {
    message: "ERR Lua redis lib command arguments must be strings or integers",
    meaning: "A script passed redis.call a table, boolean, nil or function as an argument.",
  },
  SCRIPT_ARITY: {
    message: "ERR Wrong number of args calling Redis command from script",
    meaning: "A script called a command with a number of arguments its arity refuses.",
  },
  SCRIPT_NOT_ALLOWED: {
    message: "ERR This Redis command is not allowed from script",
    meaning:
      "A script called a command scripts may not run (MULTI, EVAL, SUBSCRIBE, server and cluster commands...).",
  },
  SCRIPT_READ_ONLY: {
    message: "ERR Write commands are not allowed from read-only scripts.",
    meaning: "EVAL_RO, EVALSHA_RO or a no-writes script called a command that writes.",
  },
  SCRIPT_RO_WRITE_FLAG: {
    message: "ERR Can not execute a script with write flag using *_ro command.",
    meaning: "EVAL_RO ran a script whose shebang does not declare no-writes.",
  },
  SCRIPT_NO_CLUSTER: {
    message: "ERR Can not run script on cluster, 'no-cluster' flag is set.",
    meaning: "A script declared flags=no-cluster and the node is a cluster's.",
  },
  SCRIPT_NON_LOCAL_KEY: {
    message: "ERR Script attempted to access a non local key in a cluster node",
    meaning: "A script in a cluster touched a key outside the shard its declared keys route it to.",
  },
  SCRIPT_BLOCK: {
    message: "ERR %s command is not allowed with BLOCK option from scripts",
    meaning: "A script called XREAD or XREADGROUP with BLOCK: a script never waits.",
  },
  SCRIPT_SHEBANG_ENGINE: {
    message: "ERR Unexpected engine in script shebang: %s",
    meaning: "A script's #! line names an engine other than lua.",
  },
  SCRIPT_SHEBANG_FLAG: {
    message: "ERR Unexpected flag in script shebang: %s",
    meaning: "A script's #!lua flags= names a flag Redis 7.0 does not have.",
  },
  SCRIPT_SHEBANG_OPTION: {
    message: "ERR Unknown lua shebang option: %s",
    meaning: "A script's #!lua line has an option other than flags=.",
  },
  BUSYKEY: {
    message: "BUSYKEY Target key name already exists.",
    meaning: "RESTORE without REPLACE was asked to create a key that exists.",
  },
  RESTORE_TTL: {
    message: "ERR Invalid TTL value, must be >= 0",
    meaning: "RESTORE was given a negative TTL (0 means no expiry).",
  },
  RESTORE_IDLETIME: {
    message: "ERR Invalid IDLETIME value, must be >= 0",
    meaning: "RESTORE's IDLETIME was negative.",
  },
  RESTORE_FREQ: {
    message: "ERR Invalid FREQ value, must be >= 0 and <= 255",
    meaning: "RESTORE's FREQ was outside 0 to 255.",
  },
  RESTORE_PAYLOAD: {
    message: "ERR DUMP payload version or checksum are wrong",
    meaning:
      "RESTORE's payload is shorter than its footer, names an RDB version newer than 10 (Redis 7.0's), or its CRC-64 does not match.",
  },
  RESTORE_BAD_FORMAT: {
    message: "ERR Bad data format",
    meaning:
      "RESTORE's payload has a good checksum but a value Homeostat cannot read: a type it does not take (module values, zipmaps), a truncated or malformed encoding, duplicate members or fields, an empty collection, or a stream out of order.",
  },
  SAME_OBJECT: {
    message: "ERR source and destination objects are the same",
    meaning: "COPY was given the same key as source and destination.",
  },
  DB_INDEX_OUT_OF_RANGE: {
    message: "ERR DB index is out of range",
    meaning: "A database other than 0 was named: Homeostat has a single database.",
  },
  INVALID_CURSOR: {
    message: "ERR invalid cursor",
    meaning: "SCAN was given a cursor that is not a number this server could have returned.",
  },
  EXPIRE_UNSUPPORTED_OPTION: {
    message: "ERR Unsupported option %s",
    meaning: "EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT was given an option other than NX, XX, GT, LT.",
  },
  EXPIRE_NX_CONFLICT: {
    message: "ERR NX and XX, GT or LT options at the same time are not compatible",
    meaning: "An expire command was given NX together with XX, GT or LT.",
  },
  EXPIRE_GT_LT_CONFLICT: {
    message: "ERR GT and LT options at the same time are not compatible",
    meaning: "An expire command was given both GT and LT.",
  },
  WRONG_ARITY: {
    message: "ERR wrong number of arguments for '%s' command",
    meaning:
      "The command was sent with an argument count its arity does not allow (MSET/MSETNX: an unpaired key).",
  },
  UNKNOWN_COMMAND: {
    message: "ERR unknown command '%s', with args beginning with: %s",
    meaning: "No command has that name; the first arguments are echoed, quoted, to help debugging.",
  },
  UNKNOWN_SUBCOMMAND: {
    message: "ERR unknown subcommand '%s'. Try %s HELP.",
    meaning: "A container command (CLIENT, COMMAND, CONFIG, FUNCTION) has no such subcommand.",
  },
} as const satisfies Record<string, ErrorEntry>;

export type ErrorName = keyof typeof ERRORS;

/** Longest parameter echoed back, as Redis's '%.128s' does: errors stay small. */
const PARAM_BYTES_MAX = 128;

/**
 * The error reply for `name`, with each `%s` replaced by the next parameter. CR and LF
 * become spaces: a client-supplied parameter must not break the protocol line.
 */
export function errorReply(name: ErrorName, ...params: string[]): Reply {
  const template: string = ERRORS[name].message;
  let i = 0;
  const text = template.replace(/%s/g, () => params[i++] ?? "");
  return error(text.replace(/[\r\n]/g, " "));
}

// The parameterless errors, allocated once: handlers return them on hot paths.
export const WRONG_TYPE = errorReply("WRONG_TYPE");
export const SYNTAX = errorReply("SYNTAX");
export const NOT_INTEGER = errorReply("NOT_INTEGER");
export const NOT_FLOAT = errorReply("NOT_FLOAT");
export const OVERFLOW = errorReply("OVERFLOW");

/** "ERR wrong number of arguments for 'get' command"; `fullName` as "config|get". */
export function wrongArity(fullName: string): Reply {
  return errorReply("WRONG_ARITY", fullName.toLowerCase());
}

/** "ERR invalid expire time in 'set' command". */
export function invalidExpire(command: string): Reply {
  return errorReply("INVALID_EXPIRE", command.toLowerCase());
}

/**
 * "ERR unknown command 'foo', with args beginning with: 'a' 'b' ": each argument quoted
 * and followed by a space, stopping once 128 characters of arguments are listed.
 */
export function unknownCommand(args: Args): Reply {
  let listed = "";
  for (let i = 1; i < args.length && listed.length < PARAM_BYTES_MAX; i++) {
    listed += `'${args.str(i).slice(0, PARAM_BYTES_MAX - listed.length)}' `;
  }
  return errorReply("UNKNOWN_COMMAND", args.str(0).slice(0, PARAM_BYTES_MAX), listed);
}

/** "ERR unknown subcommand 'foo'. Try CLIENT HELP." */
export function unknownSubcommand(args: Args): Reply {
  return errorReply(
    "UNKNOWN_SUBCOMMAND",
    args.str(1).slice(0, PARAM_BYTES_MAX),
    args.str(0).toUpperCase(),
  );
}
