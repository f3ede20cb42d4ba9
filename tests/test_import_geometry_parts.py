"""A large import checks its geometries on two threads, each with half the features
(services/import_geometry.py): the results must be those of one thread checking all.

Checked on every geometry of both GeoJSON fixture sets (valid, invalid, repairable, foreign
members, 3D, collections, nulls), cut at many places, then through the import on both
backends with the split forced on a small file.
"""

from __future__ import annotations

import pathlib
from typing import Any

import orjson
import pytest
import shapely

from demine.errors import ValidationError
from demine.io.geojson import read_geojson
from demine.services import import_geometry
from demine.services.import_check import read_and_check
from demine.services.register import ImportOptions, import_file

ROOT = pathlib.Path(__file__).parent / "data" / "geojson-fixtures"


def _fixture_geometries() -> list[Any]:
    """Every geometry object (or null) in the fixture files that parse as JSON objects."""
    out: list[Any] = []
    for path in sorted(ROOT.glob("*/*/*.geojson")):
        try:
            root = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError:
            continue
        if not isinstance(root, dict):
            continue
        if root.get("type") == "FeatureCollection" and isinstance(root.get("features"), list):
            out += [f.get("geometry") for f in root["features"] if isinstance(f, dict)]
        elif root.get("type") == "Feature":
            out.append(root.get("geometry"))
        else:
            out.append(root)
    return out


def _messy_file(tmp_path: pathlib.Path, repeat: int = 3) -> pathlib.Path:
    """Hazards with good properties and every fixture geometry, plus Ukraine-sized polygons
    (some with a vertex jump, some 3D, some unclosed), ``repeat`` times over."""
    geoms = _fixture_geometries()
    for i in range(40):
        x, y = 30.0 + i * 0.01, 48.0 + i * 0.005
        ring = [[x, y], [x + 0.002, y], [x + 0.002, y + 0.002], [x, y + 0.002]]
        if i % 4 != 3:
            ring.append(ring[0])  # every fourth one unclosed (repairable)
        if i % 5 == 0:
            ring = [[*p, 120.5] for p in ring]  # 3D
        if i % 7 == 0:
            ring.insert(2, [x + 0.9, y + 0.001])  # a vertex jump of about 65 km
        geoms.append({"type": "Polygon", "coordinates": [ring]})
    feats = []
    for r in range(repeat):
        for i, g in enumerate(geoms):
            feats.append(
                {
                    "type": "Feature",
                    "id": f"h-{r}-{i}",
                    "properties": {
                        "hazard_type": "SHA" if i % 2 else "CHA",
                        "status": "open",
                        "name": f"SYNTHETIC test hazard {r}-{i}",
                    },
                    "geometry": g,
                }
            )
    path = tmp_path / "messy.geojson"
    path.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": feats}))
    return path


def _same_checks(a: list[Any], b: list[Any]) -> None:
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        assert x.faults == y.faults, i
        assert x.warnings == y.warnings, i
        assert x.repairs == y.repairs, i
        if x.geometry is None or y.geometry is None:
            assert x.geometry is None and y.geometry is None, i
        else:
            assert shapely.to_wkb(x.geometry) == shapely.to_wkb(y.geometry), i


