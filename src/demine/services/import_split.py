"""A large first import of hazards in two processes (issue 16: 100,000 polygons no slower than
``ogr2ogr``). :func:`split_import` is tried by :func:`demine.services.imports.import_files`
before the usual way; it gives the same records, revisions, derived rows and report, or None
and the usual way runs (nothing was written).

How: the process forks. Each of the two reads a part of the GeoJSON file's features
(:func:`demine.io.geojson.read_geojson`'s ``part``: the first :data:`FIRST` of :data:`SHARES`,
the second the rest; the text cut between two features, so that each parses only its own
half, the second's indexes then counting from 0 and shifted when joined), checks them with
the import's own checks (:func:`~demine.services.import_check.read_and_check`) and makes
their store rows (:meth:`~demine.store.core.prepared.Prepared.prepare_created`: record,
revision, derived row, the last from the areas the checks measured). The first tells the
second what it needs of the first part to look for duplicates (ids, source ids, identity
fields, geometries), then writes its rows while the second ends its part. The second hands
over, pickled in unnamed temporary files, first its report, its rows and what crosses the
parts, which the first writes in the same transaction
(:meth:`~demine.store.core.prepared.Prepared.create_prepared`); then the duplicates among
both parts, found as the usual way finds them while the first writes: the first adds their
warnings to the report before it commits.

Only where the result is sure to be the usual way's (:func:`can_split`): one GeoJSON file of
hazards of :data:`MIN_BYTES` or more, into a store with no hazards, releases or activities,
duplicates not skipped, not a submission, in a program that allows worker processes
(``demine.procs``) and runs one thread (a fork copies only the calling thread), on Linux. Any
fault, a link by source id, an id given in both parts, a failure of either process: None
(the transaction rolled back), and the usual way, which reports them exactly, runs instead.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from demine.errors import Fault
from demine.model.kinds import KINDS
from demine.model.schema import Record
from demine.services.import_check import (
    LINKS,
    ImportOptions,
    ImportReport,
    StoreView,
    read_and_check,
    store_view,
)
from demine.services.import_later import Later
from demine.store.base import Store

KIND = "hazards"
MIN_BYTES = 16 * 1024 * 1024  # about 18,000 polygons; below it one process is about as fast
# the first process checks FIRST of SHARES parts of the features, the forked one the rest:
# the first then writes both parts' rows while the other looks for the duplicates among both
SHARES, FIRST = 100, 50
# how long the first process waits for the other once its part is done: WAIT_TIMES its own
# part's time, at least WAIT_S seconds
WAIT_S, WAIT_TIMES = 60.0, 4.0


@dataclasses.dataclass
class Early:
    """What the second process hands over with its rows: what the first needs to join the
    parts and (with the keys, handed over last) to look for the duplicates among both."""

    ids: list[str]
    source_ids: list[str | None]
    indexes: list[int]
    identity: list[tuple[Any, ...]]  # each record's duplicate identity fields' values
    export: str | None
    file_warnings: list[Fault]


@dataclasses.dataclass
class Part:
    """One part of the file checked, and its store rows."""

    report: ImportReport
    good: list[Record]
    rows: Any = None  # store.core.prepared.CreatedRows


@dataclasses.dataclass(frozen=True)
class _Job:
    path: Path
    options: ImportOptions
    view: StoreView
    role: str | None
    at: str
    actor: str
    organisation: str


def can_split(
    store: Store,
    paths: list[Path],
    options: ImportOptions,
    *,
    submitting: bool,
) -> bool:
    """Whether :func:`split_import` may run (see the module's docstring)."""
    from demine import procs
    from demine.io.sources import format_of

    if not (
        procs.allowed()
        and sys.platform == "linux"  # fork is safe there with the libraries demine loads
        and _alone()
        and len(paths) == 1
        and options.kind == KIND
        and not options.skip_duplicates
        and not submitting
        and format_of(paths[0]) == "geojson"
    ):
        return False
    try:
        if paths[0].stat().st_size < MIN_BYTES:
            return False
    except OSError:
        return False
    # and nothing its hazards' accounts would overlay (store/core/prepared.py)
    return all(store.count(k) == 0 for k in (KIND, "releases", "activities"))


def _alone() -> bool:
    """Only this thread runs (a fork copies only it; a lock another holds would never be let
    go in the forked process)."""
    import threading

    return threading.active_count() == 1


def split_import(
    store: Store,
    path: Path,
    options: ImportOptions,
    *,
    role: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    stage: Callable[[str], None] | None = None,
    upkeep: Callable[[int, int], None] | None = None,
) -> ImportReport | None:
    """Import ``path`` in two processes; None: not done (nothing written), import it the
    usual way. Call only where :func:`can_split` says so."""
    from demine.model.schema import now_utc
    from demine.services.records import current_actor
    from demine.services.submitting import organisation_of

    kind = KINDS[KIND]
    store.kind(KIND)  # read now: the forked process never uses the connection
    view = store_view(store, kind)
    actor = options.actor or current_actor()
    job = _Job(path, options, view, role, now_utc(), actor, organisation_of(store, actor))
    if stage is not None:
        stage(f"checking {path.name}")
    with _allocator():
        return _split(store, job, progress, stage, upkeep)


def _split(
    store: Store,
    job: _Job,
    progress: Callable[[int, int], None] | None,
    stage: Callable[[str], None] | None,
    upkeep: Callable[[int, int], None] | None,
) -> ImportReport | None:
    """:func:`split_import`'s work, from the fork on."""
    import time

    try:
        other = _Other(lambda send, receive: _second(store, job, send, receive))
    except OSError:  # no process or temporary file to be had (memory, limits, disk)
        return None
    try:
        t0 = time.monotonic()
        try:
            mine = _check(store, job, (0, FIRST, SHARES), progress)
            if mine is not None:
                mine.rows = _rows(store, job, mine)
        except Exception:  # the usual way says what is wrong, exactly
            mine = None
        if mine is None:
            return None
        # the other part takes about as long: far longer, it is stuck (then the usual way)
        other.deadline = time.monotonic() + max(WAIT_S, WAIT_TIMES * (time.monotonic() - t0))
        # for the duplicates, looked for by the other: told on a thread while this one writes
        part = mine
        telling = Later(lambda: other.tell(_mine(part)))
        try:
            return _write(store, job, mine, other, stage, upkeep, telling)
        finally:
            telling.wait()
    finally:
        other.close()


# glibc's allocator while the import runs (both processes): large blocks (numpy's arrays of
# positions, GEOS's coordinates, the rows' blobs) kept for reuse rather than handed back to
# the system and asked for again, each new page a fault (about 550,000 faults for 100,000
# polygons, two seconds of system time on a virtual machine; 440,000 so: docs/benchmarks.md).
# mallopt's M_MMAP_THRESHOLD, M_TRIM_THRESHOLD and M_TOP_PAD; then their defaults again.
_MALLOC = ((-3, 2**30), (-1, 2**30), (-2, 256 * 2**20))
_MALLOC_DEFAULTS = ((-3, 128 * 1024), (-1, 128 * 1024), (-2, 128 * 1024))


@contextmanager
def _allocator() -> Iterator[None]:
    """Within: :data:`_MALLOC` (where the C library is glibc); after, the memory kept
    handed back."""
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        mallopt, trim = libc.mallopt, libc.malloc_trim
    except (OSError, AttributeError):  # not glibc: as it is
        yield
        return
    for param, value in _MALLOC:
        mallopt(param, value)
    try:
        yield
    finally:
        for param, value in _MALLOC_DEFAULTS:
            mallopt(param, value)
        trim(0)


def _check(
    store: Store,
    job: _Job,
    part: tuple[int, int, int],
    progress: Callable[[int, int], None] | None = None,
) -> Part | None:
    """Check one part of the file; None where the usual way must decide (a fault, a link by
    source id)."""
    from demine.services.record_rules import require_settable

    kind, good, report, faults = read_and_check(
        job.path,
        job.options,
        store=store,
        progress=progress,
        part=part,
        view=job.view,
        measured=True,
    )
    links = frozenset(LINKS)
    if faults or any(r.extra and not links.isdisjoint(r.extra) for r in good):
        return None
    require_settable(kind, {k for r in good for k in r.properties}, job.role)
    return Part(report, good)


def _rows(store: Store, job: _Job, part: Part) -> Any:
    """The store rows of a checked part, as a first import writes them."""
    from demine.services.import_faults import repair_notes
    from demine.store.core.records import revision_reasons

    rep = part.report
    reason = job.options.reason or f"import {job.path.name}"
    notes = repair_notes(rep.repairs, rep.indexes, rep.warnings)
    whys = revision_reasons(reason, notes, len(part.good))
    return store.prepare_created(
        KIND,
        part.good,
        at=job.at,
        actor=job.actor,
        organisation=job.organisation,
        reasons=whys,
        derived=job.view.derived_built,
        areas=rep.areas,
    )


def _early(part: Part) -> Early:
    from demine.services.duplicates import IDENTITY

    fields, good = IDENTITY[KIND], part.good
    return Early(
        [r.id for r in good],
        [r.source_id for r in good],
        part.report.indexes,
        [tuple(map(r.properties.get, fields)) for r in good],
        part.report.export,
        _file_level(part.report.warnings),
    )


def _keys(part: Part) -> Any:
    """The duplicate keys of the part's geometries."""
    from demine.services.duplicates import geometry_keys

    return geometry_keys([r.geometry for r in part.good], digest=True)


def _mine(part: Part) -> tuple[Early, int, Any]:
    """What the first process tells the other, for the duplicates among both parts: what
    joins the parts, its count of features and its geometries (WKB)."""
    import shapely

    return _early(part), part.report.total, shapely.to_wkb([r.geometry for r in part.good])


def _second(
    store: Store, job: _Job, send: Callable[[Any], None], receive: Callable[[], Any]
) -> None:
    """The forked process: its part checked, then (1) the report, the rows and what the
    first needs to join the parts; then, once the first has told it its part
    (:func:`_mine`), (2) the duplicates among both parts; or None (the usual way decides)."""
    from demine.geo.structure import no_gc

    with no_gc():
        part = _check(store, job, (FIRST, SHARES, SHARES))
        if part is None:
            send(None)
            return
        rows = _rows(store, job, part)
        part.report.areas = None  # made into its rows: not handed over
        send((part.report, rows, _early(part)))
        keys = _keys(part)
        first = receive()
        send(None if first is None else _duplicates(job, part, keys, *first))


def _duplicates(
    job: _Job, b: Part, keys_b: Any, a: Early, count_a: int, wkb_a: Any
) -> tuple[list[Fault], int, int]:
    """The duplicates among both parts' records (the store has none of the kind), as the
    usual way finds them: the warnings (naming each duplicate's feature by its index in the
    file), how many duplicates, how many of them of stored records. The first part's records
    made of its ids and identity fields."""
    import shapely

    from demine.services.duplicates import (
        IDENTITY,
        Batch,
        GeometryKeys,
        flag_duplicates,
        geometry_keys,
    )

    fields = IDENTITY[KIND]
    # the second part's indexes count from its first feature when the file was cut by bytes
    by = count_a if b.report.first_index is None else 0
    records = [
        Record(KIND, rid, dict(zip(fields, vals, strict=True)), None, sid)
        for rid, sid, vals in zip(a.ids, a.source_ids, a.identity, strict=True)
    ]
    batch = Batch(
        job.path.name, records + b.good, list(a.indexes) + [i + by for i in b.report.indexes]
    )
    keys_a = geometry_keys(shapely.from_wkb(wkb_a), digest=True)
    flag_duplicates(
        KIND,
        [batch],
        [],
        tolerance_m=job.options.duplicate_tolerance_m,
        skip=False,
        keys=GeometryKeys.join([keys_a, keys_b]),
    )
    return batch.warnings, batch.duplicates, batch.of_stored


class _Other:
    """The forked process: its messages read when wanted, in order (None: it failed, it was
    not done by the deadline, or it said None); told one thing; killed if not done when
    closed."""

    def __init__(self, work: Callable[[Callable[[Any], None], Callable[[], Any]], None]) -> None:
        self.pid, self.fd, self.files, self.to_fd, self.to_file = _fork(work)
        self.deadline: float | None = None
        self.failed = False

    def next(self) -> Any:
        if self.failed:
            return None
        got = _receive(self.fd, self.files, self.deadline)
        if got is None:
            self.failed = True
        return got

    def tell(self, obj: Any) -> None:
        _write_message(self.to_file, self.to_fd, obj)

    def close(self) -> None:
        import signal

        if self.fd < 0:
            return
        os.kill(self.pid, signal.SIGKILL)  # done or not: it has nothing more to say
        os.close(self.fd)
        os.close(self.to_fd)
        for f in [*self.files, self.to_file]:
            f.close()
        os.waitpid(self.pid, 0)
        self.fd = -1


MESSAGES = 2  # the second process's: (report, rows, Early), then the duplicates


def _fork(
    work: Callable[[Callable[[Any], None], Callable[[], Any]], None],
) -> tuple[int, int, list[Any], int, Any]:
    """Run ``work(send, receive)`` in a forked process: each ``send(obj)`` pickles ``obj``
    into the next of :data:`MESSAGES` unnamed temporary files, then says so through a pipe;
    ``receive()`` waits for what the first process tells it (:meth:`_Other.tell`, through a
    file and a pipe of their own; None: the first process is gone). (pid, the read end of the
    pipe from it, its files, the write end of the pipe to it, the file to it.)"""
    import tempfile

    files: list[Any] = []
    fds: list[int] = []
    try:
        for _ in range(MESSAGES + 1):
            files.append(tempfile.TemporaryFile())  # noqa: SIM115 - closed by _Other
        fds += os.pipe()
        fds += os.pipe()
        pid = os.fork()
    except OSError:  # nothing left open
        for f in files:
            f.close()
        for fd in fds:
            os.close(fd)
        raise
    r, w, r_to, w_to = fds
    to_file = files.pop()
    if pid:
        os.close(w)
        os.close(r_to)
        return pid, r, files, w_to, to_file
    code = 0  # the forked process: never returns, never runs the parent's cleanup
    sent = [0]

    def send(obj: Any) -> None:
        _write_message(files[sent[0]], w, obj)  # the first may read it while this one goes on
        sent[0] += 1

    def receive() -> Any:
        return _receive(r_to, [to_file], None)

    try:
        os.close(r)
        os.close(w_to)
        try:
            work(send, receive)
        except Exception:  # the usual way says what is wrong
            if sent[0] < MESSAGES:
                send(None)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _write_message(f: Any, fd: int, obj: Any) -> None:
    """``obj`` pickled into ``f``, then said so through the pipe ``fd``."""
    f.write(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
    f.flush()
    os.write(fd, b"1")


def _receive(fd: int, files: list[Any], deadline: float | None) -> Any:
    """The next message of the forked process (None: none by ``deadline``, it ended
    without, or it sent None)."""
    import select
    import time

    wait = None if deadline is None else deadline - time.monotonic()
    if wait is not None and (wait <= 0 or not select.select([fd], [], [], wait)[0]):
        return None  # stuck: the usual way
    if os.read(fd, 1) != b"1":  # it ended without a message
        return None
    f = next(f for f in files if not f.closed)
    f.seek(0)
    data = f.read()
    f.close()
    return pickle.loads(data)


def _joinable(a: Part, b: Early) -> bool:
    """The parts join into what one process finds: the same file-level warnings and
    reading, no id or source id given in both (a fault the usual way names)."""
    if a.report.export != b.export or _file_level(a.report.warnings) != b.file_warnings:
        return False
    if not {r.id for r in a.good}.isdisjoint(b.ids):
        return False
    sa = {r.source_id for r in a.good if r.source_id is not None}
    return sa.isdisjoint(s for s in b.source_ids if s is not None)


def _shift(b: ImportReport, early: Early, by: int) -> None:
    """The second part's feature indexes made the file's: ``by`` added (the first part's
    count of features: the file was cut by bytes)."""

    def moved(faults: list[Fault]) -> list[Fault]:
        return [
            f if f.index is None else dataclasses.replace(f, index=f.index + by) for f in faults
        ]

    b.indexes = [i + by for i in b.indexes]
    early.indexes = [i + by for i in early.indexes]
    b.warnings, b.repairs = moved(b.warnings), moved(b.repairs)
    b.feature_ids = {i + by: v for i, v in b.feature_ids.items()}
    b.first_index = by


def _file_level(warnings: list[Fault]) -> list[Fault]:
    return [w for w in warnings if w.index is None]


def _write(
    store: Store,
    job: _Job,
    a: Part,
    other: _Other,
    stage: Callable[[str], None] | None,
    upkeep: Callable[[int, int], None] | None,
    telling: Later,
) -> ImportReport | None:
    """One transaction: the first part's rows written while the other process ends its
    part; then its rows written, while it looks for the duplicates among both (as the usual
    way does: :func:`_duplicates`, once ``telling`` has told it this part), handed over last.
    The joined report, or None (nothing written)."""
    from demine.errors import StoreFull
    from demine.services.import_later import store_full

    rep = a.report

    def theirs() -> Any:
        late = other.next()
        if late is None:
            return None
        b, rows, early = late
        if b.cut != a.report.cut or not _joinable(a, early):  # both cut by bytes, or neither
            return None
        if b.first_index is None:  # its indexes count from its first feature: after ours
            _shift(b, early, a.report.total)
        rep.total += b.total
        rep.warnings = rep.warnings + [w for w in b.warnings if w.index is not None]
        rep.repairs = rep.repairs + b.repairs
        rep.indexes = rep.indexes + b.indexes
        rep.feature_ids.update(b.feature_ids)
        if stage is not None:
            stage(f"storing {len(rep.indexes):,} {KIND}")
        return rows

    def write() -> list[str] | None:
        ids = store.create_prepared(
            KIND, [a.rows, theirs], at=job.at, expected=2 * len(a.good), progress=upkeep
        )
        if ids is not None:
            try:
                telling()
            except Exception:  # not told: it cannot look for the duplicates
                raise _Fallback from None
            found = other.next()  # the duplicates: none to be had undoes the write
            if found is None:
                raise _Fallback
            _apply(rep, job.path.name, *found)
        return ids

    if stage is not None:
        stage(f"storing {KIND}")
    try:
        ids = store.atomically(write)
    except _Fallback:
        ids = None
    except StoreFull:
        raise store_full([job.path]) from None
    if ids is None:
        return None
    rep.ids = ids
    rep.areas = None  # the first part's only: its derived rows are made
    rep.created, rep.updated, rep.unchanged = len(ids), 0, 0
    rep.stored = True
    return rep


class _Fallback(Exception):
    """The other process gave no duplicates: the write is undone, the usual way runs."""


def _apply(
    rep: ImportReport, source: str, warnings: list[Fault], duplicates: int, of_stored: int
) -> None:
    from demine.services.import_faults import name_faults

    rep.warnings.extend(name_faults(warnings, rep.feature_ids, source))
    rep.duplicates = duplicates
    rep.duplicates_of_stored = of_stored
