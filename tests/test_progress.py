"""Progress of the long operations (issue 16): ``rebuild_derived(progress=...)``, a write's
``upsert(progress=...)`` and a copy's ``load_revisions(progress=...)`` / ``copy_store(...,
progress=...)`` tell (hazards done, hazards to do) after each chunk of land-release accounts,
non-decreasing up to (total, total), without changing what is stored; ``demine
rebuild-derived``, ``demine import`` and ``demine copy`` show a progress bar on a terminal's
stderr, and nothing with --json or when stderr is not a terminal (stdout stays clean JSON).
Both backends; the chunk size is made small so that a few hazards take several chunks."""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import shapely

from demine.services.copy import copy_store
from demine.services.register import ImportOptions, import_file
from demine.services.release_rules import computed
from demine.services.setup import init_store
from demine.store.core.derived import Derived
from demine.store.open import open_store
from test_copy import _snapshot
from test_derived import _flat

N = 12  # hazards, each with a completed clearance and two releases


def _feature(fid: str, props: dict[str, Any], geom: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": fid,
        "properties": props,
        "geometry": shapely.geometry.mapping(geom),
    }


def _box(i: int, x0: float = 0.0, x1: float = 1.0) -> Any:
    """Hazard i's box (0.004° x 0.003°, in a row), or the part from x0 to x1 of its width."""
    x, y = 37.0 + 0.01 * i, 48.0
    return shapely.box(x + 0.004 * x0, y, x + 0.004 * x1, y + 0.003)


def _write(tmp: Path, name: str, feats: list[dict[str, Any]]) -> Path:
    p = tmp / f"{name}.geojson"
    p.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": feats}))
    return p


def _files(tmp: Path) -> tuple[Path, Path, Path]:
    hazards = [
        _feature(
            f"H-{i}",
            {"hazard_type": "CHA", "status": "open", "name": f"H{i}", "reported_on": "2023-05-01"},
            _box(i),
        )
        for i in range(N)
    ]
    acts = [
        _feature(
            f"A-{i}",
            {
                "hazard_source_id": f"H-{i}",
                "activity_type": "clearance",
                "status": "completed",
                "organisation": "Operator A",
                "method": "manual",
                "started_on": "2024-01-02",
                "completed_on": "2024-06-30",
            },
            _box(i),
        )
        for i in range(N)
    ]
    rels = [
        _feature(
            f"R-{i}-{k}",
            {
                "activity_source_id": f"A-{i}",
                "release_type": "cleared",
                "released_on": f"2024-0{3 + k}-01",
            },
            _box(i, 0.5 * k, 0.5 * k + 0.6),  # the two overlap
        )
        for i in range(N)
        for k in range(2)
    ]
    return _write(tmp, "h", hazards), _write(tmp, "a", acts), _write(tmp, "r", rels)


def _counted(calls: list[tuple[int, int]], total: int) -> None:
    """Told after each chunk (and once before the first), never going back, ending done."""
    assert calls[0] == (0, total)
    assert calls[-1] == (total, total)
    assert all(t == total for _, t in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert len(calls) >= 3  # several chunks


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Derived, "DERIVE_CHUNK", 5)


def test_rebuild_derived_tells_its_progress(store: Any, tmp_path: Path, small_chunks: None) -> None:
    h, a, r = _files(tmp_path)
    for path, kind in ((h, "hazards"), (a, "activities"), (r, "releases")):
        import_file(store, path, ImportOptions(kind=kind))
    kept = _flat(store.derived_accounts())
    assert kept == _flat(computed(store))
    calls: list[tuple[int, int]] = []
    assert store.rebuild_derived(progress=lambda d, t: calls.append((d, t))) == N
    assert calls == [(0, N), (5, N), (10, N), (N, N)]
    assert _flat(store.derived_accounts()) == kept  # the same as without a callback
    assert store.rebuild_derived() == N
    assert _flat(store.derived_accounts()) == kept


