"""``demine prioritize`` scores every hazard at once and reads the store light (issue 16): the
same ranking as the computation hazard by hazard over full records, with the derived tables
built or not, on a random store; on both store backends."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
import shapely

import stats_data
from demine.errors import ValidationError
from demine.ids import uuid7
from demine.model.schema import Record
from demine.services.impact import FACTORS, config_from_dict, prioritize
from demine.services.impact import factors as F
from demine.services.risk import parse_date

AT = parse_date("2025-06-11", "at")
LIGHT = ("text_fields", "geometries_only", "remaining_polygons")


class Plain:
    """The store without its light reads: prioritize then reads full records."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        if name in LIGHT:
            raise AttributeError(name)
        return getattr(self._store, name)


def _set_built(store: Any, value: str) -> None:
    store._transaction(
        "__derived__",
        lambda c: c.execute(
            f"UPDATE demine_derived_state SET value = {store.P} WHERE key = 'built'", (value,)
        ),
    )


def _reference(store: Any, cfg: Any, top: int | None) -> dict[str, Any]:
    """The ranking computed as before issue 16's vectorised scoring: full hazard records, one
    row with its breakdown per hazard, sorted, then cut to ``top``."""
    plain = Plain(store)
    hazards = sorted(plain.list("hazards", where={"status": "open"}), key=lambda h: h.id)
    geoms, geometry = F.hazard_geometries(plain, hazards)
    layers = F.layer_names(plain)
    ids = [h.id for h in hazards]
    factors = {
        "population": F.population(cfg, geoms),
        "settlements": F.distance_factor(plain, cfg, "settlements", geoms, layers),
        "schools": F.distance_factor(plain, cfg, "schools", geoms, layers),
        "roads": F.distance_factor(plain, cfg, "roads", geoms, layers),
        "farmland": F.farmland(plain, cfg, geoms, layers),
        "accidents": F.incidents(plain, cfg, "accidents", geoms),
        "eo_reports": F.incidents(plain, cfg, "eo_reports", geoms),
        "risk": F.risk(plain, cfg, ids, AT),
        "area": F.area(cfg, geoms, geometry.split(" ")[0]),
    }
    rows = []
    overall: dict[str, int] = {}
    for i, h in enumerate(hazards):
        contributions, breakdown, missing = [], [], []
        for name in FACTORS:
            f = factors[name]
            w = cfg.weight(name)
            value = round(float(f.value[i]), 6) or 0.0
            contributions.append(round(w * value, 6))
            raw = None if f.raw[i] is None else round(float(f.raw[i]), 6)
            breakdown.append((name, raw, value, contributions[-1], f.missing[i]))
            if f.missing[i] is not None:
                missing.append(f"{name}: {f.missing[i]}")
        for m in missing:
            overall[m] = overall.get(m, 0) + 1
        rows.append((-round(math.fsum(contributions), 6), h.id, breakdown))
    rows.sort(key=lambda r: (r[0], r[1]))
    return {
        "ranked": [(r[1], -r[0]) for r in rows][: len(rows) if top is None else max(0, top)],
        "breakdowns": [r[2] for r in rows][: len(rows) if top is None else max(0, top)],
        "missing_counts": overall,
        "geometry": geometry,
    }


def _summary(result: Any) -> dict[str, Any]:
    return {
        "ranked": [(h["id"], h["score"]) for h in result.hazards],
        "breakdowns": [
            [
                (f["name"], f["raw"], f["value"], f["contribution"], f["missing"])
                for f in h["factors"]
            ]
            for h in result.hazards
        ],
        "geometry": result.geometry,
    }


def _box(x: float, y: float, w: float, h: float) -> Any:
    return shapely.MultiPolygon([shapely.box(x, y, x + w, y + h)])


@pytest.fixture
def random_store(store: Any, tmp_path: Path) -> dict[str, Any]:
    """stats_data's year (releases overlapping, reaching outside their hazards, a closed
    hazard) and 40 more open hazards at random, some overlapping, some the same polygon (equal
    scores, ranked by id), one named and referenced; accidents and EO reports at random
    around them; an emplacement record on one hazard; a schools and a farmland layer."""
    from demine.services.register import ImportOptions, import_file

    year = stats_data.build(store)
    rng = random.Random(1616)
    extra = []
    for i in range(40):
        if i % 10 == 9:  # the same polygon as the one before: a tie
            g = extra[-1].geometry
        else:
            g = _box(
                rng.uniform(35.85, 36.3),
                rng.uniform(47.85, 48.25),
                rng.uniform(0.001, 0.02),
                rng.uniform(0.001, 0.02),
            )
        props: dict[str, Any] = {"hazard_type": rng.choice(["SHA", "CHA"]), "status": "open"}
        if i == 3:
            props.update(name="Field by the river", reference="HZ-3")
        extra.append(Record("hazards", uuid7(), props, g))
    store.upsert("hazards", extra, actor="t")
    pts = [shapely.Point(rng.uniform(35.85, 36.35), rng.uniform(47.85, 48.3)) for _ in range(60)]
    store.upsert(
        "accidents",
        [
            Record(
                "accidents",
                uuid7(),
                {"occurred_at": "2024-05-01T08:00:00Z", "accident_type": "civilian"},
                p,
            )
            for p in pts[:25]
        ],
        actor="t",
    )
    store.upsert(
        "eo_reports",
        [
            Record(
                "eo_reports",
                uuid7(),
                {"reported_at": "2025-01-02T09:00:00Z", "status": "new", "public": False},
                p,
            )
            for p in pts[25:]
        ],
        actor="t",
    )
    target = extra[5]
    store.upsert(
        "emplacements",
        [
            Record(
                "emplacements",
                uuid7(),
                {
                    "hazard_id": target.id,
                    "device_type": "apii-limit",
                    "quantity": 20,
                    "laid_at": "2023-01-01T00:00:00Z",
                },
                shapely.Point(*shapely.centroid(target.geometry).coords[0]),
            )
        ],
        actor="t",
    )
    for name, geoms in (
        ("schools", [shapely.Point(36.0, 48.0), shapely.Point(36.2, 48.1)]),
        (
            "farmland",
            [shapely.box(35.95, 47.95, 36.1, 48.05), shapely.box(36.05, 48.0, 36.2, 48.1)],
        ),
    ):
        f = tmp_path / f"{name}.geojson"
        feats = [
            {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(g)}
            for g in geoms
        ]
        f.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": feats}))
        import_file(store, f, ImportOptions(kind=f"layer:{name}", actor="t"))
    return {"store": store, "year": year, "extra": extra}


