"""File import: read and check (:mod:`demine.services.import_check`) → link references given by
source id → the rules across records (:func:`demine.services.record_rules.check_records`: natural
keys, links, land release) → store all in one transaction. By default one bad feature rejects
the whole file and nothing is stored; with ``skip_invalid`` the good features are stored and
the rest listed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

from demine.errors import Fault, StoreFull, ValidationError
from demine.model.kinds import KINDS, Kind
from demine.model.schema import Record
from demine.services.import_check import (
    LINKS,
    ImportOptions,
    ImportReport,
    field_mapping,
    group_rejects,
    read_and_check,
)
from demine.services.import_faults import name_faults, repair_notes
from demine.services.import_later import Later, store_full
from demine.services.record_rules import check_records, require_settable
from demine.services.records import current_actor
from demine.store.base import Store


def _link(store: Store, records: list[Record], src: str) -> list[Fault]:
    """Resolve ``hazard_source_id`` / ``emplacement_source_id`` extras into record ids."""
    faults: list[Fault] = []
    keys = frozenset(LINKS)
    linking = [(i, r) for i, r in enumerate(records) if r.extra and not keys.isdisjoint(r.extra)]
    if not linking:  # the usual import: nothing given by its source id
        return faults
    wanted: dict[str, set[str]] = {}
    for _, r in linking:
        for key, (_, target) in LINKS.items():
            if key in r.extra:
                wanted.setdefault(target, set()).add(str(r.extra[key]))
    found: dict[tuple[str, str], str] = {}
    for target, sids in wanted.items():
        for rec in store.list(target):
            if rec.source_id in sids:
                found[(target, rec.source_id)] = rec.id
    for i, r in linking:
        for key, (fname, target) in LINKS.items():
            if key in r.extra:
                rid = found.get((target, str(r.extra[key])))
                if rid is None:
                    faults.append(
                        Fault(f"no {target} record with source id {r.extra[key]!r}", i, key, src)
                    )
                else:
                    r.properties[fname] = rid
    return faults


def import_file(
    store: Store,
    path: Path,
    options: ImportOptions,
    *,
    progress: Callable[[int, int], None] | None = None,
    role: str | None = None,
    stage: Callable[[str], None] | None = None,
    upkeep: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import a file into the store. Raises ValidationError (nothing stored) when a feature is
    bad, unless ``skip_invalid``. The callbacks: see :func:`import_files`."""
    return import_files(
        store, [path], options, progress=progress, role=role, stage=stage, upkeep=upkeep
    )[0]


def import_files(
    store: Store,
    paths: Sequence[Path],
    options: ImportOptions,
    *,
    progress: Callable[[int, int], None] | None = None,
    role: str | None = None,
    batch: Batch | None = None,
    stage: Callable[[str], None] | None = None,
    upkeep: Callable[[int, int], None] | None = None,
) -> list[ImportReport]:
    """Import several files of one kind: every file is checked first; a fault in any refuses
    all (nothing stored) unless ``skip_invalid``; the good records of every file are then
    stored in one transaction. One report per file, in order.

    For a progress bar (the CLI's; no other face passes them): ``progress`` is told (features
    checked, features) while a file is read and checked; ``stage`` each stage as it starts
    (checking a file, its links and rules, storing, and looking for duplicates: before
    storing when they decide what is stored, else after it if their thread is still at
    work); ``upkeep`` (hazards done, hazards to do) as the land-release accounts of the
    hazards the records touch are updated (the store's ``upsert(progress=...)``), the last
    call (total, total).

    A role that submits (``services.access.SUBMITTERS``), or a ``batch`` (``demine submit``),
    stores the checked records as one submission instead (:class:`Submitted` is raised)."""
    from demine.geo.release import prepared
    from demine.geo.structure import no_gc
    from demine.services.import_split import can_split, split_import

    if role is not None:  # the CLI's --role: who may write this kind (services.access)
        _require_import(store, options.kind, role)
    field_mapping(options)  # a bad mapping is refused before any file is read
    if len(paths) > 1 and options.kind.startswith("layer:"):
        raise ValidationError(
            "a reference layer is imported from one file at a time",
            [Fault(f"{len(paths)} files given for {options.kind}", field="FILE")],
        )
    batch = _batch(role, batch)
    # millions of small objects: the cyclic collector would cost a third; the hazards'
    # land-release accounts are computed ahead while the properties are checked
    with no_gc(), prepared():
        if can_split(store, list(paths), options, submitting=batch is not None):  # two processes
            done = split_import(
                store,
                paths[0],
                options,
                role=role,
                progress=progress,
                stage=stage,
                upkeep=upkeep,
            )
            if done is not None:
                return [done]
        checked = [
            _check_file(store, p, options, progress=progress, role=role, stage=stage) for p in paths
        ]
        _across_files(checked)
        if options.skip_duplicates or batch is not None:  # they decide what is stored
            _duplicates(store, checked, options, stage=stage)
            return _store(store, paths, options, checked, batch, stage=stage, upkeep=upkeep)
        # duplicates only warn: worked out (mostly GEOS, which releases the GIL) on a second
        # thread while the records are written, in one transaction with them
        finish = _duplicates(store, checked, options, later=True)
        if finish is None:
            return _store(store, paths, options, checked, stage=stage, upkeep=upkeep)
        try:
            return store.atomically(
                lambda: _stored(store, paths, options, checked, finish, stage, upkeep)
            )
        except StoreFull:  # at the commit, after the writes: rolled back as a whole too
            raise store_full(paths) from None
        finally:
            finish.wait()  # never leaves the thread running


