"""What the field app's sync keeps in the store (issue 14, docs/field.md).

* ``demine_submissions.client_id``: the id the device made for an outbox item (a UUID), unique
  within the organisation (a unique index on ``(organisation, client_id)``), so that the same
  item sent again is found and never stored twice; ``demine_submissions.conflict``: for an
  update or delete made on a revision that is not the record's current one, ``{"base_revision",
  "current_revision"}`` (JSON), shown to the reviewer.
* ``demine_uploads``: a resumable upload (who, the file's name, type, size and SHA-256, how
  many bytes came, when it expires, the attachment it became); ``demine_upload_parts``: its
  bytes, one row a chunk (``start`` offset). Kept in the store, not beside it, so that a
  GeoPackage stays one file and a PostGIS store needs no shared disk between servers; a chunk
  is a row, so appending never rewrites what came before.

The cursor of :meth:`Sync.submission_changes` is the event table's ``fid`` (increasing; the
events of submissions are written under one lock, ``__submissions__``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from demine.store.core.tables import Tables

SYNC_TABLES: tuple[tuple[str, str, str], ...] = (
    (
        "demine_uploads",
        "Resumable uploads of the field app (bytes in demine_upload_parts)",
        "upload_id TEXT NOT NULL UNIQUE, user_name TEXT NOT NULL, organisation TEXT NOT NULL, "
        "filename TEXT NOT NULL, content_type TEXT, size INTEGER NOT NULL, sha256 TEXT NOT NULL, "
        "received INTEGER NOT NULL, created_at {T}, expires_at {T}, attachment_id TEXT",
    ),
    (
        "demine_upload_parts",
        "The chunks of resumable uploads, in order of their offset",
        "upload_id TEXT NOT NULL, start INTEGER NOT NULL, data {B} NOT NULL, "
        "UNIQUE (upload_id, start)",
    ),
)
UPLOAD_COLS = (
    "upload_id",
    "user_name",
    "organisation",
    "filename",
    "content_type",
    "size",
    "sha256",
    "received",
    "created_at",
    "expires_at",
    "attachment_id",
)


class Sync(Tables):
    """Client ids and conflicts of submissions; resumable uploads."""

    TIME_TYPE = "DATETIME"
    JSON_TYPE = "TEXT"
    BLOB_TYPE = "BLOB"

    def _ensure_column(self, c: Any, table: str, column: str, sqltype: str) -> None:
        raise NotImplementedError  # pragma: no cover - every backend overrides it

    def _sync_schema(self, c: Any, create: Callable[[Any, str, str, str], None]) -> None:
        """GeoPackage schema 8, PostGIS 7. Idempotent (every ``init`` and migration)."""
        self._ensure_column(c, "demine_submissions", "client_id", "TEXT")
        self._ensure_column(c, "demine_submissions", "conflict", self.JSON_TYPE)
        c.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS demine_submissions_client_id "
            "ON demine_submissions (organisation, client_id)"
        )
        for name, description, cols in SYNC_TABLES:
            create(c, name, description, cols.format(T=self.TIME_TYPE, B=self.BLOB_TYPE))

    # --- submissions by client id and by change ---------------------------------------------

    def submission_by_client_id(self, organisation: str, client_id: str) -> str | None:
        """The id of the organisation's submission made from the device's ``client_id``."""
        P = self.P
        row = self.conn.execute(
            f"SELECT id FROM demine_submissions WHERE organisation = {P} AND client_id = {P}",
            (organisation, client_id),
        ).fetchone()
        return None if row is None else str(row[0])

    def submission_changes(
        self, organisation: str, since: int, limit: int
    ) -> tuple[list[dict[str, Any]], int, bool]:
        """The organisation's submissions with an event after the cursor ``since`` (at most
        ``limit`` events read): ``(changes, cursor, more)``; each change ``{id, client_id,
        state, reason, kind, action, target_id, record_id}`` (``reason`` of its last event in
        the window), oldest change first; ``cursor`` the last event read."""
        P = self.P
        rows = self.conn.execute(
            "SELECT e.fid, e.reason, s.id, s.client_id, s.state, s.kind, s.action, s.target_id, "
            "s.payload FROM demine_submission_events e JOIN demine_submissions s ON "
            f"s.id = e.submission_id WHERE s.organisation = {P} AND e.fid > {P} "
            f"AND s.state <> 'draft' ORDER BY e.fid LIMIT {P}",
            (organisation, since, limit + 1),
        ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        out: dict[str, dict[str, Any]] = {}
        for _fid, reason, sid, cid, state, kind, action, target, payload in rows:
            p = None if payload is None else self._from_json(payload)
            rid = target or (p.get("id") if isinstance(p, dict) else None)
            out.pop(sid, None)  # moved to the end: its latest event
            out[sid] = {
                "id": sid,
                "client_id": cid,
                "state": state,
                "reason": reason,
                "kind": kind,
                "action": action,
                "record_id": rid,
            }
        cursor = int(rows[-1][0]) if rows else since
        return list(out.values()), cursor, more

    # --- resumable uploads ------------------------------------------------------------------

    def add_upload(self, meta: dict[str, Any]) -> None:
        """Store a new upload (every column of UPLOAD_COLS in ``meta``; received 0)."""
        P, cols = self.P, ", ".join(UPLOAD_COLS)
        self._transaction(
            "__uploads__",
            lambda c: c.execute(
                f"INSERT INTO demine_uploads ({cols}) VALUES ({', '.join([P] * len(UPLOAD_COLS))})",
                [meta[k] for k in UPLOAD_COLS],
            ),
        )

    def upload(self, upload_id: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            f"SELECT {', '.join(UPLOAD_COLS)} FROM demine_uploads WHERE upload_id = {self.P}",
            (upload_id,),
        ).fetchone()
        if row is None:
            return None
        d = dict(zip(UPLOAD_COLS, row, strict=True))
        d["created_at"] = self._time_text(d["created_at"])
        d["expires_at"] = self._time_text(d["expires_at"])
        d["size"], d["received"] = int(d["size"]), int(d["received"])
        return d

    def add_upload_part(self, upload_id: str, start: int, data: bytes) -> int:
        """Append ``data`` at ``start`` when ``start`` is what has come so far; a range already
        received stores nothing. Returns the bytes received after. Raises ValueError (with
        what has come) for a range that starts past it (a gap)."""
        P = self.P

        def body(c: Any) -> int:
            row = c.execute(
                f"SELECT received FROM demine_uploads WHERE upload_id = {P}", (upload_id,)
            ).fetchone()
            got = int(row[0])
            if start + len(data) <= got:
                return got  # already here: a repeated range
            if start > got:
                raise ValueError(got)
            part = data[got - start :]  # a range overlapping what came: only the new bytes
            c.execute(
                f"INSERT INTO demine_upload_parts (upload_id, start, data) VALUES ({P}, {P}, {P})",
                (upload_id, got, part),
            )
            c.execute(
                f"UPDATE demine_uploads SET received = {P} WHERE upload_id = {P}",
                (got + len(part), upload_id),
            )
            return got + len(part)

        return int(self._transaction("__uploads__", body))

    def upload_data(self, upload_id: str) -> bytes:
        """Every byte of an upload so far, in order."""
        rows = self.conn.execute(
            f"SELECT data FROM demine_upload_parts WHERE upload_id = {self.P} ORDER BY start",
            (upload_id,),
        ).fetchall()
        return b"".join(bytes(r[0]) for r in rows)

    def finish_upload(self, upload_id: str, attachment_id: str) -> None:
        """The upload became ``attachment_id``: its chunks are dropped, its row kept (so the
        same photo named again answers with that attachment)."""
        P = self.P

        def body(c: Any) -> None:
            c.execute(f"DELETE FROM demine_upload_parts WHERE upload_id = {P}", (upload_id,))
            c.execute(
                f"UPDATE demine_uploads SET attachment_id = {P} WHERE upload_id = {P}",
                (attachment_id, upload_id),
            )

        self._transaction("__uploads__", body)

    def reset_upload(self, upload_id: str) -> None:
        """Drop every byte of an upload (it starts again from byte 0)."""
        P = self.P

        def body(c: Any) -> None:
            c.execute(f"DELETE FROM demine_upload_parts WHERE upload_id = {P}", (upload_id,))
            c.execute(f"UPDATE demine_uploads SET received = 0 WHERE upload_id = {P}", (upload_id,))

        self._transaction("__uploads__", body)

    def expire_uploads(self, now: str) -> int:
        """Drop the unfinished uploads that expired before ``now``; returns how many."""
        P = self.P

        def body(c: Any) -> int:
            ids = [
                r[0]
                for r in c.execute(
                    "SELECT upload_id FROM demine_uploads WHERE attachment_id IS NULL AND "
                    f"expires_at < {P}",
                    (now,),
                ).fetchall()
            ]
            for uid in ids:
                c.execute(f"DELETE FROM demine_upload_parts WHERE upload_id = {P}", (uid,))
                c.execute(f"DELETE FROM demine_uploads WHERE upload_id = {P}", (uid,))
            return len(ids)

        return int(self._transaction("__uploads__", body))
