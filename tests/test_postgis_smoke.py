"""PostGIS-specific checks beyond the shared contract suite (every test taking the `store`
fixture already runs on PostGIS): settings, users and tokens, and records read back exactly as
the GeoPackage store gives them. Needs DEMINE_TEST_PG (make test / .ci/run start a server);
without it they skip, which fails a strict run.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shapely

from demine.errors import NotFound
from demine.model.schema import Record
from demine.services.register import (
    ImportOptions,
    import_file,
)
from demine.services.setup import init_store
from demine.store.gpkg import GeoPackageStore


@pytest.fixture
def pg(pg_url: str) -> Iterator[Any]:
    """A PostGIS store in a schema of its own (see conftest: skipped, which fails the run in
    strict mode, when no server is configured)."""
    from demine.store.open import open_store

    s = open_store(pg_url)
    init_store(s)
    yield s
    s.close()


def test_init_and_catalogue(pg: Any) -> None:
    n = pg.count("device_types")
    assert n > 0
    again = init_store(pg)  # idempotent: the catalogue is unchanged
    assert again["device_types_created"] == 0 and again["device_types_updated"] == 0
    assert pg.count("device_types") == n
    pg.set_setting("area_of_interest", [36.0, 47.0, 38.0, 49.0])
    assert pg.setting("area_of_interest") == [36.0, 47.0, 38.0, 49.0]
    assert pg.setting("nothing") is None
    assert {k.name for k in pg.kinds()} >= {"hazards", "emplacements", "device_types"}
    pg.add_user("ann", "editor")
    pg.add_token("ann", "h1", "laptop")
    assert pg.users() == [("ann", "editor")]
    assert pg.token_user("h1") == ("ann", "editor")
    assert pg.revoke_tokens("ann") == 1
    assert pg.token_user("h1") is None
    with pytest.raises(NotFound):
        pg.add_token("bob", "h2")


def _poly(x: float, y: float) -> list[Any]:
    return [[[x, y], [x + 0.01, y], [x + 0.01, y + 0.01], [x, y + 0.01], [x, y]]]


def _files(tmp: Path) -> tuple[Path, Path]:
    hz = []
    for i in range(4):
        hz.append(
            {
                "type": "Feature",
                "id": f"src-{i}",
                "properties": {
                    "id": str(uuid.UUID(int=1000 + i)),
                    "hazard_type": "SHA" if i % 2 else "CHA",
                    "status": "open",
                    "name": f"H{i}",
                    "reported_on": f"2023-0{i + 1}-15",
                    "device_categories": "ap_blast,at" if i == 1 else None,
                    "local_code": f"K{i}",  # unknown: kept in extra
                },
                "geometry": {"type": "Polygon", "coordinates": _poly(37 + i * 0.02, 48)},
            }
        )
    em = []
    for i in range(3):
        em.append(
            {
                "type": "Feature",
                "id": str(uuid.UUID(int=2000 + i)),
                "properties": {
                    "device_type": "ap-blast-persistent",
                    "quantity": 10 + i,
                    "laid_at": [
                        "2024-05-01T08:30:00.123Z",
                        "2024-05-02T10:00:00+02:00",
                        "2024-05-03T00:00:00Z",
                    ][i],
                    "anti_handling": i == 1,
                    "length_m": 12.5 + i,
                    "extra_note": {"nested": [1, 2.5, "x"]},
                },
                "geometry": {"type": "Point", "coordinates": [37.001 + i * 0.01, 48.001]},
            }
        )
    fh, fe = tmp / "h.geojson", tmp / "e.geojson"
    fh.write_text(json.dumps({"type": "FeatureCollection", "features": hz}))
    fe.write_text(json.dumps({"type": "FeatureCollection", "features": em}))
    return fh, fe


def _same(a: list[Record], b: list[Record]) -> None:
    assert len(a) == len(b) and a
    for x, y in zip(a, b, strict=True):
        assert (x.id, x.source_id, x.properties, x.extra, x.revision) == (
            y.id,
            y.source_id,
            y.properties,
            y.extra,
            y.revision,
        )
        assert {k: type(v) for k, v in x.properties.items()} == {
            k: type(v) for k, v in y.properties.items()
        }
        assert shapely.to_wkb(x.geometry, flavor="iso") == shapely.to_wkb(y.geometry, flavor="iso")
        for t in (x.created_at, x.updated_at, y.created_at, y.updated_at):
            assert t is not None and t.endswith("Z")


def test_import_matches_the_geopackage_store(pg: Any, tmp_path: Path) -> None:
    gp = GeoPackageStore(tmp_path / "ref.gpkg")
    init_store(gp)
    fh, fe = _files(tmp_path)
    for s in (pg, gp):
        rep = import_file(s, fh, ImportOptions(kind="hazards"))
        assert rep.created == 4, rep.rejected
        rep = import_file(s, fe, ImportOptions(kind="emplacements"))
        assert rep.created == 3, rep.rejected
        again = import_file(s, fh, ImportOptions(kind="hazards"))
        assert (again.created, again.updated, again.unchanged) == (0, 0, 4)
    for kind in ("hazards", "emplacements", "device_types"):
        a, b = list(pg.list(kind)), list(gp.list(kind))
        if kind == "device_types":  # ids are made afresh by each init: compare by code
            a.sort(key=lambda r: r.properties["code"])
            b.sort(key=lambda r: r.properties["code"])
            for x, y in zip(a, b, strict=True):
                y.id = x.id
        _same(a, b)
    em = list(pg.list("emplacements"))
    assert em[0].properties["laid_at"] == "2024-05-01T08:30:00.123Z"
    assert em[1].properties["laid_at"] == "2024-05-02T08:00:00Z"
    assert em[1].properties["anti_handling"] is True and em[0].properties["anti_handling"] is False
    hz = list(pg.list("hazards"))
    assert hz[0].properties["reported_on"] == "2023-01-15"
    assert hz[1].extra == {"local_code": "K1"}
    h = pg.history(hz[0].id)
    hg = gp.history(hz[0].id)
    assert [r.state.properties for r in h] == [r.state.properties for r in hg]  # type: ignore[union-attr]

    # paging, bbox and envelopes
    assert [r.id for r in pg.list("hazards", limit=2, offset=1)] == [r.id for r in hz[1:3]]
    box = (37.015, 47.99, 37.035, 48.02)  # meets hazard 1 only
    assert [r.id for r in pg.list("hazards", bbox=box)] == [hz[1].id]
    assert [r.id for r in pg.list("hazards", bbox=box)] == [
        r.id for r in gp.list("hazards", bbox=box)
    ]
    ids, env = pg.envelopes("hazards", box)
    gids, genv = gp.envelopes("hazards", box)
    assert ids == gids == [hz[1].id]
    assert env.shape == (1, 4) and env[0].tolist() == pytest.approx(genv[0].tolist(), abs=1e-5)
    got = pg.get_many("hazards", [hz[2].id, hz[0].id, "nope"])
    assert [r.id for r in got] == [hz[0].id, hz[2].id]
    gp.close()
