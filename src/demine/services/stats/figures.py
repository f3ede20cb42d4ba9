"""The land-release figures of every hazard (:class:`.land.Figures`) read from the derived
tables (issue 16, :mod:`demine.store.core.derived`): each figure the statistics need was
measured when the hazard's account was computed (the credited pieces, the remaining polygon,
the remaining one at each year's end, the hazard with nothing released, each measured at the
centre of the hazard's bounding box, as :meth:`.areas.Areas.split_many` measures), so with one
area they are read and added up; no polygon is decoded. By a reference layer, each polygon's
split among its areas is kept in the zonal table (by hazard, its account's ``computed_at``,
the layer and a hash of its polygons): read, and made (then kept) only for what is not there
yet. A hazard whose account up to the end of the period is not kept (a release dated within
a year after the period's end: rare) is computed again, as
:func:`demine.services.release.accounts` does."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from demine.services.stats.areas import ALL, Areas, whole_m2
from demine.services.stats.hazards import (
    HAZARD_FIELDS,
    Figures,
    Parts,
    computed_figures,
    in_period,
    until_of,
)
from demine.services.stats.periods import Period
from demine.store.base import Store

_NONE: list[Any] = []  # no pieces (never changed)


def _one(m2: float | None) -> Parts:
    """The parts of a polygon of ``m2`` (as measured) with one area."""
    w = whole_m2(m2 or 0.0)
    return [(ALL, w)] if w else []


def derived_figures(
    store: Store, per: Period | None, areas: Areas
) -> tuple[list[Figures], Any, Any, dict[str, str], PieceTotals | None] | None:
    """The figures of every hazard with a geometry (in the hazards' order), a function giving
    their bounding boxes by id, a function giving the remaining polygons (at the period's end)
    of some of them, what each of those is read from (its account's ``computed_at`` and
    which polygon: the memo key of :mod:`.overlaps`), and with one area and every year the
    pieces' sums of the memo (:class:`PieceTotals`: when kept, the figures have no pieces);
    None when the derived tables are not built."""
    columns = store.stat_rows(HAZARD_FIELDS)
    if columns is None:
        return None
    h_ids, h_m2, h_rem, h_bare, h_bare_stat, h_at = columns[:6]
    totals = _totals(store, per, areas, h_ids, h_at)
    pieces = {} if totals is not None and totals.value is not None else store.stat_pieces()
    limit = per.end if per else None
    figs: list[Figures | None] = []
    again: list[str] = []  # no account kept at the period's end: computed again
    # per hazard: (its figures' index, computed_at, piece seqs of the period, remaining key)
    wanted: list[tuple[int, str, list[int], str | None]] = []
    keys: dict[str, str | None] = {}  # each wanted hazard's remaining polygon: see remaining_of
    # what each remaining polygon is read from (see .overlaps.memo_key)
    stamps: dict[str, str] = {}
    floor = math.floor
    years: dict[Any, int | None] = {}  # in_period of each released_on met
    fields = list(zip(*columns[6:], strict=True))  # as Figures.fields
    reported_at, closed_at = HAZARD_FIELDS.index("reported_on"), HAZARD_FIELDS.index("closed_on")
    for hid, hazard_m2, rem_m2, bare_m2, bare_stat, at, p in zip(
        h_ids, h_m2, h_rem, h_bare, h_bare_stat, h_at, fields, strict=True
    ):
        ps = pieces.get(hid, _NONE)
        key: str | None = "r"
        if limit is not None and ps and any(r[3] > limit for r in ps):
            k = sum(1 for r in ps if r[3] <= limit)  # a prefix: in date order
            if k == 0:
                ps, hazard_m2, rem_m2, key = [], bare_m2, bare_stat, "b"
            elif ps[k - 1][7] is not None:
                ps, rem_m2, key = ps[:k], ps[k - 1][7], f"a{ps[k - 1][1]}"
            else:
                again.append(hid)
                figs.append(None)
                continue
        seqs: list[int] = []
        inside: list[tuple[int, str, float, float, Parts]] = []
        for r in ps:
            on = r[3]
            y = years[on] if on in years else years.setdefault(on, in_period(on, per))
            if y is None:
                continue
            seqs.append(int(r[1]))
            w = int(floor((r[6] or 0.0) + 0.5))  # _one(r[6])
            inside.append((y, r[2], float(r[4]), float(r[5]), [(ALL, w)] if w else []))
        # counted(p, per), inline: recorded and open at the period's end
        closed_on = p[closed_at]
        if limit is None:
            keep = not closed_on
        else:
            reported, closed = str(p[reported_at] or ""), str(closed_on or "")
            keep = not (reported and reported > limit) and not (closed and closed <= limit)
        if keep:
            w = int(floor((rem_m2 or 0.0) + 0.5))  # _one(rem_m2)
            wanted.append((len(figs), at, seqs, key))
            keys[hid] = key
            stamps[hid] = f"{at}|{key}"
            figs.append(Figures(hid, p, float(hazard_m2), inside, [(ALL, w)] if w else [], ALL))
        else:
            wanted.append((len(figs), at, seqs, None))
            keys[hid] = None
            figs.append(Figures(hid, p, float(hazard_m2), inside, [], ALL))
    if again:
        from demine.services.release import accounts as release_accounts

        hs = {h.id: h for h in store.get_many("hazards", again)}
        redone = computed_figures(release_accounts(store, until_of(per), again), hs, per, areas)
        figs = [redone[hid] if f is None else f for f, hid in zip(figs, h_ids, strict=True)]
    done = [f for f in figs if f is not None]
    if areas.layer is not None:
        _by_layer(store, per, areas, figs, wanted)

    def remaining_of(ids: Sequence[str]) -> list[Any]:
        """The remaining polygons at the period's end, read as the accounts hold them."""
        from demine.geo.release import unreleased
        from demine.services.release import accounts as release_accounts

        out: dict[str, Any] = {}
        kept = [i for i in ids if keys.get(i) == "r"]
        out.update(zip(kept, store.derived_remaining(kept), strict=True))
        after = [i for i in ids if (keys.get(i) or "").startswith("a")]
        seqs: list[int | None] = [int(str(keys[i])[1:]) for i in after]
        out.update(zip(after, store.derived_remaining(after, seqs), strict=True))
        out = {k: g for k, g in out.items() if g is not None}  # not kept: computed below
        bare = [i for i in ids if keys.get(i) == "b"]
        hs = store.get_many("hazards", bare)
        out.update(zip([h.id for h in hs], unreleased([h.geometry for h in hs]), strict=True))
        for i in bare:
            out[i] = out[i].remaining
        rest = [i for i in ids if i not in out]
        accs = release_accounts(store, until_of(per), rest)
        return [out[i] if i in out else accs[i].remaining for i in ids]

    return done, store.stat_boxes, remaining_of, stamps, totals


TOTALS_SCOPE = "pieces all"  # the memo of the pieces' sums, every year and one area


@dataclass(slots=True)
class PieceTotals:
    """What the credited pieces of every hazard add up to, every year with one area (as
    :func:`.land.land_release` adds them: its cells, then the overlap and outside sums),
    kept in the memo under ``key`` (a hash of every hazard's account); ``value``: as kept,
    None when not kept yet (the pieces are read, and their sums kept)."""

    key: str
    value: Any


def _totals(
    store: Store, per: Period | None, areas: Areas, ids: Sequence[str], at: Sequence[str]
) -> PieceTotals | None:
    """The pieces' sums of the memo, for every year with one area (None otherwise)."""
    if per is not None or areas.layer is not None:
        return None
    text = "\n".join([f"{i}\t{a}" for i, a in zip(ids, at, strict=True)])
    key = hashlib.sha256(b"demine pieces memo 1\n" + text.encode()).hexdigest()
    kept = store.memo_read(TOTALS_SCOPE, key).get(key)
    return PieceTotals(key, None if kept is None else orjson.loads(kept))


def _by_layer(
    store: Store,
    per: Period | None,
    areas: Areas,
    figs: list[Figures | None],
    wanted: list[tuple[int, str, list[int], str | None]],
) -> None:
    """:func:`_split_by_layer`, whose answer (every figure's parts, named) is kept too: in the
    memo row of the layer, keyed by a hash of the layer, its names and every hazard's account
    and the polygons the period counts; read at once when nothing changed since. One row per
    layer (the last period asked): requests for many periods, anonymous ones too, cannot make
    the store grow by a copy of every split per period."""
    assert areas.layer is not None
    names = [*areas.names, areas.name_of(-1)]  # index -1: the last
    scope = f"zonal {areas.layer}"
    memo = _memo_key(areas.layer_hash, names, figs, wanted)
    kept = None if memo is None else store.memo_read(scope, memo).get(memo)
    if kept is not None:
        for (i, _at, _seqs, _key), (pieces, remaining, where) in zip(
            wanted, orjson.loads(kept), strict=True
        ):
            f = figs[i]
            assert f is not None
            f.pieces = [(p[0], p[1], p[2], p[3], w) for p, w in zip(f.pieces, pieces, strict=True)]
            f.remaining, f.where = remaining, where
        return
    _split_by_layer(store, per, areas, figs, wanted)
    if memo is not None:
        every = [
            ([p[4] for p in f.pieces], f.remaining, f.where)
            for f in (figs[i] for i, _at, _seqs, _key in wanted)
            if f is not None
        ]
        store.memo_write(scope, [(memo, orjson.dumps(every).decode())], [memo])


def _split_by_layer(
    store: Store,
    per: Period | None,
    areas: Areas,
    figs: list[Figures | None],
    wanted: list[tuple[int, str, list[int], str | None]],
) -> None:
    """Each figure's parts among the areas of the layer (in place): read from the zonal
    table; what it does not hold yet is split and kept."""
    assert areas.layer is not None
    layer, layer_hash = areas.layer, areas.layer_hash
    kept = store.zonal_read(layer, layer_hash)
    missing: dict[str, tuple[int, str, list[str]]] = {}
    for i, at, seqs, key in wanted:
        f = figs[i]
        assert f is not None
        whats = [f"p{s}" for s in seqs] + ([key] if key else []) + ["pt"]
        lost = [w for w in whats if (f.id, w) not in kept]
        if lost:
            missing[f.id] = (i, at, lost)
    if missing:  # split in chunks, each kept as it is made
        from demine.services.stats import cutting

        cutting.split_missing(store, until_of(per), areas, missing, kept)
    names = [*areas.names, areas.name_of(-1)]  # index -1: the last
    # every split decoded at once (one JSON array of them all: the same values)
    got = dict(zip(kept, orjson.loads("[" + ",".join(kept.values()) + "]"), strict=True))

    def named(parts: Any) -> Parts:
        if len(parts) == 1:  # most polygons lie in one area
            ((a, m),) = parts
            return [(names[a], m)] if m else []
        return areas.named([(int(a), int(m)) for a, m in parts])

    for i, _at, seqs, key in wanted:
        f = figs[i]
        assert f is not None
        hid = f.id
        f.pieces = [
            (p[0], p[1], p[2], p[3], named(got[(hid, f"p{s}")]))
            for p, s in zip(f.pieces, seqs, strict=True)
        ]
        f.remaining = named(got[(hid, key)]) if key else []
        f.where = names[int(got[(hid, "pt")])]


def _memo_key(
    layer_hash: str,
    names: Sequence[str],
    figs: Sequence[Figures | None],
    wanted: Sequence[tuple[int, str, list[int], str | None]],
) -> str | None:
    """The key of every figure's parts among a layer's areas (its content ``layer_hash`` and
    its areas' ``names``): each hazard's account (``computed_at``) and polygons."""
    h = hashlib.sha256(b"demine zonal memo 1\n" + layer_hash.encode())
    h.update(orjson.dumps(list(names)))
    rows = []
    for i, at, seqs, key in wanted:
        f = figs[i]
        if f is None:
            return None
        rows.append(f"{f.id}\t{at}\t{','.join(map(str, seqs))}\t{key}")
    h.update("\n".join(rows).encode())
    return h.hexdigest()