@pytest.mark.parametrize("top", [None, 10, 3, 0])
def test_the_ranking_equals_the_computation_hazard_by_hazard(
    random_store: dict[str, Any], top: int | None
) -> None:
    store = random_store["store"]
    cfg = config_from_dict({}, source="test")
    ref = _reference(store, cfg, top)
    assert store.derived_built()
    built = prioritize(store, cfg, at=AT, top=top)
    assert _summary(built) == {k: ref[k] for k in ("ranked", "breakdowns", "geometry")}
    n = len(ref["ranked"]) if top is None else len(_reference(store, cfg, None)["ranked"])
    want = sorted(
        f"{m} ({'every hazard' if c == n else f'{c} of {n} hazards'})"
        for m, c in ref["missing_counts"].items()
    )
    assert built.missing == want
    # the ranks run 1.. in order; ties (the same polygon twice) are broken by id
    assert [h["rank"] for h in built.hazards] == list(range(1, len(built.hazards) + 1))
    # the same without the derived tables (the accounts computed from the records), and
    # through full records (a store without the light reads)
    _set_built(store, "no")
    try:
        assert prioritize(store, cfg, at=AT, top=top).to_dict() == built.to_dict()
    finally:
        store.rebuild_derived()
    assert prioritize(Plain(store), cfg, at=AT, top=top).to_dict() == built.to_dict()


def test_ties_are_ranked_by_id_and_an_emplacement_is_estimated(
    random_store: dict[str, Any],
) -> None:
    store = random_store["store"]
    extra = random_store["extra"]
    result = prioritize(store, config_from_dict({}, source="test"), at=AT)
    by_id = {h["id"]: h for h in result.hazards}
    twin_a, twin_b = sorted([extra[8].id, extra[9].id])
    assert by_id[twin_a]["score"] == by_id[twin_b]["score"]
    assert by_id[twin_a]["rank"] < by_id[twin_b]["rank"]
    risk = {f["name"]: f for f in by_id[extra[5].id]["factors"]}["risk"]
    assert risk["missing"] is None and risk["raw"] is not None
    named = by_id[extra[3].id]
    assert (named["name"], named["reference"]) == ("Field by the river", "HZ-3")
    closed = [
        h.id for h in random_store["year"].hazards.values() if h.properties["status"] != "open"
    ]
    assert closed and not set(closed) & set(by_id)


def test_light_reads_give_what_the_records_hold(random_store: dict[str, Any]) -> None:
    store = random_store["store"]
    rows = store.text_fields("hazards", ["name", "reference"], where={"status": "open"})
    full = list(store.list("hazards", where={"status": "open"}))
    assert rows == [(h.id, h.properties.get("name"), h.properties.get("reference")) for h in full]
    pts = store.geometries_only("eo_reports")
    assert [g.wkb for g in pts] == [r.geometry.wkb for r in store.list("eo_reports")]
    rem = store.remaining_polygons()
    accs = store.derived_accounts()
    assert rem is not None and set(rem) == set(accs)
    assert all(shapely.equals_exact(rem[h], a.remaining, 0) for h, a in accs.items())
    assert np.array_equal(
        shapely.get_precision(np.asarray(list(rem.values()), dtype=object)),
        shapely.get_precision(np.asarray([accs[h].remaining for h in rem], dtype=object)),
    )
    _set_built(store, "no")
    try:
        assert store.remaining_polygons() is None
    finally:
        store.rebuild_derived()
    with pytest.raises(ValidationError, match=r"hazards\.area_m2 is not a text field"):
        store.text_fields("hazards", ["area_m2"])


def test_round6_rounds_as_python_does() -> None:
    from demine.services.impact.ranking import round6

    rng = np.random.default_rng(16)
    values = np.concatenate(
        [
            rng.uniform(0, 1, 20_000),
            rng.uniform(0, 60, 20_000),
            # halves and their neighbours: 0.0000005, 2.5e-6, 0.1234565, ...
            np.array([k + 0.5 for k in range(0, 2_000_000, 997)]) / 1e6,
            np.nextafter(np.array([k + 0.5 for k in range(0, 2_000_000, 991)]) / 1e6, 0),
            np.nextafter(np.array([k + 0.5 for k in range(0, 2_000_000, 983)]) / 1e6, 9),
            np.array([0.0, -0.0, 1.0, 1e-7, 3.0 * 0.1, 1 / 3, 2 / 3, 12.5, 1e17]),
        ]
    )
    got = round6(values)
    want = [round(float(v), 6) or 0.0 for v in values]
    assert got.tolist() == want
