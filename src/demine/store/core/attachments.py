"""Attachments in the store core: photos and documents kept in the store itself
(``demine_attachments``), each owned by a record of any kind or by a submission (``owner_kind``,
``owner_id``: plain strings; the services check that the owner exists).

A row holds the original bytes (``data``), the public copy (``public_data``: the image
re-encoded without its metadata, or NULL when there is none, e.g. a PDF), and what was read at
upload: type, size, SHA-256, the EXIF location and time. Attachments are not revisioned: a
record's deletion leaves them in place (they belong to its history), and a restore finds them
again. The GeoPackage registers the table with the Related Tables Extension (the backend's
:meth:`_relate_attachments`); PostGIS keeps the same columns with ``bytea``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from demine.errors import Conflict
from demine.store.core.tables import Tables

ATTACHMENT_TABLE = "demine_attachments"
# the columns of what is known of an attachment (never its bytes), in this order
ATTACHMENT_COLS = (
    "attachment_id",
    "owner_kind",
    "owner_id",
    "filename",
    "content_type",
    "size",
    "sha256",
    "exif_lat",
    "exif_lon",
    "exif_time",
    "created_by",
    "created_at",
)
_META = ", ".join(ATTACHMENT_COLS)


class Attachments(Tables):
    """Adding, listing and reading attachments; copying them between stores."""

    def _relate_attachments(self, c: Any, owner_kind: str) -> None:
        """Called in the transaction that adds an attachment to an owner of ``owner_kind``:
        a backend that registers relations (the GeoPackage's Related Tables Extension) does
        it here, once per owner kind."""

    def _attachment_meta(self, row: Sequence[Any]) -> dict[str, Any]:
        d = dict(zip(ATTACHMENT_COLS, row, strict=True))
        d["size"] = int(d["size"])
        d["created_at"] = self._time_text(d["created_at"])
        for k in ("exif_lat", "exif_lon"):
            if d[k] is not None:
                d[k] = float(d[k])
        return d

    def add_attachment(
        self, meta: dict[str, Any], data: bytes, public_data: bytes | None
    ) -> dict[str, Any]:
        """Store one attachment (``meta`` holds every column of :data:`ATTACHMENT_COLS`) in one
        transaction: all of it or nothing. Returns ``meta`` as stored."""
        P = self.P
        cols = [*ATTACHMENT_COLS, "data", "public_data"]
        values = [meta[k] for k in ATTACHMENT_COLS] + [data, public_data]

        def body(c: Any) -> None:
            try:
                c.execute(
                    f"INSERT INTO {ATTACHMENT_TABLE} ({', '.join(cols)}) "
                    f"VALUES ({', '.join([P] * len(cols))})",
                    values,
                )
            except self.DB_ERRORS as e:
                raise Conflict(f"cannot store the attachment: {self._db_message(e)}") from None
            self._relate_attachments(c, meta["owner_kind"])

        self._transaction("__attachments__", body)
        got = self.attachment(meta["attachment_id"])
        assert got is not None
        return got

    def move_attachments(
        self, owner_kind: str, owner_id: str, to_kind: str, to_id: str
    ) -> list[str]:
        """Give every attachment of one owner to another (a submission's to the record its
        approval wrote), in one transaction. Returns the ids moved."""
        P = self.P

        def body(c: Any) -> list[str]:
            ids = [
                str(r[0])
                for r in c.execute(
                    f"SELECT attachment_id FROM {ATTACHMENT_TABLE} WHERE owner_kind = {P} "
                    f"AND owner_id = {P} ORDER BY id",
                    (owner_kind, owner_id),
                ).fetchall()
            ]
            if ids:
                c.execute(
                    f"UPDATE {ATTACHMENT_TABLE} SET owner_kind = {P}, owner_id = {P} "
                    f"WHERE owner_kind = {P} AND owner_id = {P}",
                    (to_kind, to_id, owner_kind, owner_id),
                )
                self._relate_attachments(c, to_kind)
            return ids

        return self._transaction("__attachments__", body)

    def attachments(self, owner_kind: str, owner_id: str) -> list[dict[str, Any]]:
        """What is known of every attachment of one owner (no bytes), oldest first."""
        P = self.P
        rows = self.conn.execute(
            f"SELECT {_META} FROM {ATTACHMENT_TABLE} WHERE owner_kind = {P} AND owner_id = {P} "
            "ORDER BY created_at, id",
            (owner_kind, owner_id),
        ).fetchall()
        return [self._attachment_meta(r) for r in rows]

    def attachment(self, attachment_id: str) -> dict[str, Any] | None:
        """What is known of one attachment (no bytes), or None."""
        row = self.conn.execute(
            f"SELECT {_META} FROM {ATTACHMENT_TABLE} WHERE attachment_id = {self.P}",
            (attachment_id,),
        ).fetchone()
        return None if row is None else self._attachment_meta(row)

    def attachment_data(self, attachment_id: str, *, public: bool) -> bytes | None:
        """The original bytes, or the public copy (``public``); None when there is none."""
        col = "public_data" if public else "data"
        row = self.conn.execute(
            f"SELECT {col} FROM {ATTACHMENT_TABLE} WHERE attachment_id = {self.P}",
            (attachment_id,),
        ).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def attachment_rows(self) -> Iterator[dict[str, Any]]:
        """Every attachment with its bytes (``data``, ``public_data``), oldest first: for
        copying a store. One row at a time."""
        ids = [
            r[0]
            for r in self.conn.execute(
                f"SELECT attachment_id FROM {ATTACHMENT_TABLE} ORDER BY id"
            ).fetchall()
        ]
        for aid in ids:
            meta = self.attachment(aid)
            if meta is None:  # pragma: no cover - removed meanwhile
                continue
            meta["data"] = self.attachment_data(aid, public=False)
            meta["public_data"] = self.attachment_data(aid, public=True)
            yield meta

    def load_attachments(self, rows: Iterator[dict[str, Any]]) -> int:
        """Add attachments as :meth:`attachment_rows` gives them (ids, times and authors
        kept). Returns how many."""
        n = 0
        for r in rows:
            self.add_attachment(r, r["data"], r["public_data"])
            n += 1
        return n
