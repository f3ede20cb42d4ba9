"""A file written by demine passes GDAL's GeoPackage validator, and GDAL (pyogrio) reads every
layer with the right feature count and attributes."""

from __future__ import annotations

from typing import Any

import pyogrio
import shapely

from demine.ids import uuid7
from demine.model.kinds import KINDS, layer_kind
from demine.model.schema import FieldSpec, FieldType, Record
from gpkg_check import assert_gdal_valid


def _fill(store: Any) -> dict[str, int]:
    hz = [
        Record(
            "hazards",
            uuid7(),
            {
                "hazard_type": "CHA",
                "status": "open",
                "name": f"H{i}",
                "area_m2": 1234.5,
                "reported_on": "2024-05-01",
                "device_categories": "ap_blast,at",
            },
            shapely.MultiPolygon([shapely.box(37 + i / 100, 48, 37.005 + i / 100, 48.005)]),
        )
        for i in range(7)
    ]
    store.upsert("hazards", hz, actor="t")
    em = [
        Record(
            "emplacements",
            uuid7(),
            {
                "device_type": "apii-limit",
                "quantity": 100,
                "laid_at": "2025-03-01T06:00:00Z",
                "anti_handling": False,
                "hazard_id": hz[0].id,
            },
            shapely.Point(37.001, 48.001),
        ),
        Record(
            "emplacements",
            uuid7(),
            {"device_type": "at-persistent", "quantity": 12, "laid_at": "2023-03-01T06:00:00.250Z"},
            shapely.Polygon([(37.0, 48.0), (37.002, 48.0), (37.002, 48.002)]),
        ),
    ]
    store.upsert("emplacements", em, actor="t")
    fi = [
        Record(
            "finds",
            uuid7(),
            {
                "device_type": "apii-limit",
                "state": "self_destructed_remnant",
                "found_at": "2025-06-01T10:00:00Z",
                "depth_cm": 2.5,
            },
            shapely.Point(37.0011, 48.0011),
        )
        for _ in range(3)
    ]
    store.upsert("finds", fi, actor="t")
    eo = [
        Record(
            "eo_reports",
            uuid7(),
            {
                "reported_at": "2025-07-01T10:00:00Z",
                "status": "new",
                "public": True,
                "reporter_contact": "+380 00 000 0000",
            },
            shapely.Point(37.2, 48.2),
        )
    ]
    store.upsert("eo_reports", eo, actor="t")
    roads = layer_kind(
        "roads",
        (FieldSpec("name", FieldType.TEXT), FieldSpec("lanes", FieldType.INTEGER)),
        "MULTILINESTRING",
    )
    store.create_layer(roads)
    store.upsert(
        "roads",
        [
            Record(
                "roads",
                uuid7(),
                {"name": "M-03", "lanes": 2},
                shapely.MultiLineString([[(37, 48), (37.5, 48.4)]]),
            )
        ],
        actor="t",
    )
    store.delete("finds", fi[0].id, actor="t")
    return {
        "hazards": 7,
        "emplacements": 2,
        "finds": 2,
        "eo_reports": 1,
        "roads": 1,
        "device_types": store.count("device_types"),
    }


def test_gdal_validator_reports_no_error(gpkg_store: Any) -> None:
    store = gpkg_store
    _fill(store)
    store.close()
    assert_gdal_valid(store.path)


def test_pyogrio_lists_every_layer_with_counts_and_attributes(gpkg_store: Any) -> None:
    store = gpkg_store
    counts = _fill(store)
    store.close()
    layers = dict(pyogrio.list_layers(store.path))
    for name, n in counts.items():
        assert name in layers, name
        info = pyogrio.read_info(store.path, layer=name)
        assert info["features"] == n, (name, info["features"], n)
        kind = KINDS.get(name)
        expected = ["id", "source_id", *(kind.field_names if kind else ("name", "lanes"))]
        assert list(info["fields"])[: len(expected)] == expected
    assert layers["hazards"] == "MultiPolygon"
    assert layers["finds"] == "Point"
    assert layers["roads"] == "MultiLineString"
    assert "demine_history" in layers
    # GDAL reads the values back as written, spatial index included
    from pyogrio.raw import read

    meta, _, wkb, data = read(store.path, layer="hazards", bbox=(37.0, 48.0, 37.018, 48.01))[:4]
    assert len(wkb) == 2  # H0 (37.000..37.005) and H1 (37.010..37.015)
    names = list(meta["fields"])
    assert set(data[names.index("hazard_type")]) == {"CHA"}
    meta2, _, _, data2 = read(store.path, layer="emplacements")[:4]
    q = data2[list(meta2["fields"]).index("quantity")]
    assert sorted(int(x) for x in q) == [12, 100]


