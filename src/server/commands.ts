import { keyHashSlot, SLOT_COUNT } from "../cluster/slots.js";
import {
  type ArgSpec,
  arityAccepts,
  COMMAND_SPECS,
  type CommandSpec,
  findCommandSpec,
  findKeysFields,
  keysWithFlagsOf,
  resolveCommand,
} from "../kv/command-table.js";
import { errorReply, NOT_INTEGER, unknownSubcommand, wrongArity } from "../kv/errors.js";
import { globMatch } from "../kv/glob.js";
import { parseI64 } from "../kv/numbers.js";
import { ArrayArgs } from "../resp/args.js";
import * as R from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";
import { type Client, type ClientType, clientTypeByName } from "./client.js";
import { functionCommand } from "./functions.js";
import { infoText } from "./info.js";
import type { HomeostatNode } from "./node.js";
import type { SpaceName } from "./pubsub.js";
import { SCRIPT_SERVER_HANDLERS } from "./scripts.js";
import { SETTINGS } from "./settings.js";
import * as T from "./transactions.js";

/** Connection and server commands: they need the node and the client, not just the data. */
export type ServerHandler = (
  node: HomeostatNode,
  client: Client,
  args: Args,
) => Reply | Promise<Reply>;

/** What a command answers when it sends nothing back (CLIENT REPLY OFF and SKIP). */
export const NO_REPLY: Reply = { kind: "simple", value: "" };

/** The Redis version whose commands and replies this node follows. */
export const REDIS_COMPAT_VERSION = "7.0.15";

/** What a standalone node answers to a cluster command, as Redis without cluster support. */
const clusterDisabled = R.error("ERR This instance has cluster support disabled");

/** Unknown subcommand or wrong arity, as Redis says them; undefined when it is fine. */
function checkSub(args: Args): Reply | undefined {
  return resolveCommand(args).error;
}

function ping(_node: HomeostatNode, client: Client, args: Args): Reply {
  if (args.length > 2) return wrongArity("ping");
  if (client.protocol === 2 && client.subscribed) {
    // Redis's answer to PING in RESP2's subscribed state.
    return R.array([R.bulk("pong"), R.bulk(args.length === 2 ? Buffer.from(args.buf(1)) : "")]);
  }
  return args.length === 2 ? R.bulk(Buffer.from(args.buf(1))) : R.PONG;
}

// ---- Pub/Sub (pubsub.ts) ---------------------------------------------------------------------

/** SUBSCRIBE and its kin, in the namespace of their channels (pubsub.ts). */
function subscriber(space: SpaceName, subscribe: boolean): ServerHandler {
  return (node, client, args) =>
    subscribe
      ? node.pubsub.subscribe(client, args, space)
      : node.pubsub.unsubscribe(client, args, space);
}

/** PUBLISH and SPUBLISH: the receivers on this node, once sent to every other node. */
function publisher(shard: boolean): ServerHandler {
  return (node, _client, args) => {
    const channel = Buffer.from(args.buf(1));
    const message = Buffer.from(args.buf(2));
    const refusal = node.pubsub.refusal(channel, message);
    if (refusal !== null) return R.error(refusal);
    const pubsub = node.pubsub;
    return R.integer(shard ? pubsub.spublish(channel, message) : pubsub.publish(channel, message));
  };
}

const pubsubHelp = [
  "CHANNELS [<pattern>]",
  "    Return the currently active channels matching a <pattern> (default: '*').",
  "NUMPAT",
  "    Return number of subscriptions to patterns.",
  "NUMSUB [<channel> ...]",
  "    Return the number of subscribers for the specified channels, excluding",
  "    pattern subscriptions(default: no channels).",
  "SHARDCHANNELS [<pattern>]",
  "    Return the currently active shard level channels matching a <pattern> (default: '*').",
  "SHARDNUMSUB [<shardchannel> ...]",
  "    Return the number of subscribers for the specified shard level channel(s)",
];

/** PUBSUB CHANNELS | NUMSUB | NUMPAT: this node's subscriptions, as in Redis Cluster. */
function pubsub(node: HomeostatNode, _client: Client, args: Args): Reply {
  const bad = checkSub(args);
  if (bad !== undefined) return bad;
  const sub = args.lower(1);
  const rest: Buffer[] = [];
  for (let i = 2; i < args.length; i++) rest.push(Buffer.from(args.buf(i)));
  switch (sub) {
    case "help":
      return R.help("PUBSUB", pubsubHelp);
    case "channels":
      return node.pubsub.activeChannels(rest[0], false);
    case "numsub":
      return node.pubsub.numsub(rest, false);
    case "numpat":
      return R.integer(node.pubsub.numpat());
    case "shardchannels":
      return node.pubsub.activeChannels(rest[0], true);
    case "shardnumsub":
      return node.pubsub.numsub(rest, true);
    default:
      return unknownSubcommand(args);
  }
}

function echo(_node: HomeostatNode, _client: Client, args: Args): Reply {
  return R.bulk(Buffer.from(args.buf(1)));
}

function checkPassword(node: HomeostatNode, user: string, password: string): Reply | undefined {
  if (node.settings.requirepass === "") {
    return R.error(
      "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
    );
  }
  if (user !== "default" || password !== node.settings.requirepass) {
    return R.error("WRONGPASS invalid username-password pair or user is disabled.");
  }
  return undefined;
}

function auth(node: HomeostatNode, client: Client, args: Args): Reply {
  if (args.length > 3) return R.error("ERR syntax error");
  const user = args.length === 3 ? args.str(1) : "default";
  const failure = checkPassword(node, user, args.str(args.length - 1));
  if (failure !== undefined) return failure;
  client.authenticated = true;
  return R.OK;
}

