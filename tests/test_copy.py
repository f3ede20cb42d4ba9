"""`demine copy`: GeoPackage -> PostGIS -> GeoPackage gives identical records and histories."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import shapely
from typer.testing import CliRunner

from demine.cli.app import app
from demine.services.records import WriteContext
from demine.store.open import open_store

run = CliRunner().invoke


def _snapshot(store: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"kinds": sorted(k.name for k in store.kinds())}
    for k in store.kinds():
        out[k.name] = sorted(
            (
                r.id,
                r.source_id,
                json.dumps(r.properties, sort_keys=True),
                json.dumps(r.extra, sort_keys=True),
                r.revision,
                r.created_at,
                r.updated_at,
                r.updated_by,
                None if r.geometry is None else shapely.to_wkb(r.geometry).hex(),
            )
            for r in store.list(k.name)
        )
    out["history"] = [
        (
            h.record_id,
            h.kind,
            h.revision,
            h.op,
            h.at,
            h.actor,
            h.reason,
            None
            if h.state is None
            else (
                json.dumps(h.state.properties, sort_keys=True),
                h.state.source_id,
                json.dumps(h.state.extra, sort_keys=True),
                None if h.state.geometry is None else shapely.to_wkb(h.state.geometry).hex(),
            ),
        )
        for h in store.revisions()
    ]
    out["users"] = store.users()
    out["tokens"] = store.tokens()
    out["settings"] = {k: v for k, v in store.settings().items() if k != "schema_version"}
    return out


def test_gpkg_to_postgis_and_back(tmp_path: Path, pg_url: str) -> None:
    from demine.demo import build_demo_store
    from demine.services.access import new_token
    from demine.services.register import delete_record, update_record

    src_path = tmp_path / "demo.gpkg"
    build_demo_store(src_path)  # synthetic demo: every kind, learned rates, history
    src = open_store(str(src_path))
    hz = list(src.list("hazards"))
    update_record(
        src, hz[0].id, {"name": "renamed"}, ctx=WriteContext(actor="olena", reason="survey")
    )
    delete_record(src, hz[1].id, ctx=WriteContext(actor="olena", reason="duplicate"))
    src.add_user("olena", "analyst")
    src.add_token("olena", new_token()[1], "laptop")
    from demine.services.register import ImportOptions, import_file

    regions = tmp_path / "r.geojson"
    regions.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "id": "r1",
                        "properties": {"name": "A", "pop": 12},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [[[37, 48], [38, 48], [38, 49], [37, 48]]],
                        },
                    }
                ],
            }
        )
    )
    import_file(src, regions, ImportOptions(kind="layer:regions"))
    before = _snapshot(src)
    src.close()

    r = run(app, ["copy", str(src_path), pg_url, "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["records"]["hazards"] == len(hz) - 1 and "regions" in info["layers"]
    assert {"settlements", "roads", "schools", "farmland"} <= set(info["layers"])
    back = tmp_path / "back.gpkg"
    r = run(app, ["copy", pg_url, str(back), "--json"])
    assert r.exit_code == 0, r.output

    pg = open_store(pg_url)
    assert _snapshot(pg) == before
    pg.close()
    again = open_store(str(back))
    assert _snapshot(again) == before
    # the deleted hazard can still be restored in the copy, from its copied history
    restored = again.restore(hz[1].id, 1, actor="t")
    assert restored.revision == 3
    again.close()
    # copying into a store that already holds records is refused
    r = run(app, ["copy", str(src_path), str(back)])
    assert r.exit_code == 4 and "empty store" in r.output
