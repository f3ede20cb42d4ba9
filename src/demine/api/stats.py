"""Statistics over HTTP: the same JSON as ``demine stats --json`` and the same charts as
``demine chart``, for the caller's role (from the API token; no token is the public).

* ``GET /api/v1/stats?by=LAYER&period=YEAR[-YEAR]&name_field=F``
* ``GET /api/v1/stats/chart/{name}.svg`` or ``.png`` (``name``: released, areas, devices;
  also ``lang=en|uk``)

Casualty counts are suppressed for every role but victim_assistance and admin
(docs/statistics.md). Results are kept for a minute per store, role and query, and dropped as
soon as a record they are made from changes.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request, Response

from demine.api.budget import Budget, BudgetExceeded, run_budgeted
from demine.api.deps import PrincipalDep, StoreDep
from demine.errors import NotFound
from demine.services.charts import CHARTS, MEDIA_TYPES, render
from demine.services.stats import compute, cutting, layer_of, parse_period
from demine.store.base import Store

router = APIRouter(prefix="/api/v1/stats", tags=["statistics"])

TTL = 60.0
SOURCES = (
    "hazards",
    "releases",
    "activities",
    "finds",
    "device_types",
    "accidents",
    "victims",
    "eo_reports",
    "eore_sessions",
)
ByQ = Annotated[
    str | None,
    Query(description="Reference layer of admin areas to split by", max_length=63),
]
PeriodQ = Annotated[
    str | None, Query(description="YEAR or YEAR-YEAR (default: every year)", max_length=9)
]
NameFieldQ = Annotated[
    str | None, Query(description="The layer's field naming each area", max_length=63)
]


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[tuple[Any, ...], tuple[float, dict[str, Any]]] = {}

    def get(
        self,
        store: Store,
        role: str,
        by: str | None,
        name_field: str | None,
        period: str | None,
    ) -> dict[str, Any]:
        if by:
            by = layer_of(store, by).name  # 422 naming only reference layers, not the kinds
        # one entry per period, however it is spelt (" 2025", "2025-2025"): spellings of the
        # same query must not each cost a computation
        per = parse_period(period)
        versions = tuple(store.data_version(k) for k in (*SOURCES, *([by] if by else [])))
        key = (store.location, role, by, name_field, per, versions, store.setting("synthetic"))
        now = time.monotonic()
        with self.lock:
            hit = self.entries.get(key)
            if hit is not None and now - hit[0] < TTL:
                return hit[1]
        st = compute(store, role=role, by=by, name_field=name_field, period=per)
        with self.lock:
            for k in [k for k, (t, _) in self.entries.items() if now - t >= TTL]:
                del self.entries[k]
            if len(self.entries) > 256:
                self.entries.clear()
            self.entries[key] = (now, st)
        return st


_cache = _Cache()


# Computing the statistics takes time that grows with the hazards and releases (every hazard's
# land-release account), and anyone may ask: a computation runs in the threads for heavy work
# (demine.api.budget), so that however many are asked for at once the safety API, the map and
# every other route keep their own threads; one waiting longer than the request budget for a
# thread is answered 503 with Retry-After. Split by a layer, the first computation cuts every
# hazard's polygons by the layer's areas (kept in the zonal table for the next ones): made in
# chunks, each kept as it is made, the request's budget looked at between two (_splitting);
# past it the answer is 503 with Retry-After and the next request goes on from there. The
# command line (``demine stats --by LAYER``) makes it all at once.


def _splitting(budget: Budget) -> Callable[[str, int, int], None]:
    """What :func:`demine.services.stats.cutting.split_missing` looks at between two chunks:
    past the request's budget, a 503 saying what is being made and how to make it all."""

    def check(layer: str, done: int, total: int) -> None:
        if budget.remaining() > 0:
            return
        s = budget.seconds or 0.0
        raise BudgetExceeded(
            f"this request needs more than its time budget of {s:g} s: the split of the "
            f"hazards among the areas of layer {layer!r} is being made and kept ({done:,} of "
            f"{total:,} hazards so far); retry later (each request goes on from there), or "
            f"have an administrator run `demine stats --by {layer}` once, which makes it all",
            retry_after=max(1, min(60, math.ceil(s))),
        )

    return check


@router.get("", summary="Statistics: land, devices, accidents, casualties, EO reports, EORE")
async def stats(
    request: Request,
    s: StoreDep,
    who: PrincipalDep,
    by: ByQ = None,
    period: PeriodQ = None,
    name_field: NameFieldQ = None,
) -> Response:
    return await run_budgeted(request, _stats, s, who.role, by, name_field, period)


def _stats(
    s: Store, role: str, by: str | None, name_field: str | None, period: str | None, b: Budget
) -> Response:
    with cutting.checked(_splitting(b)):
        st = _cache.get(s, role, by, name_field, period)
    return Response(
        orjson.dumps(st, option=orjson.OPT_NON_STR_KEYS),
        media_type="application/json",
        headers={"Cache-Control": "private, no-cache", "Vary": "Authorization"},
    )


@router.get("/chart/{name}.{fmt}", summary="A chart of the statistics (SVG or PNG)")
async def chart(
    request: Request,
    s: StoreDep,
    who: PrincipalDep,
    name: Annotated[str, Path(description="released, areas or devices")],
    fmt: Annotated[str, Path(description="svg or png")],
    by: ByQ = None,
    period: PeriodQ = None,
    name_field: NameFieldQ = None,
    lang: Annotated[str, Query(pattern=r"^(en|uk)\z")] = "en",
) -> Response:
    if name not in CHARTS or fmt not in MEDIA_TYPES:
        raise NotFound(f"no chart {name}.{fmt}: charts are {', '.join(CHARTS)}, as .svg or .png")
    return await run_budgeted(request, _chart, s, who.role, name, fmt, by, name_field, period, lang)


def _chart(
    s: Store,
    role: str,
    name: str,
    fmt: str,
    by: str | None,
    name_field: str | None,
    period: str | None,
    lang: str,
    b: Budget,
) -> Response:
    with cutting.checked(_splitting(b)):
        st = _cache.get(s, role, by, name_field, period)
    return Response(
        render(st, name, fmt, lang),
        media_type=MEDIA_TYPES[fmt],
        headers={"Cache-Control": "private, no-cache", "Vary": "Authorization"},
    )
