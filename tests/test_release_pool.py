"""Land-release accounts on worker processes (issue 16, geo/release_pool.py): with the pool
forced, :func:`accounts_many` gives what :func:`demine.geo.release.account` gives, to the bit
(figures, WKB and precision grid of every geometry), in order; ``rebuild_derived`` and a
write's upkeep of the derived tables give the same rows with the pool as without. Both
backends."""

from __future__ import annotations

import math
import random
import sys
from typing import Any

import pytest
import shapely

import stats_data
from demine import procs
from demine.geo import release_pool
from demine.geo.release import ReleaseInput, account
from demine.geo.release_pool import accounts_many, pool_started, pooled
from demine.ids import uuid7
from demine.model.schema import Record

TYPES = ("cancelled", "reduced", "cleared")


def _wkb(g: Any) -> tuple[bytes, float] | None:
    return None if g is None else (bytes(shapely.to_wkb(g)), float(shapely.get_precision(g)))


def _flat(a: Any) -> list[Any]:
    """Every figure and geometry of an account (with each geometry's grid)."""
    out: list[Any] = [
        a.hazard_m2,
        a.released_m2,
        a.remaining_m2,
        a.by_type,
        _wkb(a.released),
        _wkb(a.remaining),
    ]
    for p in a.pieces:
        out.append(
            (
                p.release_id,
                p.release_type,
                p.released_on,
                p.recorded_m2,
                p.credited_m2,
                p.overlap_m2,
                p.overlaps_with,
                p.outside_m2,
                p.remaining_after_m2,
                _wkb(p.credited),
                _wkb(p.outside),
                _wkb(p.remaining_after),
                _wkb(p.released_after),
            )
        )
    return out


def _blob(rng: random.Random, x: float, y: float, r: float) -> Any:
    """An irregular polygon around (x, y), about r degrees across."""
    pts, m = [], rng.randint(5, 14)
    for k in range(m):  # star-shaped around (x, y): simple
        t = 2 * math.pi * (k + rng.uniform(0, 0.5)) / m
        d = r * rng.uniform(0.5, 1.0)
        pts.append((x + d * math.cos(t), y + d * math.sin(t)))
    return shapely.Polygon(pts)


def _items(n: int, seed: int = 16) -> list[tuple[Any, list[ReleaseInput]]]:
    """Real-shaped (hazard, releases) pairs: irregular and holed hazards, releases that
    overlap each other or lie (partly) outside, several years, one hazard with many
    releases, and odd ones demine allows (an empty hazard, an empty or self-crossing
    release, no releases)."""
    rng = random.Random(seed)
    out: list[tuple[Any, list[ReleaseInput]]] = []
    for i in range(n):
        x, y = 30 + rng.uniform(-3, 3), 10 + rng.uniform(-3, 3)
        r = rng.uniform(0.001, 0.02)
        hz: Any = _blob(rng, x, y, r)
        if i % 7 == 0:  # a hole
            hz = hz.difference(shapely.Point(x, y).buffer(r * 0.2))
        hz = shapely.MultiPolygon([hz]) if hz.geom_type == "Polygon" else hz
        many = 40 if i == 3 else rng.randint(1, 6)
        rels = []
        for k in range(many):
            cx = x + rng.uniform(-1.2, 1.2) * r
            cy = y + rng.uniform(-1.2, 1.2) * r
            g: Any = _blob(rng, cx, cy, r * rng.uniform(0.2, 0.8))
            if k % 5 == 4:  # far outside
                g = shapely.box(x + 3 * r, y + 3 * r, x + 4 * r, y + 4 * r)
            rels.append(
                ReleaseInput(
                    f"r{i}-{k}",
                    rng.choice(TYPES),
                    f"20{rng.randint(21, 26)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                    g,
                )
            )
        out.append((hz, rels))
    box = shapely.box(31, 11, 31.01, 11.01)
    out.append((shapely.MultiPolygon(), [ReleaseInput("e1", "cleared", "2024-01-01", box)]))
    out.append((shapely.MultiPolygon([box]), []))
    out.append((box, [ReleaseInput("e2", "reduced", "2024-02-01", shapely.MultiPolygon())]))
    bow = shapely.Polygon([(31, 11), (31.01, 11.01), (31.01, 11), (31, 11.01)])  # self-crossing
    out.append((box, [ReleaseInput("e3", "cancelled", "2023-02-01", bow)]))
    out.append((bow, [ReleaseInput("e4", "cleared", "2023-02-01", box)]))
    out.append((bow, []))  # cleaned: its account's remaining polygon is on the 1e-9 grid
    return out


