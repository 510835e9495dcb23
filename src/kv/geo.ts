import { bareSpec, formatFloat, toLong } from "../core/cformat.js";
import { lowerBound } from "../core/sorted.js";
import { ArrayArgs } from "../resp/args.js";
import { array, bulk, doubleText, EMPTY_ARRAY, integer, NULL, NULL_ARRAY } from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";
import { isReply } from "./db.js";
import { type ErrorName, errorReply, NOT_FLOAT, NOT_INTEGER, SYNTAX } from "./errors.js";
import {
  cellScores,
  distance,
  distanceWithin,
  geohashString,
  isZero,
  LAT_MAX,
  LAT_MIN,
  LONG_MAX,
  LONG_MIN,
  pointScore,
  type Shape,
  scorePosition,
  searchCells,
} from "./geohash.js";
import { lookupTyped, storeResult } from "./hashes.js";
import { NOTIFY_ZSET } from "./notify.js";
import { parseI64 } from "./numbers.js";
import type { CommandHandler, ExecContext } from "./types.js";
import {
  parseScore,
  sortedEntries,
  storeEntriesAt,
  zadd,
  zsetEntries,
  zsetScore,
} from "./zsets.js";

/**
 * The GEO commands, on sorted sets as Redis keeps them: a member's score is the 52-bit
 * geohash of its position (geohash.ts), so GEOADD is a ZADD of computed scores and a
 * search reads the score ranges of the nine cells around the shape, keeping the points
 * inside it. Replies are Redis's to the digit: distances with four decimals, positions
 * with up to seventeen, hashes as eleven base-32 characters.
 */

/** C's "%f" of a double, as Redis prints a refused position. */
const cFixed6 = (d: number): string => formatFloat(d, bareSpec("f", 6));

/** A longitude and a latitude from two arguments, or the error Redis gives. */
function parsePosition(args: Args, at: number): [number, number] | Reply {
  const lon = parseScore(args.buf(at));
  const lat = parseScore(args.buf(at + 1));
  if (lon === undefined || lat === undefined) return NOT_FLOAT;
  if (lon < LONG_MIN || lon > LONG_MAX || lat < LAT_MIN || lat > LAT_MAX) {
    return errorReply("GEO_INVALID_POSITION", cFixed6(lon), cFixed6(lat));
  }
  return [lon, lat];
}

/** Meters per unit (M, KM, FT, MI, any case), or the error. */
function parseUnit(args: Args, at: number): number | Reply {
  switch (args.lower(at)) {
    case "m":
      return 1;
    case "km":
      return 1000;
    case "ft":
      return 0.3048;
    case "mi":
      return 1609.34;
    default:
      return errorReply("GEO_UNIT");
  }
}

/** A non-negative distance; `notFloat` names the error for one that is not a number. */
function parseLength(args: Args, at: number, notFloat: ErrorName): number | Reply {
  const d = parseScore(args.buf(at));
  return d === undefined ? errorReply(notFloat) : d;
}

