"""SYNTHETIC survey, clearance and land release for the demo store, through the normal paths."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import shapely

from demine.geo.release import polygonal
from demine.model.schema import Record
from demine.services.release import accounts, close_hazard, hand_over, on_hazard
from demine.store.base import Store

__all__ = ["demo_release"]


def demo_release(store: Store, seed: int) -> dict[str, Any]:
    """Add SYNTHETIC activities and land releases to the demo store (hazards imported).

    Through the normal paths: activities and releases are imported as GeoJSON files
    (``hazard_source_id`` / ``activity_source_id`` links), one hazard is closed with
    :func:`close_hazard` and one closed and handed over with :func:`hand_over`. Hazards the
    demo imported already closed get completed activities and releases that cover them.
    Deterministic for a seed (dates follow the hazards', which follow the demo's today).
    """
    import tempfile
    from pathlib import Path

    import numpy as np
    import orjson

    from demine.demo.data import DEMO_ORGANISATIONS
    from demine.model.synthetic import SYNTHETIC_NOTICE, SYNTHETIC_NOTICE_UK
    from demine.services.register import ImportOptions, import_file

    notes = f"{SYNTHETIC_NOTICE} {SYNTHETIC_NOTICE_UK}"
    rng = np.random.default_rng(seed)
    yesterday = date.today() - timedelta(days=1)
    hazards = sorted(
        (h for h in store.list("hazards") if h.geometry is not None and h.source_id),
        key=lambda h: str(h.source_id),
    )
    activities: list[dict[str, Any]] = []
    releases: list[dict[str, Any]] = []
    to_close: list[tuple[str, str]] = []  # (hazard id, closed_on)
    counter = {"a": 0, "r": 0}

    def days(lo: date, hi: date, n: int) -> list[date]:
        span = max((hi - lo).days, 0)
        return sorted(lo + timedelta(days=int(d)) for d in rng.integers(0, span + 1, size=n))

    def activity(
        h: Record, atype: str, status: str, start: date | None, end: date | None, org: str
    ) -> str:
        counter["a"] += 1
        sid = f"demo-a-{counter['a']:04d}"
        method = {
            "non_technical_survey": "other",
            "technical_survey": str(rng.choice(["manual", "mechanical", "animal_detection"])),
            "clearance": str(rng.choice(["manual", "manual,mechanical", "mechanical"])),
            "qa_qc": "manual",
        }[atype]
        props: dict[str, Any] = {
            "hazard_source_id": h.source_id,
            "activity_type": atype,
            "status": status,
            "organisation": org,
            "team": f"SYNTHETIC team {int(rng.integers(1, 13))}",
            "method": method,
            "reference": f"DEMO-T-{counter['a']:04d}",
            "notes": notes,
            "synthetic": True,
        }
        if atype in ("technical_survey", "clearance", "qa_qc"):
            props["depth_cm"] = float(rng.choice([13, 20, 25, 30]))
        if start is not None:
            props["planned_start"] = start.isoformat()
        if status in ("ongoing", "completed") and start is not None:
            props["started_on"] = start.isoformat()
        if status == "completed" and end is not None:
            props["completed_on"] = end.isoformat()
        # the worksite: the hazard (the importer wants a polygon here, or none in a CSV)
        feature = {"type": "Feature", "id": sid, "properties": props}
        feature["geometry"] = shapely.geometry.mapping(h.geometry)
        activities.append(feature)
        return sid

    def release(asid: str, rtype: str, on: date, geom: Any, org: str) -> None:
        if geom is None or shapely.is_empty(geom):
            return
        counter["r"] += 1
        releases.append(
            {
                "type": "Feature",
                "id": f"demo-l-{counter['r']:04d}",
                "properties": {
                    "activity_source_id": asid,
                    "release_type": rtype,
                    "released_on": on.isoformat(),
                    "organisation": org,
                    "reference": f"DEMO-LR-{counter['r']:04d}",
                    "notes": notes,
                    "synthetic": True,
                },
                "geometry": shapely.geometry.mapping(geom),
            }
        )

    def strips(g: Any, shares: Sequence[float]) -> list[Any]:
        """The hazard cut into west-to-east strips of about these shares of its width;
        the last strip takes the rest exactly (so the strips cover it)."""
        minx, miny, maxx, maxy = shapely.bounds(g)
        out, x0, used = [], minx, shapely.MultiPolygon()
        for s in shares[:-1]:
            x1 = x0 + s * (maxx - minx)
            part = shapely.difference(
                shapely.intersection(g, shapely.box(minx - 1, miny - 1, x1, maxy + 1)), used
            )
            out.append(part)
            used = shapely.union(used, part)
            x0 = x1
        out.append(shapely.difference(g, used))
        return [polygonal(shapely.make_valid(p)) for p in out]

    def full(h: Record, lo: date, hi: date) -> None:
        """Completed NTS, TS and clearance that release all of the hazard, and QA/QC. The
        demo's cleared field (its clearance finds teach `risk learn`) is cleared whole: NTS
        and TS confirm it and release nothing (same random draws either way)."""
        d = days(lo, hi, 8)
        org = DEMO_ORGANISATIONS[int(rng.integers(len(DEMO_ORGANISATIONS)))]
        a = rng.uniform(0.3, 0.55)
        b = rng.uniform(0.15, 0.3)
        cancel, reduce, clear = strips(h.geometry, [a, b, 1 - a - b])
        if "(cleared)" in str(h.properties.get("name") or ""):
            cancel = reduce = shapely.MultiPolygon()
            clear = polygonal(h.geometry)
        nts = activity(h, "non_technical_survey", "completed", d[0], d[1], org)
        release(nts, "cancelled", d[1], cancel, org)
        ts = activity(h, "technical_survey", "completed", d[2], d[3], org)
        release(ts, "reduced", d[3], reduce, org)
        cl = activity(h, "clearance", "completed", d[4], d[5], org)
        release(cl, "cleared", d[5], clear, org)
        activity(h, "qa_qc", "completed", d[6], d[7], DEMO_ORGANISATIONS[3])

    # two open hazards to release completely (one to close, one to hand over): the last ones,
    # so the first hazards of a listing stay open
    def window(h: Record) -> tuple[date, date]:
        reported = date.fromisoformat(str(h.properties.get("reported_on") or "2022-03-01"))
        lo, hi = max(reported, date(2023, 1, 1)), min(yesterday, date(2025, 12, 31))
        return (lo, hi) if lo < hi else (reported, yesterday)

    open_full = [
        h.id
        for h in hazards
        if h.properties.get("status") == "open" and (window(h)[1] - window(h)[0]).days > 60
    ][-2:]
    n_overlap = n_outside = 0
    for h in hazards:
        p = h.properties
        reported = date.fromisoformat(str(p.get("reported_on") or "2022-03-01"))
        if p.get("status") in ("closed", "handed_over"):
            closed = date.fromisoformat(str(p.get("closed_on")))
            full(h, min(reported, closed), closed)
            continue
        lo, hi = window(h)
        if lo >= hi:
            continue
        if h.id in open_full:
            full(h, lo, hi)
            to_close.append((h.id, ""))
            continue
        u = rng.random()
        if u > 0.6:  # no activity yet
            continue
        org = DEMO_ORGANISATIONS[int(rng.integers(len(DEMO_ORGANISATIONS)))]
        d = days(lo, hi, 6)
        if u < 0.12:  # only planned so far
            activity(h, "non_technical_survey", "planned", d[-1], None, org)
            continue
        # NTS cancels the largest share (SHAs more), TS reduces some, clearance clears a bit
        cancel_share = (
            rng.uniform(0.3, 0.7) if p.get("hazard_type") == "SHA" else rng.uniform(0.1, 0.35)
        )
        reduce_share = rng.uniform(0.1, 0.25)
        clear_share = rng.uniform(0.03, 0.12)
        cancel, reduce, clear, _ = strips(
            h.geometry, [cancel_share, reduce_share, clear_share, 1.0]
        )
        nts = activity(h, "non_technical_survey", "completed", d[0], d[1], org)
        release(nts, "cancelled", d[1], cancel, org)
        if u < 0.45:
            ts_status = "completed" if rng.random() < 0.5 else "ongoing"
            ts = activity(h, "technical_survey", ts_status, d[2], d[3], org)
            if n_overlap < 2:  # a reduction drawn a little over the cancelled strip
                n_overlap += 1
                reduce = shapely.union(
                    reduce, shapely.intersection(cancel, shapely.buffer(reduce, 0.0003))
                )
            release(ts, "reduced", d[3], reduce, org)
            if u < 0.3:
                cl = activity(h, "clearance", "ongoing", d[4], None, org)
                if n_outside < 2:  # a clearance polygon drawn past the hazard's edge
                    n_outside += 1
                    clear = shapely.intersection(
                        shapely.buffer(h.geometry, 0.0002), shapely.box(*shapely.bounds(clear))
                    )
                release(cl, "cleared", d[4], clear, org)
            else:
                activity(h, "clearance", "planned", d[5], None, org)

    if activities:
        with tempfile.TemporaryDirectory() as tmp:
            for kind, feats in (("activities", activities), ("releases", releases)):
                f = Path(tmp) / f"{kind}.geojson"
                f.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": feats}))
                import_file(
                    store,
                    f,
                    ImportOptions(kind=kind, actor="demine demo", reason="SYNTHETIC demo data"),
                )
    closed_ids: list[str] = []
    handed: list[str] = []
    for i, (hid, _) in enumerate(to_close):
        rels = on_hazard(store, "releases", hid)
        acts = on_hazard(store, "activities", hid)
        last = max(
            [str(r.properties["released_on"]) for r in rels]
            + [
                str(a.properties.get("completed_on"))
                for a in acts
                if a.properties.get("completed_on")
            ]
        )
        on = min(date.fromisoformat(last) + timedelta(days=7), yesterday)
        close_hazard(store, hid, on, actor="demine demo", reason="SYNTHETIC demo: land released")
        closed_ids.append(hid)
        if i == 1:
            hand_over(
                store,
                hid,
                "SYNTHETIC village council (demo)",
                min(on + timedelta(days=14), yesterday),
                actor="demine demo",
            )
            handed.append(hid)
    by_type = dict.fromkeys(("cancelled", "reduced", "cleared"), 0.0)
    for acc in accounts(store).values():
        for t, v in acc.by_type.items():
            by_type[t] = by_type.get(t, 0.0) + v
    return {
        "activities": len(activities),
        "releases": len(releases),
        "hazards_worked": len({a["properties"]["hazard_source_id"] for a in activities}),
        "closed": closed_ids,
        "handed_over": handed,
        "released_m2": {k: round(v, 1) for k, v in by_type.items()},
    }