@pytest.fixture
def forced(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pool used for as few as 2 pairs, 3 to a batch, with 2 workers even on one CPU, in
    a program that allows worker processes (as the demine command does)."""
    monkeypatch.setattr(procs, "_allowed", True)
    monkeypatch.setattr(release_pool, "MIN_POOL", 2)
    monkeypatch.setattr(release_pool, "BATCH", 3)
    monkeypatch.setattr(release_pool, "_workers", lambda: 2)


@pytest.mark.parametrize("year_ends", [True, False])
def test_pool_gives_the_serial_accounts_to_the_bit(forced: None, year_ends: bool) -> None:
    items = _items(40)
    serial = [_flat(account(g, r, year_ends=year_ends)) for g, r in items]
    assert any(p[12] is not None for f in serial for p in f[6:]) == year_ends
    with pooled():
        got = accounts_many(items, year_ends=year_ends)
        assert pool_started()
        again = accounts_many(items[:5], year_ends=year_ends)  # the same pool, reused
    assert not pool_started()
    assert [_flat(a) for a in got] == serial
    assert [_flat(a) for a in again] == serial[:5]
    # a grid kept: a self-crossing hazard's account is its cleaned polygon, on a grid
    assert any(w is not None and w[1] > 0 for f in serial for w in f[4:6])


def test_outside_pooled_or_few_pairs_no_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    items = _items(4)
    serial = [_flat(account(g, r, year_ends=True)) for g, r in items]
    assert [_flat(a) for a in accounts_many(items, year_ends=True)] == serial
    with pooled():
        assert [_flat(a) for a in accounts_many(items, year_ends=True)] == serial
        assert not pool_started()  # fewer than MIN_POOL
    monkeypatch.setattr(release_pool, "MIN_POOL", 2)
    monkeypatch.setattr(release_pool, "_workers", lambda: 1)
    with pooled():
        assert [_flat(a) for a in accounts_many(items, year_ends=True)] == serial
        assert not pool_started()  # one CPU


def test_no_pool_unless_the_program_allows_it(
    forced: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Python program that has not called procs.allow() (its work maybe not under
    ``if __name__ == "__main__":``, which a worker would run again) gets no worker processes:
    the same accounts, computed in the calling process."""
    items = _items(6)
    serial = [_flat(account(g, r, year_ends=True)) for g, r in items]
    procs.allow(False)
    with pooled():
        assert [_flat(a) for a in accounts_many(items, year_ends=True)] == serial
        assert not pool_started()
    procs.allow()
    with pooled():
        assert [_flat(a) for a in accounts_many(items, year_ends=True)] == serial
        assert pool_started()


def test_the_demine_command_allows_worker_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    from demine.cli import app as cli_app

    monkeypatch.setattr(procs, "_allowed", False)
    monkeypatch.setattr(sys, "argv", ["demine", "--help"])
    with pytest.raises(SystemExit):
        cli_app.main()
    assert procs.allowed()


def test_pool_is_shut_down_on_error(forced: None) -> None:
    items = _items(6)
    with pytest.raises(RuntimeError), pooled():
        accounts_many(items, year_ends=True)
        assert pool_started()
        raise RuntimeError("boom")
    assert not pool_started()
    with pooled():  # nested: one pool
        with pooled():
            accounts_many(items, year_ends=True)
        assert pool_started()


def _rows(store: Any) -> list[Any]:
    """Every derived table's rows, sorted, without the time they were computed at."""
    from demine.store.core.derived_schema import DERIVED_BY_HAZARD

    def body(c: Any) -> list[Any]:
        out = []
        for t in DERIVED_BY_HAZARD:
            cols = [
                n for n in sorted(store._derived_columns(c, t)) if n not in ("computed_at", "fid")
            ]
            rows = c.execute(f"SELECT {', '.join(cols)} FROM {t}").fetchall()
            out.append(
                (
                    t,
                    cols,
                    sorted(
                        [
                            tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)
                            for r in rows
                        ],
                        key=repr,
                    ),
                )
            )
        return out

    return store._transaction("__derived__", body)


