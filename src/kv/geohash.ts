/**
 * Geohashes as Redis computes them (its geohash.c and geohash_helper.c), for the GEO
 * commands: a point is a 52-bit interleaving of its latitude's and longitude's 26-bit
 * offsets in the Web Mercator bounds (latitudes within ±85.05112878 degrees), stored as
 * the score of a sorted set member. Every figure here must come out as Redis's does, to
 * the last bit: a score, a decoded position and a distance are what clients see, and the
 * search's cells decide which members a radius or box query finds. So the same steps are
 * taken in the same order, in doubles, and the bit work is done on 64-bit BigInts with
 * C's unsigned wrap-around.
 */

import { toUnsignedLong } from "../core/cformat.js";

export const LONG_MIN = -180;
export const LONG_MAX = 180;
export const LAT_MIN = -85.05112878;
export const LAT_MAX = 85.05112878;
/** 26 steps: 52 bits, what a double holds exactly. */
export const STEP_MAX = 26;

/** Earth's quadratic mean radius for WGS-84, in meters (Redis's constant). */
const EARTH_RADIUS_M = 6372797.560856;
const MERCATOR_MAX = 20037726.37;
const D_R = Math.PI / 180.0;

const U64 = (1n << 64n) - 1n;
const EVEN = 0x5555555555555555n;
const ODD = 0xaaaaaaaaaaaaaaaan;

/** A cell: its interleaved bits and how many steps (bits per coordinate) they hold. */
export interface Cell {
  readonly bits: bigint;
  readonly step: number;
}

export interface Range {
  readonly min: number;
  readonly max: number;
}

export interface Area {
  readonly longitude: Range;
  readonly latitude: Range;
}

/** Redis's coordinate bounds for the stored scores. */
export const MERCATOR = {
  longitude: { min: LONG_MIN, max: LONG_MAX },
  latitude: { min: LAT_MIN, max: LAT_MAX },
} as const satisfies Area;

/** The bounds GEOHASH re-encodes with: the standard geohash's, latitudes to ±90. */
export const STANDARD = {
  longitude: { min: -180, max: 180 },
  latitude: { min: -90, max: 90 },
} as const satisfies Area;

const ZERO_CELL: Cell = { bits: 0n, step: 0 };

/** A cell that is no cell (Redis's GZERO): a neighbour left out of a search. */
export function isZero(c: Cell): boolean {
  return c.bits === 0n && c.step === 0;
}

/** The 16 low bits of `x` on the even positions of 32 bits. */
function spread16(x: number): number {
  let v = x & 0xffff;
  v = (v | (v << 8)) & 0x00ff00ff;
  v = (v | (v << 4)) & 0x0f0f0f0f;
  v = (v | (v << 2)) & 0x33333333;
  v = (v | (v << 1)) & 0x55555555;
  return v >>> 0;
}

/** The even bits of 32-bit `x` packed into 16. */
function squeeze16(x: number): number {
  let v = x & 0x55555555;
  v = (v | (v >>> 1)) & 0x33333333;
  v = (v | (v >>> 2)) & 0x0f0f0f0f;
  v = (v | (v >>> 4)) & 0x00ff00ff;
  v = (v | (v >>> 8)) & 0x0000ffff;
  return v;
}

/** The 32 bits of `x` on the even positions of a 64-bit word. */
function spread(x: number): bigint {
  return (BigInt(spread16(x >>> 16)) << 32n) | BigInt(spread16(x));
}

/** The even bits of 64-bit `w` packed into a 32-bit number. */
function squeeze(w: bigint): number {
  const lo = Number(w & 0xffffffffn);
  const hi = Number((w >> 32n) & 0xffffffffn);
  return (squeeze16(lo) | (squeeze16(hi) << 16)) >>> 0;
}

/** C's conversion of a non-negative double below 2^32 to uint32_t: truncation. */
function toU32(d: number): number {
  return Math.trunc(d) >>> 0;
}

/**
 * The cell of `step` steps holding a point, in `range`; null outside Redis's bounds or the
 * range (Redis refuses to encode those).
 */
export function encode(
  lon: number,
  lat: number,
  step: number,
  range: Area = MERCATOR,
): Cell | null {
  if (step > 32 || step === 0) return null;
  if (lon > LONG_MAX || lon < LONG_MIN || lat > LAT_MAX || lat < LAT_MIN) return null;
  const { longitude: lo, latitude: la } = range;
  if (lat < la.min || lat > la.max || lon < lo.min || lon > lo.max) return null;
  let latOffset = (lat - la.min) / (la.max - la.min);
  let lonOffset = (lon - lo.min) / (lo.max - lo.min);
  latOffset *= 2 ** step;
  lonOffset *= 2 ** step;
  // Latitude on the even bits, longitude on the odd ones ("[LAT][LONG]" when split).
  return { bits: spread(toU32(latOffset)) | (spread(toU32(lonOffset)) << 1n), step };
}