def _stored(
    store: Store,
    paths: Sequence[Path],
    options: ImportOptions,
    checked: list[_Checked],
    finish: Later,
    stage: Callable[[str], None] | None = None,
    upkeep: Callable[[int, int], None] | None = None,
) -> list[ImportReport]:
    reports = _store(store, paths, options, checked, stage=stage, upkeep=upkeep)
    if stage is not None and finish.busy:
        stage(f"looking for duplicate {checked[0].kind.name}")
    finish()  # its failure undoes the write
    return reports


@dataclasses.dataclass(frozen=True)
class Batch:
    """An import submitted as one batch (``demine submit``): with ``keep_faults`` a file with
    faults is stored too, returned for correction with every fault located (a
    ValidationError naming the submission is raised); ``resubmit``: the id of a returned
    batch this file corrects; ``draft``: kept as a draft of its organisation until
    ``demine review submit ID``."""

    keep_faults: bool = True
    resubmit: str | None = None
    draft: bool = False


def _batch(role: str | None, batch: Batch | None) -> Batch | None:
    from demine.services.access import submits

    return batch if batch is not None else (Batch(keep_faults=False) if submits(role) else None)


def _hidden_fields(store: Store, kind: Kind, good: list[Record], role: str) -> None:
    """A role imports only fields it may read; re-importing a record keeps the fields it may
    not read as they are (a field team's accident import never wipes the investigation)."""
    from demine.services.access import can_read_field

    require_settable(kind, {k for r in good for k in r.properties}, role)
    hidden = [f.name for f in kind.fields if not can_read_field(f.access, role)]
    if not hidden:
        return
    by_source = {r.source_id: r for r in store.list(kind.name) if r.source_id is not None}
    for r in good:
        old = by_source.get(r.source_id) if r.source_id is not None else None
        if old is not None:
            r.properties.update({k: old.properties[k] for k in hidden if k in old.properties})


def _require_import(store: Store, kind_name: str, role: str) -> None:
    from demine.services.access import require_write_name

    if kind_name.startswith("layer:"):
        require_write_name(kind_name.split(":", 1)[1], role, is_layer=True)
    elif kind_name in KINDS:
        require_write_name(kind_name, role)


@dataclasses.dataclass
class _Checked:
    kind: Kind
    good: list[Record]
    report: ImportReport
    faults: list[Fault]


def _check_file(
    store: Store,
    path: Path,
    options: ImportOptions,
    *,
    progress: Callable[[int, int], None] | None = None,
    role: str | None = None,
    stage: Callable[[str], None] | None = None,
) -> _Checked:
    """Read and check one file, link its references and run the rules across records."""
    if stage is not None:
        stage(f"checking {path.name}")
    kind, good, report, faults = read_and_check(path, options, store=store, progress=progress)
    if stage is not None:
        stage(f"checking links and rules of {path.name}")
    if role is not None and not kind.is_layer:
        _hidden_fields(store, kind, good, role)
    link_faults = _link(store, good, path.name)
    if not kind.is_layer:  # land-release rules and references, on the linked records
        unlinked = {f.index for f in link_faults}
        pos = [i for i in range(len(good)) if i not in unlinked]
        rule_faults = check_records(
            store, kind, [good[i] for i in pos], source=path.name, imported=True
        )
        link_faults += [dataclasses.replace(f, index=pos[f.index or 0]) for f in rule_faults]
    if link_faults:  # their index is a position in `good`: give the feature's own
        bad = {f.index for f in link_faults}
        faults += [_at(f, report, good) for f in link_faults]
        report.indexes = [x for i, x in enumerate(report.indexes) if i not in bad]
        good = [r for i, r in enumerate(good) if i not in bad]
    return _Checked(kind, good, report, faults)