function hello(node: HomeostatNode, client: Client, args: Args): Reply {
  let protocol = client.protocol;
  let i = 1;
  if (args.length >= 2) {
    const text = args.str(1);
    const v = /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
    if (Number.isNaN(v)) return R.error("ERR Protocol version is not an integer or out of range");
    if (v !== 2 && v !== 3) return R.error("NOPROTO unsupported protocol version");
    protocol = v;
    i = 2;
  }
  let name: string | undefined;
  for (; i < args.length; i++) {
    if (args.is(i, "auth") && i + 2 < args.length) {
      const failure = checkPassword(node, args.str(i + 1), args.str(i + 2));
      if (failure !== undefined) return failure;
      client.authenticated = true;
      i += 2;
    } else if (args.is(i, "setname") && i + 1 < args.length) {
      name = args.str(i + 1);
      if (!validClientName(name)) return R.error(badNameMessage);
      i += 1;
    } else {
      return R.error(`ERR Syntax error in HELLO option '${args.str(i)}'`);
    }
  }
  if (!client.authenticated) {
    return R.error(
      "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
    );
  }
  if (name !== undefined) client.name = name;
  client.protocol = protocol;
  return R.map([
    [R.bulk("server"), R.bulk("redis")],
    [R.bulk("version"), R.bulk(REDIS_COMPAT_VERSION)],
    [R.bulk("proto"), R.integer(protocol)],
    [R.bulk("id"), R.integer(client.id)],
    [R.bulk("mode"), R.bulk("standalone")],
    [R.bulk("role"), R.bulk("master")],
    [R.bulk("modules"), R.EMPTY_ARRAY],
  ]);
}

function select(_node: HomeostatNode, _client: Client, args: Args): Reply {
  const text = args.str(1);
  if (!/^-?\d+$/.test(text)) return R.error("ERR value is not an integer or out of range");
  return Number(text) === 0 ? R.OK : R.error("ERR DB index is out of range");
}

function quit(_node: HomeostatNode, client: Client): Reply {
  client.closing = true;
  return R.OK;
}

function reset(node: HomeostatNode, client: Client): Reply {
  T.endTransaction(client);
  node.pubsub.forget(client);
  client.replies = "on";
  client.protocol = 2;
  client.name = "";
  client.authenticated = node.settings.requirepass === "";
  return R.simple("RESET");
}

const badNameMessage = "ERR Client names cannot contain spaces, newlines or special characters.";

function validClientName(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 33 || c > 126) return false;
  }
  return true;
}

function client(node: HomeostatNode, c: Client, args: Args): Reply {
  const sub = args.lower(1);
  if (sub === "help") return R.help("CLIENT", clientHelp);
  const bad = checkSub(args);
  if (bad !== undefined) return bad;
  const now = node.clock.nowMs();
  switch (sub) {
    case "id":
      return R.integer(c.id);
    case "getname":
      return c.name === "" ? R.NULL : R.bulk(c.name);
    case "reply":
      // OFF and SKIP are not answered (node.ts drops NO_REPLY); messages still arrive.
      if (args.is(2, "on")) {
        c.replies = "on";
        return R.OK;
      }
      if (args.is(2, "off")) {
        c.replies = "off";
        return NO_REPLY;
      }
      if (args.is(2, "skip")) {
        if (c.replies !== "off") c.replies = "skip-next";
        return NO_REPLY;
      }
      return R.error("ERR syntax error");
    case "setname": {
      const name = args.str(2);
      if (!validClientName(name)) return R.error(badNameMessage);
      c.name = name;
      return R.OK;
    }
    case "setinfo": {
      const value = args.str(3);
      if (!validClientName(value)) {
        return R.error(`ERR ${args.str(2)} cannot contain spaces, newlines or special characters.`);
      }
      if (args.is(2, "lib-name")) c.libName = value;
      else if (args.is(2, "lib-ver")) c.libVersion = value;
      else return R.error(`ERR Unrecognized option '${args.str(2)}'`);
      return R.OK;
    }
    case "info":
      return R.verbatim(`${c.describe(now, queryBufferOf(node, c, c, args))}\n`);
    case "list":
      return clientList(node, c, args, now);
    case "kill":
      return clientKill(node, c, args);
    case "pause": {
      if (args.length > 4) return errorReply("SUBCOMMAND_SYNTAX", args.str(1), "CLIENT");
      let all = true;
      if (args.length === 4) {
        if (args.is(3, "write")) all = false;
        else if (!args.is(3, "all")) return R.error("ERR CLIENT PAUSE mode must be WRITE or ALL");
      }
      const timeout = parseI64(args.buf(2));
      if (timeout === undefined) return R.error("ERR timeout is not an integer or out of range");
      if (timeout < 0n) return R.error("ERR timeout is negative");
      node.pauseClients(Number(timeout), all);
      return R.OK;
    }
    case "unpause":
      node.unpauseClients();
      return R.OK;
    case "no-evict":
      if (args.is(2, "on")) c.noEvict = true;
      else if (args.is(2, "off")) c.noEvict = false;
      else return R.error("ERR syntax error");
      return R.OK;
    case "unblock": {
      const id = parseI64(args.buf(2));
      if (id === undefined) return R.error("ERR value is not an integer or out of range");
      let error = false;
      if (args.length === 4) {
        if (args.is(3, "error")) error = true;
        else if (!args.is(3, "timeout")) {
          return R.error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
        }
      } else if (args.length > 4) {
        return R.error("ERR syntax error");
      }
      const target = node.clients.get(Number(id));
      return R.integer(target !== undefined && node.blocking.unblock(target, error) ? 1 : 0);
    }
    default:
      return unknownSubcommand(args);
  }
}

