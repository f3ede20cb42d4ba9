"""``demine publish DIR``: the offline safety pack (docs/publish.md), on both backends: pack.json,
the PMTiles archive (read back with the Python pmtiles reader, tiles decoded) holding the public
layers only, the lookup index, --region and --bbox, and bad input refused with nothing written."""

from __future__ import annotations

import gzip
import json
import math
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import pack_data
from demine.cli.app import app as cli_app

BBOX_ARG = ",".join(str(v) for v in pack_data.BBOX)


@pytest.fixture
def world(store: Any) -> pack_data.PackWorld:
    return pack_data.build(store)


def publish(location: str, out: Path, *args: str) -> Any:
    r = CliRunner().invoke(cli_app, ["--db", location, "publish", str(out), *args, "--json"])
    return r


def tiles_of(pack: Path) -> dict[tuple[int, int, int], dict[str, Any]]:
    """Every tile of the pack's archive, decoded (gunzipped, then MVT)."""
    from pmtiles.reader import MmapSource, Reader, all_tiles

    out = {}
    with (pack / "hazards.pmtiles").open("rb") as fh:
        for (z, x, y), data in all_tiles(MmapSource(fh)):
            raw = gzip.decompress(data)
            out[(z, x, y)] = mapbox_vector_tile.decode(raw) if raw else {}
        header = Reader(MmapSource(fh)).header()
        assert header["tile_type"].name == "MVT" and header["tile_compression"].name == "GZIP"
    return out


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def test_the_pack_holds_the_public_layers_only(world: pack_data.PackWorld, tmp_path: Path) -> None:
    from demine.services.safety import MESSAGES, NOTICE, NOTICE_UK

    out = tmp_path / "pack"
    r = publish(world.location, out, "--bbox", BBOX_ARG, "--max-zoom", "14")
    assert r.exit_code == 0, r.output
    meta = json.loads((out / "pack.json").read_text())
    assert json.loads(r.stdout)["id"] == meta["id"]
    # what it is
    assert meta["format"] == "demine-pack" and meta["format_version"] == 1
    created = datetime.strptime(meta["created"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - created).total_seconds()) < 300
    import demine

    assert meta["demine_version"] == demine.__version__
    assert re.fullmatch(r"[0-9a-f]{64}", meta["store_digest"])
    assert meta["id"] == meta["store_digest"][:16]
    assert meta["bbox"] == list(pack_data.BBOX)
    assert meta["synthetic"] is False and meta["synthetic_notice"] is None
    assert (meta["notice"], meta["notice_uk"]) == (NOTICE, NOTICE_UK)
    assert meta["lookup"]["messages"]["inside"] == {
        "en": MESSAGES["inside"][0],
        "uk": MESSAGES["inside"][1],
    }
    every = len(world.open_ids) + len(world.closed_ids)
    assert (out.stat().st_mode & 0o777, (out / "pack.json").stat().st_mode & 0o777) == (
        0o755,
        0o644,
    )  # public by design, for a static host
    assert meta["layers"] == {
        "hazards": every,
        "settlements": 8,
        "roads": 3,
        "unverified_reports": 1,
    }
    # the lookup index: every open hazard (the one just outside the area too: it is within
    # the lookup radius of the edge), no closed one, coordinates exactly as stored
    index = {}
    for f in (out / "index").iterdir():
        body = json.loads(f.read_text())
        assert body["pack"] == meta["id"]
        assert f.name == f"{body['block'][0]}_{body['block'][1]}.json"
        for h in body["hazards"]:
            index[h["id"]] = h
    assert set(index) == world.open_ids and world.outside_id in index
    assert meta["lookup"]["hazards"] == len(world.open_ids)
    stored = {h["id"]: h for h in world.hazards}
    for hid, h in index.items():
        assert _flat(h["g"]) == _flat(stored[hid]["geometry"])  # bit for bit
        assert set(h["p"]) == {"name", "reference", "hazard_type", "status", "device_categories"}
    # the tiles: public properties only, no restricted field, no reporter's contact
    tiles = tiles_of(out)
    assert {z for z, _, _ in tiles} == set(range(15))
    raw = json.dumps(list(tiles.values()), default=str, ensure_ascii=False)
    assert pack_data.SECRET not in raw and "handed_over_to" not in raw
    assert pack_data.CONTACT not in raw and "well" not in raw
    seen_hazards: set[str] = set()
    for t in tiles.values():
        for f in t.get("hazards", {}).get("features", []):
            if "id" in f["properties"]:
                seen_hazards.add(f["properties"]["id"])
    assert world.open_ids | world.closed_ids <= seen_hazards
    # the same features and properties as an anonymous caller of /tiles gets
    from demine.api import create_app

    client = TestClient(create_app(world.location))
    some = sorted(world.open_ids)[:5]
    for hid in some:
        g = next(h for h in world.hazards if h["id"] == hid)["geometry"]
        lon, lat = g["coordinates"][0][0] if g["type"] == "Polygon" else g["coordinates"][0][0][0]
        for z in (10, 14):
            x, y = tile_of(lon, lat, z)
            api = client.get(f"/tiles/hazards/{z}/{x}/{y}.mvt")
            assert api.status_code == 200
            want = mapbox_vector_tile.decode(api.content)["hazards"]["features"]
            got = tiles[(z, x, y)]["hazards"]["features"]
            assert sorted(json.dumps(f["properties"], sort_keys=True) for f in got) == sorted(
                json.dumps(f["properties"], sort_keys=True) for f in want
            )
    # the unverified reports: what GET /api/v1/public/reports/unverified gives
    lat, lon = pack_data.REPORT_PLACE
    b = f"{lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}"
    public = client.get("/api/v1/public/reports/unverified", params={"bbox": b}).json()
    assert len(public["features"]) == 1
    x, y = tile_of(lon, lat, 14)
    (rep,) = tiles[(14, x, y)]["unverified_reports"]["features"]
    assert rep["properties"] == public["features"][0]["properties"]
    # the reference layers
    assert any("settlements" in t for t in tiles.values())
    assert any("roads" in t for t in tiles.values())


