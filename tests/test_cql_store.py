"""Issue 12: CQL2 filters pushed into the store's SQL, on both backends."""

from __future__ import annotations

from typing import Any

import cql2
import pytest
import shapely

from demine.ids import uuid7
from demine.model.schema import Record
from demine.store.cql_sql import FilterError


def _hazard(name: str | None, lon: float, area: float | None, reported: str | None) -> Record:
    p: dict[str, Any] = {"hazard_type": "SHA", "status": "open"}
    if name is not None:
        p["name"] = name
    if area is not None:
        p["area_m2"] = area
    if reported is not None:
        p["reported_on"] = reported
    box = shapely.box(lon, 48.0, lon + 0.01, 48.01)
    return Record("hazards", uuid7(), p, shapely.MultiPolygon([box]))


@pytest.fixture
def names(store: Any) -> Any:
    rows = [
        _hazard("Berlin field", 37.0, 100.0, "2020-01-01"),
        _hazard("Be.lin field", 37.5, 200.0, "2021-06-01"),
        _hazard("Zürich wood", 38.0, None, None),
        _hazard(None, 179.99, 500.0, "2019-12-31"),
    ]
    store.upsert("hazards", rows, actor="t")

    def run(text: str) -> set[str | None]:
        tree = cql2.parse_text(text).to_json()
        got = {r.properties.get("name") for r in store.list("hazards", cql=tree)}
        assert store.count("hazards", cql=tree) == len(got)
        return got

    return run


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name LIKE 'Be_lin%'", {"Berlin field", "Be.lin field"}),
        ("name LIKE 'Be.lin%'", {"Be.lin field"}),
        ("NOT (area_m2 = 100 OR area_m2 = 200)", {None}),
        ("NOT name LIKE 'B%'", {"Zürich wood"}),
        ("ACCENTI(CASEI(name)) LIKE ACCENTI(CASEI('ZURICH%'))", {"Zürich wood"}),
        ("reported_on > DATE('2020-01-01')", {"Be.lin field"}),
        ("T_BEFORE(reported_on, DATE('2020-01-01'))", {None}),
        ("S_INTERSECTS(geom, BBOX(179, 47, -179, 49))", {None}),
        ("S_INTERSECTS(geom, BBOX(36.9, 47.9, 37.6, 48.1))", {"Berlin field", "Be.lin field"}),
        ("area_m2 * 2 > 300", {"Be.lin field", None}),
    ],
)
def test_filters_run_in_sql_on_both_backends(names: Any, text: str, expected: set[str]) -> None:
    assert names(text) == expected


def test_an_unknown_property_is_named(names: Any) -> None:
    with pytest.raises(FilterError, match="'nope'"):
        names("nope = 1")
