"""Moving a whole store between backends (GeoPackage <-> PostGIS), history included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from demine.errors import Conflict
from demine.store.base import Store
from demine.store.redact import redact_location

NOT_COPIED = frozenset({"schema_version"})


def copy_store(
    src: Store,
    dst: Store,
    *,
    stage: Callable[[str], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Copy every record with its whole history (revision numbers, times, who and why),
    reference layers, settings, organisations, users, token hashes, submissions (with every
    event), attachments, redirects and links from ``src`` into ``dst``.

    ``dst`` is created if needed and must hold no record yet (not even the device-type
    catalogue: the copy brings the source's own).

    ``stage`` is told each stage as it starts (``copying layers, settings, users and
    tokens``, ``copying revisions``, then ``copying submissions, attachments and links``);
    ``progress`` (hazards done, hazards to do) as the hazards' land-release accounts are
    computed while the revisions are loaded, once before the first chunk and after each, the
    last call (total, total). Neither changes what is copied.
    """
    say = stage or (lambda _: None)
    layers = [k for k in src.kinds() if k.is_layer]  # the source must open before dst is made
    dst.init()
    for k in dst.kinds():
        if dst.count(k.name):
            raise Conflict(
                f"the destination {redact_location(dst.location)} already holds {k.name}: "
                "copy into an empty store"
            )
    say("copying layers, settings, users and tokens")
    for k in layers:
        dst.create_layer(k)
    for key, value in src.settings().items():
        if key not in NOT_COPIED:
            dst.set_setting(key, value)
    for o in src.organisations():
        dst.add_organisation(o["code"], o["name"], o["type"])
    for u in src.user_rows():  # removed users stay removed (history names them)
        dst.add_user(u["name"], u["role"], u.get("organisation"))
        if u["removed_at"] is not None:
            dst.remove_user(u["name"], at=u["removed_at"])
    dst.load_tokens(src.tokens())
    say("copying revisions")
    made = {r.id: r.record_organisation for k in src.kinds() for r in src.list(k.name)}
    n = dst.load_revisions(
        list(src.revisions()),
        {i: o for i, o in made.items() if o is not None},
        progress=progress,
    )
    say("copying submissions, attachments and links")
    subs = [{**x, "events": src.submission_events(x["id"])} for x in src.submissions()]
    submitted = dst.load_submissions(subs)  # before their attachments
    attached = dst.load_attachments(src.attachment_rows())
    redirected = dst.load_redirects(src.redirects())  # a merged record's id still answers
    dst.load_links(src.links())
    counts = {k.name: dst.count(k.name) for k in dst.kinds()}
    return {
        "source": redact_location(src.location),
        "destination": redact_location(dst.location),
        "revisions": n,
        "attachments": attached,
        "submissions": submitted,
        "redirects": redirected,
        "layers": [k.name for k in layers],
        "records": counts,
    }
