"""``demine copy``, ``demine rebuild-derived``, ``demine user``, ``demine token``: the store as
a whole, users and tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from demine.cli.common import (
    DbOpt,
    JsonOpt,
    console,
    handled,
    open_db,
    print_json,
    state,
    with_store,
)
from demine.errors import Fault, ValidationError

if TYPE_CHECKING:
    from demine.store.base import Store


def copy(
    src: Annotated[str, typer.Argument(help="Source store: a .gpkg file or postgresql://...")],
    dst: Annotated[str, typer.Argument(help="Destination store (empty or new).")],
    as_json: JsonOpt = False,
) -> None:
    """Copy a whole store to another backend, history, layers, users and tokens included.

    On a terminal a progress bar (on stderr) shows the stages, and counts the hazards whose
    land-release accounts are computed in the destination."""
    from demine.cli.progress import progress_bar
    from demine.services.copy import copy_store
    from demine.store.open import open_store

    with handled(as_json):
        with progress_bar("opening the stores", as_json) as bar:
            info = copy_store(
                open_store(src),
                open_store(dst),
                stage=None if bar is None else bar.stage,
                progress=None if bar is None else bar.accounts,
            )
        if as_json:
            print_json(info)
        else:
            console().print(
                f"copied {info['revisions']} revisions to {info['destination']}: "
                + ", ".join(f"{n} {k}" for k, n in info["records"].items() if n)
            )


def rebuild_derived(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Recompute the derived figures (each hazard's land-release account) from the records.

    Writes keep them up to date; run this once after upgrading a store made by an older
    demine, or after hazards, releases or activities were edited outside demine (QGIS, SQL):
    until then statistics compute every account again, more slowly. On a terminal a
    progress bar (on stderr) counts the hazards done."""
    import time

    from demine.cli.progress import ACCOUNTS, progress_bar

    with with_store(db, as_json) as store:
        t0 = time.perf_counter()
        with progress_bar(f"rebuilding {ACCOUNTS}", as_json, f"rebuilding {ACCOUNTS}") as bar:
            n = store.rebuild_derived(progress=None if bar is None else bar.accounts)
        seconds = round(time.perf_counter() - t0, 2)
        if as_json:
            print_json({"hazards": n, "seconds": seconds})
        else:
            console().print(f"derived figures rebuilt: {n} hazards in {seconds:.2f} s")


user_app = typer.Typer(name="user", help="Users and their roles.", no_args_is_help=True)
token_app = typer.Typer(
    name="token", help="API tokens (shown once; only a hash is kept).", no_args_is_help=True
)