/**
 * CLIENT KILL: `addr` alone (the old form: OK, or an error if no client has it), or
 * filters (the new form: how many were closed). Another client's connection is closed at
 * once; the caller's own (old form, or SKIPME no) after its reply, as QUIT does.
 */
function clientKill(node: HomeostatNode, self: Client, args: Args): Reply {
  let addr: string | undefined;
  let laddr: string | undefined;
  let id: number | undefined;
  let type: ClientType | undefined;
  let skipMe = args.length > 3;
  if (args.length === 3) {
    addr = args.str(2);
  } else {
    for (let i = 2; i < args.length; i += 2) {
      if (i + 1 >= args.length) return R.error("ERR syntax error");
      const value = args.str(i + 1);
      if (args.is(i, "id")) {
        const n = parseI64(args.buf(i + 1));
        if (n === undefined || n < 1n) return R.error("ERR client-id should be greater than 0");
        id = Number(n);
      } else if (args.is(i, "type")) {
        type = clientTypeByName(value);
        if (type === undefined) return R.error(`ERR Unknown client type '${value}'`);
      } else if (args.is(i, "addr")) {
        addr = value;
      } else if (args.is(i, "laddr")) {
        laddr = value;
      } else if (args.is(i, "user")) {
        // One user here, "default" (AUTH with a password alone is that user).
        if (value !== "default") return R.error(`ERR No such user '${value}'`);
      } else if (args.is(i, "skipme")) {
        if (args.is(i + 1, "yes")) skipMe = true;
        else if (args.is(i + 1, "no")) skipMe = false;
        else return R.error("ERR syntax error");
      } else {
        return R.error("ERR syntax error");
      }
    }
  }
  let killed = 0;
  for (const c of [...node.clients.values()]) {
    if (addr !== undefined && c.addr !== addr) continue;
    if (laddr !== undefined && c.laddr !== laddr) continue;
    if (type !== undefined && c.type !== type) continue;
    if (id !== undefined && c.id !== id) continue;
    if (c === self && skipMe) continue;
    if (c === self) c.closing = true;
    else node.closeClient(c, "killed by CLIENT KILL");
    killed++;
  }
  if (args.length > 3) return R.integer(killed);
  return killed === 0 ? R.error("ERR No such client") : R.OK;
}

/**
 * CLIENT LIST's qbuf: the bytes a client sent that are not run yet, and for the client
 * asking, the command it runs, which Redis still holds in the buffer (as multibulk).
 */
function queryBufferOf(node: HomeostatNode, c: Client, self: Client, args: Args): number {
  let bytes = node.queryBufferBytes(c);
  if (c !== self) return bytes;
  bytes += 3 + String(args.length).length;
  for (let i = 0; i < args.length; i++) {
    const n = args.byteLength(i);
    bytes += 5 + String(n).length + n;
  }
  return bytes;
}

function clientList(node: HomeostatNode, self: Client, args: Args, now: number): Reply {
  let ids: Set<number> | undefined;
  let type: ClientType | undefined;
  for (let i = 2; i < args.length; i++) {
    if (args.is(i, "type") && i + 1 < args.length) {
      type = clientTypeByName(args.str(++i));
      if (type === undefined) return R.error(`ERR Unknown client type '${args.str(i)}'`);
    } else if (args.is(i, "id") && i + 1 < args.length) {
      ids = new Set();
      for (i++; i < args.length; i++) {
        const n = Number(args.str(i));
        if (!Number.isInteger(n) || n <= 0) return R.error("ERR Invalid client ID");
        ids.add(n);
      }
    } else {
      return R.error("ERR syntax error");
    }
  }
  let text = "";
  for (const c of node.clients.values()) {
    if (ids !== undefined && !ids.has(c.id)) continue;
    if (type !== undefined && c.type !== type) continue;
    text += `${c.describe(now, queryBufferOf(node, c, self, args))}\n`;
  }
  return R.verbatim(text);
}

const clientHelp = [
  "ID",
  "    Return the ID of the current connection.",
  "GETNAME",
  "    Return the name of the current connection.",
  "SETNAME <name>",
  "    Assign the name <name> to the current connection.",
  "SETINFO <LIB-NAME|LIB-VER> <value>",
  "    Set client library name or version.",
  "INFO",
  "    Return information about the current client connection.",
  "KILL <ip:port>",
  "    Kill connection made from <ip:port>.",
  "KILL <option> <value> [<option> <value> [...]]",
  "    Kill connections. Options are:",
  "    * ADDR (<ip:port>|<unixsocket>:0)",
  "      Kill connections made from the specified address",
  "    * LADDR (<ip:port>|<unixsocket>:0)",
  "      Kill connections made to specified local address",
  "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
  "      Kill connections by type.",
  "    * USER <username>",
  "      Kill connections authenticated by <username>.",
  "    * SKIPME (YES|NO)",
  "      Skip killing current connection (default: yes).",
  "    * ID <client-id>",
  "      Kill connections by client id.",
  "LIST [TYPE <normal|master|replica|pubsub>] [ID <id> [<id> ...]]",
  "    Return information about client connections.",
  "UNPAUSE",
  "    Stop the current client pause, resuming traffic.",
  "PAUSE <timeout> [WRITE|ALL]",
  "    Suspend all, or just write, clients for <timeout> milliseconds.",
  "NO-EVICT (ON|OFF)",
  "    Protect current client connection from eviction.",
  "REPLY (ON|OFF|SKIP)",
  "    Control the replies sent to the current connection.",
  "UNBLOCK <clientid> [TIMEOUT|ERROR]",
  "    Unblock the specified blocked client.",
];

