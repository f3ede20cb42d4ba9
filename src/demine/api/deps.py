"""What every endpoint needs: the store (one connection per worker thread), the caller's
role from the API token, and the problem+json error shape (RFC 9457)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from demine.errors import DemineError
from demine.services.access import hash_token
from demine.store.base import Store
from demine.store.open import open_store


class StorePool:
    """One store (connection) per thread: SQLite connections are not shared across threads."""

    def __init__(self, location: str) -> None:
        self.location = location
        self._local = threading.local()
        self._by_thread: dict[int, Store] = {}
        self._lock = threading.Lock()

    def get(self) -> Store:
        s = getattr(self._local, "store", None)
        if s is None:
            s = open_store(self.location)
            self._local.store = s
            with self._lock:
                # worker threads come and go: close the connections of those that have ended
                alive = {t.ident for t in threading.enumerate()}
                for ident in [i for i in self._by_thread if i not in alive]:
                    self._by_thread.pop(ident).close()
                self._by_thread[threading.get_ident()] = s
        return s

    @property
    def proxy(self) -> Store:
        """A store whose every call goes to the *calling* thread's connection: safe to hand
        to code that FastAPI runs in another worker thread than the one that resolved it."""
        return _ThreadStore(self)

    def close(self) -> None:
        with self._lock:
            for s in self._by_thread.values():
                s.close()
            self._by_thread.clear()


class _ThreadStore:
    __slots__ = ("_pool",)

    def __init__(self, pool: StorePool) -> None:
        self._pool = pool

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool.get(), name)


@dataclass(frozen=True, slots=True)
class Principal:
    user: str | None
    role: str


PUBLIC = Principal(None, "public")


class Unauthorized(DemineError):
    exit_code = 5
    http_status = 401
    title = "Unauthorized"


def store(request: Request) -> Store:
    pool: StorePool = request.app.state.stores
    return pool.proxy


def principal(request: Request) -> Principal:
    """The caller: from ``Authorization: Bearer TOKEN``; no header is the public. An unknown,
    expired or revoked token (or one of a removed user) is 401 on every route: the app runs
    this for each request (``create_app``), once (the answer is kept on the request)."""
    known = getattr(request.state, "principal", None)
    if isinstance(known, Principal):
        return known
    auth = request.headers.get("authorization")
    if not auth:
        return PUBLIC
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    found = store(request).token_user(hash_token(token.strip()))
    if found is None:
        raise Unauthorized("unknown, expired or revoked token")
    who = Principal(found[0], found[1])
    request.state.principal = who
    return who


def problem(status: int, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}


StoreDep = Annotated[Store, Depends(store)]
PrincipalDep = Annotated[Principal, Depends(principal)]
