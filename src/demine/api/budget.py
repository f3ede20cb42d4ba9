"""A time budget for the work one request may ask for (OGC item listings, filters, tiles).

Anyone may ask for ``/ogc/collections/{c}/items?filter=...`` and ``/tiles/...``: the work such a
request causes depends on the data and on what it asks for. Two rules keep it bounded:

- **A budget per request** (``create_app(request_budget_s=...)``, ``demine serve
  --request-budget``; 10 s by default). The work checks :meth:`Budget.check` as it goes (every
  few records, between the phases of a tile); past the deadline it stops with
  :class:`BudgetExceeded`, a 503 problem+json with ``Retry-After``, and frees its thread.
- **Threads of their own.** These requests run in worker threads counted apart from the ones
  of every other endpoint (at most ``threads`` at once, as many as the rest). Heavy requests can
  thus never take every thread: the public safety API, the map page and health checks keep
  answering while they run. A heavy request that waits longer than its budget for a thread is
  answered 503 at once.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar
from fastapi import Request

from demine.errors import DemineError

DEFAULT_BUDGET_S = 10.0
CHECK_EVERY = 16  # records between two looks at the clock

T = TypeVar("T")


class BudgetExceeded(DemineError):
    """A request that needed more than its time budget: 503, retry later or ask for less."""

    exit_code = 2
    http_status = 503
    title = "Request budget exceeded"
    client_safe = True  # its message names only the budget: shown to clients as it is

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.http_headers = {"Retry-After": str(retry_after)}

    def to_problem(self) -> dict[str, Any]:
        p = super().to_problem()
        p["retry_after"] = self.retry_after
        return p


class Budget:
    """A deadline on the monotonic clock; ``seconds=None`` is no limit (the CLI, tests)."""

    __slots__ = ("deadline", "n", "seconds")

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.deadline = math.inf if seconds is None else time.monotonic() + seconds
        self.n = 0

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def check(self) -> None:
        """Raise BudgetExceeded once the deadline has passed."""
        if time.monotonic() > self.deadline:
            raise self.exceeded()

    def tick(self) -> None:
        """Call once a record: looks at the clock every CHECK_EVERY calls (cheap)."""
        self.n += 1
        if self.n % CHECK_EVERY == 0:
            self.check()

    def exceeded(self, waiting: bool = False) -> BudgetExceeded:
        s = self.seconds if self.seconds is not None else 0.0
        what = (
            "waited longer than its time budget for a free worker (the server is busy)"
            if waiting
            else "needs more than its time budget"
        )
        return BudgetExceeded(
            f"this request {what} of {s:g} s; ask for less (a bbox, a smaller limit, a "
            "simpler filter) or retry later",
            retry_after=max(1, min(60, math.ceil(s))),
        )


NO_BUDGET = Budget(None)

# per event loop (the TestClient runs one per client; uvicorn one per process): app -> limiters
_LIMITERS: RunVar[dict[int, tuple[anyio.CapacityLimiter, anyio.CapacityLimiter]]] = RunVar(
    "demine_heavy_limiters"
)


def _limiters(request: Request) -> tuple[anyio.CapacityLimiter, anyio.CapacityLimiter]:
    try:
        table = _LIMITERS.get()
    except LookupError:
        table = {}
        _LIMITERS.set(table)
    key = id(request.app)
    if key not in table:
        n = max(1, int(getattr(request.app.state, "threads", 4)))
        # the gate counts heavy requests; the pool runs them (never the default pool)
        table[key] = (anyio.CapacityLimiter(n), anyio.CapacityLimiter(n))
    return table[key]


async def run_budgeted(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args, budget)`` in a worker thread of the heavy pool, under the app's budget."""
    budget = Budget(getattr(request.app.state, "request_budget_s", DEFAULT_BUDGET_S))
    gate, pool = _limiters(request)
    got = False
    with anyio.move_on_after(budget.remaining() if budget.seconds is not None else None):
        await gate.acquire()
        got = True
    if not got:
        raise budget.exceeded(waiting=True)
    try:
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, budget), limiter=pool)
    finally:
        gate.release()


__all__ = [
    "DEFAULT_BUDGET_S",
    "NO_BUDGET",
    "Budget",
    "BudgetExceeded",
    "run_budgeted",
]