def _at(f: Fault, report: ImportReport, good: list[Record]) -> Fault:
    pos = f.index or 0
    if not 0 <= pos < len(good):
        return f
    # the feature's ids in the file are named with the others' (import_faults.name_faults),
    # not the record id the rules name (for a new record, one made up on import)
    return dataclasses.replace(f, index=report.indexes[pos], feature_id=None)


def _across_files(checked: list[_Checked]) -> None:
    """An id in two files would be one record written twice: one fault naming every file and
    feature that carries it (services.duplicates); none of them is stored."""
    from demine.services.duplicates import record_occurrences, repeated_ids

    if len(checked) < 2:  # one file: its repeated ids were found when it was checked
        return
    occ = [
        o
        for c in checked
        for o in record_occurrences(Path(c.report.source).name, c.good, c.report.indexes)
    ]
    faults, drop = repeated_ids(occ)
    if not faults:
        return
    by_src = {Path(c.report.source).name: c for c in checked}
    for f in faults:  # in the report of the first file that has it
        by_src[f.source or ""].faults.append(f)
    for c in checked:
        src = Path(c.report.source).name
        keep = [i for i, x in enumerate(c.report.indexes) if (src, x) not in drop]
        c.good = [c.good[i] for i in keep]
        c.report.indexes = [c.report.indexes[i] for i in keep]


def _duplicates(
    store: Store | None,
    checked: list[_Checked],
    options: ImportOptions,
    *,
    later: bool = False,
    stage: Callable[[str], None] | None = None,
) -> Later | None:
    """Exact and near duplicates among the files and against the stored records: warnings,
    and skipped with ``skip_duplicates`` (services.duplicates). With ``later`` they are worked
    out on another thread: the function returned waits for them and adds their warnings (the
    stored records near the batch are read first, on this thread)."""
    from demine.services.duplicates import IDENTITY, Batch, flag_duplicates

    kind = checked[0].kind if checked else None
    if kind is None or kind.name not in IDENTITY:
        return None
    if stage is not None and not later:  # later: while the records are written
        stage(f"looking for duplicate {kind.name}")
    batches = [Batch(Path(c.report.source).name, c.good, c.report.indexes) for c in checked]
    existing: list[Record] = []
    geoms = [r.geometry for c in checked for r in c.good if r.geometry is not None]
    if store is not None and geoms:  # only the stored records near the batch are read
        import numpy as np
        import shapely

        pad = options.duplicate_tolerance_m / 50_000 + 1e-6  # degrees, generous
        x0, y0, x1, y1 = (float(v) for v in shapely.total_bounds(np.asarray(geoms, dtype=object)))
        existing = list(store.list(kind.name, bbox=(x0 - pad, y0 - pad, x1 + pad, y1 + pad)))

    def find() -> None:
        flag_duplicates(
            kind.name,
            batches,
            existing,
            tolerance_m=options.duplicate_tolerance_m,
            skip=options.skip_duplicates,
        )

    def apply() -> None:
        for c, b in zip(checked, batches, strict=True):
            c.report.warnings.extend(name_faults(b.warnings, c.report.feature_ids, b.source))
            c.report.duplicates = b.duplicates
            c.report.duplicates_of_stored = b.of_stored
            if b.drop:
                c.report.skipped_duplicates = len(b.drop)
                keep = [i for i in range(len(c.good)) if i not in b.drop]
                c.good = [c.good[i] for i in keep]
                c.report.indexes = [c.report.indexes[i] for i in keep]

    if not later:
        find()
        apply()
        return None
    return Later(find, apply)