def _add_releases(store: Any, year: stats_data.Year, n: int) -> None:
    rng = random.Random(7)
    hazards = [h.id for h in year.hazards.values()]
    recs = []
    for _ in range(n):
        h = store.get("hazards", rng.choice(hazards))
        x0, y0, x1, y1 = shapely.bounds(h.geometry)
        w, hh = (x1 - x0) or 0.01, (y1 - y0) or 0.01
        x, y = x0 + rng.uniform(-0.3, 0.8) * w, y0 + rng.uniform(-0.3, 0.8) * hh
        g = shapely.MultiPolygon([shapely.box(x, y, x + w * rng.uniform(0.2, 0.7), y + hh / 2)])
        props = {
            "activity_id": uuid7(),
            "release_type": rng.choice(TYPES),
            "released_on": f"202{rng.randint(3, 6)}-0{rng.randint(1, 9)}-15",
            "hazard_id": h.id,
        }
        recs.append(Record("releases", uuid7(), props, g))
    store.upsert("releases", recs, actor="t")


def test_rebuild_derived_with_the_pool_gives_the_same_rows(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    year = stats_data.build(store)
    _add_releases(store, year, 12)
    monkeypatch.setattr(release_pool, "MIN_POOL", 10**9)  # off
    store.rebuild_derived()
    serial = _rows(store)
    serial_accounts = store.derived_accounts()
    assert any(rows for _t, _c, rows in serial)
    monkeypatch.setattr(procs, "_allowed", True)
    monkeypatch.setattr(release_pool, "MIN_POOL", 2)  # forced
    monkeypatch.setattr(release_pool, "BATCH", 2)
    monkeypatch.setattr(release_pool, "_workers", lambda: 2)
    started: list[bool] = []
    real = release_pool.accounts_many

    def spy(items: Any, *, year_ends: bool) -> Any:
        out = real(items, year_ends=year_ends)
        started.append(pool_started())
        return out

    monkeypatch.setattr(release_pool, "accounts_many", spy)
    store.rebuild_derived()
    assert started and all(started)  # the accounts were computed on the workers
    assert _rows(store) == serial
    assert [_flat(a) for a in store.derived_accounts().values()] == [
        _flat(a) for a in serial_accounts.values()
    ]
    # a write's upkeep (many hazards at once) takes the pool too, with the same result
    started.clear()
    _add_releases(store, year, 6)
    assert started and all(started)
    pooled_rows = _rows(store)
    monkeypatch.setattr(release_pool, "MIN_POOL", 10**9)
    store.rebuild_derived()
    assert _rows(store) == pooled_rows


def test_spawn_where_there_is_no_fork_server(forced: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where there is no fork server (Windows), the workers are spawned: the same accounts."""
    items = _items(6)
    serial = [_flat(account(g, r, year_ends=True)) for g, r in items]
    monkeypatch.setattr(release_pool.multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    with pooled():
        got = accounts_many(items, year_ends=True)
        assert pool_started()
    assert [_flat(a) for a in got] == serial