def test_region_and_bbox_limit_the_pack(world: pack_data.PackWorld, tmp_path: Path) -> None:
    from demine.services.publish import find_region

    donetsk = find_region("Donetsk")
    for name in ("Донецька область", "donetsk oblast", "ДОНЕЦЬКА"):
        assert find_region(name)["name"] == donetsk["name"] == "Донецька область"
    out = tmp_path / "donetsk"
    r = publish(world.location, out, "--region", "Donetsk Oblast", "--max-zoom", "6")
    assert r.exit_code == 0, r.output
    meta = json.loads((out / "pack.json").read_text())
    assert meta["region"] == {"name": "Донецька область", "name_en": "Donetsk Oblast"}
    assert meta["bbox"] == pytest.approx(list(donetsk["bbox"]))
    assert meta["layers"]["hazards"] == len(world.hazards)
    assert "CC BY 4.0" in meta["licence"]["regions"] and meta["credits"]
    # a region with none of the store's hazards: an empty pack, said so
    out = tmp_path / "lviv"
    r = publish(world.location, out, "--region", "Lviv", "--max-zoom", "4")
    assert r.exit_code == 0, r.output
    meta = json.loads((out / "pack.json").read_text())
    assert meta["layers"]["hazards"] == 0 and meta["lookup"]["hazards"] == 0
    assert not list((out / "index").iterdir())
    # a box over the western half, with a lookup radius of 100 m: the hazards of the eastern
    # half beyond 100 m of it are left out
    w, s, e, n = pack_data.BBOX
    mid = (w + e) / 2
    out = tmp_path / "west"
    r = publish(
        world.location,
        out,
        "--bbox",
        f"{w},{s},{mid},{n}",
        "--max-radius",
        "100",
        "--max-zoom",
        "6",
        "--block-deg",
        "0.05",
    )
    assert r.exit_code == 0, r.output
    meta = json.loads((out / "pack.json").read_text())
    ids = {h["id"] for f in (out / "index").iterdir() for h in json.loads(f.read_text())["hazards"]}
    for h in world.hazards:
        if h["id"] not in world.open_ids:
            continue
        xs = [c[0] for c in _coords(h["geometry"])]
        if max(xs) < mid - 0.01:
            assert h["id"] in ids
        if min(xs) > mid + 0.01:  # more than 700 m east of the box
            assert h["id"] not in ids
    assert meta["lookup"]["max_radius_m"] == 100.0 and meta["lookup"]["covers"] == [w, s, mid, n]
    assert meta["lookup"]["block_deg"] == 0.05


def _flat(g: dict[str, Any]) -> list[float]:
    import shapely

    return shapely.get_coordinates(shapely.geometry.shape(g)).ravel().tolist()