/** COMMAND INFO's entry for one command, field for field as Redis 7.0 gives it. */
function commandInfo(spec: CommandSpec): Reply {
  return R.array([
    R.bulk(spec.name),
    R.integer(spec.arity),
    R.set(spec.flags.map((f) => R.simple(f))),
    R.integer(spec.firstKey),
    R.integer(spec.lastKey),
    R.integer(spec.step),
    R.set(spec.aclCategories.map((c) => R.simple(c))),
    R.set(spec.tips.map((t) => R.bulk(t))),
    // Sets in RESP3, as Redis 7.0 sends them (subcommands: an empty set, else an array).
    R.set(spec.keySpecs.map(keySpecInfo)),
    spec.subcommands?.length ? R.array(spec.subcommands.map(commandInfo)) : R.set([]),
  ]);
}

function keySpecInfo(ks: CommandSpec["keySpecs"][number]): Reply {
  const fields: [Reply, Reply][] = [];
  if (ks.notes !== undefined) fields.push([R.bulk("notes"), R.bulk(ks.notes)]);
  const bs = ks.beginSearch;
  fields.push(
    [R.bulk("flags"), R.set(ks.flags.map((f) => R.simple(f)))],
    [
      R.bulk("begin_search"),
      R.map([
        [R.bulk("type"), R.bulk(bs.type)],
        [
          R.bulk("spec"),
          R.map(
            bs.type === "index"
              ? [[R.bulk("index"), R.integer(bs.index)]]
              : bs.type === "keyword"
                ? [
                    [R.bulk("keyword"), R.bulk(bs.keyword)],
                    [R.bulk("startfrom"), R.integer(bs.startFrom)],
                  ]
                : [],
          ),
        ],
      ]),
    ],
    [
      R.bulk("find_keys"),
      R.map([
        [R.bulk("type"), R.bulk(ks.findKeys.type)],
        [
          R.bulk("spec"),
          R.map(findKeysFields(ks.findKeys).map(([k, v]) => [R.bulk(k), R.integer(v)] as const)),
        ],
      ]),
    ],
  );
  return R.map(fields);
}

function argumentDocs(args: readonly ArgSpec[]): Reply {
  return R.array(
    args.map((a) => {
      const fields: [Reply, Reply][] = [
        [R.bulk("name"), R.bulk(a.name)],
        [R.bulk("type"), R.bulk(a.type)],
      ];
      if (a.keySpecIndex !== undefined) {
        fields.push([R.bulk("key_spec_index"), R.integer(a.keySpecIndex)]);
      }
      if (a.token !== undefined) fields.push([R.bulk("token"), R.bulk(a.token)]);
      if (a.since !== undefined) fields.push([R.bulk("since"), R.bulk(a.since)]);
      const flags: Reply[] = [];
      if (a.optional === true) flags.push(R.simple("optional"));
      if (a.multiple === true) flags.push(R.simple("multiple"));
      if (a.multipleToken === true) flags.push(R.simple("multiple_token"));
      if (flags.length > 0) fields.push([R.bulk("flags"), R.set(flags)]);
      if (a.arguments !== undefined && a.arguments.length > 0) {
        fields.push([R.bulk("arguments"), argumentDocs(a.arguments)]);
      }
      return R.map(fields);
    }),
  );
}

/** COMMAND DOCS's entry for one command (redis-cli builds its hints from these). */
function commandDocs(spec: CommandSpec): Reply {
  const fields: [Reply, Reply][] = [
    [R.bulk("summary"), R.bulk(spec.summary)],
    [R.bulk("since"), R.bulk(spec.since)],
    [R.bulk("group"), R.bulk(spec.group)],
    [R.bulk("complexity"), R.bulk(spec.complexity)],
  ];
  if (spec.docFlags !== undefined && spec.docFlags.length > 0) {
    fields.push([R.bulk("doc_flags"), R.set(spec.docFlags.map((f) => R.simple(f)))]);
  }
  if (spec.deprecatedSince !== undefined) {
    fields.push([R.bulk("deprecated_since"), R.bulk(spec.deprecatedSince)]);
  }
  if (spec.replacedBy !== undefined) fields.push([R.bulk("replaced_by"), R.bulk(spec.replacedBy)]);
  if (spec.arguments.length > 0) fields.push([R.bulk("arguments"), argumentDocs(spec.arguments)]);
  if ((spec.subcommands ?? []).length > 0) {
    fields.push([
      R.bulk("subcommands"),
      R.map((spec.subcommands ?? []).map((s) => [R.bulk(s.name), commandDocs(s)] as const)),
    ]);
  }
  return R.map(fields);
}

/**
 * COMMAND GETKEYS command [arg ...]: the keys of that command, as Redis finds them; with
 * `withFlags` (GETKEYSANDFLAGS), each with how the command uses it.
 */
function getKeys(node: HomeostatNode, args: Args, withFlags: boolean): Reply {
  const parts: Buffer[] = [];
  for (let i = 2; i < args.length; i++) parts.push(args.buf(i));
  const inner = new ArrayArgs(parts);
  const spec = findCommandSpec(inner);
  if (spec === undefined || node.specOf(spec.container ?? spec.name) === undefined) {
    return R.error("ERR Invalid command specified");
  }
  // Redis's doesCommandHaveKeys: a key finder, or a spec that names keys (SPUBLISH's
  // channel is a spec marked not_key).
  const hasKeys =
    spec.getKeys !== undefined || spec.keySpecs.some((ks) => !ks.flags.includes("not_key"));
  if (!hasKeys) return R.error("ERR The command has no key arguments");
  if (!arityAccepts(spec.arity, inner.length)) {
    return R.error("ERR Invalid number of arguments specified for command");
  }
  // One finder for both, as Redis's getKeysSubcommandImpl.
  const found = keysWithFlagsOf(spec, inner);
  if (found.length === 0) {
    // A command whose keys may be none (EVAL with 0 keys): an empty list, as Redis.
    if (spec.flags.includes("no_mandatory_keys")) return R.array([]);
    return R.error("ERR Invalid arguments specified for command");
  }
  return R.array(
    found.map((k) => {
      const key = R.bulk(Buffer.from(inner.buf(k.index)));
      return withFlags ? R.array([key, R.array(k.flags.map((f) => R.simple(f)))]) : key;
    }),
  );
}