def _store(
    store: Store,
    paths: Sequence[Path],
    options: ImportOptions,
    checked: list[_Checked],
    batch: Batch | None = None,
    *,
    stage: Callable[[str], None] | None = None,
    upkeep: Callable[[int, int], None] | None = None,
) -> list[ImportReport]:
    for c in checked:  # every fault names its feature's id and source id
        src = Path(c.report.source).name
        c.faults = name_faults(c.faults, c.report.feature_ids, src)
        c.report.rejected = group_rejects(c.faults)
        kept = set(c.report.indexes)  # a feature rejected after its check was not repaired
        c.report.repairs = [r for r in c.report.repairs if r.index in kept]
    faults = [f for c in checked for f in c.faults]
    if batch is not None:
        _submit_batch(store, paths, options, checked, faults, batch)
    if faults and not options.skip_invalid:
        what = "; ".join(
            f"{Path(c.report.source).name}: {len(c.report.rejected)} of {c.report.total} "
            "features rejected"
            for c in checked
            if c.report.rejected
        )
        hint = "use --skip-invalid to store the good ones"
        if not options.repair and any(f.repairable for f in faults):
            hint += ", --repair to repair what can be repaired"
        raise ValidationError(f"{what}; nothing was stored ({hint})", faults)
    names = ", ".join(p.name for p in paths)
    kind = checked[0].kind
    good = [r for c in checked for r in c.good]
    if stage is not None:
        stage(f"storing {len(good):,} {kind.name}")
    try:
        if kind.is_layer:
            store.create_layer(kind)
        res = store.upsert(
            kind.name,
            good,
            actor=options.actor or current_actor(),
            reason=options.reason or f"import {names}",
            # each repaired record's revision says which repairs were made
            reasons=[
                n
                for c in checked
                for n in repair_notes(c.report.repairs, c.report.indexes, c.report.warnings)
            ],
            progress=upkeep,
        )
    except StoreFull:  # the write was rolled back as a whole
        raise store_full(paths) from None
    created, updated = set(res.created), set(res.updated)
    for c in checked:  # the upsert gave each record its stored id
        rep = c.report
        rep.kind = kind.name if not kind.is_layer else f"layer:{kind.name}"
        rep.ids = [r.id for r in c.good]
        rep.created = sum(1 for i in rep.ids if i in created)
        rep.updated = sum(1 for i in rep.ids if i in updated)
        rep.unchanged = len(rep.ids) - rep.created - rep.updated
        rep.stored = True
    return [c.report for c in checked]


def _submit_batch(
    store: Store,
    paths: Sequence[Path],
    options: ImportOptions,
    checked: list[_Checked],
    faults: list[Fault],
    batch: Batch,
) -> None:
    """Store the checked records as one submission (or correct a returned one) and raise
    :class:`Submitted`; with faults, a batch that keeps them is stored as returned and a
    ValidationError naming it raised, any other is refused as an import is."""
    from demine.services.submitting import Submitted, pending, record_payload

    if faults and not batch.keep_faults:
        return  # refused below, as an import with faults is
    kind = checked[0].kind
    names = ", ".join(p.name for p in paths)
    actor = options.actor or current_actor()
    payload = {"files": names, "features": [record_payload(r) for c in checked for r in c.good]}
    state = "draft" if batch.draft else ("returned" if faults else "submitted")
    reason = options.reason or f"import {names}"
    if batch.resubmit is not None:
        from demine.services.intake.states import resubmit

        sub = resubmit(store, batch.resubmit, actor, payload, faults, reason, draft=batch.draft)
    else:
        sub = pending(
            store,
            actor=actor,
            kind=kind.name,
            action="batch",
            payload=payload,
            reason=reason,
            state=state,
            faults=faults,
        )
    if faults:
        raise ValidationError(
            f"submission {sub['id']} is {sub['state']}, to be corrected: {len(faults)} fault(s) in "
            f"{names}; correct them and send it again with 'demine submit FILE --resubmit "
            f"{sub['id']}'",
            faults,
        )
    raise Submitted(sub)


def validate_file(path: Path, options: ImportOptions, store: Store | None = None) -> ImportReport:
    """The import checks without storing anything."""
    from demine.geo.structure import no_gc

    field_mapping(options)  # a bad mapping is an error, not a fault of the file
    try:
        with no_gc():
            kind, good, report, faults = read_and_check(path, options, store=store)
            _duplicates(store, [_Checked(kind, good, report, faults)], options)
    except ValidationError as e:
        report = ImportReport(source=str(path), kind=options.kind)
        report.rejected = group_rejects(e.faults)
        return report
    report.rejected = group_rejects(faults)
    return report
