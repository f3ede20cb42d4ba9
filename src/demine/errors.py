"""One error hierarchy for the whole of demine.

Every face maps these once: the CLI to exit codes, the HTTP API to RFC 9457 problem details.
A :class:`ValidationError` always says *where* the fault is (file, feature index, field).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Fault:
    """One problem with one piece of input, and where it is."""

    reason: str
    index: int | None = None  # feature index in the source (0-based), if any
    field: str | None = None  # field or member name, e.g. "geometry" or "properties.status"
    source: str | None = None  # file name, if any
    feature_id: str | None = None  # the feature's id in the file (GeoJSON "id"), if it has one
    repairable: bool = False
    # the source's own id of the record the feature becomes (its non-UUID id or "source_id")
    source_id: str | None = None

    def where(self) -> str:
        parts: list[str] = []
        if self.source:
            parts.append(self.source)
        if self.index is not None:
            parts.append(f"feature {self.index}")
        if self.feature_id is not None and self.feature_id != self.source_id:
            parts.append(f"id {self.feature_id!r}")
        if self.source_id is not None:  # a feature's non-UUID id is its source id: named once
            parts.append(f"source id {self.source_id!r}")
        if self.field:
            parts.append(f"field {self.field!r}")
        return ", ".join(parts)

    def __str__(self) -> str:
        w = self.where()
        return f"{w}: {self.reason}" if w else self.reason

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"index": self.index, "field": self.field, "reason": self.reason}
        if self.feature_id is not None:
            d["feature_id"] = self.feature_id
        if self.source_id is not None:
            d["source_id"] = self.source_id
        if self.source is not None:
            d["source"] = self.source
        if self.repairable:
            d["repairable"] = True
        return d


class DemineError(Exception):
    """Base of every error demine raises on purpose."""

    exit_code = 2
    http_status = 500
    title = "demine error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_problem(self) -> dict[str, Any]:
        """RFC 9457 problem details."""
        return {
            "type": "about:blank",
            "title": self.title,
            "status": self.http_status,
            "detail": self.message,
        }


class ValidationError(DemineError):
    """Input that breaks a rule. Carries every fault found, each with its place."""

    exit_code = 1
    http_status = 422
    title = "Invalid input"

    def __init__(self, message: str, faults: list[Fault] | None = None) -> None:
        super().__init__(message)
        self.faults: list[Fault] = list(faults or [])

    def __str__(self) -> str:
        if not self.faults:
            return self.message
        lines = [self.message] + [f"  - {f}" for f in self.faults[:50]]
        if len(self.faults) > 50:
            lines.append(f"  ... and {len(self.faults) - 50} more")
        return "\n".join(lines)

    def to_problem(self) -> dict[str, Any]:
        p = super().to_problem()
        p["errors"] = [f.to_dict() for f in self.faults]
        return p


class NotFound(DemineError):
    exit_code = 3
    http_status = 404
    title = "Not found"


class Conflict(DemineError):
    """A write that would lose someone else's change (stale revision), or a duplicate."""

    exit_code = 4
    http_status = 409
    title = "Conflict"


class PermissionDenied(DemineError):
    exit_code = 5
    http_status = 403
    title = "Permission denied"


class StoreUnavailable(DemineError):
    """The store cannot be reached: the database server is down, refuses the connection or
    the password. The message is for the operator (any password masked); HTTP clients are
    only told :attr:`public_detail`, with a ``Retry-After``."""

    exit_code = 2
    http_status = 503
    title = "Service Unavailable"
    public_detail = "the store is unavailable"


class NoStore(StoreUnavailable):
    """There is no demine store at the configured location (run ``demine init``). For the
    command line a not-found (exit 3); for an HTTP client the store is unavailable (503) - not
    a missing record, so no ``except NotFound`` takes it for one."""

    exit_code = 3


class StoreFull(DemineError):
    """The disk under the store is full (SQLite "database or disk is full", PostgreSQL
    SQLSTATE 53100): the write was rolled back."""

    exit_code = 2
    http_status = 507
    title = "Insufficient Storage"
    public_detail = "the store's disk is full: nothing was written"


class LimitExceeded(DemineError):
    """A request over one of the server's work limits (a route too long, too many vertices,
    a body too large, too many requests): names the limit and its value."""

    exit_code = 1
    http_status = 400
    title = "Limit exceeded"

    def __init__(
        self, message: str, limit: str, limit_value: float, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.limit = limit
        self.limit_value = limit_value
        self.field = field

    def to_problem(self) -> dict[str, Any]:
        p = super().to_problem()
        p["limit"] = self.limit
        p["limit_value"] = self.limit_value
        if self.field is not None:
            p["errors"] = [{"index": None, "field": self.field, "reason": self.message}]
        return p


class ContentTooLarge(LimitExceeded):
    http_status = 413
    title = "Content too large"


class TooManyRequests(LimitExceeded):
    http_status = 429
    title = "Too many requests"


@dataclass(slots=True)
class Report:
    """What an import or validation run found: kept for the faces to print."""

    imported: int = 0
    updated: int = 0
    rejected: list[Fault] = field(default_factory=list)
    repairs: list[Fault] = field(default_factory=list)
    warnings: list[Fault] = field(default_factory=list)
