"""Open hazards that overlap are counted once (``hazards.remaining_m2`` of the statistics):
the area of the union of their remaining polygons, cluster by cluster
(:func:`demine.services.duplicates.overlap_clusters`).

With the derived tables (:mod:`.figures`), only the hazards whose bounding boxes meet
another's are read, and these come in groups: the connected groups of boxes that meet (a
cluster of overlapping polygons always lies in one group). What each group gives (its
clusters and the area of each one's union) is kept in a memo table
(``demine_derived_memo``, :meth:`demine.store.core.derived_stats.DerivedStats.memo_read`)
under a hash of its hazards (in order) and of the account each polygon comes from (its
``computed_at`` and which polygon: the remaining one, the one after a piece, or the hazard
with nothing released). A hazard written since has a new ``computed_at``: its group gets a
new key and is merged again; the others are read, and no polygon of theirs is decoded. The
clusters' areas are added up in the order :func:`overlapping_union` adds them, so the
figures are those of the full computation to the last bit."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from demine.services.stats.areas import whole_m2
from demine.store.base import Store

# a hazard's remaining polygon lies in its bounding box to far below this (degrees): boxes
# this much larger meet whenever the polygons could overlap
BOX_PAD = 1e-6
MEMO_RULE = b"demine overlap 1"  # the memo's rule (what a group's row holds): its version


def overlap_union(
    geoms: list[Any], m2: list[int], positions: Sequence[int] | None = None
) -> dict[str, Any]:
    """Open hazards that overlap are counted once: ``remaining_m2`` is the area of the union of
    the remaining polygons (``m2``: each one's own whole m²), ``remaining_sum_m2`` their sum,
    with how many hazards overlap another and a note saying so. Only the hazards that overlap
    are merged, cluster by cluster (services.duplicates.overlapping_union). ``positions``:
    the places in ``m2`` of ``geoms`` when they are only some of the polygons (those that may
    overlap another, in order)."""
    from demine.services.duplicates import overlapping_union

    involved, union_m2 = overlapping_union(geoms) if len(geoms) else ([], 0.0)
    if positions is not None:
        involved = [positions[i] for i in involved]
    return counted_once(m2, involved, union_m2)


def counted_once(m2: list[int], involved: Sequence[int], union_m2: float) -> dict[str, Any]:
    """The figures of :func:`overlap_union`: ``involved``, the positions (in ``m2``) of the
    hazards that overlap another, ``union_m2`` the area of their union."""
    total = sum(m2)
    out: dict[str, Any] = {
        "remaining_sum_m2": total,
        "overlapping": len(involved),
        "overlap_note": None,
    }
    if not involved:
        return out
    union = total - sum(m2[i] for i in involved) + whole_m2(union_m2)
    out["remaining_m2"] = union
    out["overlap_note"] = (
        f"{len(involved)} overlapping hazards: area counted once "
        f"(sum {total / 1e6:,.3f} km², union {union / 1e6:,.3f} km²)"
    )
    return out


def box_pairs(b: Any) -> tuple[Any, Any]:
    """The pairs (i < j by minx, as index arrays) of boxes (an n x 4 array: minx, miny, maxx,
    maxy) that meet (edges included): a sweep along x, in blocks (the boxes of a national
    store are small)."""
    import numpy as np

    n = len(b)
    order = np.argsort(b[:, 0], kind="stable")
    s = b[order]
    # box k meets the later boxes k+1 .. end[k]-1 in x (sorted by minx)
    end = np.searchsorted(s[:, 0], s[:, 2], side="right")
    out_a, out_b = [np.zeros(0, np.intp)], [np.zeros(0, np.intp)]
    step = 4096
    for k0 in range(0, n, step):
        k = np.arange(k0, min(n, k0 + step))
        cnt = np.maximum(end[k] - k - 1, 0)
        a = np.repeat(k, cnt)
        if not len(a):
            continue
        first = np.repeat(np.cumsum(cnt) - cnt, cnt)
        j = a + 1 + (np.arange(len(a)) - first)
        meet = (s[j, 1] <= s[a, 3]) & (s[a, 1] <= s[j, 3])
        out_a.append(order[a[meet]])
        out_b.append(order[j[meet]])
    return np.concatenate(out_a), np.concatenate(out_b)


def groups(n: int, a: Any, b: Any) -> list[list[int]]:
    """The connected groups (each ascending, in the order of their first member) of the
    pairs ``a``-``b`` among ``n`` items; items in no pair are in none."""
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        rx, ry = find(x), find(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)
    out: dict[int, list[int]] = {}
    for i in sorted({*a.tolist(), *b.tolist()}):
        out.setdefault(find(i), []).append(i)
    return list(out.values())


def memo_key(ids: Sequence[str], stamps: Mapping[str, str], what: bytes = b"group") -> str | None:
    """The memo key of a group of hazards (in order; ``what``: ``group``, or ``all`` for every
    open hazard), None when one of them has no stamp (its polygon is computed, not read: not
    kept)."""
    try:
        text = "\n".join([f"{i}\t{stamps[i]}" for i in ids])
    except KeyError:
        return None
    return hashlib.sha256(MEMO_RULE + b" " + what + b"\n" + text.encode()).hexdigest()


def memo_overlaps(
    store: Store,
    scope: str,
    ids: Sequence[str],
    m2: list[int],
    boxes_of: Callable[[], Mapping[str, Any]],
    remaining_of: Callable[[Sequence[str]], list[Any]],
    stamps: Mapping[str, str],
) -> dict[str, Any]:
    """:func:`overlap_union` of the open hazards ``ids`` (``m2``: each one's remaining whole
    m²) with their bounding boxes (``boxes_of()``, by id): only the groups of hazards whose
    boxes meet are merged, those kept in the memo (``scope``: the period) read instead; and
    when every open hazard is as when last asked, the whole answer is read (the memo row of
    them all). ``stamps``: each hazard's account and polygon (none: not kept)."""
    whole = memo_key(ids, stamps, b"all")
    if whole is not None:  # only that row read: the groups' rows are many
        at_once = store.memo_read(scope, whole).get(whole)
        if at_once is not None:
            got = orjson.loads(at_once)
            return counted_once(m2, got["involved"], got["union_m2"])
    kept = store.memo_read(scope)
    import numpy as np

    from demine.services.duplicates import overlap_clusters

    boxes = boxes_of()
    have = [i for i, h in enumerate(ids) if boxes.get(h) is not None]
    b = np.asarray([boxes[ids[i]] for i in have], dtype=np.float64).reshape(-1, 4)
    b[:, :2] -= BOX_PAD
    b[:, 2:] += BOX_PAD
    clusters: list[list[int]] = []  # positions in ids
    areas: list[float] = []
    keys: list[str] = []
    todo: list[tuple[str | None, list[int]]] = []
    for g in groups(len(have), *box_pairs(b)):
        members = [have[k] for k in g]
        key = memo_key([ids[p] for p in members], stamps)
        if key is not None:
            keys.append(key)
        text = kept.get(key) if key is not None else None
        if text is None:
            todo.append((key, members))
            continue
        got = orjson.loads(text)
        clusters += [[members[k] for k in c] for c in got["clusters"]]
        areas += got["m2"]
    new: list[tuple[str, str]] = []
    if todo:
        positions = sorted(p for _, ms in todo for p in ms)
        group_of = {p: n for n, (_, ms) in enumerate(todo) for p in ms}
        made, made_m2 = overlap_clusters(remaining_of([ids[p] for p in positions]))
        per: list[tuple[list[list[int]], list[float]]] = [([], []) for _ in todo]
        for c, a in zip(made, made_m2, strict=True):
            cs, ms = per[group_of[positions[c[0]]]]
            cs.append([positions[k] for k in c])
            ms.append(a)
        for (key, members), (cs, ms) in zip(todo, per, strict=True):
            clusters += cs
            areas += ms
            if key is not None:
                local = {p: k for k, p in enumerate(members)}
                row = {"clusters": [[local[p] for p in c] for c in cs], "m2": ms}
                new.append((key, orjson.dumps(row).decode()))
    # in the order overlapping_union adds them up: by each cluster's first position
    order = sorted(range(len(clusters)), key=lambda k: clusters[k][0])
    union_m2 = float(np.asarray([areas[k] for k in order], dtype=np.float64).sum())
    involved = sorted(p for c in clusters for p in c)
    if whole is not None:
        keys.append(whole)
        new.append((whole, orjson.dumps({"involved": involved, "union_m2": union_m2}).decode()))
    if new:
        store.memo_write(scope, new, keys)
    return counted_once(m2, involved, union_m2)