/** C's llrint: to the nearest integer, halves to even. */
function rint(x: number): number {
  const f = Math.floor(x);
  const rest = x - f;
  if (rest < 0.5) return f;
  if (rest > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** A distance as Redis replies it: fixed point with four decimals. */
export function distanceText(d: number): string {
  if (d === 0) return "0.0000";
  const scaled = rint(d * 10_000);
  const negative = scaled < 0;
  const digits = String(Math.abs(scaled)).padStart(5, "0");
  const text = `${digits.slice(0, -4)}.${digits.slice(-4)}`;
  return negative ? `-${text}` : text;
}

/** A coordinate as Redis replies it: "%.17Lf" without its trailing zeros. */
export function coordinateText(d: number): string {
  const t = formatFloat(d, bareSpec("f", 17)).replace(/\.?0+$/, "");
  return t === "-0" ? "0" : t;
}

const coordinate = (d: number): Reply => doubleText(d, coordinateText(d));

// ---------------------------------------------------------------------------------------
// GEOADD, GEOPOS, GEODIST, GEOHASH

/** GEOADD key [NX|XX] [CH] longitude latitude member ...: ZADD with the points' scores. */
const geoadd: CommandHandler = (ctx, args) => {
  let at = 2;
  let nx = false;
  let xx = false;
  for (; at < args.length; at++) {
    const word = args.lower(at);
    if (word === "nx") nx = true;
    else if (word === "xx") xx = true;
    else if (word !== "ch") break;
  }
  if ((args.length - at) % 3 !== 0 || (nx && xx)) return SYNTAX;
  const parts: Buffer[] = [Buffer.from("zadd")];
  for (let i = 1; i < at; i++) parts.push(args.buf(i));
  for (let i = at; i < args.length; i += 3) {
    const p = parsePosition(args, i);
    if (isReply(p)) return p;
    const score = pointScore(p[0], p[1]);
    if (score === null) return errorReply("GEO_INVALID_POSITION", cFixed6(p[0]), cFixed6(p[1]));
    parts.push(Buffer.from(String(score)), args.buf(i + 2));
  }
  return zadd(ctx, new ArrayArgs(parts));
};

const lookupZset = (ctx: ExecContext, key: Buffer) => lookupTyped(ctx, key, "zset");

/** The position of `member` in the set's data, or null when it has none. */
function positionOf(data: Buffer | undefined, member: Buffer): [number, number] | null {
  if (data === undefined) return null;
  const score = zsetScore(data, member);
  return score === undefined ? null : scorePosition(score);
}

/** GEOPOS key member ...: each member's [longitude, latitude], or a null array. */
const geopos: CommandHandler = (ctx, args) => {
  const value = lookupZset(ctx, args.buf(1));
  if (isReply(value)) return value;
  const out: Reply[] = [];
  for (let i = 2; i < args.length; i++) {
    const p = positionOf(value?.data, args.buf(i));
    out.push(p === null ? NULL_ARRAY : array([coordinate(p[0]), coordinate(p[1])]));
  }
  return array(out);
};

/** GEOHASH key member ...: each member's geohash string, or null. */
const geohash: CommandHandler = (ctx, args) => {
  const value = lookupZset(ctx, args.buf(1));
  if (isReply(value)) return value;
  const out: Reply[] = [];
  for (let i = 2; i < args.length; i++) {
    const p = positionOf(value?.data, args.buf(i));
    const text = p === null ? null : geohashString(p[0], p[1]);
    out.push(text === null ? NULL : bulk(text));
  }
  return array(out);
};

/** GEODIST key member1 member2 [M|KM|FT|MI]: their distance, or null if one is missing. */
const geodist: CommandHandler = (ctx, args) => {
  let toMeters = 1;
  if (args.length === 5) {
    const unit = parseUnit(args, 4);
    if (isReply(unit)) return unit;
    toMeters = unit;
  } else if (args.length > 5) {
    return SYNTAX;
  }
  const value = lookupZset(ctx, args.buf(1));
  if (value === undefined || isReply(value)) return value ?? NULL;
  const a = positionOf(value.data, args.buf(2));
  const b = positionOf(value.data, args.buf(3));
  if (a === null || b === null) return NULL;
  return bulk(distanceText(distance(a[0], a[1], b[0], b[1]) / toMeters));
};

// ---------------------------------------------------------------------------------------
// Searches: GEOSEARCH, GEOSEARCHSTORE, GEORADIUS[_RO], GEORADIUSBYMEMBER[_RO]

/** Which command of the family is running, as Redis's georadiusGeneric flags say. */
interface Variant {
  /** Where the source key is. */
  readonly src: number;
  /** GEORADIUS: centre given as longitude latitude; GEORADIUSBYMEMBER: as a member. */
  readonly centre: "position" | "member" | "options";
  /** The _RO commands: no STORE or STOREDIST. */
  readonly noStore: boolean;
  /** GEOSEARCHSTORE: stores at argument 1, takes STOREDIST alone. */
  readonly searchStore: boolean;
}

interface Search {
  readonly shape: Shape;
  withDist: boolean;
  withHash: boolean;
  withCoord: boolean;
  sort: "none" | "asc" | "desc";
  any: boolean;
  count: number;
  storeKey: Buffer | null;
  storeDist: boolean;
}

interface Found {
  member: Buffer;
  score: number;
  lon: number;
  lat: number;
  dist: number;
}

/** A shape's centre and size while the options are read. */
interface ShapeParts {
  lon: number;
  lat: number;
  /** Set once BYRADIUS, BYBOX (or GEORADIUS's own arguments) gave the size. */
  size: { radius: number } | { width: number; height: number } | null;
  conversion: number;
}

function shapeOf(p: ShapeParts): Shape {
  const size = p.size ?? { radius: 0 };
  return "radius" in size
    ? { type: "circle", lon: p.lon, lat: p.lat, radius: size.radius, conversion: p.conversion }
    : {
        type: "box",
        lon: p.lon,
        lat: p.lat,
        width: size.width,
        height: size.height,
        conversion: p.conversion,
      };
}

/** The radius and its unit at `at`, into `p`. */
function readRadius(args: Args, at: number, p: ShapeParts): Reply | null {
  const radius = parseLength(args, at, "GEO_RADIUS_NOT_FLOAT");
  if (isReply(radius)) return radius;
  if (radius < 0) return errorReply("GEO_NEGATIVE_RADIUS");
  const unit = parseUnit(args, at + 1);
  if (isReply(unit)) return unit;
  p.size = { radius };
  p.conversion = unit;
  return null;
}

/**
 * Reads a search's arguments in Redis's order of checks (`data`: the source's, undefined
 * when it is missing, where a member cannot be looked up); the search, or the error.
 */
function parseSearch(args: Args, v: Variant, data: Buffer | undefined): Search | Reply {
  const p: ShapeParts = { lon: 0, lat: 0, size: null, conversion: 1 };
  let base: number;
  if (v.centre === "position") {
    base = 6;
    const pos = parsePosition(args, 2);
    if (isReply(pos)) return pos;
    [p.lon, p.lat] = pos;
    const bad = readRadius(args, 4, p);
    if (bad !== null) return bad;
  } else if (v.centre === "member") {
    base = 5;
    if (data !== undefined) {
      const pos = positionOf(data, args.buf(2));
      if (pos === null) return errorReply("GEO_MEMBER");
      [p.lon, p.lat] = pos;
      const bad = readRadius(args, 3, p);
      if (bad !== null) return bad;
    }
  } else {
    base = v.searchStore ? 3 : 2;
  }
  const s: Omit<Search, "shape"> = {
    withDist: false,
    withHash: false,
    withCoord: false,
    sort: "none",
    any: false,
    count: 0,
    storeKey: v.searchStore ? args.buf(1) : null,
    storeDist: false,
  };
  const geosearch = v.centre === "options";
  let fromMember = false;
  let fromLonLat = false;
  let byRadius = false;
  let byBox = false;
  const n = args.length;
  for (let i = base; i < n; i++) {
    const word = args.lower(i);
    const left = n - i - 1;
    if (word === "withdist") s.withDist = true;
    else if (word === "withhash") s.withHash = true;
    else if (word === "withcoord") s.withCoord = true;
    else if (word === "any") s.any = true;
    else if (word === "asc") s.sort = "asc";
    else if (word === "desc") s.sort = "desc";
    else if (word === "count" && left >= 1) {
      const count = parseI64(args.buf(i + 1));
      if (count === undefined) return NOT_INTEGER;
      if (count <= 0n) return errorReply("GEO_COUNT");
      s.count = count > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(count);
      i++;
    } else if (
      (word === "store" || word === "storedist") &&
      left >= 1 &&
      !v.noStore &&
      !geosearch
    ) {
      s.storeKey = args.buf(i + 1);
      s.storeDist = word === "storedist";
      i++;
    } else if (word === "storedist" && geosearch && v.searchStore) {
      s.storeDist = true;
    } else if (word === "frommember" && left >= 1 && geosearch && !fromLonLat) {
      if (data !== undefined) {
        const pos = positionOf(data, args.buf(i + 1));
        if (pos === null) return errorReply("GEO_MEMBER");
        [p.lon, p.lat] = pos;
      }
      fromMember = true;
      i++;
    } else if (word === "fromlonlat" && left >= 2 && geosearch && !fromMember) {
      const pos = parsePosition(args, i + 1);
      if (isReply(pos)) return pos;
      [p.lon, p.lat] = pos;
      fromLonLat = true;
      i += 2;
    } else if (word === "byradius" && left >= 2 && geosearch && !byBox) {
      const bad = readRadius(args, i + 1, p);
      if (bad !== null) return bad;
      byRadius = true;
      i += 2;
    } else if (word === "bybox" && left >= 3 && geosearch && !byRadius) {
      const width = parseLength(args, i + 1, "GEO_WIDTH_NOT_FLOAT");
      if (isReply(width)) return width;
      const height = parseLength(args, i + 2, "GEO_HEIGHT_NOT_FLOAT");
      if (isReply(height)) return height;
      if (height < 0 || width < 0) return errorReply("GEO_NEGATIVE_BOX");
      const unit = parseUnit(args, i + 3);
      if (isReply(unit)) return unit;
      p.size = { width, height };
      p.conversion = unit;
      byBox = true;
      i += 3;
    } else {
      return SYNTAX;
    }
  }
  if (s.storeKey !== null && (s.withDist || s.withHash || s.withCoord)) {
    return errorReply(
      "GEO_STORE_WITH",
      v.searchStore ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS",
    );
  }
  if (geosearch && !(fromMember || fromLonLat)) return errorReply("GEO_FROM", args.str(0));
  if (geosearch && !(byRadius || byBox)) return errorReply("GEO_BY", args.str(0));
  if (s.any && s.count === 0) return errorReply("GEO_ANY");
  if (s.count !== 0 && s.sort === "none" && !s.any) s.sort = "asc";
  return { ...s, shape: shapeOf(p) };
}

/**
 * The members inside the shape, cell by cell in Redis's order (a cell equal to the one
 * read just before is read once), stopping at `limit` (ANY) when it is not 0.
 */
function membersInShape(data: Buffer, shape: Shape, limit: number): Found[] {
  const e = zsetEntries(data);
  const found: Found[] = [];
  const cells = searchCells(shape);
  let last = 0;
  for (let k = 0; k < cells.length; k++) {
    const cell = cells[k];
    if (cell === undefined || isZero(cell)) continue;
    const prev = cells[last];
    if (last !== 0 && prev !== undefined && prev.bits === cell.bits && prev.step === cell.step) {
      continue;
    }
    if (limit !== 0 && found.length >= limit) break;
    const [min, max] = cellScores(cell);
    const minScore = Number(min);
    const maxScore = Number(max);
    for (let i = lowerBound(e.scores, minScore); i < e.scores.length; i++) {
      const score = e.scores[i] as number;
      if (!(score < maxScore)) break;
      const pos = scorePosition(score);
      if (pos !== null) {
        const dist = distanceWithin(shape, pos[0], pos[1]);
        if (dist !== null) {
          found.push({ member: e.members[i] as Buffer, score, lon: pos[0], lat: pos[1], dist });
        }
      }
      if (limit !== 0 && found.length >= limit) break;
    }
    last = k;
  }
  return found;
}

const geoSearch =
  (v: Variant): CommandHandler =>
  (ctx, args) => {
    const value = lookupZset(ctx, args.buf(v.src));
    if (isReply(value)) return value;
    const s = parseSearch(args, v, value?.data);
    if (isReply(s)) return s;
    if (value === undefined) {
      // No source: nothing found, and a destination is deleted, as Redis does.
      if (s.storeKey === null) return EMPTY_ARRAY;
      storeResult(ctx, s.storeKey, "zset", null, NOTIFY_ZSET, "");
      return integer(0);
    }
    const found = membersInShape(value.data, s.shape, s.any ? s.count : 0);
    if (found.length === 0 && s.storeKey === null) return EMPTY_ARRAY;
    if (s.sort === "asc") found.sort((a, b) => a.dist - b.dist);
    else if (s.sort === "desc") found.sort((a, b) => b.dist - a.dist);
    const returned = s.count === 0 ? found : found.slice(0, s.count);
    const conversion = s.shape.conversion;
    if (s.storeKey !== null) {
      const items = returned.map((f) => ({
        member: f.member,
        score: s.storeDist ? f.dist / conversion : f.score,
      }));
      return storeEntriesAt(
        ctx,
        s.storeKey,
        sortedEntries(items),
        v.centre === "options" ? "geosearchstore" : "georadiusstore",
      );
    }
    const extra = Number(s.withDist) + Number(s.withHash) + Number(s.withCoord);
    return array(
      returned.map((f) => {
        if (extra === 0) return bulk(f.member);
        const item: Reply[] = [bulk(f.member)];
        if (s.withDist) item.push(bulk(distanceText(f.dist / conversion)));
        if (s.withHash) item.push(integer(toLong(f.score)));
        if (s.withCoord) item.push(array([coordinate(f.lon), coordinate(f.lat)]));
        return array(item);
      }),
    );
  };

const variant = (
  src: number,
  centre: Variant["centre"],
  noStore = false,
  searchStore = false,
): Variant => ({ src, centre, noStore, searchStore });

export const GEO_HANDLERS: ReadonlyMap<string, CommandHandler> = new Map<string, CommandHandler>([
  ["geoadd", geoadd],
  ["geopos", geopos],
  ["geohash", geohash],
  ["geodist", geodist],
  ["georadius", geoSearch(variant(1, "position"))],
  ["georadius_ro", geoSearch(variant(1, "position", true))],
  ["georadiusbymember", geoSearch(variant(1, "member"))],
  ["georadiusbymember_ro", geoSearch(variant(1, "member", true))],
  ["geosearch", geoSearch(variant(1, "options"))],
  ["geosearchstore", geoSearch(variant(2, "options", false, true))],
]);