def test_import_tells_its_stages_and_the_accounts_progress(
    store: Any, tmp_path: Path, small_chunks: None
) -> None:
    h, a, r = _files(tmp_path)
    import_file(store, h, ImportOptions(kind="hazards"))
    import_file(store, a, ImportOptions(kind="activities"))
    stages: list[str] = []
    calls: list[tuple[int, int]] = []
    rep = import_file(
        store,
        r,
        ImportOptions(kind="releases"),
        stage=stages.append,
        upkeep=lambda d, t: calls.append((d, t)),
    )
    assert rep.created == 2 * N
    assert stages[:3] == [
        "checking r.geojson",
        "checking links and rules of r.geojson",
        f"storing {2 * N} releases",
    ]
    # duplicates are looked for on a second thread while the records are stored: named
    # after them only when that thread is still at work
    assert stages[3:] in ([], ["looking for duplicate releases"])
    _counted(calls, N)
    upkept = _flat(store.derived_accounts())
    assert upkept == _flat(computed(store))  # as a full recomputation, callback or not
    store.rebuild_derived()
    assert _flat(store.derived_accounts()) == upkept
    # an update of the activities tells the hazards whose last activity's date it changed
    calls.clear()
    store.upsert(
        "activities",
        [
            dataclasses.replace(x, properties={**x.properties, "completed_on": "2024-07-01"})
            for x in store.list("activities")
        ],
        actor="t",
        progress=lambda d, t: calls.append((d, t)),
    )
    _counted(calls, N)
    assert _flat(store.derived_accounts()) == _flat(computed(store))


# --- the CLI on a terminal ---------------------------------------------------------------------

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


def _demine(loc: str, args: list[str], tty: bool) -> tuple[int, str, str]:
    """Run demine (stdout a pipe; stderr a pseudo-terminal of 160 columns, or a pipe): its exit
    code, stdout and what stderr showed, control sequences left out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TTY_", "FORCE_", "NO_CO"))}
    env.update(TERM="xterm-256color", COLUMNS="160")
    cmd = [sys.executable, "-m", "demine.cli.app", "--role", "admin", "--db", loc, *args]
    if not tty:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        return p.returncode, p.stdout, p.stderr
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    chunks: list[bytes] = []

    def pump() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # the terminal's other end is closed: all read
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=pump)
    with subprocess.Popen(
        cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave
    ) as proc:
        os.close(slave)
        reader.start()
        out, _ = proc.communicate(timeout=300)
    reader.join(timeout=60)
    os.close(master)
    shown = ANSI.sub("", b"".join(chunks).decode(errors="replace"))
    return proc.returncode, out.decode(), shown


@pytest.fixture
def location(store: Any, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the `store` fixture's store is, for a demine process."""
    if request.node.callspec.params["store"] == "gpkg":
        return str(tmp_path / "test.gpkg")
    return str(request.getfixturevalue("pg_url"))


def test_cli_shows_progress_on_a_terminal_only(store: Any, location: str, tmp_path: Path) -> None:
    h, a, r = _files(tmp_path)
    for path, kind in ((h, "hazards"), (a, "activities")):
        import_file(store, path, ImportOptions(kind=kind))

    code, out, shown = _demine(location, ["import", str(r), "--kind", "releases"], tty=True)
    assert code == 0, shown
    assert "checking r.geojson" in shown
    assert f"storing {2 * N} releases" in shown
    assert f"updating land-release accounts {N}/{N}" in shown
    assert f"imported {2 * N} of {2 * N} features" in out  # the report, on stdout

    code, out, shown = _demine(location, ["rebuild-derived"], tty=True)
    assert code == 0, shown
    assert f"rebuilding land-release accounts {N}/{N}" in shown
    assert f"derived figures rebuilt: {N} hazards" in out

    # --json on a terminal, or stderr not a terminal: no bar, stdout clean JSON
    for args, tty in (
        (["rebuild-derived", "--json"], True),
        (["rebuild-derived"], False),
        (["import", str(r), "--kind", "releases", "--json"], True),
        (["import", str(r), "--kind", "releases"], False),
    ):
        code, out, shown = _demine(location, args, tty)
        assert code == 0, (args, shown)
        assert "land-release accounts" not in shown, args
        assert "checking" not in shown and "storing" not in shown, args
        if "--json" in args:
            assert isinstance(json.loads(out), dict)
    assert _flat(store.derived_accounts()) == _flat(computed(store))