def _coords(g: dict[str, Any]) -> list[list[float]]:
    if g["type"] == "Polygon":
        return [c for ring in g["coordinates"] for c in ring]
    return [c for poly in g["coordinates"] for ring in poly for c in ring]


def test_tiles_cut_in_several_processes_are_the_same(
    world: pack_data.PackWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The national pack is cut by one process per core: the archive is the one a single
    process writes, byte for byte (the tiles sorted by id whatever order they were cut in)."""
    from demine.services import pack_tiles

    monkeypatch.setattr(pack_tiles, "PARALLEL_MIN_TILES", 1)  # a pool even for this small pack
    one, two = tmp_path / "one", tmp_path / "two"
    for out, jobs in ((one, "1"), (two, "2")):
        r = publish(world.location, out, "--bbox", BBOX_ARG, "--max-zoom", "12", "--jobs", jobs)
        assert r.exit_code == 0, r.output
    a, b = (one / "hazards.pmtiles").read_bytes(), (two / "hazards.pmtiles").read_bytes()
    assert len(tiles_of(one)) > 20 and a == b


@pytest.mark.parametrize(
    ("args", "field", "words"),
    [
        (["--bbox", "37,48,38"], "--bbox", "expected W,S,E,N (4 numbers), got 3"),
        (["--bbox", "37,48,x,49"], "--bbox", "east 'x' is not a number"),
        (["--bbox", "38,48,37,49"], "--bbox", "west 38 must be less than east 37"),
        (["--bbox", "37,48,38,95"], "--bbox", "north 95 is outside -90..90"),
        (["--region", "Atlantis"], "--region", "no packaged region is called 'Atlantis'"),
        (["--region", "Lviv", "--bbox", "37,48,38,49"], "--region/--bbox", "not both"),
        (["--bbox", "37,48,38,49", "--max-zoom", "20"], "--max-zoom", "20 is outside 0..16"),
        (["--bbox", "37,48,38,49", "--max-radius", "0"], "--max-radius", "outside 0..100000"),
        (["--bbox", "37,48,38,49", "--block-deg", "5"], "--block-deg", "outside 0.001..1"),
        (["--bbox", "37,48,38,49", "--jobs", "0"], "--jobs", "0 is outside 1..64"),
    ],
)
def test_bad_input_is_named_and_nothing_is_written(
    gpkg_store: Any, tmp_path: Path, args: list[str], field: str, words: str
) -> None:
    location = gpkg_store.location
    gpkg_store.close()
    out = tmp_path / "pack"
    r = publish(location, out, *args)
    assert r.exit_code == 1, r.output
    problem = json.loads(r.stdout)["error"]
    assert any(f["field"] == field and words in f["reason"] for f in problem["errors"]), problem
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [] or all(p.suffix == ".gpkg" for p in tmp_path.iterdir())


def test_dir_must_be_new_or_empty_and_its_parent_must_exist(
    world: pack_data.PackWorld, tmp_path: Path
) -> None:
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    r = publish(world.location, full, "--bbox", BBOX_ARG, "--max-zoom", "2")
    assert r.exit_code == 4, r.output
    assert "is not empty" in json.loads(r.stdout)["error"]["detail"]
    assert [p.name for p in full.iterdir()] == ["keep.txt"]
    afile = tmp_path / "a-file"
    afile.write_text("x")
    r = publish(world.location, afile, "--bbox", BBOX_ARG)
    assert r.exit_code == 4 and "is not a directory" in r.stdout
    r = publish(world.location, tmp_path / "no" / "such" / "pack", "--bbox", BBOX_ARG)
    assert r.exit_code == 1 and "does not exist" in r.stdout and '"DIR"' in r.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    r = publish(world.location, empty, "--bbox", BBOX_ARG, "--max-zoom", "2")
    assert r.exit_code == 0, r.output
    assert (empty / "pack.json").exists()


def test_an_interrupted_publish_leaves_nothing(world: pack_data.PackWorld, tmp_path: Path) -> None:
    """Stopped after the tiles are written (as Ctrl-C would stop it): no DIR, no partial one."""
    from demine.services.publish import publish as run
    from demine.store.open import open_store

    class Stop(Exception):
        pass

    def stop_at_index(step: str) -> None:
        if "index" in step:
            raise Stop(step)

    out = tmp_path / "pack"
    s = open_store(world.location)
    try:
        with pytest.raises(Stop):
            run(s, out, bbox=pack_data.BBOX, max_zoom=4, progress=stop_at_index)
    finally:
        s.close()
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if "pack" in p.name] == []
