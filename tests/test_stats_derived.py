"""The statistics read from the derived tables (services/stats/figures.py: figures kept on
write, the zonal table by hazard) are exactly those of a full recomputation (the tables not
built), on random stores: overlapping hazards, closed ones, hazards without a geometry,
releases without a hazard or a geometry, partial dates, every period, with one area and by a
reference layer, cold and with the zonal table filled, after the layer or a hazard changes.
Both backends."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
import shapely

import stats_data
from demine.ids import uuid7
from demine.model.schema import Record
from demine.services.stats import compute

PERIODS = (None, "2023", "2024", "2025", "2024-2025", "2026")


def _set_built(store: Any, value: str) -> None:
    store._transaction(
        "__derived__",
        lambda c: c.execute(
            f"UPDATE demine_derived_state SET value = {store.P} WHERE key = 'built'", (value,)
        ),
    )


def _json(store: Any, **kw: Any) -> str:
    out = compute(store, **kw)
    out.pop("generated_at")
    return json.dumps(out, sort_keys=True)


def _star(rng: random.Random, x: float, y: float, r: float) -> Any:
    import math

    n = rng.randint(5, 12)
    pts = [
        (
            x + r * rng.uniform(0.4, 1) * math.cos(2 * math.pi * k / n),
            y + r * rng.uniform(0.4, 1) * math.sin(2 * math.pi * k / n),
        )
        for k in range(n)
    ]
    return shapely.MultiPolygon([shapely.Polygon(pts)])


def _random_store(store: Any, seed: int) -> list[str]:
    """stats_data's year plus random hazards and releases; returns the hazards' ids."""
    stats_data.build(store)
    rng = random.Random(seed)
    hazards: list[Record] = []
    for i in range(24):
        x, y = rng.uniform(35.92, 36.22), rng.uniform(47.92, 48.18)
        if i % 6 == 5 and hazards:  # overlapping an earlier one
            g0 = hazards[-1].geometry
            if g0 is not None:
                c = g0.centroid
                x, y = c.x + 0.002, c.y
        props: dict[str, Any] = {
            "hazard_type": rng.choice(["SHA", "CHA"]),
            "status": "open",
            "name": f"R{i}",
            "reference": f"RZ-{i % 7}",  # some share a reference: ties in the sort
            "reported_on": rng.choice(["2022", "2023-04", "2024-02-03", "2025-07-01", "2026"]),
        }
        if rng.random() < 0.25:
            props["status"] = "closed"
            props["closed_on"] = rng.choice(["2024", "2025-03", "2025-11-30", "2024-06-01"])
        geom = None if i % 11 == 7 else _star(rng, x, y, rng.uniform(0.002, 0.008))
        hazards.append(Record("hazards", uuid7(), props, geom))
    store.upsert("hazards", hazards, actor="t")
    releases: list[Record] = []
    with_geom = [h for h in hazards if h.geometry is not None]
    for _ in range(40):
        h = rng.choice(with_geom)
        x0, y0, x1, y1 = shapely.bounds(h.geometry)
        w, ht = x1 - x0, y1 - y0
        bx = x0 + rng.uniform(-0.2, 0.7) * w
        by = y0 + rng.uniform(-0.2, 0.7) * ht
        g = stats_data.mp((bx, by, bx + w * rng.uniform(0.2, 0.6), by + ht * rng.uniform(0.2, 0.6)))
        hid: Any = h.id
        roll = rng.random()
        if roll < 0.05:
            hid = uuid7()  # names no hazard
        elif roll < 0.1:
            g = None
        releases.append(
            Record(
                "releases",
                uuid7(),
                {
                    "activity_id": uuid7(),
                    "release_type": rng.choice(["cancelled", "reduced", "cleared"]),
                    "released_on": f"202{rng.randint(3, 6)}-{rng.randint(1, 12):02d}-15",
                    "hazard_id": hid,
                },
                g,
            )
        )
    store.upsert("releases", releases, actor="t")
    return [h.id for h in hazards]


def _assert_same(store: Any, periods: tuple[str | None, ...] = PERIODS) -> None:
    for by in (None, "oblasts"):
        for period in periods:
            derived = _json(store, period=period, by=by)
            again = _json(store, period=period, by=by)  # the zonal table filled
            _set_built(store, "no")
            try:
                full = _json(store, period=period, by=by)
            finally:
                store.rebuild_derived()
            assert derived == full, (by, period)
            assert again == full, (by, period)


def _stale_zonal_rows(store: Any, layer: str) -> int:
    from demine.services.stats import load_areas

    h = load_areas(store, layer).layer_hash
    return int(
        store.conn.execute(
            "SELECT count(*) FROM demine_derived_zonal WHERE layer = "
            f"{store.P} AND layer_hash <> {store.P}",
            (layer, h),
        ).fetchone()[0]
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_statistics_from_derived_equal_full_recomputation(store: Any, seed: int) -> None:
    _random_store(store, seed)
    _assert_same(store)


def test_zonal_table_follows_layer_and_hazard_changes(store: Any) -> None:
    ids = _random_store(store, 3)
    _assert_same(store, (None, "2025"))
    # a hazard changes: its zonal rows go; the statistics follow
    h = next(r for r in store.get_many("hazards", ids) if r.geometry is not None)
    store.update("hazards", h.id, geometry=shapely.affinity.scale(h.geometry, 1.2, 0.8), actor="t")
    n = store.conn.execute(
        f"SELECT count(*) FROM demine_derived_zonal WHERE hazard_id = {store.P}", (h.id,)
    ).fetchone()[0]
    assert n == 0
    _assert_same(store, (None, "2025"))
    # the layer changes: the next run splits again and drops the rows of the old layer
    west = next(r for r in store.list("oblasts") if r.properties["name"] == "west")
    store.update("oblasts", west.id, geometry=stats_data.mp((35.9, 47.9, 36.004, 48.1)), actor="t")
    _json(store, by="oblasts")
    assert _stale_zonal_rows(store, "oblasts") == 0
    _assert_same(store, (None, "2024"))


def test_an_older_derived_schema_is_not_built_until_rebuilt(store: Any) -> None:
    """A store whose derived rows have no statistics figures (schema 11 / PostGIS 10) reads
    as not built (the statistics computed from the records) until rebuilt."""
    _random_store(store, 4)
    expected = _json(store, period="2025")

    def body(c: Any) -> None:
        c.execute("UPDATE demine_derived_hazard SET remaining_stat_m2 = NULL")

    store._transaction("__derived__", body)
    # a column of the figures missing (an older store): opening it adds them, not built
    store._transaction(
        "__schema__",
        lambda c: c.execute("ALTER TABLE demine_derived_piece DROP COLUMN credited_stat_m2"),
    )
    store.init()
    assert not store.derived_built()
    assert _json(store, period="2025") == expected
    store.rebuild_derived()
    assert store.derived_built()
    assert _json(store, period="2025") == expected


def test_field_rows_hold_what_records_hold(store: Any) -> None:
    """``field_rows`` (the statistics' reads without records) gives each value as the record's
    properties hold it, for every kind and field the statistics read: partial dates,
    booleans, integers, lists of choices."""
    _random_store(store, 5)
    for kind in (
        "hazards",
        "releases",
        "activities",
        "finds",
        "accidents",
        "victims",
        "eo_reports",
        "eore_sessions",
    ):
        k = store.kind(kind)
        names = tuple(f.name for f in k.fields)
        records = list(store.list(kind))
        rows = store.field_rows(kind, names, geometry="decoded" if k.geometry_type else "none")
        assert [r[0] for r in rows] == [r.id for r in records]
        for rec, row in zip(records, rows, strict=True):
            assert list(row[2:]) == [rec.properties.get(n) for n in names], kind
            if k.geometry_type:
                assert (row[1] is None) == (rec.geometry is None)
                if rec.geometry is not None:
                    assert shapely.equals_exact(row[1], rec.geometry, 0)
        present = store.field_rows(kind, (), geometry="present")
        assert [r[1] for r in present] == [
            bool(k.geometry_type) and rec.geometry is not None for rec in records
        ]


def _memo_rows(store: Any, scope: str = "all") -> dict[str, str]:
    return store.memo_read(scope)


def _no_polygon_read(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: Any, **k: Any) -> Any:
        raise AssertionError("a remaining polygon was read")

    monkeypatch.setattr(store, "derived_remaining", boom)
    monkeypatch.setattr(store, "stat_boxes", boom)


def _full_json(store: Any, **kw: Any) -> str:
    _set_built(store, "no")
    try:
        return _json(store, **kw)
    finally:
        store.rebuild_derived()


def test_overlap_memo_is_read_and_follows_a_hazard_change(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The overlapping open hazards (``hazards.remaining_m2``, ``overlapping``) are kept by
    group of hazards whose boxes meet (services/stats/overlaps.py): a second run reads them
    (no polygon read), and a changed hazard gives its group a new key: merged again, the
    figures those of the full recomputation, the rows of the old keys gone."""
    ids = _random_store(store, 6)
    for period in (None, "2025"):
        first = _json(store, period=period)
        assert json.loads(first)["hazards"]["overlapping"] > 0
        scope = "all" if period is None else "2025-12-31"
        kept = _memo_rows(store, scope)
        assert kept  # the groups and the whole answer
        with monkeypatch.context() as m:
            _no_polygon_read(store, m)
            assert _json(store, period=period) == first  # read from the memo
        assert _full_json(store, period=period) == first
    # a hazard that overlaps another changes: merged again, and the same as computed in full
    _json(store)  # (the rebuild above emptied the memo)
    before = _memo_rows(store)
    hs = [
        h
        for h in store.get_many("hazards", ids)
        if h.geometry is not None and h.properties.get("status") == "open"
    ]
    tree = shapely.STRtree([h.geometry for h in hs])
    a, b = tree.query([h.geometry for h in hs], predicate="overlaps")
    h = hs[int(next(x for x, y in zip(a, b, strict=True) if x != y))]
    store.update("hazards", h.id, geometry=shapely.affinity.scale(h.geometry, 1.3, 1.1), actor="t")
    changed = _json(store)
    after = _memo_rows(store)
    assert set(after) != set(before)
    assert len(set(after) - set(before)) >= 2  # the whole answer and the changed group's
    assert set(before) - set(after)  # the old ones gone
    assert set(before) & set(after)  # the other groups kept
    with monkeypatch.context() as m:  # read again from the memo, which does not change
        _no_polygon_read(store, m)
        assert _json(store) == changed
    assert _memo_rows(store) == after
    assert changed == _full_json(store)


def test_overlap_memo_rows_of_closed_hazards_are_not_used(store: Any) -> None:
    """A hazard closed since (its account unchanged, so its polygon's stamp too) leaves the
    open hazards: the groups and the whole answer change; the figures follow."""
    ids = _random_store(store, 7)
    _json(store)
    h = next(r for r in store.get_many("hazards", ids) if r.properties.get("status") == "open")
    props = {**h.properties, "status": "closed", "closed_on": "2025-01-01"}
    store.update("hazards", h.id, properties=props, actor="t")
    assert _json(store) == _full_json(store)


def test_a_store_before_the_overlap_memo_is_migrated(store: Any) -> None:
    """A store of GeoPackage schema 12 / PostGIS 11 (no memo table) gets the table on
    opening; the statistics stay those of the full recomputation."""
    _random_store(store, 8)
    expected = _json(store)

    def body(c: Any) -> None:
        c.execute("DROP TABLE demine_derived_memo")
        if store.P == "?":
            c.execute("DELETE FROM gpkg_contents WHERE table_name = 'demine_derived_memo'")
        stats_data.set_schema_version(store, c, gpkg=12, postgis=11)

    store._transaction("__schema__", body)
    store.close()
    from demine.store import open_store

    old = open_store(store.location)
    try:
        assert old.derived_built()
        assert _json(old) == expected
        assert _memo_rows(old)
        assert _json(old) == expected
    finally:
        old.close()


def test_every_split_by_a_layer_is_read_at_once_when_nothing_changed(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """By a layer, every hazard's parts among its areas, named, are kept in one memo row
    (services/stats/figures.py): the next run reads it, not the zonal table; a hazard
    changed since gives a new key (the zonal table read again), the figures those of the
    full recomputation."""
    ids = _random_store(store, 9)
    for period in (None, "2025"):
        first = _json(store, period=period, by="oblasts")
        with monkeypatch.context() as m:
            m.setattr(store, "zonal_read", lambda *a: (_ for _ in ()).throw(AssertionError()))
            assert _json(store, period=period, by="oblasts") == first
    h = next(r for r in store.get_many("hazards", ids) if r.geometry is not None)
    store.update("hazards", h.id, geometry=shapely.affinity.scale(h.geometry, 0.7, 0.9), actor="t")
    read: list[str] = []
    real = store.zonal_read
    monkeypatch.setattr(store, "zonal_read", lambda *a: read.append("z") or real(*a))
    changed = _json(store, by="oblasts")
    assert read == ["z"]
    assert changed == _full_json(store, by="oblasts")


def test_field_counts_count_what_field_rows_hold(store: Any) -> None:
    """``field_counts`` (the statistics' counts with one area) gives the records counted by
    the values ``field_rows`` gives, groups in the order of their first record."""
    _random_store(store, 10)
    for kind, fields, present in (
        ("activities", ("status", "activity_type"), ()),
        ("activities", ("status", "completed_on", "activity_type"), ()),
        ("eo_reports", ("public", "reported_at", "status"), ("hazard_id",)),
        ("accidents", ("occurred_at", "accident_type", "device_category"), ()),
        ("releases", ("release_type",), ("hazard_id", "activity_id")),
    ):
        rows = store.field_rows(kind, (*fields, *present))
        assert rows, kind
        expected: dict[tuple[Any, ...], int] = {}
        for r in rows:
            k = (*r[2 : 2 + len(fields)], *(v is not None for v in r[2 + len(fields) :]))
            expected[k] = expected.get(k, 0) + 1
        got = store.field_counts(kind, fields, present)
        assert [(*r[1:],) for r in got] == list(expected), kind
        assert [r[0] for r in got] == list(expected.values()), kind
    # a partial date counted by its first four characters (what the year is taken from)
    fields = ("occurred_at", "accident_type")
    years: dict[tuple[Any, ...], int] = {}
    for r in store.field_rows("accidents", fields):
        k = (None if r[2] is None else str(r[2])[:4], r[3])
        years[k] = years.get(k, 0) + 1
    got = store.field_counts("accidents", fields, years=("occurred_at",))
    assert [(*r[1:],) for r in got] == list(years)
    assert [r[0] for r in got] == list(years.values())
    # so is a date-time (its text's, in UTC: a timestamp's in PostGIS)
    fields = ("reported_at", "status")
    years = {}
    for r in store.field_rows("eo_reports", fields):
        k = (None if r[2] is None else str(r[2])[:4], r[3])
        years[k] = years.get(k, 0) + 1
    got = store.field_counts("eo_reports", fields, years=("reported_at",))
    assert [(*r[1:],) for r in got] == list(years)
    assert [r[0] for r in got] == list(years.values())
    with pytest.raises(ValueError, match="not a partial date"):
        store.field_counts("eo_reports", ("status",), years=("status",))


def test_the_pieces_sums_are_kept_for_every_year_with_one_area(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every year with one area, what the credited pieces add up to is kept (the memo): the
    next run reads no piece; a release changed since gives a new key, the figures those of
    the full recomputation."""
    _random_store(store, 11)
    first = _json(store)
    with monkeypatch.context() as m:
        m.setattr(store, "stat_pieces", lambda: (_ for _ in ()).throw(AssertionError()))
        assert _json(store) == first
    rel = next(r for r in store.list("releases") if r.geometry is not None)
    props = {**rel.properties, "released_on": "2023-02-01", "release_type": "cleared"}
    store.update("releases", rel.id, properties=props, actor="t")
    read: list[int] = []
    real = store.stat_pieces
    monkeypatch.setattr(store, "stat_pieces", lambda: read.append(1) or real())
    changed = _json(store)
    assert read == [1]
    assert changed != first
    assert changed == _full_json(store)


def test_splits_by_a_layer_keep_one_memo_row_whatever_the_periods_asked(store: Any) -> None:
    """Requests for many periods by a layer (anonymous ones too) keep one memo row of named
    splits for the layer, not a copy per period: the store does not grow with them, and each
    answer is still the full recomputation's."""
    _random_store(store, 12)
    for period in PERIODS:
        full = _full_json(store, period=period, by="oblasts")  # (it empties the memo)
        assert _json(store, period=period, by="oblasts") == full
        assert len(_memo_rows(store, "zonal oblasts")) == 1
    for period in PERIODS:  # every period in turn on one store, as a client may ask them
        _json(store, period=period, by="oblasts")
        assert len(_memo_rows(store, "zonal oblasts")) == 1
    scopes = {
        str(r[0])
        for r in store.conn.execute("SELECT DISTINCT scope FROM demine_derived_memo").fetchall()
    }
    assert [s for s in scopes if s.startswith("zonal")] == ["zonal oblasts"]
