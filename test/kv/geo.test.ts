import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { coordinateText, distanceText } from "../../src/kv/geo.js";
import {
  cellScores,
  decode,
  encode,
  geohashString,
  pointScore,
  scorePosition,
  searchCells,
} from "../../src/kv/geohash.js";
import { NOTIFY_ALL, NOTIFY_KEYEVENT } from "../../src/kv/notify.js";
import type { Reply } from "../../src/resp/types.js";
import { err, NOT_FLOAT, NOT_INT, newDb, r, recordEvents, SYNTAX, WRONGTYPE } from "./helpers.js";

// Expected values are what redis-server 7.0.15 answers for the same commands.

function sicily() {
  const db = newDb();
  assert.equal(
    r(db, "geoadd", "k", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"),
    2,
  );
  return db;
}

/** GEOPOS's coordinates as the text a client reads (RESP2 bulk, RESP3 double). */
function positionTexts(reply: Reply): (string[] | null)[] {
  assert.equal(reply.kind, "array");
  return (reply as { value: readonly Reply[] }).value.map((p) => {
    if (p.kind === "nullArray") return null;
    assert.equal(p.kind, "array");
    return (p as { value: readonly Reply[] }).value.map((c) => {
      assert.equal(c.kind, "double");
      return (c as { text?: string }).text ?? "";
    });
  });
}

describe("geohash", () => {
  it("stores a point as Redis's 52-bit score, and decodes it to the centre of its cell", () => {
    assert.equal(pointScore(13.361389, 38.115556), 3479099956230698n);
    assert.equal(pointScore(15.087269, 37.502669), 3479447370796909n);
    assert.equal(pointScore(181, 0), null);
    assert.equal(pointScore(0, 85.06), null);
    const [lon, lat] = scorePosition(3479099956230698) ?? [];
    assert.equal(coordinateText(lon as number), "13.36138933897018433");
    assert.equal(coordinateText(lat as number), "38.11555639549629859");
  });

  it("cell arithmetic: a cell's scores span its 52-bit prefix, its area holds its points", () => {
    const c = encode(13.361389, 38.115556, 10);
    assert.ok(c !== null);
    const [min, max] = cellScores(c);
    assert.equal(max - min, 1n << 32n);
    const score = pointScore(13.361389, 38.115556) ?? 0n;
    assert.ok(score >= min && score < max);
    const area = decode(c);
    assert.ok(area !== null);
    assert.ok(area.longitude.min <= 13.361389 && 13.361389 < area.longitude.max);
    assert.ok(area.latitude.min <= 38.115556 && 38.115556 < area.latitude.max);
  });

  it("searches nine cells, none that the bounding box does not reach", () => {
    const cells = searchCells({ type: "circle", lon: 15, lat: 37, radius: 200, conversion: 1000 });
    assert.equal(cells.length, 9);
    const used = cells.filter((c) => c.step !== 0);
    assert.ok(used.length >= 1 && used.length <= 9);
    for (const c of used) assert.equal(c.step, used[0]?.step);
  });

  it("formats geohash strings and distances as Redis does", () => {
    assert.equal(geohashString(13.361389338970184, 38.1155563954963), "sqc8b49rny0");
    assert.equal(distanceText(0), "0.0000");
    assert.equal(distanceText(166274.15156960033), "166274.1516");
    assert.equal(distanceText(1.25), "1.2500");
    assert.equal(distanceText(0.00015), "0.0001"); // 1.4999999999999998 ten-thousandths
    assert.equal(coordinateText(180), "180");
    assert.equal(coordinateText(-0), "0");
  });
});

describe("GEO commands", () => {
  it("GEOADD, GEOPOS, GEOHASH and GEODIST answer as redis-server", () => {
    const db = sicily();
    assert.deepEqual(positionTexts(db.run("geopos", "k", "Palermo", "nope")), [
      ["13.36138933897018433", "38.11555639549629859"],
      null,
    ]);
    assert.deepEqual(r(db, "geohash", "k", "Palermo", "Catania", "nope"), [
      "sqc8b49rny0",
      "sqdtr74hyu0",
      null,
    ]);
    assert.equal(r(db, "geodist", "k", "Palermo", "Catania"), "166274.1516");
    assert.equal(r(db, "geodist", "k", "Palermo", "Catania", "km"), "166.2742");
    assert.equal(r(db, "geodist", "k", "Palermo", "Catania", "mi"), "103.3182");
    assert.equal(r(db, "geodist", "k", "Palermo", "Catania", "FT"), "545518.8700");
    assert.equal(r(db, "geodist", "k", "Palermo", "nope"), null);
    assert.equal(r(db, "geodist", "nokey", "a", "b"), null);
    assert.equal(r(db, "zscore", "k", "Palermo"), 3479099956230698);
    assert.deepEqual(r(db, "type", "k"), { status: "zset" });
  });

  it("GEOADD keeps ZADD's options and counts", () => {
    const db = sicily();
    assert.equal(
      r(db, "geoadd", "k", "ch", "13.361389", "38.115556", "Palermo", "1", "2", "new"),
      1,
    );
    assert.equal(r(db, "geoadd", "k", "xx", "ch", "1", "3", "new", "5", "5", "other"), 1);
    assert.equal(r(db, "geoadd", "k", "nx", "9", "9", "new"), 0);
    assert.equal(r(db, "zcard", "k"), 3);
    assert.deepEqual(r(db, "geoadd", "k", "xx", "nx", "1", "2", "x"), SYNTAX);
    assert.deepEqual(r(db, "geoadd", "k", "1", "2", "a", "b"), SYNTAX);
  });

  it("points at the edges of the map", () => {
    const db = newDb();
    r(
      db,
      "geoadd",
      "k",
      "180",
      "85.05112878",
      "edge",
      "-180",
      "-85.05112878",
      "edge2",
      "0",
      "0",
      "origin",
    );
    assert.deepEqual(positionTexts(db.run("geopos", "k", "edge", "edge2", "origin")), [
      ["180", "85.0511287799999991"],
      ["-179.99999731779098511", "-85.05112751263942528"],
      ["0.00000268220901489", "0.00000126736058093"],
    ]);
    assert.deepEqual(r(db, "geohash", "k", "edge", "edge2", "origin"), [
      "bp05b5048p0",
      "00bh0hbj200",
      "s0000000000",
    ]);
    assert.equal(r(db, "geodist", "k", "edge", "edge2"), "18919844.5891");
  });

  it("GEOSEARCH by radius and by box, with distances, hashes and positions", () => {
    const db = sicily();
    const full = r(
      db,
      "geosearch",
      "k",
      "fromlonlat",
      "15",
      "37",
      "byradius",
      "200",
      "km",
      "asc",
      "withdist",
      "withhash",
      "withcoord",
    );
    assert.deepEqual(full, [
      ["Catania", "56.4413", 3479447370796909, [15.087267458438873, 37.50266842333162]],
      ["Palermo", "190.4424", 3479099956230698, [13.361389338970184, 38.1155563954963]],
    ]);
    assert.deepEqual(r(db, "geosearch", "k", "fromlonlat", "15", "37", "byradius", "100", "km"), [
      "Catania",
    ]);
    assert.deepEqual(
      r(db, "geosearch", "k", "fromlonlat", "15", "37", "byradius", "200", "km", "desc"),
      ["Palermo", "Catania"],
    );
    assert.deepEqual(
      r(
        db,
        "geosearch",
        "k",
        "frommember",
        "Palermo",
        "bybox",
        "400",
        "400",
        "km",
        "desc",
        "count",
        "1",
      ),
      ["Catania"],
    );
    assert.deepEqual(
      r(db, "geosearch", "k", "frommember", "Palermo", "bybox", "100", "100", "km", "withdist"),
      [["Palermo", "0.0000"]],
    );
    assert.deepEqual(r(db, "georadius", "k", "15", "37", "100", "km"), ["Catania"]);
    assert.deepEqual(r(db, "georadiusbymember_ro", "k", "Palermo", "200", "km", "withdist"), [
      ["Palermo", "0.0000"],
      ["Catania", "166.2742"],
    ]);
    assert.deepEqual(
      r(db, "geosearch", "nokey", "fromlonlat", "15", "37", "byradius", "1", "km"),
      [],
    );
    assert.deepEqual(r(db, "georadiusbymember", "nokey", "nope", "200", "km"), []);
  });

  it("STORE, STOREDIST and GEOSEARCHSTORE write a sorted set, or delete the destination", () => {
    const db = sicily();
    const events = recordEvents(db, NOTIFY_ALL | NOTIFY_KEYEVENT);
    assert.equal(r(db, "georadius", "k", "15", "37", "200", "km", "storedist", "dst"), 2);
    assert.deepEqual(r(db, "zrange", "dst", "0", "-1", "withscores"), [
      "Catania",
      56.441257870158204,
      "Palermo",
      190.44242984775784,
    ]);
    assert.equal(
      r(db, "geosearchstore", "dst", "k", "frommember", "Palermo", "bybox", "400", "300", "km"),
      2,
    );
    assert.deepEqual(r(db, "zrange", "dst", "0", "-1", "withscores"), [
      "Palermo",
      3479099956230698,
      "Catania",
      3479447370796909,
    ]);
    assert.equal(
      r(db, "geosearchstore", "dst", "k", "fromlonlat", "0", "0", "byradius", "1", "km"),
      0,
    );
    assert.equal(r(db, "exists", "dst"), 0);
    r(db, "set", "dst", "x");
    assert.equal(
      r(db, "geosearchstore", "dst", "nokey", "fromlonlat", "0", "0", "byradius", "1", "km"),
      0,
    );
    assert.equal(r(db, "exists", "dst"), 0);
    assert.deepEqual(events, [
      "georadiusstore dst",
      "geosearchstore dst",
      "del dst",
      "set dst",
      "del dst",
    ]);
  });

  it("GEOADD notifies zadd, as Redis's GEOADD (a ZADD underneath) does", () => {
    const db = newDb();
    const events = recordEvents(db, NOTIFY_ALL | NOTIFY_KEYEVENT);
    r(db, "geoadd", "k", "1", "2", "a");
    assert.deepEqual(events, ["zadd k"]);
  });

  it("refuses what Redis refuses, with Redis's errors", () => {
    const db = sicily();
    const search = (...rest: string[]) => r(db, "geosearch", "k", ...rest);
    assert.deepEqual(
      r(db, "geoadd", "k", "200", "100", "x"),
      err("ERR invalid longitude,latitude pair 200.000000,100.000000"),
    );
    assert.deepEqual(
      r(db, "geoadd", "k", "inf", "2", "a"),
      err("ERR invalid longitude,latitude pair inf,2.000000"),
    );
    assert.deepEqual(r(db, "geoadd", "k", "nan", "2", "a"), NOT_FLOAT);
    assert.deepEqual(
      r(db, "geodist", "k", "a", "b", "parsec"),
      err("ERR unsupported unit provided. please use M, KM, FT, MI"),
    );
    assert.deepEqual(r(db, "geodist", "k", "a", "b", "c", "d"), SYNTAX);
    assert.deepEqual(
      search("fromlonlat", "15", "37", "byradius", "-10", "km"),
      err("ERR radius cannot be negative"),
    );
    assert.deepEqual(
      search("fromlonlat", "15", "37", "byradius", "x", "km"),
      err("ERR need numeric radius"),
    );
    assert.deepEqual(
      search("fromlonlat", "15", "37", "bybox", "-1", "2", "km"),
      err("ERR height or width cannot be negative"),
    );
    assert.deepEqual(
      search("fromlonlat", "15", "37", "bybox", "x", "2", "km"),
      err("ERR need numeric width"),
    );
    assert.deepEqual(
      search("fromlonlat", "15", "37", "bybox", "1", "x", "km"),
      err("ERR need numeric height"),
    );
    assert.deepEqual(
      search("byradius", "10", "km", "asc", "withdist"),
      err("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for geosearch"),
    );
    assert.deepEqual(
      r(db, "GEOSEARCH", "k", "fromlonlat", "15", "37", "asc", "withdist"),
      err("ERR exactly one of BYRADIUS and BYBOX can be specified for GEOSEARCH"),
    );
    assert.deepEqual(
      search("fromlonlat", "15", "37", "byradius", "10", "km", "any"),
      err("ERR the ANY argument requires COUNT argument"),
    );
    assert.deepEqual(
      search("fromlonlat", "15", "37", "byradius", "10", "km", "count", "0"),
      err("ERR COUNT must be > 0"),
    );
    assert.deepEqual(
      search("fromlonlat", "15", "37", "byradius", "10", "km", "count", "x"),
      NOT_INT,
    );
    assert.deepEqual(
      search("fromlonlat", "15", "37", "byradius", "10", "km", "store", "x"),
      SYNTAX,
    );
    assert.deepEqual(
      search("fromlonlat", "15", "37", "frommember", "Palermo", "byradius", "10", "km"),
      SYNTAX,
    );
    assert.deepEqual(
      search("frommember", "nope", "byradius", "10", "km"),
      err("ERR could not decode requested zset member"),
    );
    assert.deepEqual(
      r(
        db,
        "geosearchstore",
        "d",
        "k",
        "fromlonlat",
        "15",
        "37",
        "byradius",
        "200",
        "km",
        "withdist",
      ),
      err("ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"),
    );
    assert.deepEqual(
      r(db, "georadius", "k", "15", "37", "200", "km", "withhash", "store", "d"),
      err(
        "ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
      ),
    );
    assert.deepEqual(r(db, "georadius_ro", "k", "15", "37", "200", "km", "store", "d"), SYNTAX);
    r(db, "set", "s", "x");
    assert.deepEqual(r(db, "geoadd", "s", "1", "2", "a"), WRONGTYPE);
    assert.deepEqual(r(db, "geopos", "s", "a"), WRONGTYPE);
    assert.deepEqual(
      r(db, "geosearch", "s", "fromlonlat", "1", "2", "byradius", "1", "km"),
      WRONGTYPE,
    );
  });
});
