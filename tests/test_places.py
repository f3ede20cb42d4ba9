"""Finding one's own place by name (issue 15, docs/web.md "Finding a place by name"), on both
backends.

Names come from the store's settlements reference layer, as real layers hold them: nulls,
duplicates, foreign name fields, apostrophes, polygons beside points; and from the packaged
regions. A visitor without a Ukrainian keyboard finds the same places in Latin letters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import shapely
from fastapi.testclient import TestClient

from demine.api import create_app
from demine.services.places import find_places, fold, new_cache, translit_uk
from demine.services.register import ImportOptions, import_file

URL = "/api/v1/public/places"


def _import(store: Any, tmp: Path, feats: list[dict[str, Any]], name: str = "a") -> None:
    f = tmp / f"settlements-{name}.geojson"
    f.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": feats}))
    import_file(store, f, ImportOptions(kind="layer:settlements", actor="t"))


def _point(props: dict[str, Any], x: float, y: float) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": props,
        "geometry": {"type": "Point", "coordinates": [x, y]},
    }


SETTLEMENTS = [
    _point({"name": "Нова Буда", "population": 120}, 30.1, 50.1),
    _point({"name": "Новоселівка", "population": 3400}, 37.2, 48.3),
    _point({"name": "Новоселівка", "population": 80}, 36.9, 48.9),  # the same name elsewhere
    _point({"name": None, "population": 10}, 37.0, 48.0),  # no name: not offered
    _point({"NAME_UA": "Знамʼянка", "name_en": "Znamianka"}, 32.66, 48.72),  # foreign fields
    _point({"name": "Харків", "population": 1_400_000}, 36.23, 49.99),
    {
        "type": "Feature",
        "properties": {"name": "Слов'янськ", "population": 100_000},
        "geometry": shapely.geometry.mapping(shapely.box(37.55, 48.83, 37.65, 48.9)),
    },
]


@pytest.fixture
def client(store: Any, tmp_path: Path) -> TestClient:
    _import(store, tmp_path, SETTLEMENTS)
    return TestClient(create_app(store.location))


def names(r: Any) -> list[str]:
    assert r.status_code == 200, r.text
    return [p["name"] for p in r.json()["places"]]


def test_settlements_and_regions_by_what_people_type(client: TestClient) -> None:
    # a word's start, case and accents folded; the larger settlement first among equals
    assert names(client.get(URL, params={"q": "новосел"})) == ["Новоселівка", "Новоселівка"]
    both = client.get(URL, params={"q": "новосел"}).json()["places"]
    assert [p["lon"] for p in both] == [37.2, 36.9]
    assert both[0] == {
        "name": "Новоселівка",
        "kind": "settlement",
        "lon": 37.2,
        "lat": 48.3,
        "bbox": None,
    }
    # every word begins a word of the name, in any order
    assert names(client.get(URL, params={"q": "буда нов"})) == ["Нова Буда"]
    # apostrophes of any kind, and a foreign name field
    assert names(client.get(URL, params={"q": "Слов’янськ"})) == ["Слов'янськ"]
    assert names(client.get(URL, params={"q": "знамянка"})) == ["Знамʼянка"]
    assert names(client.get(URL, params={"q": "Znamianka"})) == ["Знамʼянка"]
    # Latin letters: the official transliteration of the Ukrainian name
    assert names(client.get(URL, params={"q": "Slovianske"})) == []
    assert names(client.get(URL, params={"q": "slovia"})) == ["Слов'янськ"]
    # a polygon settlement: a point inside it and its box
    slov = client.get(URL, params={"q": "слов"}).json()["places"][0]
    assert shapely.box(37.55, 48.83, 37.65, 48.9).contains(shapely.Point(slov["lon"], slov["lat"]))
    assert slov["bbox"] == [37.55, 48.83, 37.65, 48.9]
    # settlements before regions; a region from the packaged outlines, in Latin letters too
    kh = client.get(URL, params={"q": "харк"}).json()["places"]
    assert [(p["name"], p["kind"]) for p in kh] == [
        ("Харків", "settlement"),
        ("Харківська область", "region"),
    ]
    assert names(client.get(URL, params={"q": "Kharkivska"})) == ["Харківська область"]
    assert len(kh[1]["bbox"]) == 4 and kh[1]["bbox"][0] < kh[1]["lon"] < kh[1]["bbox"][2]
    assert names(client.get(URL, params={"q": "zzzz"})) == []


def test_bad_questions_are_refused_by_name(client: TestClient) -> None:
    for params, field in [
        ({"q": "x"}, "q"),
        ({"q": "  "}, "q"),
        ({"q": "..."}, "q"),
        ({"q": "x" * 101}, "q"),
        ({"q": "нова", "limit": 0}, "limit"),
        ({"q": "нова", "limit": 21}, "limit"),
        ({}, "q"),
    ]:
        r = client.get(URL, params=params)
        assert r.status_code in (400, 422), (params, r.text)  # a bad parameter; a bad value
        assert field in r.text, (params, r.text)
    assert len(names(client.get(URL, params={"q": "обл", "limit": 3}))) == 3


def test_a_changed_layer_is_read_again(store: Any, tmp_path: Path) -> None:
    _import(store, tmp_path, SETTLEMENTS[:1])
    cache = new_cache()
    assert [p.name for p in find_places(store, "буда", cache=cache)] == ["Нова Буда"]
    assert find_places(store, "Зелений", cache=cache) == []
    _import(store, tmp_path, [_point({"name": "Зелений Гай"}, 35.0, 47.0)], "b")
    assert [p.name for p in find_places(store, "Зелений", cache=cache)] == ["Зелений Гай"]


def test_a_store_without_settlements_still_finds_regions(store: Any) -> None:
    c = TestClient(create_app(store.location))
    assert names(c.get(URL, params={"q": "Донецька"})) == ["Донецька область"]
    assert names(c.get(URL, params={"q": "Kyivska"})) == ["Київська область"]


def test_folding_and_transliteration() -> None:
    assert fold("ЙОШКАР Café") == "йошкар cafe" and fold("Їжак") == "їжак"
    assert [translit_uk(n) for n in ["Згурівка", "Їжакевич", "Яготин", "Запоріжжя", "Гоща"]] == [
        "zghurivka",
        "yizhakevych",
        "yahotyn",
        "zaporizhzhia",
        "hoshcha",
    ]
