"""A large first import of hazards in two processes (services/import_split.py) stores exactly
what the usual import in one process stores, and reports the same; anything it cannot join
exactly (faults, ids in both halves, a failing or stuck process) leaves it to the usual way.

Each test imports one file twice, into two new stores of one backend (both backends): once
with the split forced (any size; the check that no other thread runs is left out, as pytest
may run some) and once the usual way; then compares every record, revision, derived account
and the report. The file is shaped like real data: ids that are UUIDs, source ids and none,
nulls, foreign fields, 3D and unclosed rings, polygons and multipolygons, duplicates across
the halves.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
import shapely

from demine import procs
from demine.errors import ValidationError
from demine.io.geojson import CUT_FAULT, part_span, read_geojson
from demine.services import import_split
from demine.services.register import ImportOptions, import_file
from demine.services.setup import init_store
from demine.store.open import open_store


def _feature(i: int, n: int, *, bad: bool = False) -> dict[str, Any]:
    x, y = 30.0 + (i % 97) * 0.013, 48.0 + (i // 97) * 0.011
    ring = [[x, y], [x + 0.004, y], [x + 0.004, y + 0.003], [x, y + 0.003], [x, y]]
    geom: dict[str, Any] = {"type": "Polygon", "coordinates": [ring]}
    if i % 11 == 0:
        geom = {"type": "MultiPolygon", "coordinates": [[ring]]}
    if i % 13 == 0:
        geom = {"type": "Polygon", "coordinates": [[[*p, 101.5] for p in ring]]}  # 3D
    if i % 17 == 0:
        geom = {"type": "Polygon", "coordinates": [ring[:-1]]}  # unclosed (--repair)
    props: dict[str, Any] = {
        "hazard_type": "SHA" if i % 3 else "CHA",
        "status": "open",
        "name": f"SYNTHETIC test hazard {i}" if i % 5 else None,
        "operator_note": f"foreign field {i}" if i % 4 == 0 else None,
    }
    if bad:
        props["hazard_type"] = "not a type"
    f: dict[str, Any] = {"type": "Feature", "properties": props, "geometry": geom}
    if i % 3 == 0:
        f["id"] = str(uuid.UUID(int=i + 1))
    elif i % 3 == 1:
        f["id"] = f"HZ-{i:05d}"
    return f


def _write(tmp: Path, feats: list[dict[str, Any]], name: str = "hazards.geojson") -> Path:
    path = tmp / name
    path.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": feats}))
    return path


def _file(tmp: Path, n: int = 400, *, bad_at: int | None = None) -> Path:
    feats = [_feature(i, n, bad=i == bad_at) for i in range(n)]
    for k in (3, 8, 40):  # exact duplicates of features of the first half in the second
        j = n // 2 + 2 * k + 1
        feats[j]["geometry"] = feats[k]["geometry"]
        feats[j]["properties"]["hazard_type"] = feats[k]["properties"]["hazard_type"]
    return _write(tmp, feats)


@pytest.fixture
def forced(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The split allowed at any size; each split_import's result recorded."""
    monkeypatch.setattr(import_split, "MIN_BYTES", 0)
    monkeypatch.setattr(import_split, "_alone", lambda: True)
    monkeypatch.setattr(procs, "_allowed", True)
    done: list[Any] = []
    real = import_split.split_import

    def record(*a: Any, **k: Any) -> Any:
        done.append(real(*a, **k))
        return done[-1]

    monkeypatch.setattr(import_split, "split_import", record)
    return done


