"""A store for a module of browser tests (the review page, the field app), on one backend:
initialised, with organisations, users and a token each; a PostGIS schema of its own, dropped
afterwards. Shared so that each module says only what its world holds."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import pytest

PG_URL = os.environ.get("DEMINE_TEST_PG")


@contextmanager
def module_store(
    backend: str,
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    *,
    organisations: Mapping[str, str],
    users: Mapping[str, tuple[str, str | None]],
) -> Iterator[tuple[str, dict[str, str]]]:
    """Yields ``(location, tokens)``, ``tokens`` each user's API token. ``organisations``:
    code -> name (operators); ``users``: name -> (role, organisation code or None)."""
    from demine.services.access import new_token
    from demine.services.setup import init_store
    from demine.store.open import open_store

    schema = None
    if backend == "gpkg":
        location = str(tmp_path_factory.mktemp(name) / f"{name}.gpkg")
    else:
        if not PG_URL:
            pytest.skip("no PostgreSQL + PostGIS server: set DEMINE_TEST_PG (.ci/run starts one)")
        schema = "t_" + uuid.uuid4().hex[:12]
        sep = "&" if "?" in PG_URL else "?"
        location = f"{PG_URL}{sep}demine_schema={schema}"
    tokens: dict[str, str] = {}
    try:
        s = open_store(location)
        try:
            init_store(s)
            for code, title in organisations.items():
                s.add_organisation(code, title, "operator")
            for user, (role, org) in users.items():
                s.add_user(user, role, org)
                token, digest = new_token()
                s.add_token(user, digest)
                tokens[user] = token
        finally:
            s.close()
        yield location, tokens
    finally:
        if schema is not None:
            import psycopg

            assert PG_URL
            with psycopg.connect(PG_URL.split("?")[0], autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
