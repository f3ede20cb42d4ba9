"""Records others refer to cannot be deleted while referred to; restoring a closed state of a
hazard is a closure and follows the land-release rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from demine.errors import Conflict
from demine.services.records import WriteContext
from demine.services.register import (
    ImportOptions,
    delete_record,
    import_file,
    restore,
    update_record,
)

SQ = [[[37.0, 48.0], [37.002, 48.0], [37.002, 48.002], [37.0, 48.002], [37.0, 48.0]]]
HALF = [[[37.0, 48.0], [37.001, 48.0], [37.001, 48.002], [37.0, 48.002], [37.0, 48.0]]]


def _imp(store: Any, tmp: Path, kind: str, feats: list[dict[str, Any]]) -> list[str]:
    p = tmp / f"{kind}.geojson"
    p.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": feats}))
    return list(import_file(store, p, ImportOptions(kind=kind)).ids)


def _setup(store: Any, tmp: Path) -> tuple[str, str, str]:
    (hz,) = _imp(
        store,
        tmp,
        "hazards",
        [
            {
                "type": "Feature",
                "id": "H",
                "geometry": {"type": "Polygon", "coordinates": SQ},
                "properties": {"hazard_type": "CHA", "status": "open"},
            }
        ],
    )
    (act,) = _imp(
        store,
        tmp,
        "activities",
        [
            {
                "type": "Feature",
                "id": "A",
                "geometry": None,
                "properties": {
                    "hazard_source_id": "H",
                    "activity_type": "clearance",
                    "status": "ongoing",
                    "started_on": "2024-03-01",
                    "organisation": "Op",
                },
            }
        ],
    )
    (rel,) = _imp(
        store,
        tmp,
        "releases",
        [
            {
                "type": "Feature",
                "id": "R",
                "geometry": {"type": "Polygon", "coordinates": HALF},
                "properties": {
                    "activity_source_id": "A",
                    "release_type": "cleared",
                    "released_on": "2024-04-01",
                },
            }
        ],
    )
    return hz, act, rel


def test_no_delete_while_referred_to(store: Any, tmp_path: Path) -> None:
    hz, act, rel = _setup(store, tmp_path)
    with pytest.raises(Conflict, match="releases record"):
        delete_record(store, act)
    with pytest.raises(Conflict, match="activities record"):
        delete_record(store, hz)
    delete_record(store, rel)
    delete_record(store, act)
    delete_record(store, hz)
    assert not list(store.list("hazards"))


def test_restore_of_a_closed_state_follows_the_closure_rule(store: Any, tmp_path: Path) -> None:
    hz, act, rel = _setup(store, tmp_path)
    # a legacy edit history: the hazard was once imported closed (allowed for old records)
    path = tmp_path / "legacy.geojson"
    path.write_bytes(
        orjson.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "id": "H",
                        "geometry": {"type": "Polygon", "coordinates": SQ},
                        "properties": {
                            "hazard_type": "CHA",
                            "status": "closed",
                            "closed_on": "2024-05-01",
                        },
                    }
                ],
            }
        )
    )
    import_file(store, path, ImportOptions(kind="hazards"))
    closed_rev = store.get("hazards", hz).revision
    update_record(
        store, hz, {"status": "open", "closed_on": None}, ctx=WriteContext(reason="reopened")
    )
    # half the hazard remains and the activity is not completed: no closure by restore
    with pytest.raises(Conflict, match="cannot close now"):
        restore(store, hz, closed_rev)
    assert store.get("hazards", hz).properties["status"] == "open"