def _admin(store_db: str | None) -> Store:
    """The store, for a user or token command: they need the admin role (--role admin or
    DEMINE_ROLE=admin; exit 5 otherwise), as the web API's table of rights says."""
    from demine.services.access import require_user_admin

    require_user_admin(state.role)
    return open_db(store_db)


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="public, field, operator, analyst, reviewer, admin or victim_assistance.",
        ),
    ] = "field",
    organisation: Annotated[
        str | None,
        typer.Option(
            "--organisation",
            help="The user's organisation (its code; default: the authority for a new user, "
            "unchanged for an existing one).",
        ),
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a user, or change the role of an existing one (admin role)."""
    from demine.services.access import check_role

    with handled(as_json):
        check_role(role)
        store = _admin(db)
        store.add_user(name, role, organisation)
        org = store.user_organisation(name)
        if as_json:
            print_json({"user": name, "role": role, "organisation": org})
        else:
            console().print(f"user {name}: role {role}, organisation {org}")


@user_app.command("list")
def user_list(
    removed: Annotated[bool, typer.Option("--removed", help="Also list removed users.")] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the users and their roles (admin role)."""
    with handled(as_json):
        rows = [u for u in _admin(db).user_rows() if removed or u["removed_at"] is None]
        if as_json:
            print_json(
                {
                    "users": [
                        {
                            "user": u["name"],
                            "role": u["role"],
                            "organisation": u["organisation"],
                            "created_at": u["created_at"],
                            "removed_at": u["removed_at"],
                        }
                        for u in rows
                    ]
                }
            )
        else:
            for u in rows:
                gone = f"\tremoved {u['removed_at']}" if u["removed_at"] else ""
                console().print(
                    f"{u['name']}\t{u['role']}\t{u['organisation']}{gone}", markup=False
                )


@user_app.command("remove")
def user_remove(
    name: Annotated[str, typer.Argument(help="The user to remove.")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove a user: every token of theirs is revoked at once; the user is kept as removed
    (the history names who made each change). 'user add' brings them back, without tokens."""
    with handled(as_json):
        n = _admin(db).remove_user(name)
        if as_json:
            print_json({"user": name, "removed": True, "tokens_revoked": n})
        else:
            console().print(f"removed user {name}; revoked {n} token(s)")


DEFAULT_TOKEN_DAYS = 90


def _expiry(text: str) -> str | None:
    """--expires-in DAYS|never as the expiry time (UTC), or None for never."""
    import re
    from datetime import UTC, datetime, timedelta

    from demine.model.schema import format_datetime

    if text == "never":
        return None
    try:
        if not re.fullmatch(r"[0-9]+", text):
            raise ValueError
        days = int(text)
        if not 1 <= days <= 36500:
            raise ValueError
    except ValueError:
        raise ValidationError(
            f"bad --expires-in {text!r}",
            [
                Fault(
                    "expected a whole number of days from 1 to 36500, or 'never'",
                    field="--expires-in",
                )
            ],
        ) from None
    return format_datetime(datetime.now(UTC).replace(microsecond=0) + timedelta(days=days))


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="The user the token is for.")],
    label: Annotated[str | None, typer.Option("--label", help="What the token is for.")] = None,
    expires_in: Annotated[
        str,
        typer.Option(
            "--expires-in",
            help=f"Days until the token expires (default {DEFAULT_TOKEN_DAYS}), or 'never'.",
        ),
    ] = str(DEFAULT_TOKEN_DAYS),
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API token for a user (admin role). It is printed once: keep it."""
    from demine.services.access import new_token

    with handled(as_json):
        expires_at = _expiry(expires_in)
        store = _admin(db)
        token, digest = new_token()
        tid = store.add_token(name, digest, label, expires_at=expires_at)
        if as_json:
            print_json({"user": name, "token": token, "id": tid, "expires_at": expires_at})
        else:
            print(token)
            console(stderr=True).print(
                f"token {tid} for {name}, "
                + (f"expires {expires_at}" if expires_at else "never expires"),
                markup=False,
            )


@token_app.command("list")
def token_list(
    name: Annotated[str | None, typer.Argument(help="Only this user's tokens.")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List tokens (admin role): id, user, role, label, created, expires, last used, state.
    Never the token itself (only its hash is kept)."""
    with handled(as_json):
        rows = _admin(db).token_list(name)
        if as_json:
            print_json({"tokens": rows})
            return
        from rich.table import Table

        t = Table("id", "user", "role", "label", "created", "expires", "last used", "state")
        for r in rows:
            t.add_row(
                r["id"],
                r["user"],
                r["role"] or "",
                r["label"] or "",
                r["created_at"] or "",
                r["expires_at"] or "never",
                r["last_used_at"] or "",
                r["state"],
            )
        console().print(t)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[
        str | None, typer.Argument(help="The token's id (from 'demine token list').")
    ] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="Revoke every token of this user instead.")
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke one token by its id, or every token of a user with --user (admin role)."""
    with handled(as_json):
        if (token_id is None) == (user is None):
            raise ValidationError(
                "say which tokens to revoke",
                [Fault("give a token ID or --user NAME (not both)", field="ID")],
            )
        store = _admin(db)
        if token_id is not None:
            from demine.errors import NotFound

            try:
                done = store.revoke_token(token_id)
            except NotFound as e:
                if any(u["name"] == token_id for u in store.user_rows()):
                    raise NotFound(
                        f"{e.message}; to revoke every token of user {token_id}: "
                        f"demine token revoke --user {token_id}"
                    ) from None
                raise
            if as_json:
                print_json({"id": token_id, "revoked": 1 if done else 0})
            else:
                console().print(
                    f"revoked token {token_id}" if done else f"token {token_id} was already revoked"
                )
            return
        assert user is not None
        n = store.revoke_tokens(user)
        if as_json:
            print_json({"user": user, "revoked": n})
        else:
            console().print(f"revoked {n} token(s) of {user}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app`` (called by :mod:`demine.cli.app`)."""
    app.command()(copy)
    app.command("rebuild-derived")(rebuild_derived)
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
