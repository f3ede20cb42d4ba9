"""Rules every write to a store obeys, whatever the backend: checked once, in the store core
(:mod:`demine.store.core`), for every record changed, so that no face or service can get
around them. Pure functions of the old and new properties (no I/O).

``origin`` says what made the change: ``"user"`` (a person, through the CLI, the API or an
import) or ``"risk"`` (a risk estimate written back by the risk service).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from demine.errors import PermissionDenied

STATUS_FIELDS = ("status", "closed_on")


def check_change(
    kind: str, old: Mapping[str, Any] | None, new: Mapping[str, Any], origin: str
) -> None:
    """Refuse a change the rules forbid (:class:`PermissionDenied`). ``old`` is None for a new
    record.

    * No risk estimate changes a hazard's status (or the date it closed): risk is
      information; only land release, or a person with a reason in the history, changes
      status (IMAS 07.11).
    """
    if kind == "hazards" and origin == "risk":
        before = old or {}
        changed = [f for f in STATUS_FIELDS if before.get(f) != new.get(f)]
        if changed:
            raise PermissionDenied(
                f"a risk estimate cannot change a hazard's {', '.join(changed)}: only land "
                "release does (IMAS 07.11)"
            )
