"""The offline safety pack (``demine publish DIR``, docs/publish.md): the public layers of a region
for devices and static hosting, answerable with no demine server.

A pack is a directory:

- ``pack.json``: what it is (format, date, demine version, the digest of what was published,
  bbox, layers and counts, the synthetic flag, credits, the notice every safety answer carries,
  the warning messages, and how to read the lookup index);
- ``hazards.pmtiles``: one PMTiles v3 archive of gzip'd Mapbox Vector Tiles, zooms 0..max, cut
  by :mod:`demine.services.tiles` (the same code as ``/tiles``) for the public role: the hazards
  (public properties only), the unverified civilian reports (what
  ``GET /api/v1/public/reports/unverified`` gives) and the reference layers settlements and
  roads when the store has them;
- ``index/BX_BY.json``: the lookup index, one small JSON file per block of ``block_deg`` ×
  ``block_deg`` degrees (a bitmap in pack.json says which blocks have one), each holding the
  open hazards whose envelope meets the block: id, envelope, the fields a safety answer shows,
  and the geometry with its coordinates exactly as stored (JSON numbers round-trip doubles).

The lookup gives the answer of ``GET /api/v1/safety/point`` (:func:`demine.services.safety
.check_point` and :func:`~demine.services.safety.answer`) for any place inside the pack's bbox and
any radius up to ``max_radius_m``: the index holds every open hazard within that radius of the
bbox. ``src/demine/web/pack.js`` reads it in a browser.

Nothing is half-written: the pack is built in a temporary directory next to DIR and renamed.
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import shutil
import tempfile
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import shapely
from shapely.geometry import mapping

from demine.errors import Conflict, Fault, ValidationError
from demine.model.kinds import Kind
from demine.model.schema import Record
from demine.services.pack_tiles import UNVERIFIED_LAYER, default_jobs, write_tiles
from demine.store.base import Store

FORMAT = 1
TILES_FILE = "hazards.pmtiles"
INDEX_DIR = "index"
DEFAULT_MAX_ZOOM = 14
MAX_MAX_ZOOM = 16
DEFAULT_MAX_RADIUS_M = 5_000.0
BLOCK_DEG = 0.1  # a lookup index block: 0.1° × 0.1° (about 11 km × 7 km in Ukraine)
REFERENCE_LAYERS = ("settlements", "roads")
HIT_FIELDS = ("name", "reference", "hazard_type", "status", "device_categories")
MAX_UNVERIFIED = 1_000_000

# English names of the packaged regions (data/ukraine_regions.geojson holds the Ukrainian ones),
# by fid, so that --region takes either language
REGION_NAMES_EN = {
    0: "Autonomous Republic of Crimea",
    1: "Vinnytsia Oblast",
    2: "Volyn Oblast",
    3: "Dnipropetrovsk Oblast",
    4: "Donetsk Oblast",
    5: "Zhytomyr Oblast",
    6: "Zakarpattia Oblast",
    7: "Zaporizhzhia Oblast",
    8: "Ivano-Frankivsk Oblast",
    9: "Kirovohrad Oblast",
    10: "Luhansk Oblast",
    11: "Lviv Oblast",
    12: "Mykolaiv Oblast",
    13: "Odesa Oblast",
    14: "Poltava Oblast",
    15: "Rivne Oblast",
    16: "Sumy Oblast",
    17: "Ternopil Oblast",
    18: "Kharkiv Oblast",
    19: "Khmelnytskyi Oblast",
    20: "Cherkasy Oblast",
    21: "Chernivtsi Oblast",
    22: "Chernihiv Oblast",
    23: "Kherson Oblast",
    24: "Kyiv Oblast",
    25: "Sevastopol",
}

Box = tuple[float, float, float, float]


# --- the input ----------------------------------------------------------------------------------


def parse_bbox(text: str, field: str = "--bbox") -> Box:
    """W,S,E,N in decimal degrees (WGS 84); every fault names ``field``."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 4:
        raise ValidationError(
            "bad bbox",
            [Fault(f"expected W,S,E,N (4 numbers), got {len(parts)}: {text!r}", field=field)],
        )
    vals: list[float] = []
    faults: list[Fault] = []
    for name, p in zip(("west", "south", "east", "north"), parts, strict=True):
        try:
            v = float(p)
        except ValueError:
            faults.append(Fault(f"{name} {p!r} is not a number", field=field))
            continue
        if not math.isfinite(v):
            faults.append(Fault(f"{name} {p!r} is not a finite number", field=field))
        vals.append(v)
    if faults:
        raise ValidationError("bad bbox", faults)
    w, s, e, n = vals
    for name, v, lim in (("west", w, 180), ("east", e, 180), ("south", s, 90), ("north", n, 90)):
        if not -lim <= v <= lim:
            faults.append(Fault(f"{name} {v:g} is outside -{lim}..{lim}", field=field))
    if w >= e:
        faults.append(Fault(f"west {w:g} must be less than east {e:g}", field=field))
    if s >= n:
        faults.append(Fault(f"south {s:g} must be less than north {n:g}", field=field))
    if faults:
        raise ValidationError("bad bbox", faults)
    return (w, s, e, n)