function command(node: HomeostatNode, _c: Client, args: Args): Reply {
  const specs = [...COMMAND_SPECS.values()].filter((s) => node.specOf(s.name) !== undefined);
  if (args.length === 1) return R.array(specs.map(commandInfo));
  const sub = args.lower(1);
  if (sub === "help") return R.help("COMMAND", commandHelp);
  const bad = checkSub(args);
  if (bad !== undefined) return bad;
  switch (sub) {
    case "count":
      return R.integer(specs.length);
    case "getkeys":
      return getKeys(node, args, false);
    case "getkeysandflags":
      return getKeys(node, args, true);
    case "list":
      if (args.length > 2) {
        if (args.length === 5 && args.is(2, "filterby") && args.is(3, "pattern")) {
          const pattern = args.buf(4);
          return R.array(
            specs.filter((s) => globMatch(pattern, Buffer.from(s.name))).map((s) => R.bulk(s.name)),
          );
        }
        return R.error("ERR syntax error");
      }
      return R.array(specs.map((s) => R.bulk(s.name)));
    case "info": {
      if (args.length === 2) return R.array(specs.map(commandInfo));
      const out: Reply[] = [];
      for (let i = 2; i < args.length; i++) {
        const spec = specByName(node, args.lower(i));
        out.push(spec === undefined ? R.NULL_ARRAY : commandInfo(spec));
      }
      return R.array(out);
    }
    case "docs": {
      const chosen: CommandSpec[] = [];
      if (args.length === 2) chosen.push(...specs);
      for (let i = 2; i < args.length; i++) {
        const spec = specByName(node, args.lower(i));
        if (spec !== undefined) chosen.push(spec);
      }
      return R.map(chosen.map((s) => [R.bulk(s.name), commandDocs(s)] as const));
    }
    default:
      return unknownSubcommand(args);
  }
}

/** A command's spec by name, a subcommand's by "container|sub" as COMMAND INFO takes it. */
function specByName(node: HomeostatNode, name: string): CommandSpec | undefined {
  const bar = name.indexOf("|");
  if (bar < 0) return node.specOf(name);
  return node.specOf(name.slice(0, bar))?.subcommands?.find((s) => s.name === name);
}

const commandHelp = [
  "(no subcommand)",
  "    Return details about all commands.",
  "COUNT",
  "    Return the total number of commands in this server.",
  "LIST [FILTERBY PATTERN <pattern>]",
  "    Return a list of all commands in this server.",
  "INFO [<command-name> ...]",
  "    Return details about multiple commands.",
  "DOCS [<command-name> ...]",
  "    Return documentation details about multiple commands.",
  "GETKEYS <full-command>",
  "    Return the keys from a full Redis command.",
  "GETKEYSANDFLAGS <full-command>",
  "    Return the keys and the access flags from a full Redis command.",
];

function info(node: HomeostatNode, _c: Client, args: Args): Reply {
  const sections: string[] = [];
  for (let i = 1; i < args.length; i++) sections.push(args.lower(i));
  return R.verbatim(infoText(node, sections));
}

/**
 * LATENCY HISTOGRAM [command ...]: each command's calls and cumulative buckets (all the
 * commands with durations, or those named, a container standing for its subcommands;
 * unknown names are skipped); LATEST, HISTORY, RESET, GRAPH and DOCTOR read the latency
 * monitor's events (latency-monitor.ts).
 */
function latency(node: HomeostatNode, _c: Client, args: Args): Reply {
  const sub = args.lower(1);
  if (sub === "help") return R.help("LATENCY", latencyHelp);
  const bad = checkSub(args);
  if (bad !== undefined) return bad;
  const monitor = node.latencyMonitor;
  const nowSec = Math.floor(node.clock.nowMs() / 1000);
  switch (sub) {
    case "latest":
      return monitor.latest();
    case "history":
      return monitor.history(args.str(2));
    case "reset": {
      const names: string[] = [];
      for (let i = 2; i < args.length; i++) names.push(args.str(i));
      return R.integer(monitor.reset(names));
    }
    case "graph": {
      const graph = monitor.graph(args.str(2), nowSec);
      if (graph === null) {
        return R.error(`ERR No samples available for event '${args.str(2)}'`);
      }
      return R.verbatim(graph);
    }
    case "doctor":
      return R.verbatim(
        monitor.doctor(
          node.settings.latencyMonitorThreshold,
          node.settings.slowlogLogSlowerThan,
          nowSec,
        ),
      );
  }
  const names: string[] = [];
  if (args.length === 2) {
    names.push(...node.latency.names());
  } else {
    for (let i = 2; i < args.length; i++) {
      const spec = specByName(node, args.lower(i));
      if (spec === undefined) continue;
      names.push(spec.name, ...(spec.subcommands ?? []).map((s) => s.name));
    }
  }
  const out: [Reply, Reply][] = [];
  for (const name of names) {
    const entry = node.latency.entry(name);
    if (entry !== null) out.push([R.bulk(name), entry]);
  }
  return R.map(out);
}

const latencyHelp = [
  "DOCTOR",
  "    Return a human readable latency analysis report.",
  "GRAPH <event>",
  "    Return an ASCII latency graph for the <event> class.",
  "HISTORY <event>",
  "    Return time-latency samples for the <event> class.",
  "LATEST",
  "    Return the latest latency samples for all events.",
  "RESET [<event> ...]",
  "    Reset latency data of one or more <event> classes.",
  "    (default: reset all data for all event classes)",
  "HISTOGRAM [COMMAND ...]",
  "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
  "    If no commands are specified then all histograms are replied.",
];

