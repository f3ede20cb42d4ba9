"""Issue 12: a request's CQL2 filter as a checked CQL2-JSON tree (cql2 package)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from demine.api.ogc_cql import FilterError
from demine.api.ogc_cql_tree import MAX_NESTING, filter_tree, nesting
from demine.model.kinds import Kind, get_kind


def _kind(name: str) -> Kind:
    return get_kind(name)


def test_deep_brackets_are_refused_before_the_parser_can_crash() -> None:
    deep = "(" * 4000 + "name = 'x'" + ")" * 4000
    with pytest.raises(FilterError, match="nested too deeply"):
        filter_tree(deep[:8000], "cql2-text", _kind("hazards"), "public")
    # what the bound prevents: the parser itself dies on such a text (a segmentation fault,
    # which would take a server worker down), shown in a throwaway process
    crash = subprocess.run(
        [sys.executable, "-c", f"import cql2; cql2.parse_text({deep!r})"],
        capture_output=True,
        timeout=60,
    )
    assert crash.returncode != 0


def test_nesting_ignores_brackets_in_strings() -> None:
    assert nesting("name = '((((' AND (a = 1)") == 1
    assert nesting('{"op": "=", "args": [{"property": "a"}, 1]}') == 3
    assert nesting("(" * (MAX_NESTING + 1)) == MAX_NESTING + 1


def test_a_field_the_role_may_not_read_is_refused_and_named() -> None:
    k = _kind("accidents")
    assert filter_tree("investigation = 'x'", "cql2-text", k, "analyst")
    with pytest.raises(FilterError, match="'investigation' is not a queryable of accidents"):
        filter_tree("investigation = 'x'", "cql2-text", k, "public")
    with pytest.raises(FilterError, match="'investigation'"):  # hidden deep in the tree too
        filter_tree(
            "NOT (date > DATE('2020-01-01') OR CASEI(investigation) = 'x')",
            "cql2-text",
            k,
            "public",
        )


def test_parse_errors_say_where() -> None:
    with pytest.raises(FilterError, match="cannot read the cql2-text filter") as e:
        filter_tree("name = ", "cql2-text", _kind("hazards"), "public")
    assert "1:8" in str(e.value)
    with pytest.raises(FilterError, match="cql2-json"):
        filter_tree("{", "cql2-json", _kind("hazards"), "public")


def test_geometries_come_to_crs84() -> None:
    t: Any = filter_tree(
        "S_INTERSECTS(geom, POINT(48 37))",
        "cql2-text",
        _kind("hazards"),
        "public",
        "http://www.opengis.net/def/crs/EPSG/0/4326",
    )
    assert t["args"][1]["coordinates"] == [37.0, 48.0]
    b: Any = filter_tree(
        "S_INTERSECTS(geom, BBOX(48, 37, 49, 38))",
        "cql2-text",
        _kind("hazards"),
        "public",
        "http://www.opengis.net/def/crs/EPSG/0/4326",
    )
    assert b["args"][1]["bbox"] == [37.0, 48.0, 38.0, 49.0]


def test_the_tree_runs_in_the_store(store: Any) -> None:
    import shapely

    from demine.ids import uuid7
    from demine.model.schema import Record

    box = shapely.MultiPolygon([shapely.box(37.0, 48.0, 37.01, 48.01)])
    store.upsert(
        "hazards",
        [
            Record("hazards", uuid7(), {"hazard_type": "SHA", "status": "open", "name": n}, box)
            for n in ("Berlin", "Be.lin", "berlin")
        ],
        actor="t",
    )
    tree = filter_tree("name LIKE 'Be.lin'", "cql2-text", _kind("hazards"), "public")
    assert [r.properties["name"] for r in store.list("hazards", cql=tree)] == ["Be.lin"]
