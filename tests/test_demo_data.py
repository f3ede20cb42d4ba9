"""The synthetic demo generator: reproducible, valid records, coherent geometry and dates."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

import pytest
import shapely
from pyproj import Geod
from shapely.geometry import shape

from demine.demo.data import DEMO_ORGANISATIONS, EAST_REGIONS, build_demo
from demine.io.regions import load_regions
from demine.model.devices import CATALOGUE, Persistence, device_type
from demine.model.kinds import KINDS
from demine.model.schema import validate_properties
from demine.model.synthetic import SYNTHETIC_NOTICE, SYNTHETIC_NOTICE_UK

TODAY = date(2025, 11, 1)  # a fixed anchor: the tests do not depend on the day they run
SEEDS = (7, 11)
KIND_NAMES = ("hazards", "emplacements", "finds", "eo_reports")
EXTRA_KEYS = {"hazard_source_id", "emplacement_source_id", "synthetic"}
GEOD = Geod(ellps="WGS84")

Demo = dict[str, list[dict[str, Any]]]


@cache
def demo(seed: int = 7) -> Demo:
    return build_demo(seed, today=TODAY)


@cache
def region_shapes() -> dict[str, Any]:
    return {f["properties"]["region"]: shape(f["geometry"]) for f in load_regions()}


def ts(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def by_id(features: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in features}


def end_of_today() -> datetime:
    return datetime.combine(TODAY, datetime.max.time(), tzinfo=UTC)


# --- the regions file -------------------------------------------------------------------------


def test_regions_are_packaged_valid_and_credited() -> None:
    regions = load_regions()
    assert len(regions) == 26
    for f in regions:
        assert f["type"] == "Feature"
        g = shape(f["geometry"])
        assert g.is_valid, f["properties"]["region"]
        x0, y0, x1, y1 = g.bounds
        assert 22 < x0 < x1 < 41 and 44 < y0 < y1 < 53  # CRS84, Ukraine
    assert set(EAST_REGIONS) <= set(region_shapes())
    notice = resources.files("demine").joinpath("data/NOTICE.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in notice and "creativecommons.org/licenses/by/4.0" in notice
    assert "slawomirmatuszak/ukrainian_geodata" in notice and "811239e" in notice


def test_load_regions_returns_a_fresh_copy() -> None:
    a = load_regions()
    a[0]["properties"]["region"] = "changed"
    assert load_regions()[0]["properties"]["region"] != "changed"


# --- reproducibility and shape of the result --------------------------------------------------


def test_same_seed_same_demo_other_seed_other_demo() -> None:
    assert build_demo(7, today=TODAY) == build_demo(7, today=TODAY)
    assert build_demo(8, today=TODAY)["hazards"] != demo(7)["hazards"]


def test_every_kind_is_non_empty_with_requested_sizes() -> None:
    d = build_demo(3, n_hazards=25, n_reports=12, today=TODAY)
    assert list(d) == list(KIND_NAMES)
    assert len(d["hazards"]) == 25 and len(d["eo_reports"]) == 12
    assert d["emplacements"] and d["finds"]
    assert len(demo()["hazards"]) == 60 and len(demo()["eo_reports"]) == 30


def test_empty_and_negative_sizes() -> None:
    d = build_demo(1, n_hazards=0, n_reports=0, today=TODAY)
    assert d == {k: [] for k in KIND_NAMES}
    with pytest.raises(ValueError):
        build_demo(1, n_hazards=-1)


@pytest.mark.parametrize("seed", SEEDS)
def test_features_are_geojson_with_unique_stable_ids(seed: int) -> None:
    d = demo(seed)
    pattern = {
        "hazards": r"demo-h-\d{3}",
        "emplacements": r"demo-e-\d{3}-\d",
        "finds": r"demo-f-\d{3}-\d{2,3}",
        "eo_reports": r"demo-r-\d{3}",
    }
    ids: list[str] = []
    for kind in KIND_NAMES:
        for f in d[kind]:
            assert set(f) == {"type", "id", "properties", "geometry"}
            assert f["type"] == "Feature"
            assert re.fullmatch(pattern[kind], f["id"]), f["id"]
            assert f["geometry"]["type"] in KINDS[kind].allowed_geometries  # type: ignore[operator]
            ids.append(f["id"])
    assert len(ids) == len(set(ids))


# --- validation against the record kinds ------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", KIND_NAMES)
def test_every_record_validates_against_its_kind(seed: int, kind: str) -> None:
    k = KINDS[kind]
    for f in demo(seed)[kind]:
        clean, extra, faults = validate_properties(
            k.fields, k.rules, f["properties"], feature_id=f["id"]
        )
        assert faults == [], [str(x) for x in faults]
        assert set(extra) <= EXTRA_KEYS
        assert extra["synthetic"] is True
        # values are already in canonical form: the importer stores them as they are
        assert clean == {n: v for n, v in f["properties"].items() if n not in EXTRA_KEYS}


def test_default_today_validates_against_the_real_clock() -> None:
    d = build_demo(5, n_hazards=20, n_reports=10)
    for kind in KIND_NAMES:
        k = KINDS[kind]
        for f in d[kind]:
            assert validate_properties(k.fields, k.rules, f["properties"])[2] == []


# --- labelled synthetic -----------------------------------------------------------------------


def test_every_record_says_it_is_synthetic() -> None:
    assert "SYNTHETIC" in SYNTHETIC_NOTICE and "СИНТЕТИЧНІ" in SYNTHETIC_NOTICE_UK
    d = demo()
    for kind in KIND_NAMES:
        for f in d[kind]:
            assert SYNTHETIC_NOTICE in f["properties"]["notes"]
            assert SYNTHETIC_NOTICE_UK in f["properties"]["notes"]
    for f in d["hazards"]:
        assert re.fullmatch(r"SYNTHETIC hazard \d{3}( \(cleared\))?", f["properties"]["name"])
        assert f["properties"]["organisation"] in DEMO_ORGANISATIONS
    for f in d["emplacements"]:
        assert f["properties"]["record_source"] == "SYNTHETIC demo record"
    for f in d["eo_reports"]:
        assert f["properties"]["description"].startswith("SYNTHETIC")
        n = int(f["id"].rsplit("-", 1)[1])
        assert f["properties"]["reporter_name"] == f"Demo Reporter {n}"
        assert f["properties"]["reporter_contact"] == f"+380 00 000 {n:04d}"


# --- hazards ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_hazard_polygons_are_simple_sized_and_inside_their_eastern_region(seed: int) -> None:
    regions = region_shapes()
    polys = []
    for f in demo(seed)["hazards"]:
        g = shape(f["geometry"])
        assert g.geom_type == "Polygon" and g.is_valid and g.is_simple and not g.interiors
        assert g.exterior.is_ccw
        assert 8 <= len(g.exterior.coords) - 1 <= 30
        area_ha = abs(GEOD.geometry_area_perimeter(g)[0]) / 10_000
        assert 0.5 <= area_ha <= 200
        region = f["properties"]["admin_area"]
        assert region in EAST_REGIONS
        assert regions[region].contains(g)
        assert all(lon > 30 for lon, _ in g.exterior.coords)
        polys.append(g)
    tree = shapely.STRtree(polys)
    pairs = tree.query(polys, predicate="intersects")
    assert (pairs[0] == pairs[1]).all(), "demo hazards overlap"


@pytest.mark.parametrize("seed", SEEDS)
def test_hazard_attributes_are_a_plausible_mix(seed: int) -> None:
    hz = [f["properties"] for f in demo(seed)["hazards"]]
    assert {p["hazard_type"] for p in hz} == {"SHA", "CHA"}
    statuses = [p["status"] for p in hz]
    assert set(statuses) == {"open", "closed"}
    assert statuses.count("open") > 0.7 * len(hz)
    for p in hz:
        assert (p["status"] == "closed") == ("closed_on" in p)
        assert 2022 <= date.fromisoformat(p["reported_on"]).year <= 2025
        assert date.fromisoformat(p["reported_on"]) <= TODAY
        assert p["device_categories"]
    assert len({p["admin_area"] for p in hz}) >= 4


def test_hazard_categories_cover_their_records_and_finds() -> None:
    d = demo()
    hazards = by_id(d["hazards"])
    for f in d["emplacements"] + d["finds"]:
        cats = hazards[f["properties"]["hazard_source_id"]]["properties"]["device_categories"]
        assert device_type(f["properties"]["device_type"]).category in cats.split(",")


# --- emplacement records ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_emplacements_lie_in_their_hazard_with_coherent_method_and_dates(seed: int) -> None:
    d = demo(seed)
    hazards = by_id(d["hazards"])
    per_hazard: dict[str, int] = {}
    persistence = set()
    for f in d["emplacements"]:
        p = f["properties"]
        hid = p["hazard_source_id"]
        per_hazard[hid] = per_hazard.get(hid, 0) + 1
        hz = shape(hazards[hid]["geometry"])
        assert hz.contains(shape(f["geometry"]))
        dev = device_type(p["device_type"])
        laid = ts(p["laid_at"])
        assert p["quantity_min"] <= p["quantity"] <= p["quantity_max"]
        if dev.persistence is Persistence.PERSISTENT:
            persistence.add("persistent")
            assert p["emplacing_method"] == "hand"
            assert date(2022, 1, 1) <= laid.date() <= date(2024, 12, 31)
            assert "self_destruct_days" not in p
        else:
            persistence.add("non-persistent")
            assert p["emplacing_method"] == "remote"
            if "(cleared)" in hazards[hid]["properties"]["name"]:  # the cleared field
                assert hazards[hid]["properties"]["status"] == "closed"
            else:
                assert 2 <= (TODAY - laid.date()).days <= 200
            assert p["self_destruct_days"] == dev.sd_days
        # the hazard was reported on or after its first laying
        assert hazards[hid]["properties"]["reported_on"] >= min(
            e["properties"]["laid_at"][:10]
            for e in d["emplacements"]
            if e["properties"]["hazard_source_id"] == hid
        )
    assert persistence == {"persistent", "non-persistent"}
    assert set(per_hazard.values()) <= {1, 2, 3}
    assert 0.3 * len(hazards) <= len(per_hazard) <= 0.7 * len(hazards)
    codes = {f["properties"]["device_type"] for f in d["emplacements"]}
    assert {"apii-limit", "ap-sd-only"} & codes and {"ap-blast-persistent", "at-persistent"} & codes


# --- finds ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_finds_lie_in_cha_hazards_after_laying_and_report(seed: int) -> None:
    d = demo(seed)
    hazards = by_id(d["hazards"])
    emplacements = by_id(d["emplacements"])
    for f in d["finds"]:
        p = f["properties"]
        h = hazards[p["hazard_source_id"]]
        hp = h["properties"]
        assert hp["hazard_type"] == "CHA"
        assert shape(h["geometry"]).contains(shape(f["geometry"]))
        found = ts(p["found_at"])
        assert found <= end_of_today()
        assert found.date().isoformat() >= hp["reported_on"]
        if "closed_on" in hp:
            assert found.date().isoformat() <= hp["closed_on"]
        if "emplacement_source_id" in p:
            e = emplacements[p["emplacement_source_id"]]
            assert e["properties"]["hazard_source_id"] == h["id"]
            assert e["properties"]["device_type"] == p["device_type"]
            assert found > ts(e["properties"]["laid_at"])
        assert p["depth_cm"] >= 0


@pytest.mark.parametrize("seed", SEEDS)
def test_find_states_follow_the_device_persistence(seed: int) -> None:
    d = demo(seed)
    emplacements = by_id(d["emplacements"])
    kinds_seen = set()
    for f in d["finds"]:
        p = f["properties"]
        dev = device_type(p["device_type"])
        persistent = dev.persistence is Persistence.PERSISTENT
        kinds_seen.add(persistent)
        if persistent:
            assert p["state"] in ("live", "unknown")
        if p["state"] in ("self_destructed_remnant", "deactivated_intact"):
            laid = ts(emplacements[p["emplacement_source_id"]]["properties"]["laid_at"])
            age = ts(p["found_at"]) - laid
            assert dev.sd_days is not None and age >= timedelta(days=dev.sd_days)
            if p["state"] == "deactivated_intact":
                assert dev.battery_days is not None and age >= timedelta(days=dev.battery_days)
    assert kinds_seen == {True, False}
    assert any(f["properties"]["state"] == "self_destructed_remnant" for f in d["finds"])


def test_catalogue_codes_only() -> None:
    codes = {d.code for d in CATALOGUE}
    for kind in ("emplacements", "finds"):
        assert {f["properties"]["device_type"] for f in demo()[kind]} <= codes


# --- EO reports -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_eo_reports_are_recent_points_in_the_east(seed: int) -> None:
    regions = region_shapes()
    east = shapely.union_all([regions[n] for n in EAST_REGIONS])
    reports = demo(seed)["eo_reports"]
    for f in reports:
        p = f["properties"]
        assert east.contains(shape(f["geometry"]))
        at = ts(p["reported_at"])
        assert TODAY - timedelta(days=366) <= at.date() <= TODAY
        assert p["status"] in ("new", "verified")
    public = [f["properties"]["public"] for f in reports]
    assert sum(public) > len(public) / 2
    assert {f["properties"]["status"] for f in reports} == {"new", "verified"}