function config(node: HomeostatNode, _c: Client, args: Args): Reply {
  const sub = args.lower(1);
  if (sub === "help") return R.help("CONFIG", configHelp);
  const bad = checkSub(args);
  if (bad !== undefined) return bad;
  if (sub === "resetstat") {
    node.stats.reset();
    node.latency.reset();
    return R.OK;
  }
  if (sub === "get") {
    const found = new Map<string, string>();
    for (let i = 2; i < args.length; i++) {
      const pattern = args.buf(i);
      for (const [name, spec] of SETTINGS) {
        if (globMatch(pattern, Buffer.from(name), true)) found.set(name, spec.get(node.settings));
      }
    }
    return R.map([...found].map(([k, v]) => [R.bulk(k), R.bulk(v)] as const));
  }
  if (sub === "set") {
    if (args.length % 2 !== 0) return wrongArity("config|set");
    const changes: [string, string][] = [];
    for (let i = 2; i < args.length; i += 2) {
      const name = args.lower(i);
      const spec = SETTINGS.get(name);
      if (spec === undefined) {
        return R.error(
          `ERR Unknown option or number of arguments for CONFIG SET - '${args.str(i)}'`,
        );
      }
      if (spec.set === undefined) {
        return R.error(
          `ERR CONFIG SET failed (possibly related to argument '${args.str(i)}') - can't set immutable config`,
        );
      }
      changes.push([name, args.str(i + 1)]);
    }
    // Validate every change on a copy first, so a bad one applies none.
    const trial = { ...node.settings };
    for (const [name, value] of changes) {
      const problem = SETTINGS.get(name)?.set?.(trial, value);
      if (problem !== undefined) {
        return R.error(
          `ERR CONFIG SET failed (possibly related to argument '${name}') - ${problem}`,
        );
      }
    }
    for (const [name, value] of changes) SETTINGS.get(name)?.set?.(node.settings, value);
    node.log.info(
      {
        changes: Object.fromEntries(
          changes.map(([k, v]) => [k, k === "requirepass" ? "(hidden)" : v]),
        ),
      },
      "configuration changed",
    );
    return R.OK;
  }
  return unknownSubcommand(args);
}

const configHelp = [
  "GET <pattern>",
  "    Return parameters matching the glob-like <pattern> and their values.",
  "SET <directive> <value>",
  "    Set the configuration <directive> to <value>.",
  "RESETSTAT",
  "    Reset statistics reported by the INFO command.",
];

/**
 * ROLE: "master", offset 0, no replicas, as a Redis primary without replicas answers: a
 * node takes writes for every key (it forwards what it does not lead), and its shards'
 * replicas are raft's, not Redis replication's (INFO replication says the same).
 */
function role(): Reply {
  return R.array([R.bulk("master"), R.integer(0), R.array([])]);
}

function time(node: HomeostatNode): Reply {
  const us = BigInt(Math.floor(node.clock.nowMs() * 1000));
  return R.array([R.bulk(String(us / 1_000_000n)), R.bulk(String(us % 1_000_000n))]);
}

const slowlogHelp = [
  "GET [<count>]",
  "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
  "    Entries are made of:",
  "    id, timestamp, time in microseconds, arguments array, client IP and port,",
  "    client name",
  "LEN",
  "    Return the length of the slowlog.",
  "RESET",
  "    Reset the slowlog.",
];

/** SLOWLOG GET [count], LEN, RESET, HELP: this node's slow commands (slowlog.ts). */
function slowlog(node: HomeostatNode, _c: Client, args: Args): Reply {
  const sub = args.lower(1);
  if (sub === "help") return R.help("SLOWLOG", slowlogHelp);
  const bad = checkSub(args);
  if (bad !== undefined) return bad;
  if (sub === "len") return R.integer(node.slowlog.length);
  if (sub === "reset") {
    node.slowlog.reset();
    return R.OK;
  }
  if (sub === "get") {
    if (args.length > 3) return errorReply("SUBCOMMAND_SYNTAX", args.str(1), "SLOWLOG");
    let count = 10;
    if (args.length === 3) {
      const n = parseI64(args.buf(2));
      if (n === undefined || n < -1n) {
        return R.error("ERR count should be greater than or equal to -1");
      }
      count = n > 2n ** 53n ? Number.MAX_SAFE_INTEGER : Number(n);
    }
    return node.slowlog.reply(count);
  }
  return unknownSubcommand(args);
}

/**
 * MONITOR: from now on this client is sent every command the node runs (node.ts,
 * feedMonitors). A second MONITOR gets no reply, as in Redis.
 */
function monitor(node: HomeostatNode, c: Client): Reply {
  if (node.monitors.has(c)) return NO_REPLY;
  node.monitors.add(c);
  return R.OK;
}

