"""Users and API tokens in the store core: who may act (``demine_users``: name, role, removed
or not; a removed user's row stays, as history names them) and the tokens they act with
(``demine_tokens``: only a token's hash is stored, with its id, label, expiry, last use and
whether it is revoked). The rules of token state and listing are in :mod:`demine.store.common`."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from demine.errors import Conflict, DemineError, NotFound
from demine.model.schema import now_utc
from demine.store.common import (
    new_token_id,
    token_list_query,
    token_list_rows,
    token_state,
    used_long_ago,
)
from demine.store.core.tables import Tables


class UsersAndTokens(Tables):
    """Adding, listing and removing users; adding, checking, listing and revoking tokens."""

    # --- users ------------------------------------------------------------------------------

    def add_user(self, name: str, role: str, organisation: str | None = None) -> None:
        """Add a user (or change the role of an existing one; a removed user comes back).
        ``organisation``: its code (None: the authority for a new user, unchanged for an
        existing one); an unknown code is NotFound."""
        P = self.P

        def body(c: Any) -> None:
            if (
                organisation is not None
                and not c.execute(
                    f"SELECT 1 FROM demine_organisations WHERE code = {P}", (organisation,)
                ).fetchone()
            ):
                raise NotFound(
                    f"no organisation {organisation!r}: add it with 'demine organisations add'"
                )
            c.execute(
                "INSERT INTO demine_users (name, role, created_at, organisation) VALUES "
                f"({P}, {P}, {P}, {P}) ON CONFLICT (name) DO UPDATE SET role = excluded.role, "
                "removed_at = NULL, organisation = COALESCE("
                f"{P}, demine_users.organisation)",
                (name, role, now_utc(), organisation or "AUTHORITY", organisation),
            )

        self._transaction("__users__", body)

    def users(self) -> list[tuple[str, str]]:
        """(name, role) of every user not removed."""
        return [
            (n, r)
            for n, r in self.conn.execute(
                f"SELECT name, role FROM demine_users WHERE removed_at IS NULL ORDER BY "
                f"{self.BY_NAME}"
            ).fetchall()
        ]

    def user_rows(self) -> list[dict[str, Any]]:
        """Every user, removed ones too: name, role, created_at, removed_at, organisation."""
        tt = self._time_text
        return [
            {"name": n, "role": r, "created_at": tt(c), "removed_at": tt(x), "organisation": o}
            for n, r, c, x, o in self.conn.execute(
                "SELECT name, role, created_at, removed_at, organisation FROM demine_users "
                "ORDER BY "
                f"{self.BY_NAME}"
            ).fetchall()
        ]

    def _live_user(self, c: Any, name: str, removed: str, hint: str = "") -> None:
        row = c.execute(
            f"SELECT removed_at FROM demine_users WHERE name = {self.P}", (name,)
        ).fetchone()
        if row is None or row[0] is not None:
            raise NotFound(f"no user {name!r}" + (removed if row else "") + hint)

    def remove_user(self, name: str, *, at: str | None = None) -> int:
        """Mark a user removed (the row stays: history names them) and revoke their tokens.
        Returns the number of tokens revoked."""
        P = self.P

        def body(c: Any) -> int:
            self._live_user(c, name, " (already removed)")
            c.execute(
                f"UPDATE demine_users SET removed_at = {P} WHERE name = {P}",
                (at or now_utc(), name),
            )
            return int(
                c.execute(
                    f"UPDATE demine_tokens SET revoked = {P} WHERE user_name = {P} AND NOT revoked",
                    (True, name),
                ).rowcount
            )

        return self._transaction("__users__", body)

    # --- tokens -----------------------------------------------------------------------------

    def add_token(
        self,
        user: str,
        token_hash: str,
        label: str | None = None,
        *,
        expires_at: str | None = None,
    ) -> str:
        """Store a token's hash for ``user``; returns the token's id."""
        tid = new_token_id()
        P = self.P

        def body(c: Any) -> None:
            self._live_user(c, user, " (removed)", ": add one with 'demine user add'")
            try:
                c.execute(
                    "INSERT INTO demine_tokens (token_hash, user_name, label, created_at, "
                    f"token_id, expires_at) VALUES ({P}, {P}, {P}, {P}, {P}, {P})",
                    (token_hash, user, label, now_utc(), tid, expires_at),
                )
            except self.DB_ERRORS as e:
                raise Conflict(f"cannot add the token: {self._db_message(e)}") from None

        self._transaction("__users__", body)
        return tid

    def token_user(self, token_hash: str) -> tuple[str, str] | None:
        """(user name, role) of a live token (not revoked, not expired, its user not
        removed), or None. Notes the token's last use (at most once an hour)."""
        P = self.P
        row = self.conn.execute(
            "SELECT u.name, u.role, t.expires_at, t.last_used_at FROM demine_tokens t "
            "JOIN demine_users u ON u.name = t.user_name "
            f"WHERE t.token_hash = {P} AND NOT t.revoked AND u.removed_at IS NULL",
            (token_hash,),
        ).fetchone()
        if row is None:
            return None
        now = datetime.now(UTC)
        if token_state(False, row[2], None, now) != "active":
            return None
        if used_long_ago(row[3], now):
            errors: tuple[type[BaseException], ...] = (*self.DRIVER_ERRORS, DemineError)
            with contextlib.suppress(*errors):  # best effort: a busy or read-only store answers
                self._transaction(
                    "__users__",
                    lambda c: c.execute(
                        f"UPDATE demine_tokens SET last_used_at = {P} WHERE token_hash = {P}",
                        (now_utc(), token_hash),
                    ),
                )
        return (row[0], row[1])

    def token_list(self, user: str | None = None) -> list[dict[str, Any]]:
        """Every token (never the token nor its hash): id, user, role, label, created_at,
        expires_at, last_used_at, state (active, expired, revoked)."""
        sql, args = token_list_query(user, self.P, self.TOKEN_TIEBREAK)
        return token_list_rows(self.conn.execute(sql, args).fetchall(), self._time_text)

    def revoke_token(self, token_id: str) -> bool:
        """Revoke one token by its id; False when it was already revoked."""
        P = self.P

        def body(c: Any) -> bool:
            row = c.execute(
                f"SELECT revoked FROM demine_tokens WHERE token_id = {P}", (token_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no token {token_id!r}: 'demine token list' shows the ids")
            if row[0]:
                return False
            c.execute(
                f"UPDATE demine_tokens SET revoked = {P} WHERE token_id = {P}", (True, token_id)
            )
            return True

        return self._transaction("__users__", body)

    def revoke_tokens(self, user: str) -> int:
        P = self.P
        return self._transaction(
            "__users__",
            lambda c: int(
                c.execute(
                    f"UPDATE demine_tokens SET revoked = {P} WHERE user_name = {P} AND NOT revoked",
                    (True, user),
                ).rowcount
            ),
        )

    def tokens(self) -> list[dict[str, Any]]:
        """Every token as stored (hash, user, label, created_at, revoked, id, expires_at,
        last_used_at): for copying."""
        tt = self._time_text
        return [
            {
                "token_hash": h,
                "user": u,
                "label": lb,
                "created_at": tt(c),
                "revoked": bool(r),
                "token_id": i,
                "expires_at": tt(e),
                "last_used_at": tt(lu),
            }
            for h, u, lb, c, r, i, e, lu in self.conn.execute(
                "SELECT token_hash, user_name, label, created_at, revoked, token_id, expires_at, "
                f"last_used_at FROM demine_tokens ORDER BY {self.TOKENS_ORDER}"
            ).fetchall()
        ]

    def load_tokens(self, tokens: Sequence[dict[str, Any]]) -> None:
        ph = ", ".join([self.P] * 8)
        rows = [
            (
                t["token_hash"],
                t["user"],
                t["label"],
                t["created_at"],
                bool(t["revoked"]),
                t.get("token_id") or new_token_id(),
                t.get("expires_at"),
                t.get("last_used_at"),
            )
            for t in tokens
        ]
        self._transaction(
            "__users__",
            lambda c: self._executemany(
                c,
                "INSERT INTO demine_tokens (token_hash, user_name, label, created_at, revoked, "
                f"token_id, expires_at, last_used_at) VALUES ({ph})",
                rows,
            ),
        )
