"""The demo: a SYNTHETIC dataset on Ukraine's regions, imported through the normal import path
(served by ``demine demo`` with the map and the APIs). Every demo generator lives in this
package: :mod:`demine.demo.data` (hazards, records, finds, reports; built with
:mod:`.hazards`, and :mod:`.sampling` for random places and times), :mod:`.casualties`
(accidents, victims, risk education), :mod:`.release` (survey, clearance, land release) and
:mod:`.impact` (the inputs of prioritisation). The notice they carry is the model's
(:mod:`demine.model.synthetic`)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import orjson

from demine.errors import DemineError
from demine.services.register import ImportOptions, import_file
from demine.services.setup import UKRAINE_BBOX, init_store
from demine.store.gpkg import GeoPackageStore

KIND_ORDER = ("hazards", "emplacements", "finds", "eo_reports")


def build_demo_store(path: Path, *, seed: int = 7) -> dict[str, Any]:
    """(Re)build the demo store at ``path``. Refuses to touch a store holding real data."""
    from demine.demo.data import build_demo
    from demine.model.synthetic import SYNTHETIC_NOTICE

    if path.exists():
        existing = GeoPackageStore(path)
        try:
            synthetic = existing.setting("synthetic")
        except DemineError:
            synthetic = None
        finally:
            existing.close()
        if not synthetic:
            raise DemineError(
                f"{path} exists and is not a demo store: the demo never writes synthetic data "
                "into a real store; choose another --db"
            )
        path.unlink()
    store = GeoPackageStore(path)
    init_store(store, area_of_interest=UKRAINE_BBOX)
    store.set_setting("synthetic", True)
    store.set_setting("synthetic_notice", SYNTHETIC_NOTICE)
    data = build_demo(seed)
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in KIND_ORDER:
            f = Path(tmp) / f"{kind}.geojson"
            f.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": data[kind]}))
            rep = import_file(
                store,
                f,
                ImportOptions(kind=kind, actor="demine demo", reason="SYNTHETIC demo data"),
            )
            counts[kind] = rep.imported
    # the administrative areas statistics are split by (`demine stats --by oblasts`): the
    # packaged regions (CC BY 4.0, see data/NOTICE.md); three of their outlines need repair
    regions = Path(__file__).resolve().parent.parent / "data" / "ukraine_regions.geojson"
    rep = import_file(
        store,
        regions,
        ImportOptions(
            kind="layer:oblasts",
            repair=True,
            actor="demine demo",
            reason="administrative areas (OPORA via ukrainian_geodata, CC BY 4.0)",
        ),
    )
    counts["layer:oblasts"] = rep.imported
    # the cleanup: survey and clearance with land release (a hazard closed, one handed over),
    # accidents and victims, risk education, and the inputs of prioritisation
    from demine.demo.casualties import demo_casualties
    from demine.demo.impact import demo_impact
    from demine.demo.release import demo_release

    cleanup = {
        "release": demo_release(store, seed),
        "casualties": demo_casualties(store, seed),
        "impact": demo_impact(store, path.parent, seed),
    }
    for kind in ("activities", "releases", "accidents", "victims", "eore_sessions"):
        counts[kind] = sum(1 for _ in store.list(kind))
    from demine.services.risk import learn

    learned = learn(store)  # finds in the closed demo hazards teach the failure rates
    # intake: two synthetic operators with submissions in every state (docs/intake.md)
    from demine.demo.intake import demo_intake

    intake = demo_intake(store, seed)
    store.close()
    return {
        "location": str(path),
        "counts": counts,
        "cleanup": cleanup,
        "intake": intake,
        "synthetic": True,
        "notice": SYNTHETIC_NOTICE,
        "learned": [x.to_dict() for x in learned],
    }
