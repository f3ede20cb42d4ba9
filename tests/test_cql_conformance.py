"""CQL2 1.0 conformance through the OGC API, on both backends: every requirement of every CQL2
class /ogc/conformance advertises has predicates with rows worked out by hand
(tests/cql_cases.py), each sent as cql2-text and as cql2-json to
``/ogc/collections/{id}/items``; and /ogc/conformance advertises exactly the classes covered."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cql2
import pytest
from fastapi.testclient import TestClient

from cql_cases import BAD, CASES, CONF, JSON_CASES, REQUIREMENTS, emplacements, hazards

PG_URL = os.environ.get("DEMINE_TEST_PG")
LABEL = {"hazards": "reference", "emplacements": "device_type"}

Env = tuple[TestClient, dict[str, str]]


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """The fixture of tests/cql_cases.py in a store of each backend, served by the app; an
    admin's token (every field is readable)."""
    from demine.api.app import create_app
    from demine.services.access import new_token
    from demine.services.setup import init_store
    from demine.store.open import open_store

    schema = None
    if request.param == "gpkg":
        location = str(tmp_path_factory.mktemp("cql_conf") / "conf.gpkg")
    else:
        if not PG_URL:
            pytest.skip("no PostgreSQL + PostGIS server: set DEMINE_TEST_PG")
        schema = "t_" + uuid.uuid4().hex[:12]
        sep = "&" if "?" in PG_URL else "?"
        location = f"{PG_URL}{sep}demine_schema={schema}"
    s = open_store(location)
    try:
        init_store(s)
        s.upsert("hazards", hazards(), actor="t")
        s.upsert("emplacements", emplacements(), actor="t")
        s.add_user("conf_admin", "admin")
        token, th = new_token()
        s.add_token("conf_admin", th)
    finally:
        s.close()
    with TestClient(create_app(location, rate_limit_per_minute=0)) as client:
        yield client, {"Authorization": f"Bearer {token}"}
    if schema is not None:
        import psycopg

        assert PG_URL
        with psycopg.connect(PG_URL.split("?")[0], autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _get(env: Env, kind: str, text: str, lang: str) -> Any:
    client, auth = env
    return client.get(
        f"/ogc/collections/{kind}/items",
        params={"filter": text, "filter-lang": lang, "limit": 100, "count": "true"},
        headers=auth,
    )


def _labels(env: Env, kind: str, text: str, lang: str) -> set[str]:
    r = _get(env, kind, text, lang)
    assert r.status_code == 200, r.text
    body = r.json()
    got = {f["properties"][LABEL[kind]] for f in body["features"]}
    assert body["numberMatched"] == len(got), body["numberMatched"]
    return got


def _id(case: tuple[Any, ...]) -> str:
    return f"{case[0]} {case[2] if isinstance(case[2], str) else json.dumps(case[2])}"


@pytest.mark.parametrize("lang", ["cql2-text", "cql2-json"])
@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_requirement(env: Env, case: tuple[str, str, str, set[str]], lang: str) -> None:
    _req, kind, text, expected = case
    sent = text if lang == "cql2-text" else json.dumps(cql2.parse_text(text).to_json())
    assert _labels(env, kind, sent, lang) == expected


@pytest.mark.parametrize("case", JSON_CASES, ids=[_id(c) for c in JSON_CASES])
def test_requirement_json(env: Env, case: tuple[str, str, Any, set[str]]) -> None:
    _req, kind, tree, expected = case
    assert _labels(env, kind, json.dumps(tree), "cql2-json") == expected


@pytest.mark.parametrize("lang", ["cql2-text", "cql2-json"])
@pytest.mark.parametrize("case", BAD, ids=[_id(c) for c in BAD])
def test_refused_naming_the_fault(env: Env, case: tuple[str, str, str, str], lang: str) -> None:
    _req, kind, text, named = case
    if lang == "cql2-json":
        try:
            text = json.dumps(cql2.parse_text(text).to_json())
        except (cql2.ParseError, cql2.ValidationError, ValueError):
            pytest.skip("not expressible as cql2-json")  # the text parser refuses it itself
    r = _get(env, kind, text, lang)
    assert r.status_code == 400, r.text
    assert r.json()["parameter"] == "filter"
    assert named in r.json()["detail"], r.json()["detail"]


def test_every_requirement_has_cases() -> None:
    covered = {c[0] for c in CASES} | {c[0] for c in JSON_CASES}
    for cls, reqs in REQUIREMENTS.items():
        for req in reqs:
            assert req in covered, f"{cls}: no predicate tests {req}"
    listed = {r for reqs in REQUIREMENTS.values() for r in reqs}
    assert {c[0] for c in CASES + BAD} <= listed


def test_advertised_cql2_classes_are_the_tested_ones(env: Env) -> None:
    """Advertising a CQL2 class with no tests here fails; so does testing one not advertised."""
    client, _ = env
    conf = client.get("/ogc/conformance").json()["conformsTo"]
    advertised = {u.removeprefix(CONF) for u in conf if u.startswith(CONF)}
    assert advertised == set(REQUIREMENTS)
    assert any(u.endswith("/conf/filter") for u in conf)


def test_cases_module_is_the_fixture() -> None:
    """The table in tests/cql_cases.py describes the records it builds."""
    assert {r.properties["reference"] for r in hazards()} == {"H1", "H2", "H3", "H4", "H5"}
    assert Path(__file__).with_name("cql_cases.py").exists()


# --- the GeoPackage R-tree prefilter of spatial filters -------------------------------------


@pytest.fixture(scope="module")
def gpkg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from demine.services.setup import init_store
    from demine.store.gpkg import GeoPackageStore

    s = GeoPackageStore(tmp_path_factory.mktemp("cql_rtree") / "rtree.gpkg")
    init_store(s)
    s.upsert("hazards", hazards(), actor="t")
    s.upsert("emplacements", emplacements(), actor="t")
    yield s
    s.close()


SPATIAL = [c for c in CASES if "S_" in c[2]]


@pytest.mark.parametrize("case", SPATIAL, ids=[_id(c) for c in SPATIAL])
def test_rtree_prefilter_keeps_the_rows(gpkg: Any, case: tuple[str, str, str, set[str]]) -> None:
    _req, kind, text, expected = case
    tree = cql2.parse_text(text).to_json()
    runs = []
    for on in (True, False):
        gpkg.cql_prefilter = on
        try:
            runs.append({r.properties[LABEL[kind]] for r in gpkg.list(kind, cql=tree)})
            assert gpkg.count(kind, cql=tree) == len(runs[-1])
        finally:
            gpkg.cql_prefilter = True
    assert runs[0] == runs[1] == expected


def test_rtree_prefilter_boxes() -> None:
    from demine.store.cql_sqlite import rtree_prefilter

    def boxes(text: str) -> list[float] | None:
        pre = rtree_prefilter("hazards", cql2.parse_text(text).to_json())
        return None if pre is None else pre[1]

    # split at the antimeridian: two boxes (w, e, s, n each)
    assert boxes("S_INTERSECTS(geometry, BBOX(150, -90, -150, 90))") == [
        150, 180, -90, 90, -180, -150, -90, 90,
    ]  # fmt: skip
    # an AND: the smallest spatial conjunct; the other conditions stay in the filter
    assert boxes(
        "area_m2 > 1 AND S_WITHIN(geometry, BBOX(0, 0, 10, 10)) "
        "AND S_INTERSECTS(geometry, POINT(1 2))"
    ) == [1, 1, 2, 2]
    assert boxes("S_INTERSECTS(geometry, MULTIPOINT((1 2), (170 5)))") == [
        1, 1, 2, 2, 170, 170, 5, 5,
    ]  # fmt: skip
    # where rows outside the envelope may be selected, no prefilter
    for text in (
        "S_DISJOINT(geometry, BBOX(0, 0, 1, 1))",
        "NOT S_INTERSECTS(geometry, BBOX(0, 0, 1, 1))",
        "S_INTERSECTS(geometry, BBOX(0, 0, 1, 1)) OR area_m2 > 1",
        "area_m2 > 1",
    ):
        assert boxes(text) is None, text
    pre = rtree_prefilter(
        'x"y', {"op": "s_intersects", "args": [{"property": "g"}, {"bbox": [0, 0, 1, 1]}]}
    )
    assert pre is not None and '"rtree_x""y_geom"' in pre[0]


def test_spatial_relation_is_decided_only_for_the_rows_the_index_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """200 hazards in a row, a BBOX meeting 3 of them: shapely decides 3 rows, not 200."""
    import shapely

    from demine.ids import uuid7
    from demine.model.schema import Record
    from demine.services.setup import init_store
    from demine.store import cql_sqlite
    from demine.store.gpkg import GeoPackageStore

    s = GeoPackageStore(tmp_path / "many.gpkg")
    init_store(s)
    rows = [
        Record(
            "hazards",
            uuid7(),
            {"hazard_type": "SHA", "status": "open", "reference": f"R{i}"},
            shapely.MultiPolygon([shapely.box(i * 0.1, 0, i * 0.1 + 0.05, 0.05)]),
        )
        for i in range(200)
    ]
    s.upsert("hazards", rows, actor="t")
    calls = []
    real = cql_sqlite.RELATIONS["s_intersects"]

    def counted(a: Any, b: Any) -> bool:
        calls.append(1)
        return bool(real(a, b))

    monkeypatch.setitem(cql_sqlite.RELATIONS, "s_intersects", counted)
    tree = cql2.parse_text("S_INTERSECTS(geometry, BBOX(5.01, 0.01, 5.22, 0.02))").to_json()
    try:
        got = {r.properties["reference"] for r in s.list("hazards", cql=tree)}
        assert got == {"R50", "R51", "R52"}
        assert len(calls) == 3
        s.cql_prefilter = False
        calls.clear()
        assert {r.properties["reference"] for r in s.list("hazards", cql=tree)} == got
        assert len(calls) == 200
    finally:
        s.close()