# --- demine copy --------------------------------------------------------------------------------


def _source(tmp: Path) -> str:
    """A GeoPackage store of N hazards, each with a clearance and two releases."""
    loc = str(tmp / "source.gpkg")
    src = open_store(loc)
    init_store(src)
    for path, kind in zip(_files(tmp), ("hazards", "activities", "releases"), strict=True):
        import_file(src, path, ImportOptions(kind=kind))
    src.close()
    return loc


@pytest.fixture(params=["gpkg", "postgis"])
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Makes the location of a new, empty store on the backend the test runs on (a PostGIS
    store in a schema of its own, dropped afterwards)."""
    schemas: list[str] = []
    pg = request.getfixturevalue("pg_url").split("?")[0] if request.param == "postgis" else ""

    def new() -> str:
        if request.param == "gpkg":
            return str(tmp_path / f"copy-{uuid.uuid4().hex[:8]}.gpkg")
        url = str(request.getfixturevalue("pg_url"))
        schemas.append("t_" + uuid.uuid4().hex[:12])
        return f"{url.rsplit('demine_schema=', 1)[0]}demine_schema={schemas[-1]}"

    yield new
    if schemas:
        import psycopg

        with psycopg.connect(pg, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_copy_tells_its_stages_and_the_accounts_progress(
    fresh: Callable[[], str], tmp_path: Path, small_chunks: None
) -> None:
    src = open_store(_source(tmp_path))
    stages: list[str] = []
    calls: list[tuple[int, int]] = []
    told = open_store(fresh())
    info = copy_store(src, told, stage=stages.append, progress=lambda d, t: calls.append((d, t)))
    assert stages == [
        "copying layers, settings, users and tokens",
        "copying revisions",
        "copying submissions, attachments and links",
    ]
    assert calls == [(0, N), (5, N), (10, N), (N, N)]
    _counted(calls, N)
    plain = open_store(fresh())
    again = copy_store(src, plain)  # the same, without callbacks
    skip = ("source", "destination")
    assert {k: v for k, v in info.items() if k not in skip} == {
        k: v for k, v in again.items() if k not in skip
    }
    assert _snapshot(told) == _snapshot(plain) == _snapshot(src)
    accounts = _flat(told.derived_accounts())
    assert accounts == _flat(plain.derived_accounts()) == _flat(src.derived_accounts())
    assert accounts == _flat(computed(told))
    # the store's own load, from Python: the same callback
    calls.clear()
    direct = open_store(fresh())
    direct.init()
    made = {r.id: r.record_organisation for k in src.kinds() for r in src.list(k.name)}
    revs = list(src.revisions())
    orgs = {i: o for i, o in made.items() if o is not None}
    n = direct.load_revisions(revs, orgs, progress=lambda d, t: calls.append((d, t)))
    assert n == len(revs)
    _counted(calls, N)
    assert _flat(direct.derived_accounts()) == accounts
    for s in (src, told, plain, direct):
        s.close()


def test_cli_copy_shows_progress_on_a_terminal_only(
    fresh: Callable[[], str], tmp_path: Path
) -> None:
    src = _source(tmp_path)
    dst = fresh()
    code, out, shown = _demine(src, ["copy", src, dst], tty=True)
    assert code == 0, shown
    assert "copying revisions" in shown
    assert f"updating land-release accounts {N}/{N}" in shown
    assert "copied" in out and f"{N} hazards" in out  # the report, on stdout
    copied = open_store(dst)
    assert _flat(copied.derived_accounts()) == _flat(computed(copied))
    copied.close()
    # --json on a terminal, or stderr not a terminal: no bar, stdout clean JSON
    for args, tty in ((["--json"], True), ([], False), (["--json"], False)):
        code, out, shown = _demine(src, ["copy", src, fresh(), *args], tty)
        assert code == 0, (args, shown)
        assert "land-release accounts" not in shown, args
        assert "copying" not in shown and "opening" not in shown, args
        if "--json" in args:
            assert json.loads(out)["records"]["hazards"] == N