/** HOMEOSTAT MEMBERS: one map per member (a flat array under RESP2), self included. */
function homeostat(node: HomeostatNode, c: Client, args: Args): Reply | Promise<Reply> {
  if (args.lower(1) === "help") {
    return R.help("HOMEOSTAT", [
      "MEMBERS",
      "    List the cluster's members: id, address (bus), client (Redis address), state,",
      "    incarnation, zone.",
      "REGISTER <node-id> <host> <port> <bus-port> <zone> [<redirect-port>]",
      "    (between nodes) A joining node asks the meta group for its raft id.",
      "GROUPS",
      "    The raft groups on this node: role, leader, term, commit, applied, voters, learners.",
      "FORWARDED",
      "    (between nodes) This connection forwards other clients' commands: never forward on.",
      "CONTRACT APPLY <yaml> | SHOW | HISTORY",
      "    The service contract: apply a new version (validated first), show it, list versions.",
      "JOURNAL [AFTER <seq>]",
      "    The decision journal: what the cluster did by itself, when, and what it saw.",
      "REMOVE <node>",
      "    Decommissions a node (raft id or node id): its replicas move to the others first.",
      "SHARD <shard> <command> [<arg> ...]",
      "    Runs a key-space command on one shard (on its leader): DBSIZE, SCAN, KEYS... per shard.",
      "TRANSACTION <body>",
      "    (between nodes) A MULTI/EXEC forwarded to its shard's leader, run as one log entry.",
      "FINGERPRINT <key> [<key> ...]",
      "    (between nodes) WATCH's read of the keys' fingerprints on their shard's leader.",
      "SLOTKEYS <slot> [<max>]",
      "    (between nodes) CLUSTER COUNTKEYSINSLOT and GETKEYSINSLOT on the slot's shard leader.",
      "ACKED <shard> [<index>]",
      "    (between nodes) WAIT's count on the shard's leader: the index (default: the commit",
      "    index) and how many of its other voters have their log up to it.",
    ]);
  }
  const bad = checkSub(args);
  if (bad !== undefined) return bad;
  if (args.lower(1) === "acked") {
    const router = node.router;
    if (node.cluster === null || router?.ackedHere === undefined) return clusterDisabled;
    const group = Number(args.str(2));
    const index = args.length > 3 ? Number(args.str(3)) : undefined;
    if (!Number.isSafeInteger(group) || (index !== undefined && !Number.isSafeInteger(index))) {
      return R.error("ERR syntax: HOMEOSTAT ACKED <shard> [<index>]");
    }
    const at = router.ackedHere(group, index);
    if (at === null) return R.error(`ERR this node does not lead shard ${group}`);
    return R.array([R.integer(at.index), R.integer(at.acked)]);
  }
  if (args.lower(1) === "groups") {
    const cluster = node.cluster;
    if (cluster === null) return clusterDisabled;
    return R.array(cluster.groupRows().map((row) => R.bulk(row)));
  }
  if (args.lower(1) === "contract") {
    const cluster = node.cluster;
    if (cluster === null) return clusterDisabled;
    const sub = args.lower(2);
    if (sub === "apply" && args.length === 4) return cluster.applyContract(args.str(3));
    if (sub === "show" && args.length === 3) return cluster.contractShow();
    if (sub === "history" && args.length === 3) return cluster.contractHistory();
    return R.error("ERR syntax: HOMEOSTAT CONTRACT APPLY <yaml> | SHOW | HISTORY");
  }
  if (args.lower(1) === "journal") {
    const cluster = node.cluster;
    if (cluster === null) return clusterDisabled;
    if (args.length === 2) return cluster.journalRows(0);
    const after = Number(args.str(3));
    if (args.length !== 4 || !args.is(2, "after") || !Number.isSafeInteger(after) || after < 0) {
      return R.error("ERR syntax: HOMEOSTAT JOURNAL [AFTER <seq>]");
    }
    return cluster.journalRows(after);
  }
  if (args.lower(1) === "remove") {
    const cluster = node.cluster;
    if (cluster === null) return clusterDisabled;
    return cluster.removeNode(args.str(2));
  }
  if (args.lower(1) === "shard") {
    const onShard = node.router?.onShard;
    if (node.cluster === null || onShard === undefined) {
      return clusterDisabled;
    }
    const group = Number(args.str(2));
    if (!Number.isSafeInteger(group) || group < 1) return R.error("ERR shard must be a shard id");
    const spec = node.specOf(args.lower(3));
    if (spec === undefined) return R.error(`ERR unknown command '${args.str(3)}'`);
    const inner: Buffer[] = [];
    for (let i = 3; i < args.length; i++) inner.push(Buffer.from(args.buf(i)));
    return onShard.call(node.router, c, group, inner, spec.flags.includes("write"));
  }
  const sub = args.lower(1);
  if (sub === "transaction" || sub === "fingerprint" || sub === "slotkeys") {
    // Sent between nodes (a forwarded MULTI/EXEC, WATCH or CLUSTER GETKEYSINSLOT): never by
    // a client.
    const internal = node.router?.internal;
    if (!c.forwarded || internal === undefined) {
      return R.error("ERR HOMEOSTAT TRANSACTION, FINGERPRINT and SLOTKEYS are sent between nodes");
    }
    const inner: Buffer[] = [];
    for (let i = 0; i < args.length; i++) inner.push(Buffer.from(args.buf(i)));
    return internal.call(node.router, c, inner);
  }
  if (args.lower(1) === "forwarded") {
    c.forwarded = true;
    return R.OK;
  }
  if (args.lower(1) === "register") {
    const cluster = node.cluster;
    if (cluster === null) return clusterDisabled;
    const port = Number(args.str(4));
    const busPort = Number(args.str(5));
    if (args.length > 8) return wrongArity("homeostat|register");
    // A node of an older version, or one without a redirect port, names none.
    const redirectPort = args.length > 7 ? Number(args.str(7)) : port;
    if (![port, busPort, redirectPort].every(Number.isInteger)) {
      return R.error("ERR port, bus port and redirect port must be integers");
    }
    return cluster.registerNode({
      id: args.str(2),
      host: args.str(3),
      port,
      busPort,
      zone: args.str(6),
      redirectPort,
    });
  }
  const driver = node.membership;
  if (driver === null) return R.EMPTY_ARRAY;
  const rows = driver.members().sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return R.array(
    rows.map((m) =>
      R.map([
        [R.bulk("id"), R.bulk(m.id)],
        [R.bulk("address"), R.bulk(m.address)],
        [R.bulk("client"), R.bulk(m.meta.addresses[0] ?? "")],
        [R.bulk("state"), R.bulk(m.state)],
        [R.bulk("incarnation"), R.integer(m.incarnation)],
        [R.bulk("zone"), R.bulk(m.meta.zone)],
        [R.bulk("self"), R.integer(m.id === driver.id ? 1 : 0)],
      ]),
    ),
  );
}