def _usual(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(procs, "_allowed", False)


def _snapshot(store: Any, rep: Any) -> list[Any]:
    """Every stored hazard (by its feature index), its revisions and derived account."""
    recs = {r.id: r for r in store.list("hazards", limit=10**6)}
    acc = store.derived_accounts()
    out = []
    for index, rid in zip(rep.indexes, rep.ids, strict=True):
        r = recs[rid]
        given = r.id if r.id == str(uuid.UUID(int=index + 1)) else None
        hist = [
            (
                h.revision,
                h.op,
                h.actor,
                h.reason,
                h.state.properties,
                shapely.to_wkb(h.state.geometry),
                h.state.source_id,
            )
            for h in store.history(rid)
        ]
        a = None if acc is None else acc[rid]
        out.append(
            (
                index,
                given,
                r.source_id,
                r.properties,
                shapely.to_wkb(r.geometry),
                r.revision,
                r.updated_by,
                r.record_organisation,
                r.extra,
                hist,
                None
                if a is None
                else (
                    a.hazard_m2,
                    a.released_m2,
                    a.remaining_m2,
                    a.by_type,
                    shapely.to_wkb(a.remaining),
                    len(a.pieces),
                ),
            )
        )
    return out


def _derived_rows(store: Any, rep: Any) -> list[Any]:
    """Each stored hazard's derived row as stored (by its feature index; without the
    hazard's id and the time it was computed), every column."""
    from demine.store.core.derived_schema import HAZARD_COLS

    cols = [c for c in HAZARD_COLS if c not in ("hazard_id", "computed_at")]
    assert len(cols) == len(HAZARD_COLS) - 2
    got = {
        r[0]: tuple(bytes(v) if isinstance(v, memoryview) else v for v in r[1:])
        for r in store.conn.execute(
            f"SELECT hazard_id, {', '.join(cols)} FROM demine_derived_hazard"
        ).fetchall()
    }
    assert len(got) == len(rep.ids)
    return [(index, got[rid]) for index, rid in zip(rep.indexes, rep.ids, strict=True)]


def _same(split: Any, usual: Any, rep_s: Any, rep_u: Any) -> None:
    assert rep_s.to_dict() == rep_u.to_dict()
    assert rep_s.indexes == rep_u.indexes and rep_s.feature_ids == rep_u.feature_ids
    assert split.count("hazards") == usual.count("hazards") == len(rep_s.ids)
    assert _snapshot(split, rep_s) == _snapshot(usual, rep_u)
    assert split.derived_built() == usual.derived_built()
    assert _derived_rows(split, rep_s) == _derived_rows(usual, rep_u)
    if (
        hasattr(split, "conn")
        and hasattr(split.conn, "execute")
        and split.location.endswith(".gpkg")
    ):
        (ok,) = split.conn.execute("SELECT rtreecheck('rtree_hazards_geom')").fetchone()
        (n,) = split.conn.execute("SELECT count(*) FROM rtree_hazards_geom").fetchone()
        assert ok == "ok" and n == len(rep_s.ids)


@pytest.mark.parametrize("repair", [False, True])
def test_split_import_stores_and_reports_what_the_usual_way_does(
    two: tuple[Any, Any],
    tmp_path: Path,
    forced: list[Any],
    monkeypatch: pytest.MonkeyPatch,
    repair: bool,
) -> None:
    split, usual = two
    path = _file(tmp_path)
    opts = ImportOptions(kind="hazards", repair=repair, skip_invalid=not repair)
    # the file is cut by bytes: the second part's indexes are shifted by the first's count
    assert read_geojson(path, part=(import_split.FIRST, 100, 100)).first is None
    rep_s = import_file(split, path, opts)
    # with --repair every feature is good: two processes; without, the unclosed rings are
    # faults (stored with --skip-invalid): the usual way decides
    assert forced == ([rep_s] if repair else [None])
    _usual(monkeypatch)
    rep_u = import_file(usual, path, opts)
    assert len(forced) == 1
    assert rep_s.duplicates == 3 and rep_s.warnings
    assert bool(rep_s.repairs) == repair and bool(rep_s.rejected) != repair
    _same(split, usual, rep_s, rep_u)


def test_split_import_of_a_clean_file(
    two: tuple[Any, Any], tmp_path: Path, forced: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    split, usual = two
    feats = [_feature(i, 300) for i in range(300) if i % 17 and i % 13]
    path = _write(tmp_path, feats)
    rep_s = import_file(split, path, ImportOptions(kind="hazards", reason="survey 2024"))
    assert forced == [rep_s] and rep_s.stored and not rep_s.warnings
    _usual(monkeypatch)
    rep_u = import_file(usual, path, ImportOptions(kind="hazards", reason="survey 2024"))
    _same(split, usual, rep_s, rep_u)


def test_a_fault_in_the_second_half_is_left_to_the_usual_way(
    two: tuple[Any, Any], tmp_path: Path, forced: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    split, usual = two
    feats = [_feature(i, 300) for i in range(300) if i % 17]
    feats[250]["properties"]["hazard_type"] = "not a type"
    path = _write(tmp_path, feats)
    with pytest.raises(ValidationError) as e_s:
        import_file(split, path, ImportOptions(kind="hazards", repair=True))
    assert forced == [None] and split.count("hazards") == 0  # nothing half-stored
    _usual(monkeypatch)
    with pytest.raises(ValidationError) as e_u:
        import_file(usual, path, ImportOptions(kind="hazards", repair=True))
    assert e_s.value.faults == e_u.value.faults and e_s.value.faults
    assert str(e_s.value) == str(e_u.value)


def test_an_id_in_both_halves_is_left_to_the_usual_way(
    two: tuple[Any, Any], tmp_path: Path, forced: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    split, usual = two
    feats = [_feature(i, 300) for i in range(300) if i % 17]
    feats[-1]["id"] = feats[0]["id"]  # a source id (HZ-00001) given twice, one in each half
    path = _write(tmp_path, feats)
    with pytest.raises(ValidationError) as e_s:
        import_file(split, path, ImportOptions(kind="hazards", repair=True))
    assert forced == [None] and split.count("hazards") == 0
    _usual(monkeypatch)
    with pytest.raises(ValidationError) as e_u:
        import_file(usual, path, ImportOptions(kind="hazards", repair=True))
    assert e_s.value.faults == e_u.value.faults
    assert any("HZ-00001" in f.reason or f.feature_id == "HZ-00001" for f in e_s.value.faults)


def test_a_failing_or_stuck_second_process_leaves_it_to_the_usual_way(
    two: tuple[Any, Any], tmp_path: Path, forced: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    split, usual = two
    path = _write(tmp_path, [_feature(i, 200) for i in range(200) if i % 17])
    real_check, real_rows = import_split._check, import_split._rows
    first = os.getpid()

    def failing(store: Any, job: Any, part: Any, progress: Any = None) -> Any:
        if part[0] != 0:
            raise RuntimeError("the second process fails")
        return real_check(store, job, part, progress)

    monkeypatch.setattr(import_split, "_check", failing)
    rep = import_file(split, path, ImportOptions(kind="hazards"))
    assert forced == [None] and rep.stored and split.count("hazards") == rep.created > 0

    def failing_later(store: Any, job: Any, part: Any) -> Any:
        if os.getpid() != first:  # after it handed over what crosses the parts
            raise RuntimeError("the second process fails while making its rows")
        return real_rows(store, job, part)

    monkeypatch.setattr(import_split, "_check", real_check)
    monkeypatch.setattr(import_split, "_rows", failing_later)
    rep2 = import_file(usual, path, ImportOptions(kind="hazards"))
    assert forced == [None, None] and usual.count("hazards") == rep2.created == rep.created
    monkeypatch.setattr(import_split, "_rows", real_rows)

    def stuck(store: Any, job: Any, part: Any, progress: Any = None) -> Any:
        if part[0] != 0:
            threading.Event().wait(600)
        return real_check(store, job, part, progress)

    monkeypatch.setattr(import_split, "_check", stuck)
    monkeypatch.setattr(import_split, "WAIT_S", 1.0)
    s3 = open_store(str(tmp_path / "third.gpkg"))  # a new store (the stuck part is the same
    init_store(s3)  # whatever the backend)
    try:
        rep3 = import_file(s3, path, ImportOptions(kind="hazards"))
    finally:
        s3.close()
    assert forced == [None, None, None] and rep3.created == rep.created


@pytest.mark.parametrize("failing", ["_keys", "_duplicates", "_mine"])
def test_a_second_process_failing_after_handing_its_rows_over_undoes_the_write(
    two: tuple[Any, Any],
    tmp_path: Path,
    forced: list[Any],
    monkeypatch: pytest.MonkeyPatch,
    failing: str,
) -> None:
    """The second process hands the duplicates over last, after its rows are written:
    without them (it fails making its keys or looking for the duplicates, or the first
    fails to tell it its part) the transaction is rolled back and the usual way stores the
    file, once."""
    split, usual = two
    path = _file(tmp_path)  # with --repair every feature is good, 3 duplicates across parts
    opts = ImportOptions(kind="hazards", repair=True)
    first, real = os.getpid(), getattr(import_split, failing)

    def failing_late(*a: Any) -> Any:
        if (os.getpid() == first) == (failing == "_mine"):
            raise RuntimeError(f"{failing} fails")
        return real(*a)

    monkeypatch.setattr(import_split, failing, failing_late)
    rep_s = import_file(split, path, opts)
    assert forced == [None] and rep_s.stored and rep_s.duplicates == 3
    _usual(monkeypatch)
    rep_u = import_file(usual, path, opts)
    assert split.count("hazards") == rep_s.created == rep_u.created == 400
    _same(split, usual, rep_s, rep_u)


def test_no_process_or_temporary_file_to_be_had_leaves_it_to_the_usual_way(
    two: tuple[Any, Any], tmp_path: Path, forced: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fork refused (memory, process limits) or no temporary file (a full disk): the usual
    way imports the file, and nothing is left open."""
    import errno
    import tempfile

    split, usual = two
    path = _file(tmp_path)
    opts = ImportOptions(kind="hazards", repair=True)
    fds = len(os.listdir("/proc/self/fd"))

    def no_fork() -> int:
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    with monkeypatch.context() as m:
        m.setattr(import_split.os, "fork", no_fork)
        rep_s = import_file(split, path, opts)
    assert forced == [None] and rep_s.stored and split.count("hazards") == 400
    assert len(os.listdir("/proc/self/fd")) == fds
    made: list[Any] = []
    real = tempfile.TemporaryFile

    def second_fails(*a: Any, **k: Any) -> Any:
        if made:
            raise OSError(errno.ENOSPC, "No space left on device")
        made.append(real(*a, **k))
        return made[-1]

    with monkeypatch.context() as m:
        m.setattr(tempfile, "TemporaryFile", second_fails)
        rep_u = import_file(usual, path, opts)
    assert forced == [None, None] and rep_u.stored and made[0].closed
    assert len(os.listdir("/proc/self/fd")) == fds
    _same(split, usual, rep_s, rep_u)


def test_only_where_the_result_is_sure(
    store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guards: worker processes allowed, one thread, one GeoJSON file of hazards of
    MIN_BYTES or more, duplicates not skipped, not a submission, a store with no hazards."""
    path = _write(tmp_path, [_feature(i, 50) for i in range(50) if i % 17])
    opts = ImportOptions(kind="hazards")
    monkeypatch.setattr(procs, "_allowed", True)
    monkeypatch.setattr(import_split, "MIN_BYTES", 0)
    assert import_split.can_split(store, [path], opts, submitting=False)
    assert not import_split.can_split(store, [path], opts, submitting=True)
    assert not import_split.can_split(store, [path, path], opts, submitting=False)
    assert not import_split.can_split(
        store, [path], ImportOptions(kind="hazards", skip_duplicates=True), submitting=False
    )
    assert not import_split.can_split(store, [path], ImportOptions(kind="finds"), submitting=False)
    csv = tmp_path / "h.csv"
    csv.write_text("wkt\n")
    assert not import_split.can_split(store, [csv], opts, submitting=False)
    monkeypatch.setattr(import_split, "MIN_BYTES", path.stat().st_size + 1)
    assert not import_split.can_split(store, [path], opts, submitting=False)
    monkeypatch.setattr(import_split, "MIN_BYTES", 0)
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:  # another thread runs: no fork
        assert not import_split.can_split(store, [path], opts, submitting=False)
    finally:
        stop.set()
        t.join()
    monkeypatch.setattr(procs, "_allowed", False)
    assert not import_split.can_split(store, [path], opts, submitting=False)
    monkeypatch.setattr(procs, "_allowed", True)
    import_file(store, path, opts)  # now the store has hazards
    assert not import_split.can_split(store, [path], opts, submitting=False)


def _same_feature(a: Any, b: Any, by: int = 0) -> None:
    """``b`` is ``a`` read in a part whose indexes count ``by`` from the file's."""

    def moved(faults: list[Any]) -> list[Any]:
        return [
            f if f.index is None else dataclasses.replace(f, index=f.index - by) for f in faults
        ]

    assert (a.index - by, a.id, a.properties, a.geometry, moved(a.faults), moved(a.warnings)) == (
        b.index,
        b.id,
        b.properties,
        b.geometry,
        b.faults,
        b.warnings,
    )


def test_parts_of_a_file_are_its_features(tmp_path: Path) -> None:
    """Read in parts cut by count (a file whose features do not begin with their "type",
    so the text is not cut), a file's features are those read whole, cut: indexes, ids,
    properties, geometries, faults and warnings; the file's own checks in every part."""
    feats: list[Any] = [_feature(i, 120) for i in range(120)]
    feats = [dict(sorted(f.items())) if isinstance(f, dict) else f for f in feats]  # "type" last
    feats[7] = {"properties": {}, "type": "Feature", "geometry": {"type": "Nope"}}
    feats[70] = "not an object"
    feats[71]["extra_member"] = 1
    raw = {"type": "FeatureCollection", "features": feats, "foreign": True}
    path = tmp_path / "parts.geojson"
    path.write_bytes(orjson.dumps(raw))
    whole = read_geojson(path)
    n = len(whole.features)
    for cut in (0, 1, 47, 50, 99, 100):
        parts = [read_geojson(path, part=(0, cut, 100)), read_geojson(path, part=(cut, 100, 100))]
        got = parts[0].features + parts[1].features
        assert len(got) == n and all(p.total == n for p in parts)
        for a, b in zip(whole.features, got, strict=True):
            _same_feature(a, b)
        for p in parts:
            assert p.warnings == whole.warnings and p.faults == whole.faults
        a, b = part_span(n, (cut, 100, 100))
        assert [f.index for f in parts[1].features] == list(range(a, b))
        assert (parts[1].first, parts[1].cut) == (a, False)  # its indexes are the file's
    one = tmp_path / "one.geojson"
    one.write_bytes(orjson.dumps(feats[0]))
    assert len(read_geojson(one, part=(0, 47, 100)).features) == 1
    assert read_geojson(one, part=(47, 100, 100)).features == []
    with pytest.raises(ValueError):
        part_span(10, (3, 2, 100))


@pytest.mark.parametrize("form", ["compact", "indented", "byte order mark"])
def test_parts_cut_by_bytes_are_the_files_features(tmp_path: Path, form: str) -> None:
    """A file whose features begin with their "type" (as GDAL, QGIS and demine write them;
    compact or indented) is cut by bytes: each part parses only its own text; together the
    parts hold the file's features, the second's indexes counting from 0 in it; each part
    makes the file's own checks (a foreign member before "features": warned in both)."""
    feats: list[Any] = [_feature(i, 120) for i in range(120)]
    feats[7] = {"type": "Feature", "properties": {}, "geometry": {"type": "Nope"}}
    feats[60]["extra_member"] = 1
    feats[90]["geometry"] = None
    raw = {"type": "FeatureCollection", "name": "hazards", "foreign": True, "features": feats}
    path = tmp_path / "bytes.geojson"
    text = json.dumps(raw, indent=2) if form == "indented" else orjson.dumps(raw).decode()
    path.write_bytes(("\ufeff" if form == "byte order mark" else "").encode() + text.encode())
    whole = read_geojson(path)
    n = len(whole.features)
    assert n == 120 and whole.warnings
    for cut in (1, 30, 47, 50, 99):
        first, second = (
            read_geojson(path, part=(0, cut, 100)),
            read_geojson(path, part=(cut, 100, 100)),
        )
        assert (first.first, second.first, first.total, second.total) == (0, None, None, None)
        assert first.cut and second.cut
        by = len(first.features)
        assert 0 < by < n and by + len(second.features) == n
        for a, b in zip(whole.features, first.features + second.features, strict=True):
            _same_feature(a, b, by if a.index >= by else 0)
        for p in (first, second):
            assert p.warnings == whole.warnings and p.faults == whole.faults == []
    # the text given rather than the file: the same parts
    for p in ((0, 47, 100), (47, 100, 100)):
        from_text = read_geojson(path.read_bytes(), source=path.name, part=p)
        assert from_text.features == read_geojson(path, part=p).features and from_text.cut
    # the same cut whichever part is read: the first ends where the second begins
    sizes = {len(read_geojson(path, part=(0, 47, 100)).features) for _ in range(2)}
    assert sizes == {n - len(read_geojson(path, part=(47, 100, 100)).features)}


def test_text_that_does_not_cut_as_parts_is_a_fault(tmp_path: Path) -> None:
    """A member after "features", or a "Feature" object nested in a feature where the cut
    falls: the part whose text does not read as a part of a FeatureCollection is a fault
    (the split import then gives way to the usual one); no feature of it is read."""
    feats: list[Any] = [_feature(i, 60) for i in range(60)]
    after = tmp_path / "after.geojson"
    after.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": feats, "x": 1}))
    assert read_geojson(after, part=(0, 47, 100)).faults == []  # its text ends before "x"
    second = read_geojson(after, part=(47, 100, 100))
    assert [f.reason for f in second.faults] == [CUT_FAULT] and second.features == []
    for f in feats:  # a list of objects shaped like features inside every feature
        f["properties"]["list"] = [{"type": "Feature", "n": 1}, {"type": "Feature", "n": 2}]
    nested = tmp_path / "nested.geojson"
    nested.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": feats}))
    for part in ((0, 47, 100), (47, 100, 100)):
        got = read_geojson(nested, part=part)
        assert [f.reason for f in got.faults] == [CUT_FAULT] and got.features == []


def test_parts_read_in_two_ways_are_not_joined(
    two: tuple[Any, Any], tmp_path: Path, forced: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One part cut by bytes, the other by count (the file changed between their reads,
    say): their features would overlap or miss some, so the usual way imports the file."""
    from demine.io import geojson

    feats = [_feature(i, 200) for i in range(200) if i % 17 and i % 13]
    for f in feats:  # no ids: an overlap would not be seen as ids given twice
        f.pop("id", None)
    path = _write(tmp_path, feats)
    first, real = os.getpid(), geojson.cut_part
    monkeypatch.setattr(geojson, "cut_part", lambda *a: real(*a) if os.getpid() == first else None)
    _given_way(two, path, forced, monkeypatch)


def test_a_file_that_does_not_cut_is_imported_the_usual_way(
    two: tuple[Any, Any], tmp_path: Path, forced: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A member after "features": the second part does not read; the usual way stores the
    file (its foreign member warned about), as one process does."""
    feats = [_feature(i, 200) for i in range(200) if i % 17]
    path = tmp_path / "after.geojson"
    path.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": feats, "x": 1}))
    _given_way(two, path, forced, monkeypatch)


def _given_way(
    two: tuple[Any, Any], path: Path, forced: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The split gives way to the usual way, which stores the file as one process does."""
    split, usual = two
    rep_s = import_file(split, path, ImportOptions(kind="hazards"))
    assert forced == [None] and rep_s.stored
    _usual(monkeypatch)
    rep_u = import_file(usual, path, ImportOptions(kind="hazards"))
    _same(split, usual, rep_s, rep_u)


def test_the_import_command_in_two_processes(
    two: tuple[Any, Any], tmp_path: Path, forced: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``demine import`` (the face a national import goes through) takes the two processes
    and prints and stores what the usual way does."""
    import json

    from typer.testing import CliRunner

    from demine.cli.app import app

    split, usual = two
    path = _file(tmp_path, 300)
    args = ["import", str(path), "--kind", "hazards", "--repair", "--json"]
    r = CliRunner().invoke(app, ["--db", split.location, *args])
    assert r.exit_code == 0, r.output
    assert len(forced) == 1 and forced[0] is not None and forced[0].stored
    _usual(monkeypatch)
    r2 = CliRunner().invoke(app, ["--db", usual.location, *args])
    assert r2.exit_code == 0, r2.output
    assert len(forced) == 1
    out = json.loads(r.stdout)
    assert out == json.loads(r2.stdout) and out["created"] == 300 and out["duplicates"] == 3

    def stored(s: Any) -> list[Any]:
        return sorted(
            (str(x.properties.get("name")), str(x.source_id), shapely.to_wkb(x.geometry).hex())
            for x in s.list("hazards", limit=10**6)
        )

    assert stored(split) == stored(usual)


def test_the_allocator_keeps_large_blocks_while_the_split_runs() -> None:
    """glibc's allocator (the C library here): within the split a large block comes from
    the heap, kept for reuse when freed; after it, from a mapping of its own, as before."""
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [
            (f, ctypes.c_size_t)
            for f in (
                "arena",
                "ordblks",
                "smblks",
                "hblks",
                "hblkhd",
                "usmblks",
                "fsmblks",
                "uordblks",
                "fordblks",
                "keepcost",
            )
        ]

    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = MallInfo2

    def mapped_for(size: int) -> int:
        before = libc.mallinfo2().hblkhd
        block = bytearray(size)
        mapped = libc.mallinfo2().hblkhd - before
        del block
        return mapped

    size = 64 * 2**20
    with import_split._allocator():
        assert mapped_for(size) == 0  # from the heap
    assert mapped_for(size) >= size  # a mapping of its own again