def test_bulk_insert_keeps_the_spatial_index_and_its_trigger(gpkg_store: Any) -> None:
    store = gpkg_store
    import numpy as np

    from demine.store.gpkg import BULK_ROWS

    rng = np.random.default_rng(3)
    n = BULK_ROWS + 500
    xs, ys = rng.uniform(30, 40, n), rng.uniform(45, 52, n)
    recs = [
        Record(
            "hazards",
            uuid7(),
            {"hazard_type": "SHA", "status": "open"},
            shapely.MultiPolygon([shapely.box(x, y, x + 0.01, y + 0.01)]),
        )
        for x, y in zip(xs, ys, strict=True)
    ]
    store.upsert("hazards", recs, actor="bulk")
    conn = store.conn
    assert conn.execute("SELECT count(*) FROM rtree_hazards_geom").fetchone()[0] == n
    assert (
        conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'rtree_hazards_geom_insert'"
        ).fetchone()[0]
        == 1
    )
    bbox = (33.0, 47.0, 35.0, 49.0)
    got = {r.id for r in store.list("hazards", bbox=bbox)}
    want = {
        r.id
        for r, x, y in zip(recs, xs, ys, strict=True)
        if x <= 35.0 and x + 0.01 >= 33.0 and y <= 49.0 and y + 0.01 >= 47.0
    }
    assert got == want and len(want) > 10
    # later single inserts still go through the trigger
    one = Record(
        "hazards",
        uuid7(),
        {"hazard_type": "SHA", "status": "open"},
        shapely.MultiPolygon([shapely.box(10, 10, 10.1, 10.1)]),
    )
    store.upsert("hazards", [one], actor="t")
    assert [r.id for r in store.list("hazards", bbox=(10.05, 10.05, 10.06, 10.06))] == [one.id]
    store.close()
    assert_gdal_valid(store.path)


def test_geometry_blobs_follow_the_standard_layout() -> None:
    """OGC 12-128r17 §2.1.3: "GP", version 0, flags (little endian; envelope [minx, maxx,
    miny, maxy] except for points and empty geometries, which are flagged empty), the srs id,
    then ISO WKB. Written for a batch at once; each blob as the standard lays it out."""
    import struct

    from demine.store import gpkg_format as fmt

    geoms = [
        shapely.box(179.99, -1.0, 180.0, 1.0),
        None,
        shapely.Point(-180.0, 89.9),
        shapely.Polygon(),
        shapely.Point(),
        shapely.MultiPolygon([shapely.box(30, 48, 30.1, 48.1), shapely.box(31, 48, 31.1, 48.2)]),
        shapely.LineString([(36.0, 47.0), (36.5, 47.25)]),
        shapely.Polygon([(0, 0, 5), (1, 0, 5), (1, 1, 5), (0, 0, 5)]),  # Z is dropped
    ]
    blobs = fmt.encode(geoms)
    assert blobs[1] is None and fmt.encode([None]) == [None] and fmt.encode([]) == []
    for g, b in zip(geoms, blobs, strict=True):
        if g is None:
            continue
        assert b is not None and b[:3] == b"GP\x00"
        flags, srs = b[3], struct.unpack("<i", b[4:8])[0]
        assert srs == 4326
        wkb = shapely.to_wkb(g, byte_order=1, flavor="iso", output_dimension=2)
        if g.is_empty or g.geom_type == "Point":
            assert flags == (0x11 if g.is_empty else 0x01) and b[8:] == wkb
        else:
            x0, y0, x1, y1 = g.bounds
            assert flags == 0x03 and struct.unpack("<4d", b[8:40]) == (x0, x1, y0, y1)
            assert b[40:] == wkb
    back = fmt.decode(blobs)
    assert back[1] is None
    assert shapely.equals_identical(back[0], geoms[0]) and back[3].is_empty
