"""Round trip: import, export to GeoJSON, import into a fresh store: identical records."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demine.model.devices import CATEGORIES
from demine.services.register import ImportOptions, export_file, import_file
from demine.services.setup import init_store
from demine.store.gpkg import GeoPackageStore

lon = st.floats(22.0, 40.0, allow_nan=False)
lat = st.floats(44.0, 52.0, allow_nan=False)
text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)
dates = st.dates(
    min_value=__import__("datetime").date(2014, 1, 1),
    max_value=__import__("datetime").date(2025, 12, 31),
)


@st.composite
def star_polygon(draw: Any, centre: tuple[float, float] | None = None) -> list[list[list[float]]]:
    """A simple (valid) polygon: vertices at increasing angles around a centre."""
    cx, cy = centre if centre is not None else (draw(lon), draw(lat))
    n = draw(st.integers(3, 30))
    radii = draw(st.lists(st.floats(0.0005, 0.02), min_size=n, max_size=n))
    jitter = draw(st.lists(st.floats(0.05, 0.95), min_size=n, max_size=n))
    ring = []
    for i, (r, j) in enumerate(zip(radii, jitter, strict=True)):
        a = 2 * math.pi * (i + j) / n
        ring.append([cx + r * math.cos(a), cy + r * math.sin(a)])
    ring.append(ring[0])
    return [ring]


@st.composite
def hazard(draw: Any, i: int) -> dict[str, Any]:
    props: dict[str, Any] = {
        "hazard_type": draw(st.sampled_from(["SHA", "CHA"])),
        "name": draw(text),
    }
    status = draw(st.sampled_from(["open", "closed"]))
    props["status"] = status
    reported = draw(dates)
    props["reported_on"] = reported.isoformat()
    if status == "closed":
        props["closed_on"] = draw(
            st.dates(min_value=reported, max_value=__import__("datetime").date(2026, 1, 1))
        ).isoformat()
    if draw(st.booleans()):
        props["device_categories"] = ",".join(
            draw(st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=3, unique=True))
        )
    if draw(st.booleans()):
        props["organisation"] = draw(text)
    if draw(st.booleans()):
        props["reference"] = draw(text)
    if draw(st.booleans()):
        props["local_note"] = draw(text)  # an unknown field: kept as extra
    geom: dict[str, Any]
    if draw(st.booleans()):
        geom = {"type": "Polygon", "coordinates": draw(star_polygon())}
    else:
        # parts 0.05° apart, each at most 0.02° from its centre: they never overlap
        x0, y0 = draw(lon), draw(lat)
        n = draw(st.integers(1, 3))
        parts = [draw(star_polygon((x0 + 0.05 * k, y0))) for k in range(n)]
        geom = {"type": "MultiPolygon", "coordinates": parts}
    return {"type": "Feature", "id": f"h-{i}", "properties": props, "geometry": geom}


@st.composite
def find(draw: Any, i: int) -> dict[str, Any]:
    props: dict[str, Any] = {
        "device_type": draw(st.sampled_from(["apii-limit", "uxo", "at-persistent"])),
        "state": draw(
            st.sampled_from(["live", "self_destructed_remnant", "deactivated_intact", "unknown"])
        ),
        "found_at": draw(
            st.datetimes(
                min_value=__import__("datetime").datetime(2015, 1, 1),
                max_value=__import__("datetime").datetime(2025, 1, 1),
            )
        ).isoformat()
        + "Z",
    }
    if draw(st.booleans()):
        props["depth_cm"] = draw(st.floats(0, 500, allow_nan=False))
    return {
        "type": "Feature",
        "id": f"f-{i}",
        "properties": props,
        "geometry": {"type": "Point", "coordinates": [draw(lon), draw(lat)]},
    }


def _features(strategy: Any) -> Any:
    return st.integers(1, 6).flatmap(lambda n: st.tuples(*[strategy(i) for i in range(n)]))


def _snapshot(store: GeoPackageStore, kind: str) -> dict[str, Any]:
    return {
        r.id: (r.source_id, r.properties, r.extra, shapely.to_wkb(r.geometry))
        for r in store.list(kind)
    }


def _round_trip(kind: str, feats: tuple[dict[str, Any], ...]) -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        src = tmp / "in.geojson"
        src.write_text(json.dumps({"type": "FeatureCollection", "features": list(feats)}))
        a = GeoPackageStore(tmp / "a.gpkg")
        init_store(a)
        rep = import_file(a, src, ImportOptions(kind=kind))
        assert rep.created == len(feats)
        out = tmp / "out.geojson"
        export_file(a, kind, out)
        b = GeoPackageStore(tmp / "b.gpkg")
        init_store(b)
        import_file(b, out, ImportOptions(kind=kind))
        sa, sb = _snapshot(a, kind), _snapshot(b, kind)
        assert sa == sb
        assert len(sa) == len(feats)
        a.close()
        b.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_features(hazard))
def test_hazards_round_trip(feats: tuple[dict[str, Any], ...]) -> None:
    _round_trip("hazards", feats)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_features(find))
def test_finds_round_trip(feats: tuple[dict[str, Any], ...]) -> None:
    _round_trip("finds", feats)