def _norm(text: str) -> str:
    t = unicodedata.normalize("NFKD", text.casefold())
    t = "".join(c for c in t if not unicodedata.combining(c)).replace("'", "").replace("’", "")
    for word in (" oblast", " область", " region", " obl.", " обл."):
        t = t.replace(word, "")
    return " ".join(t.replace("-", " ").split())


def find_region(name: str) -> dict[str, Any]:
    """The packaged region named ``name`` (Ukrainian or English, with or without "oblast" /
    "область", any case): ``{"name", "name_en", "geometry", "bbox"}``."""
    from demine.io.regions import load_regions

    want = _norm(name)
    regions = load_regions()
    for f in regions:
        uk = str(f["properties"]["region"])
        en = REGION_NAMES_EN.get(int(f["properties"]["fid"]), "")
        if want and want in (_norm(uk), _norm(en)):
            g = shapely.geometry.shape(f["geometry"])
            return {"name": uk, "name_en": en, "geometry": g, "bbox": tuple(g.bounds)}
    known = ", ".join(REGION_NAMES_EN[int(f["properties"]["fid"])] for f in regions)
    raise ValidationError(
        f"unknown region {name!r}",
        [Fault(f"no packaged region is called {name!r}; known: {known}", field="--region")],
    )


def check_dir(out: Path) -> None:
    """DIR must be new or an empty directory, in a directory we can write."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        what = "is not a directory" if not out.is_dir() else "is not empty"
        raise Conflict(
            f"{out} {what}: a pack is written into a new or empty directory (publish into a new "
            "one and swap them to update a pack)"
        )
    parent = out.resolve().parent
    if not parent.is_dir():
        raise ValidationError(
            "cannot write the pack", [Fault(f"{parent} does not exist", field="DIR")]
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValidationError(
            "cannot write the pack", [Fault(f"{parent} is not writable", field="DIR")]
        )


# --- what is published --------------------------------------------------------------------------


def lookup_margin(box: Box, radius_m: float) -> Box:
    """``box`` widened by ``radius_m`` each way (degrees that surely hold it)."""
    from demine.geo.geodesy import lonlat_window

    dlat, dlon = lonlat_window(box[1], box[3], radius_m)
    return (
        max(-180.0, box[0] - dlon),
        max(-90.0, box[1] - dlat),
        min(180.0, box[2] + dlon),
        min(90.0, box[3] + dlat),
    )


def _records(store: Store, kind: str, box: Box, region: Any | None) -> list[Record]:
    recs = [r for r in store.list(kind, bbox=box) if r.geometry is not None]
    if region is not None:  # the region's outline, widened by the same margin as the box
        recs = [r for r in recs if region.intersects(r.geometry)]
    return recs


def _unverified(store: Store, box: Box) -> list[tuple[float, float, dict[str, Any]]]:
    """The pending civilian reports in ``box``: the features of the public unverified layer."""
    from demine.services.civilian import unverified

    got = unverified(store, box, MAX_UNVERIFIED)
    out = []
    for f in got["features"]:
        lon, lat = f["geometry"]["coordinates"][:2]
        out.append((float(lon), float(lat), dict(f["properties"])))
    return out


def _digest(parts: Iterable[tuple[str, str, Any]]) -> str:
    return hashlib.sha256(
        orjson.dumps(sorted(parts, key=lambda t: (t[0], t[1], str(t[2]))))
    ).hexdigest()


# --- the lookup index ---------------------------------------------------------------------------


def block_of(lon: float, lat: float, block_deg: float = BLOCK_DEG) -> tuple[int, int]:
    """The index block of a position (pack.js computes the same: ``Math.floor(lon / deg)``)."""
    return math.floor(lon / block_deg), math.floor(lat / block_deg)


def _hazard_entry(r: Record) -> dict[str, Any]:
    g = r.geometry
    return {
        "id": r.id,
        "b": list(g.bounds),
        "p": {k: r.properties.get(k) for k in HIT_FIELDS},
        "g": mapping(g),  # coordinates exactly as stored (orjson writes round-tripping floats)
    }


def write_index(
    root: Path, hazards: list[Record], pack_id: str, block_deg: float = BLOCK_DEG
) -> dict[str, Any]:
    """The lookup index: one JSON file per non-empty block; the description pack.json holds
    (the block size, the grid's origin and size, a bitmap of the blocks that have a file)."""
    blocks: dict[tuple[int, int], list[bytes]] = defaultdict(list)
    for r in sorted(hazards, key=lambda r: r.id):
        w, s, e, n = r.geometry.bounds
        bx0, by0 = block_of(w, s, block_deg)
        bx1, by1 = block_of(e, n, block_deg)
        entry = orjson.dumps(_hazard_entry(r))  # once, however many blocks it is in
        for bx in range(bx0, bx1 + 1):
            for by in range(by0, by1 + 1):
                blocks[(bx, by)].append(entry)
    d = root / INDEX_DIR
    d.mkdir()
    sizes = []
    for (bx, by), entries in blocks.items():
        head = orjson.dumps({"pack": pack_id, "block": [bx, by]})[:-1]
        body = head + b',"hazards":[' + b",".join(entries) + b"]}"
        (d / f"{bx}_{by}.json").write_bytes(body)
        sizes.append(len(body))
    if blocks:
        xs = [k[0] for k in blocks]
        ys = [k[1] for k in blocks]
        x0, y0, cols, rows = min(xs), min(ys), max(xs) - min(xs) + 1, max(ys) - min(ys) + 1
    else:
        x0 = y0 = cols = rows = 0
    bits = bytearray((cols * rows + 7) // 8)
    for bx, by in blocks:
        i = (by - y0) * cols + (bx - x0)
        bits[i >> 3] |= 1 << (i & 7)
    return {
        "path": INDEX_DIR + "/{bx}_{by}.json",
        "block_deg": block_deg,
        "x0": x0,
        "y0": y0,
        "cols": cols,
        "rows": rows,
        "present": base64.b64encode(bytes(bits)).decode(),
        "blocks": len(blocks),
        "hazards": len(hazards),
        "bytes": sum(sizes),
        "max_block_bytes": max(sizes, default=0),
    }


# --- the pack -----------------------------------------------------------------------------------


def publish(
    store: Store,
    out: Path,
    *,
    bbox: Box | None = None,
    region: str | None = None,
    max_zoom: int = DEFAULT_MAX_ZOOM,
    max_radius_m: float = DEFAULT_MAX_RADIUS_M,
    block_deg: float = BLOCK_DEG,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
    jobs: int | None = None,
) -> dict[str, Any]:
    """Write the pack into ``out`` (new or empty); its pack.json, as written. The tiles are cut
    in ``jobs`` processes (default: one per core)."""
    import demine
    from demine.io.regions import REGIONS_CREDIT
    from demine.model.synthetic import SYNTHETIC_NOTICE
    from demine.services.access import can_read_kind
    from demine.services.safety import DANGER_M, MAX_RADIUS_M, MESSAGES, NOTICE, NOTICE_UK

    faults = []
    if bbox is not None and region is not None:
        faults.append(Fault("give --region or --bbox, not both", field="--region/--bbox"))
    if not 0 <= max_zoom <= MAX_MAX_ZOOM:
        faults.append(Fault(f"{max_zoom} is outside 0..{MAX_MAX_ZOOM}", field="--max-zoom"))
    if not (math.isfinite(max_radius_m) and 0 < max_radius_m <= MAX_RADIUS_M):
        faults.append(
            Fault(f"{max_radius_m:g} m is outside 0..{MAX_RADIUS_M:g} m", field="--max-radius")
        )
    if not (math.isfinite(block_deg) and 0.001 <= block_deg <= 1.0):
        faults.append(Fault(f"{block_deg:g}° is outside 0.001..1", field="--block-deg"))
    if jobs is not None and not 1 <= jobs <= 64:
        faults.append(Fault(f"{jobs} is outside 1..64", field="--jobs"))
    if faults:
        raise ValidationError("cannot publish", faults)
    reg = find_region(region) if region is not None else None
    check_dir(out)
    say = progress or (lambda _m: None)
    if reg is not None:
        box: Box = reg["bbox"]
    elif bbox is not None:
        box = bbox
    else:
        aoi = store.setting("area_of_interest")
        if aoi:
            box = tuple(float(v) for v in aoi)  # type: ignore[assignment]
        else:
            ids, env = store.envelopes("hazards", (-180.0, -90.0, 180.0, 90.0))
            if not ids:
                raise ValidationError(
                    "nothing to publish",
                    [Fault("the store has no hazard and no area of interest", field="--bbox")],
                )
            box = (
                float(env[:, 0].min()),
                float(env[:, 1].min()),
                float(env[:, 2].max()),
                float(env[:, 3].max()),
            )
    wide = lookup_margin(box, max_radius_m)
    outline = None
    if reg is not None:
        from demine.geo.geodesy import lonlat_window

        dlat, dlon = lonlat_window(box[1], box[3], max_radius_m)
        outline = shapely.buffer(reg["geometry"], max(dlat, dlon))
    say("reading the store")
    hz_kind = store.kind("hazards")
    every = _records(store, "hazards", wide, None)
    # the index covers the whole bbox (any place in it answers as the API would); the tiles
    # only the region's outline, widened by the same margin
    open_hazards = [r for r in every if r.properties.get("status") == "open"]
    hazards = every if outline is None else [r for r in every if outline.intersects(r.geometry)]
    layers: list[tuple[Kind, list[Record]]] = [(hz_kind, hazards)]
    for name in REFERENCE_LAYERS:
        try:
            k = store.kind(name)
        except Exception:
            continue
        if k.geometry_type and can_read_kind(k, "public"):
            layers.append((k, _records(store, name, wide, outline)))
    points = _unverified(store, wide)
    if outline is not None:
        points = [p for p in points if outline.intersects(shapely.Point(p[0], p[1]))]
    digest = _digest(
        [(k.name, r.id, r.revision) for k, recs in layers for r in recs]
        + [(UNVERIFIED_LAYER, f"{p[0]!r},{p[1]!r}", orjson.dumps(p[2]).decode()) for p in points]
    )
    pack_id = digest[:16]
    synthetic = bool(store.setting("synthetic"))
    created = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    counts = {k.name: len(recs) for k, recs in layers} | {UNVERIFIED_LAYER: len(points)}
    credits = [REGIONS_CREDIT] if reg is not None else []
    if synthetic:
        credits.append("SYNTHETIC demo data made by demine: not real hazards")
    meta_tiles = {
        "name": "demine offline safety pack",
        "description": "Public layers: recorded hazards, unverified civilian reports, reference",
        "attribution": "; ".join(credits) or "demine",
        "version": pack_id,
        "vector_layers": [
            {"id": name, "fields": {}, "minzoom": 0, "maxzoom": max_zoom} for name in counts
        ],
        "synthetic": synthetic,
    }
    parent = out.resolve().parent
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=parent))
    try:
        say("cutting the tiles")
        n_tiles = write_tiles(
            tmp / TILES_FILE, layers, points, box, max_zoom, meta_tiles, jobs or default_jobs()
        )
        say("writing the lookup index")
        index = write_index(tmp, open_hazards, pack_id, block_deg)
        meta: dict[str, Any] = {
            "format": "demine-pack",
            "format_version": FORMAT,
            "id": pack_id,
            "created": created,
            "demine_version": demine.__version__,
            "store_digest": digest,
            "bbox": list(box),
            "region": None if reg is None else {"name": reg["name"], "name_en": reg["name_en"]},
            "synthetic": synthetic,
            "synthetic_notice": SYNTHETIC_NOTICE if synthetic else None,
            "credits": credits,
            "licence": {"regions": REGIONS_CREDIT} if reg is not None else {},
            "notice": NOTICE,
            "notice_uk": NOTICE_UK,
            "tiles": {
                "path": TILES_FILE,
                "format": "pmtiles",
                "tile_type": "mvt",
                "minzoom": 0,
                "maxzoom": max_zoom,
                "tiles": n_tiles,
                "bytes": (tmp / TILES_FILE).stat().st_size,
                "layers": counts,
            },
            "layers": counts,
            "lookup": {
                **index,
                "max_radius_m": max_radius_m,
                "covers": list(box),
                "danger_m": DANGER_M,
                "messages": {k: {"en": v[0], "uk": v[1]} for k, v in MESSAGES.items()},
                "hit_fields": list(HIT_FIELDS),
                "open_only": True,
            },
        }
        (tmp / "pack.json").write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2))
        # a pack is public by design (for a static host): readable by all, unlike the other
        # files demine writes (0600); mkdtemp made the directory 0700
        for p in tmp.rglob("*"):
            p.chmod(0o755 if p.is_dir() else 0o644)
        tmp.chmod(0o755)
        if out.exists():
            out.rmdir()  # empty (checked above)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return meta