/**
 * CLUSTER SLOTS | SHARDS | NODES | INFO | MYID | KEYSLOT | COUNTKEYSINSLOT | GETKEYSINSLOT,
 * as Redis Cluster answers them.
 */
function cluster(node: HomeostatNode, c: Client, args: Args): Reply | Promise<Reply> {
  const bad = checkSub(args);
  if (bad !== undefined) return bad;
  const sub = args.lower(1);
  if (sub === "keyslot") return R.integer(keyHashSlot(args.buf(2)));
  const runtime = node.cluster;
  if (runtime === null) return clusterDisabled;
  if (sub === "countkeysinslot" || sub === "getkeysinslot") return slotKeys(node, c, args);
  // A client that reads the slot map can follow MOVED: from now on it gets MOVED rather
  // than having its commands forwarded.
  if (sub === "slots" || sub === "shards" || sub === "nodes") c.clusterAware = true;
  return runtime.clusterReply(sub) ?? unknownSubcommand(args);
}

/**
 * CLUSTER COUNTKEYSINSLOT <slot> and GETKEYSINSLOT <slot> <count>, with Redis's checks and
 * errors, answered for the whole cluster by the slot's shard (ClusterRouter.slotKeys).
 */
function slotKeys(node: HomeostatNode, c: Client, args: Args): Reply | Promise<Reply> {
  const slot = parseI64(args.buf(2));
  const max = args.length === 4 ? parseI64(args.buf(3)) : null;
  if (slot === undefined || max === undefined) return NOT_INTEGER;
  if (max === null) {
    if (slot < 0n || slot >= SLOT_COUNT) return R.error("ERR Invalid slot");
  } else if (slot < 0n || slot >= SLOT_COUNT || max < 0n) {
    return R.error("ERR Invalid slot or number of keys");
  }
  const router = node.router;
  if (router?.slotKeys === undefined) return clusterDisabled;
  // A bound past any slot's key count is no bound.
  const bound = max === null ? undefined : Number(max > 2n ** 32n ? 2n ** 32n : max);
  return router.slotKeys(c, Number(slot), bound);
}

/**
 * READONLY, READWRITE and ASKING, which cluster clients send: accepted in sharded mode and
 * change nothing. READONLY allows a replica to answer reads that may be stale; here every
 * read is linearizable wherever it is sent (answered by, or forwarded to, the shard's
 * leader), which READONLY permits. ASKING precedes a command redirected by -ASK during a
 * slot migration, which shards never send (their slots do not move).
 */
function clusterConnection(node: HomeostatNode): Reply {
  return node.cluster === null ? clusterDisabled : R.OK;
}

/**
 * WAIT numreplicas timeout. A standalone node has no replicas: 0, at once when
 * numreplicas ≤ 0, else after the timeout (0: never), as Redis without replicas answers.
 * On a cluster, the other voters of the shards this connection wrote to that have its
 * writes (ClusterRouter.wait).
 */
function wait(node: HomeostatNode, c: Client, args: Args): Reply | Promise<Reply> {
  const numreplicas = parseI64(args.buf(1));
  if (numreplicas === undefined) return errorReply("NOT_INTEGER");
  const timeout = parseI64(args.buf(2));
  if (timeout === undefined) return errorReply("TIMEOUT_NOT_INTEGER");
  if (timeout < 0n) return errorReply("TIMEOUT_NEGATIVE");
  const wanted = Number(numreplicas);
  const ms = Number(timeout);
  const router = node.router;
  if (node.cluster !== null && router?.wait !== undefined) {
    // In MULTI a command never blocks: the count as it is.
    return router.wait(c, c.inExec ? 0 : wanted, ms);
  }
  if (wanted <= 0 || c.inExec) return R.integer(0);
  return new Promise((resolve) => {
    if (ms > 0) setTimeout(() => resolve(R.integer(0)), ms);
  });
}

export const SERVER_HANDLERS: ReadonlyMap<string, ServerHandler> = new Map<string, ServerHandler>([
  ["wait", wait],
  ["readonly", clusterConnection],
  ["readwrite", clusterConnection],
  ["asking", clusterConnection],
  ["ping", ping],
  ["echo", echo],
  ["auth", auth],
  ["hello", hello],
  ["select", select],
  ["quit", quit],
  ["reset", reset],
  ["client", client],
  ["command", command],
  ["info", info],
  ["config", config],
  ["slowlog", slowlog],
  ["latency", latency],
  ["monitor", monitor],
  ["time", time],
  ["role", role],
  ["function", functionCommand],
  ["homeostat", homeostat],
  ["subscribe", subscriber("channel", true)],
  ["psubscribe", subscriber("pattern", true)],
  ["ssubscribe", subscriber("shard", true)],
  ["unsubscribe", subscriber("channel", false)],
  ["punsubscribe", subscriber("pattern", false)],
  ["sunsubscribe", subscriber("shard", false)],
  ["publish", publisher(false)],
  ["spublish", publisher(true)],
  ["pubsub", pubsub],
  ["multi", T.multi],
  ["exec", T.exec],
  ["discard", T.discard],
  ["watch", T.watch],
  ["unwatch", T.unwatch],
  ["cluster", cluster],
  ...SCRIPT_SERVER_HANDLERS,
]);