/** The area a cell covers; null for the zero cell. */
export function decode(c: Cell, range: Area = MERCATOR): Area | null {
  if (isZero(c)) return null;
  const ilat = squeeze(c.bits);
  const ilon = squeeze(c.bits >> 1n);
  const { longitude: lo, latitude: la } = range;
  const latScale = la.max - la.min;
  const lonScale = lo.max - lo.min;
  const cells = 2 ** c.step;
  return {
    latitude: {
      min: la.min + (ilat / cells) * latScale,
      max: la.min + ((ilat + 1) / cells) * latScale,
    },
    longitude: {
      min: lo.min + (ilon / cells) * lonScale,
      max: lo.min + ((ilon + 1) / cells) * lonScale,
    },
  };
}

/** The middle of an area, kept within Redis's bounds: what GEOPOS answers. */
export function centre(a: Area): [number, number] {
  let lon = (a.longitude.min + a.longitude.max) / 2;
  lon = Math.min(LONG_MAX, Math.max(LONG_MIN, lon));
  let lat = (a.latitude.min + a.latitude.max) / 2;
  lat = Math.min(LAT_MAX, Math.max(LAT_MIN, lat));
  return [lon, lat];
}

/** A sorted set score as the 52-bit cell it names (C's cast of the double to uint64_t). */
export function scoreCell(score: number): Cell {
  return { bits: toUnsignedLong(score), step: STEP_MAX };
}

/** The position a score stands for: [longitude, latitude]. */
export function scorePosition(score: number): [number, number] | null {
  const a = decode(scoreCell(score));
  return a === null ? null : centre(a);
}

/** A cell's bits moved to the top of 52 (the score of its first point). */
export function align52(c: Cell): bigint {
  return BigInt.asUintN(64, c.bits << BigInt(52 - c.step * 2));
}

/** The score a point is stored with (GEOADD): its 26-step cell, aligned. */
export function pointScore(lon: number, lat: number): bigint | null {
  const c = encode(lon, lat, STEP_MAX);
  return c === null ? null : align52(c);
}

/**
 * The cell `d` cells along one coordinate: `own` masks that coordinate's bits (the odd
 * ones for longitude, east and west; the even ones for latitude, north and south), as
 * Redis's geohash_move_x and geohash_move_y move them.
 */
function moveAlong(c: Cell, d: number, own: bigint, other: bigint): Cell {
  if (d === 0) return c;
  let mine = c.bits & own;
  const rest = c.bits & other;
  const shift = BigInt(64 - c.step * 2);
  const zz = other >> shift;
  if (d > 0) mine = (mine + (zz + 1n)) & U64;
  else {
    mine |= zz;
    mine = BigInt.asUintN(64, mine - (zz + 1n));
  }
  mine &= own >> shift;
  return { bits: mine | rest, step: c.step };
}

const move = (c: Cell, dx: number, dy: number): Cell =>
  moveAlong(moveAlong(c, dx, ODD, EVEN), dy, EVEN, ODD);

export interface Neighbours {
  north: Cell;
  south: Cell;
  east: Cell;
  west: Cell;
  northEast: Cell;
  northWest: Cell;
  southEast: Cell;
  southWest: Cell;
}

function neighbours(c: Cell): Neighbours {
  return {
    east: move(c, 1, 0),
    west: move(c, -1, 0),
    south: move(c, 0, -1),
    north: move(c, 0, 1),
    northWest: move(c, -1, 1),
    northEast: move(c, 1, 1),
    southEast: move(c, 1, -1),
    southWest: move(c, -1, -1),
  };
}

/** How many steps a search of this radius starts from (Redis's estimate). */
function stepsForRadius(rangeMeters: number, lat: number): number {
  if (rangeMeters === 0) return 26;
  let step = 1;
  let r = rangeMeters;
  while (r < MERCATOR_MAX) {
    r *= 2;
    step++;
  }
  step -= 2;
  if (lat > 66 || lat < -66) {
    step--;
    if (lat > 80 || lat < -80) step--;
  }
  return Math.min(26, Math.max(1, step));
}

/** What a GEOSEARCH looks for: a circle or a box around a point, in meters once converted. */
export type Shape =
  | {
      readonly type: "circle";
      readonly lon: number;
      readonly lat: number;
      readonly radius: number;
      readonly conversion: number;
    }
  | {
      readonly type: "box";
      readonly lon: number;
      readonly lat: number;
      readonly width: number;
      readonly height: number;
      readonly conversion: number;
    };

/** [minLon, minLat, maxLon, maxLat] around the shape (Redis's geohashBoundingBox). */
function boundingBox(s: Shape): [number, number, number, number] {
  const height = s.conversion * (s.type === "circle" ? s.radius : s.height / 2);
  const width = s.conversion * (s.type === "circle" ? s.radius : s.width / 2);
  const latDelta = height / EARTH_RADIUS_M / D_R;
  const lonDeltaTop = width / EARTH_RADIUS_M / Math.cos((s.lat + latDelta) * D_R) / D_R;
  const lonDeltaBottom = width / EARTH_RADIUS_M / Math.cos((s.lat - latDelta) * D_R) / D_R;
  const south = s.lat < 0;
  return [
    south ? s.lon - lonDeltaBottom : s.lon - lonDeltaTop,
    s.lat - latDelta,
    south ? s.lon + lonDeltaBottom : s.lon + lonDeltaTop,
    s.lat + latDelta,
  ];
}