@pytest.mark.parametrize("repair", [False, True])
def test_checks_of_spans_are_the_checks_of_all(tmp_path: pathlib.Path, repair: bool) -> None:
    pf = read_geojson(_messy_file(tmp_path, repeat=1))
    n = len(pf.features)
    assert n > 100
    kw: dict[str, Any] = {"repair": repair, "max_jump_m": 5000.0}
    whole = pf.check_geometries(**kw)
    assert any(c.faults for c in whole) and any(c.geometry is not None for c in whole)
    assert any(c.repairs for c in whole) and any(c.warnings for c in whole)
    for cut in (0, 1, 2, n // 3, n // 2, n - 1, n):
        got = pf.check_geometries(span=(0, cut), **kw) + pf.check_geometries(span=(cut, n), **kw)
        _same_checks(whole, got)
    # three parts, and a part alone is the same part of the whole
    a, b = n // 4, (3 * n) // 4
    _same_checks(whole[a:b], pf.check_geometries(span=(a, b), **kw))


def test_flat_take_is_a_cut_of_the_arrays(tmp_path: pathlib.Path) -> None:
    pf = read_geojson(_messy_file(tmp_path, repeat=1))
    flat = pf.flat
    assert flat is not None
    n = len(pf.features)
    for a, b in ((0, n), (0, 0), (n, n), (3, n - 3), (n // 2, n)):
        part = flat.take(a, b)
        assert part.gtype == flat.gtype[a:b]
        assert list(part.ok) == list(flat.ok[a:b])
        assert part.faults == flat.faults[a:b]
        assert len(part.path_geom) == sum(1 for g in flat.path_geom if a <= g < b)
        assert all(0 <= g < b - a for g in part.path_geom)
        assert len(part.xy) == int(part.path_len.sum())
        for p in range(len(part.path_geom)):  # each path's positions, where they were
            s, ln = int(part.path_start[p]), int(part.path_len[p])
            q = int(list(flat.path_geom).index(part.path_geom[p] + a)) + (
                p - list(part.path_geom).index(part.path_geom[p])
            )
            s0 = int(flat.path_start[q])
            assert (part.xy[s : s + ln] == flat.xy[s0 : s0 + ln]).all()


def _checked(path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, split: int) -> Any:
    monkeypatch.setattr(import_geometry, "SPLIT_FEATURES", split)
    return read_and_check(path, ImportOptions(kind="hazards", skip_invalid=True))


@pytest.mark.parametrize("repair", [False, True])
def test_import_checks_split_or_not_the_same(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, repair: bool
) -> None:
    path = _messy_file(tmp_path)
    opts = ImportOptions(kind="hazards", skip_invalid=True, repair=repair)
    monkeypatch.setattr(import_geometry, "SPLIT_FEATURES", 10**9)
    kind1, good1, rep1, faults1 = read_and_check(path, opts)
    monkeypatch.setattr(import_geometry, "SPLIT_FEATURES", 2)
    assert import_geometry.halves(len(orjson.loads(path.read_bytes())["features"]))[0][0] == 0
    kind2, good2, rep2, faults2 = read_and_check(path, opts)
    assert kind1 is kind2
    assert faults1 == faults2 and faults1
    assert rep1.warnings == rep2.warnings and rep1.repairs == rep2.repairs
    assert rep1.indexes == rep2.indexes and rep1.feature_ids == rep2.feature_ids
    assert len(good1) == len(good2) > 0
    for r1, r2 in zip(good1, good2, strict=True):
        assert r1.source_id == r2.source_id
        assert r1.properties == r2.properties  # area_m2 included
        assert shapely.to_wkb(r1.geometry) == shapely.to_wkb(r2.geometry)


def test_import_split_stores_what_one_thread_checks(
    store: Any, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both backends: the import (checks on two threads, accounts made ahead per half) stores
    each good hazard with the geometry and area one thread gives; a bad file stores nothing."""
    path = _messy_file(tmp_path, repeat=2)
    monkeypatch.setattr(import_geometry, "SPLIT_FEATURES", 10**9)
    _, good, _, _ = read_and_check(path, ImportOptions(kind="hazards", skip_invalid=True))
    monkeypatch.setattr(import_geometry, "SPLIT_FEATURES", 2)
    with pytest.raises(ValidationError):  # faults, without --skip-invalid: nothing stored
        import_file(store, path, ImportOptions(kind="hazards"))
    assert store.count("hazards") == 0
    rep = import_file(store, path, ImportOptions(kind="hazards", skip_invalid=True))
    assert rep.imported == len(good) == store.count("hazards")
    stored = {r.source_id: r for r in store.list("hazards", limit=10**6)}
    for r in good:
        s = stored[r.source_id]
        assert s.properties["area_m2"] == r.properties["area_m2"]
        assert shapely.equals_exact(s.geometry, r.geometry, tolerance=1e-9)
    # the derived land-release accounts (made ahead, per half) are those of a recomputation
    acc = store.derived_accounts()
    if acc is not None:
        for r in good:
            a = acc[stored[r.source_id].id]
            assert a.released_m2 == 0.0
            assert a.remaining_m2 == pytest.approx(r.properties["area_m2"], abs=0.01)
