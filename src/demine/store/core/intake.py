"""Organisations and submissions in the store core (issue 13, intake).

* ``demine_organisations``: ``code`` (unique), ``name``, ``type`` (authority, operator,
  partner), ``created_at``. Every store has the authority ``AUTHORITY``; every user belongs to
  one organisation (``demine_users.organisation``; users made before belong to the authority).
* ``demine_submissions``: a write by a field team or an operator, kept apart from the records
  until the authority approves it: id, organisation, submitter, kind, action (create, update,
  delete, batch), target_id, base_revision, payload (JSON), state, quality and faults (JSON),
  created_at, updated_at; client_id and conflict (the field app's sync, :mod:`.sync`).
* ``demine_submission_events``: every state change of a submission: who, when, why.

Only storage lives here; the states and who may move them are
:mod:`demine.services.intake`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from demine.errors import NotFound
from demine.model.schema import now_utc
from demine.store.core.dialect import AUTHORITY
from demine.store.core.tables import Tables

__all__ = ["AUTHORITY", "AUTHORITY_NAME", "OrganisationsAndSubmissions"]
AUTHORITY_NAME = "National authority"

# (table, description, columns): {T} is the backend's time type, {J} its JSON type
INTAKE_TABLES: tuple[tuple[str, str, str], ...] = (
    (
        "demine_organisations",
        "Organisations: the national authority, operators, partners",
        "code TEXT NOT NULL UNIQUE, name TEXT NOT NULL, type TEXT NOT NULL, created_at {T}",
    ),
    (
        "demine_submissions",
        "Submissions waiting for review, and their outcome",
        "id TEXT NOT NULL UNIQUE, organisation TEXT NOT NULL, submitter TEXT NOT NULL, "
        "kind TEXT NOT NULL, action TEXT NOT NULL, target_id TEXT, base_revision INTEGER, "
        "payload {J}, state TEXT NOT NULL, quality {J}, faults {J}, created_at {T}, "
        "updated_at {T}",
    ),
    (
        "demine_submission_events",
        "Every state change of a submission: who, when, why",
        "submission_id TEXT NOT NULL, seq INTEGER NOT NULL, state TEXT NOT NULL, "
        "actor TEXT NOT NULL, at {T}, reason TEXT, UNIQUE (submission_id, seq)",
    ),
)
_SUB_COLS = (
    "id, organisation, submitter, kind, action, target_id, base_revision, payload, state, "
    "quality, faults, created_at, updated_at, client_id, conflict"
)
_JSON_COLS = ("payload", "quality", "faults", "conflict")


class OrganisationsAndSubmissions(Tables):
    """Organisations, users' organisations, submissions and their events."""

    TIME_TYPE = "DATETIME"
    JSON_TYPE = "TEXT"

    def _ensure_column(self, c: Any, table: str, column: str, sqltype: str) -> None:
        """Add a column to a table when it lacks it (a forward migration)."""
        raise NotImplementedError  # pragma: no cover - every backend overrides it

    def _intake_schema(self, c: Any, create: Callable[[Any, str, str, str], None]) -> None:
        """The intake tables (``create(c, name, description, columns)`` makes one), the
        users' organisation, and the authority organisation that users made before join.
        Idempotent: run by every ``init`` and forward migration."""
        for name, description, cols in INTAKE_TABLES:
            create(c, name, description, cols.format(T=self.TIME_TYPE, J=self.JSON_TYPE))
        self._ensure_column(c, "demine_users", "organisation", "TEXT")
        P = self.P
        c.execute(
            f"INSERT INTO demine_organisations (code, name, type, created_at) VALUES ({P}, {P}, "
            f"'authority', {P}) ON CONFLICT (code) DO NOTHING",
            (AUTHORITY, AUTHORITY_NAME, now_utc()),
        )
        c.execute(
            f"UPDATE demine_users SET organisation = {P} WHERE organisation IS NULL", (AUTHORITY,)
        )

    # --- organisations ----------------------------------------------------------------------

    def add_organisation(self, code: str, name: str, type_: str) -> None:
        """Add an organisation (or change the name and type of an existing one)."""
        P = self.P
        self._transaction(
            "__users__",
            lambda c: c.execute(
                "INSERT INTO demine_organisations (code, name, type, created_at) VALUES "
                f"({P}, {P}, {P}, {P}) ON CONFLICT (code) DO UPDATE SET name = excluded.name, "
                "type = excluded.type",
                (code, name, type_, now_utc()),
            ),
        )

    def organisations(self) -> list[dict[str, Any]]:
        """Every organisation: code, name, type, created_at, users (their number)."""
        tt = self._time_text
        return [
            {"code": c, "name": n, "type": t, "created_at": tt(at), "users": int(u)}
            for c, n, t, at, u in self.conn.execute(
                "SELECT o.code, o.name, o.type, o.created_at, (SELECT count(*) FROM demine_users "
                "u WHERE u.organisation = o.code AND u.removed_at IS NULL) "
                "FROM demine_organisations o ORDER BY o.code"
            ).fetchall()
        ]

    def organisation(self, code: str) -> dict[str, Any]:
        for o in self.organisations():
            if o["code"] == code:
                return o
        raise NotFound(f"no organisation {code!r}: 'demine organisations list' shows them")

    def set_user_organisation(self, name: str, code: str) -> None:
        P = self.P
        self._transaction(
            "__users__",
            lambda c: c.execute(
                f"UPDATE demine_users SET organisation = {P} WHERE name = {P}", (code, name)
            ),
        )

    def user_organisation(self, name: str) -> str | None:
        """The organisation of a user (removed ones too), or None for an unknown name."""
        row = self.conn.execute(
            f"SELECT organisation FROM demine_users WHERE name = {self.P}", (name,)
        ).fetchone()
        return None if row is None else (row[0] or AUTHORITY)

    # --- submissions ------------------------------------------------------------------------

    def add_submission(self, sub: dict[str, Any], actor: str, reason: str | None) -> None:
        """Store a new submission (every column of ``_SUB_COLS`` in ``sub``) and its first
        event, in one transaction."""
        cols = [c.strip() for c in _SUB_COLS.split(",")]
        ph = ", ".join(self.JSON_IN if c in _JSON_COLS else self.P for c in cols)
        values = [self._json_text(sub.get(c)) if c in _JSON_COLS else sub.get(c) for c in cols]

        def body(c: Any) -> None:
            c.execute(f"INSERT INTO demine_submissions ({_SUB_COLS}) VALUES ({ph})", values)
            self._event(c, sub["id"], 1, sub["state"], actor, sub["created_at"], reason)

        self._transaction("__submissions__", body)

    def _event(
        self, c: Any, sid: str, seq: int, state: str, actor: str, at: str, reason: str | None
    ) -> None:
        P = self.P
        c.execute(
            "INSERT INTO demine_submission_events (submission_id, seq, state, actor, at, reason) "
            f"VALUES ({P}, {P}, {P}, {P}, {P}, {P})",
            (sid, seq, state, actor, at, reason),
        )

    @staticmethod
    def _json_text(value: Any) -> str | None:
        import orjson

        return None if value is None else orjson.dumps(value).decode()

    def change_submission(
        self,
        sid: str,
        *,
        state: str,
        actor: str,
        reason: str | None,
        expect: Sequence[str],
        changes: dict[str, Any] | None = None,
    ) -> None:
        """Move a submission to ``state`` (only from one of ``expect``: a Conflict otherwise,
        so two reviewers cannot both decide), with an event, and change other columns
        (payload, quality, faults, target_id, base_revision, action) in the same transaction."""
        from demine.errors import Conflict

        P = self.P
        changes = changes or {}

        def body(c: Any) -> None:
            row = c.execute(
                f"SELECT state FROM demine_submissions WHERE id = {P}", (sid,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no submission {sid!r}")
            if row[0] not in expect:
                raise Conflict(
                    f"submission {sid} is {row[0]}: it cannot become {state} (only from "
                    f"{' or '.join(expect)})"
                )
            at = now_utc()
            sets = [f"state = {P}", f"updated_at = {P}"]
            args: list[Any] = [state, at]
            for k, v in changes.items():
                json = k in _JSON_COLS
                sets.append(f"{k} = {self.JSON_IN if json else P}")
                args.append(self._json_text(v) if json else v)
            c.execute(
                f"UPDATE demine_submissions SET {', '.join(sets)} WHERE id = {P}", (*args, sid)
            )
            seq = c.execute(
                f"SELECT max(seq) FROM demine_submission_events WHERE submission_id = {P}", (sid,)
            ).fetchone()[0]
            self._event(c, sid, int(seq or 0) + 1, state, actor, at, reason)

        self._transaction("__submissions__", body)

    def submissions(
        self,
        *,
        organisation: str | None = None,
        state: str | Sequence[str] | None = None,
        sid: str | None = None,
    ) -> list[dict[str, Any]]:
        """Submissions, newest first (``organisation``: one organisation's only)."""
        P, where, args = self.P, [], []
        for col, val in (("organisation", organisation), ("id", sid)):
            if val is not None:
                where.append(f"{col} = {P}")
                args.append(val)
        if state is not None:
            states = [state] if isinstance(state, str) else list(state)
            where.append(f"state IN ({', '.join([P] * len(states))})")
            args += states
        sql = f"SELECT {_SUB_COLS} FROM demine_submissions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        cols = [c.strip() for c in _SUB_COLS.split(",")]
        out = []
        for row in self.conn.execute(sql + " ORDER BY created_at DESC, id DESC", args).fetchall():
            d = dict(zip(cols, row, strict=True))
            for k in _JSON_COLS:
                d[k] = None if d[k] is None else self._from_json(d[k])
            d["created_at"], d["updated_at"] = (
                self._time_text(d["created_at"]),
                self._time_text(d["updated_at"]),
            )
            out.append(d)
        return out

    def submission_times(self, organisation: str | None = None) -> list[dict[str, Any]]:
        """For a report, without payloads: each submission's id, organisation, kind, state,
        quality, and when it was first submitted and last approved (events; None if never)."""
        P, tt = self.P, self._time_text
        sql = (
            "SELECT s.id, s.organisation, s.kind, s.state, s.quality, "
            "(SELECT min(e.at) FROM demine_submission_events e WHERE e.submission_id = s.id "
            "AND e.state = 'submitted'), "
            "(SELECT max(e.at) FROM demine_submission_events e WHERE e.submission_id = s.id "
            "AND e.state = 'approved') FROM demine_submissions s"
        )
        args: list[Any] = []
        if organisation is not None:
            sql += f" WHERE s.organisation = {P}"
            args.append(organisation)
        return [
            {
                "id": i,
                "organisation": o,
                "kind": k,
                "state": st,
                "quality": None if q is None else self._from_json(q),
                "submitted_at": None if sub is None else tt(sub),
                "approved_at": None if app is None else tt(app),
            }
            for i, o, k, st, q, sub, app in self.conn.execute(sql, args).fetchall()
        ]

    def submission_events(self, sid: str) -> list[dict[str, Any]]:
        return [
            {"seq": int(s), "state": st, "actor": a, "at": self._time_text(at), "reason": r}
            for s, st, a, at, r in self.conn.execute(
                "SELECT seq, state, actor, at, reason FROM demine_submission_events "
                f"WHERE submission_id = {self.P} ORDER BY seq",
                (sid,),
            ).fetchall()
        ]

    def load_submissions(self, subs: Sequence[dict[str, Any]]) -> int:
        """Write submissions as they are, each with its ``events`` (a copy between stores:
        ids, states, times and every event kept), in one transaction; returns how many."""
        cols = [c.strip() for c in _SUB_COLS.split(",")]
        ph = ", ".join(self.JSON_IN if c in _JSON_COLS else self.P for c in cols)

        def body(c: Any) -> int:
            for sub in subs:
                values = [
                    self._json_text(sub.get(k)) if k in _JSON_COLS else sub.get(k) for k in cols
                ]
                c.execute(f"INSERT INTO demine_submissions ({_SUB_COLS}) VALUES ({ph})", values)
                for e in sub["events"]:
                    at, why = e["at"], e["reason"]
                    self._event(c, sub["id"], e["seq"], e["state"], e["actor"], at, why)
            return len(subs)

        return int(self._transaction("__submissions__", body))