/**
 * The cells a search reads, in Redis's order: the shape's centre cell, then north, south,
 * east, west, north-east, north-west, south-east and south-west, the zero cell for those
 * the bounding box does not reach (geohashCalculateAreasByShapeWGS84).
 */
export function searchCells(s: Shape): Cell[] {
  const [minLon, minLat, maxLon, maxLat] = boundingBox(s);
  const radius =
    (s.type === "circle"
      ? s.radius
      : Math.sqrt((s.width / 2) * (s.width / 2) + (s.height / 2) * (s.height / 2))) * s.conversion;
  let steps = stepsForRadius(radius, s.lat);
  let cell = encode(s.lon, s.lat, steps) ?? ZERO_CELL;
  let n = neighbours(cell);
  let area = decode(cell);
  // Near a cell's edge the estimated step may be too coarse for the neighbours to cover
  // the box: one step less then.
  const north = decode(n.north);
  const south = decode(n.south);
  const east = decode(n.east);
  const west = decode(n.west);
  const decrease =
    (north !== null && north.latitude.max < maxLat) ||
    (south !== null && south.latitude.min > minLat) ||
    (east !== null && east.longitude.max < maxLon) ||
    (west !== null && west.longitude.min > minLon);
  if (steps > 1 && decrease) {
    steps--;
    cell = encode(s.lon, s.lat, steps) ?? ZERO_CELL;
    n = neighbours(cell);
    area = decode(cell);
  }
  if (steps >= 2 && area !== null) {
    if (area.latitude.min < minLat) {
      n.south = ZERO_CELL;
      n.southWest = ZERO_CELL;
      n.southEast = ZERO_CELL;
    }
    if (area.latitude.max > maxLat) {
      n.north = ZERO_CELL;
      n.northEast = ZERO_CELL;
      n.northWest = ZERO_CELL;
    }
    if (area.longitude.min < minLon) {
      n.west = ZERO_CELL;
      n.southWest = ZERO_CELL;
      n.northWest = ZERO_CELL;
    }
    if (area.longitude.max > maxLon) {
      n.east = ZERO_CELL;
      n.southEast = ZERO_CELL;
      n.northEast = ZERO_CELL;
    }
  }
  return [
    cell,
    n.north,
    n.south,
    n.east,
    n.west,
    n.northEast,
    n.northWest,
    n.southEast,
    n.southWest,
  ];
}

/** The scores a cell's points have: [min, max), as 52-bit integers. */
export function cellScores(c: Cell): [bigint, bigint] {
  return [align52(c), align52({ bits: c.bits + 1n, step: c.step })];
}

function latDistance(lat1: number, lat2: number): number {
  return EARTH_RADIUS_M * Math.abs(lat2 * D_R - lat1 * D_R);
}

/** The haversine distance in meters between two points, as Redis computes it. */
export function distance(lon1: number, lat1: number, lon2: number, lat2: number): number {
  const lon1r = lon1 * D_R;
  const lon2r = lon2 * D_R;
  const v = Math.sin((lon2r - lon1r) / 2);
  if (v === 0.0) return latDistance(lat1, lat2);
  const lat1r = lat1 * D_R;
  const lat2r = lat2 * D_R;
  const u = Math.sin((lat2r - lat1r) / 2);
  const a = u * u + Math.cos(lat1r) * Math.cos(lat2r) * v * v;
  return 2.0 * EARTH_RADIUS_M * Math.asin(Math.sqrt(a));
}

/** The distance from the shape's centre to a point in it, or null when it is outside. */
export function distanceWithin(s: Shape, lon: number, lat: number): number | null {
  if (s.type === "circle") {
    const d = distance(s.lon, s.lat, lon, lat);
    return d > s.radius * s.conversion ? null : d;
  }
  if (latDistance(s.lat, lat) > (s.height * s.conversion) / 2) return null;
  // Along the point's own parallel, as Redis measures it.
  if (distance(lon, lat, s.lon, lat) > (s.width * s.conversion) / 2) return null;
  return distance(s.lon, s.lat, lon, lat);
}

const ALPHABET = "0123456789bcdefghjkmnpqrstuvwxyz";

/** GEOHASH's 11 characters for a point: its standard geohash, the last one always '0'. */
export function geohashString(lon: number, lat: number): string | null {
  const c = encode(lon, lat, STEP_MAX, STANDARD);
  if (c === null) return null;
  let out = "";
  for (let i = 0; i < 11; i++) {
    const idx = i === 10 ? 0 : Number((c.bits >> BigInt(52 - (i + 1) * 5)) & 0x1fn);
    out += ALPHABET[idx];
  }
  return out;
}
