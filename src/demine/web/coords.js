// Coordinates as people paste them, in one field (issue 15). No dependencies: the map page and
// its tests import it. parseCoordinates(text) gives {lat, lon} or {error, vars} where error is
// an i18n key (coord_err_*) naming what is wrong.
//
// Read: "48.26, 37.84"  "48.26 37.84"  "48,26 37,84"  "48,26; 37,84"  "-33.9, 18.4"
//       48°15'36"N 37°50'24"E   N48°15.6' E37°50.4'   48 15 36 N, 37 50 24 E
//       48°15'36" пн. ш., 37°50'24" сх. д.   48.26 Пн 37.84 Сх   (Пн/Пд/Сх/Зх as N/S/E/W)
// Without hemisphere letters the first is the latitude. A bare number pair with one comma and no
// space ("48,37") is refused: it could be one number with a decimal comma.

const NUM = /[-−]?\d+(?:[.,]\d+)?/g;

function normalise(text) {
  return String(text)
    .trim()
    .replace(/[′’‘`´]/g, "'")
    .replace(/[″“”]|''/g, '"')
    .replace(/º|˚/g, "°")
    // Ukrainian hemisphere words and letters: пн. ш. / пд. ш. / сх. д. / зх. д., Пн, Пд, Сх, Зх
    .replace(/пн\.?\s*ш\.?|пн(?=[\s\d,;]|$)/giu, " N ")
    .replace(/пд\.?\s*ш\.?|пд(?=[\s\d,;]|$)/giu, " S ")
    .replace(/сх\.?\s*д\.?|сх(?=[\s\d,;]|$)/giu, " E ")
    .replace(/зх\.?\s*д\.?|зх(?=[\s\d,;]|$)/giu, " W ")
    .replace(/\s+/g, " ")
    .trim();
}

const toNumber = (s) => Number(s.replace("−", "-").replace(",", "."));

// one coordinate: [letter, degrees, minutes?, seconds?]
function readPart(part) {
  const letters = part.match(/[NSEW]/gi) || [];
  if (letters.length > 1) return { error: "coord_err_letters", vars: { text: part.trim() } };
  const rest = part.replace(/[NSEW]/gi, " ");
  if (/[^\d\s.,°'"\-−]/.test(rest)) return { error: "coord_err_unknown", vars: { text: part.trim() } };
  const nums = rest.match(NUM) || [];
  if (nums.length < 1 || nums.length > 3) return { error: "coord_err_unknown", vars: { text: part.trim() } };
  const [d, m = "0", s = "0"] = nums;
  const deg = toNumber(d);
  const min = toNumber(m);
  const sec = toNumber(s);
  if (nums.length > 1 && (min < 0 || min >= 60)) return { error: "coord_err_minutes", vars: { text: part.trim() } };
  if (nums.length > 2 && (sec < 0 || sec >= 60)) return { error: "coord_err_seconds", vars: { text: part.trim() } };
  if (nums.length > 1 && !Number.isInteger(deg)) return { error: "coord_err_unknown", vars: { text: part.trim() } };
  const letter = letters.length ? letters[0].toUpperCase() : null;
  if (letter && deg < 0) return { error: "coord_err_letters", vars: { text: part.trim() } };
  let value = Math.abs(deg) + min / 60 + sec / 3600;
  if (deg < 0 || Object.is(deg, -0) || /^[-−]/.test(d)) value = -value;
  if (letter === "S" || letter === "W") value = -value;
  return { letter, value };
}

function splitParts(s) {
  if (s.includes(";")) return s.split(";");
  // letters first: "N48°15'36" E37°50'24""
  let m = s.match(/^([NSEW][^NSEW]*?)\s*,?\s*([NSEW].*)$/i);
  if (m) return [m[1], m[2]];
  // a hemisphere letter after the first coordinate: "48°15'36"N 37°50'24"E", "48.26 N, 37.84 E"
  m = s.match(/^(.*?\d[^NSEW]*[NSEW])\s*,?\s*(.+)$/i);
  if (m && /\d/.test(m[2])) return [m[1], m[2]];
  // degrees marks: the second coordinate starts at the second number with a °
  const degs = [...s.matchAll(/[-−]?\d+(?:[.,]\d+)?\s*°/g)];
  if (degs.length === 2) return [s.slice(0, degs[1].index), s.slice(degs[1].index)];
  if (degs.length > 2) return null;
  // plain numbers: "48.26, 37.84", "48,26 37,84", "48 15 36 37 50 24"
  const nums = s.match(NUM) || [];
  if (nums.length === 2 || nums.length === 4 || nums.length === 6) {
    const half = nums.length / 2;
    const cut = s.indexOf(nums[half], s.indexOf(nums[half - 1]) + nums[half - 1].length);
    return [s.slice(0, cut), s.slice(cut)];
  }
  return null;
}

export function parseCoordinates(text) {
  const s = normalise(text);
  if (!s) return { error: "coord_err_empty", vars: {} };
  if (!/\d/.test(s)) return { error: "coord_err_no_numbers", vars: { text: String(text).trim() } };
  const parts = splitParts(s);
  if (!parts || parts.length !== 2) {
    const n = (s.match(NUM) || []).length;
    return { error: n === 1 ? "coord_err_one" : "coord_err_count", vars: { n, text: String(text).trim() } };
  }
  const a = readPart(parts[0].replace(/^[\s,]+|[\s,]+$/g, ""));
  if (a.error) return a;
  const b = readPart(parts[1].replace(/^[\s,]+|[\s,]+$/g, ""));
  if (b.error) return b;
  let lat = a.value;
  let lon = b.value;
  const isLat = (x) => x.letter === "N" || x.letter === "S";
  const isLon = (x) => x.letter === "E" || x.letter === "W";
  if (a.letter || b.letter) {
    if ((isLat(a) && isLat(b)) || (isLon(a) && isLon(b))) return { error: "coord_err_letters", vars: { text: String(text).trim() } };
    if (isLon(a) || isLat(b)) [lat, lon] = [b.value, a.value];
  }
  if (!(lat >= -90 && lat <= 90)) return { error: "coord_err_lat_range", vars: { v: lat } };
  if (!(lon >= -180 && lon <= 180)) return { error: "coord_err_lon_range", vars: { v: lon } };
  return { lat: Number(lat.toFixed(6)), lon: Number(lon.toFixed(6)) };
}

// Does the text name a place rather than give coordinates? Words of two letters or more once
// the hemisphere words and letters are set aside ("Нова Буда", "SYNTHETIC settlement 1"; not
// "48.26 Пн 37.84 Сх"). Ask it after parseCoordinates has failed.
export function looksLikeName(text) {
  const s = normalise(text).replace(/(^|[\s\d°'",;.])[NSEW](?=$|[\s\d°'",;.])/gi, "$1 ");
  return String(text).trim().length >= 2 && /\p{L}{2,}/u.test(s);
}
