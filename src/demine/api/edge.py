"""Bounded work per request at the HTTP edge: pure-ASGI middleware that answers before any
body is read, any token is looked up or any query is parsed.

* :class:`ClientAddress`: the client's address. ``X-Forwarded-For`` is believed only when the
  immediate peer is a trusted proxy (``trusted_proxies``, CIDRs; none by default); the client is
  then the right-most address in it that is not a trusted proxy. ``X-Forwarded-Proto``
  (``http``/``https``) from a trusted proxy sets the scheme of the links the API writes.
* :class:`UniqueParams`: a query parameter given twice on ``/api/v1/...`` is 400, naming it.
* :class:`RateLimit`: one token bucket per client address (an IPv6 client by its /64) for every
  endpoint that costs work: ``/api/v1/...`` (all but ``health``), ``/ogc...`` and ``/tiles/...``;
  ``rate_limit_per_minute`` a minute with bursts up to that many; a vector tile counts a quarter.
  Over it: 429 with ``Retry-After``. Idle clients are forgotten, and at most ``max_clients``
  are remembered.
* :class:`BodyLimit`: a body over ``max_body_bytes`` is 413: at once by ``Content-Length``, or,
  for a chunked body, as soon as the bytes read pass the limit (the rest is never read).

Every refusal is ``application/problem+json`` with ``limit`` and ``limit_value`` naming the
limit (``parameter`` for a duplicate).
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

import orjson

from demine.errors import ContentTooLarge, DemineError, TooManyRequests

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_MAX_BODY_BYTES = 16 * 2**20
DEFAULT_RATE_LIMIT_PER_MINUTE = 600
TILE_COST = 0.25
MAX_CLIENTS = 100_000

_Net = ipaddress.IPv4Network | ipaddress.IPv6Network
_Addr = ipaddress.IPv4Address | ipaddress.IPv6Address


async def send_problem(
    send: Send,
    status: int,
    problem: dict[str, Any],
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    body = orjson.dumps(problem)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _refuse(
    send: Send, exc: DemineError, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    await send_problem(send, exc.http_status, exc.to_problem(), headers)


def _header(scope: Scope, name: bytes) -> list[bytes]:
    return [v for k, v in scope.get("headers", ()) if k == name]


_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 2**10,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 2**20,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 2**30,
}


def parse_size(text: str) -> int:
    """``16MiB``, ``512KiB``, ``10MB``, ``1048576`` as bytes; ValueError naming what is wrong."""
    t = text.strip().lower().replace(" ", "")
    num = t.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = t[len(num) :]
    try:
        value = float(num)
    except ValueError:
        raise ValueError(f"{text!r} is not a size: a number of bytes, or e.g. 16MiB") from None
    if unit not in _UNITS or not math.isfinite(value) or value < 0:
        raise ValueError(
            f"{text!r} is not a size: a number of bytes, or with B, KB, MB, GB, KiB, MiB, GiB"
        )
    return int(value * _UNITS[unit])


# --- client address ------------------------------------------------------------------------------


def parse_networks(cidrs: Sequence[str]) -> list[_Net]:
    """``trusted_proxies``: addresses or CIDRs (``10.0.0.0/8``, ``::1``); ValueError naming a
    bad one."""
    nets: list[_Net] = []
    for c in cidrs:
        try:
            nets.append(ipaddress.ip_network(c.strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"trusted proxy {c!r} is not an IP address or CIDR (e.g. 10.0.0.0/8)"
            ) from None
    return nets


def _ip(text: str) -> _Addr | None:
    t = text.strip()
    if t.startswith("["):  # [v6]:port
        t = t[1 : t.find("]")] if "]" in t else t
    elif t.count(":") == 1:  # v4:port
        t = t.split(":", 1)[0]
    try:
        return ipaddress.ip_address(t)
    except ValueError:
        return None


class ClientAddress:
    """Sets ``scope["client"]`` to the real client behind trusted proxies (see the module)."""

    def __init__(self, app: ASGIApp, trusted_proxies: Sequence[str] = ()) -> None:
        self.app = app
        self.trusted = parse_networks(trusted_proxies)

    def _is_trusted(self, ip: _Addr | None) -> bool:
        return ip is not None and any(ip in n for n in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.trusted:
            peer = scope.get("client")
            if peer and self._is_trusted(_ip(str(peer[0]))):
                hops = [
                    h.strip()
                    for v in _header(scope, b"x-forwarded-for")
                    for h in v.decode("latin-1").split(",")
                    if h.strip()
                ]
                client: str | None = None
                for h in reversed(hops):
                    ip = _ip(h)
                    client = str(ip) if ip is not None else h
                    if not self._is_trusted(ip):
                        break
                if client is not None:
                    scope["client"] = (client, 0)
                proto = _header(scope, b"x-forwarded-proto")
                if proto and proto[-1].strip().lower() in (b"http", b"https"):
                    scope["scheme"] = proto[-1].strip().lower().decode()
        await self.app(scope, receive, send)


# --- duplicate query parameters -------------------------------------------------------------------


class UniqueParams:
    """400 for a query parameter given more than once on ``/api/v1/...``: FastAPI would take
    the last and say nothing."""

    def __init__(self, app: ASGIApp, prefix: str = "/api/v1/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            qs = scope.get("query_string", b"").decode("latin-1")
            seen: set[str] = set()
            for name, _ in parse_qsl(qs, keep_blank_values=True):
                if name in seen:
                    detail = f"query parameter {name!r} given more than once"
                    await send_problem(
                        send,
                        400,
                        {
                            "type": "about:blank",
                            "title": "Bad request",
                            "status": 400,
                            "detail": detail,
                            "parameter": name,
                            "errors": [{"index": None, "field": name, "reason": detail}],
                        },
                    )
                    return
                seen.add(name)
        await self.app(scope, receive, send)


# --- rate limit -----------------------------------------------------------------------------------


def request_cost(path: str) -> float:
    """What a request costs of its client's budget: 0 for what is not limited."""
    if path.startswith("/tiles/"):
        return TILE_COST
    if path == "/ogc" or path.startswith("/ogc/"):
        return 1.0
    if path.startswith("/api/v1/") and path != "/api/v1/health":
        return 1.0
    return 0.0


def client_key(host: str) -> str:
    """The budget a client draws on: its address; an IPv6 client's /64 (one host's share)."""
    ip = _ip(host)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip) if ip is not None else host


class Buckets:
    """A token bucket per client: ``per_minute`` tokens a minute, holding at most
    ``per_minute``. A client idle for a minute has a full bucket, the same as a new one, so it
    is forgotten; past ``max_clients`` the longest idle are forgotten first."""

    def __init__(self, per_minute: float, max_clients: int = MAX_CLIENTS) -> None:
        self.capacity = float(per_minute)
        self.rate = float(per_minute) / 60.0
        self.max_clients = max_clients
        self.clients: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, when

    def take(self, key: str, cost: float, now: float | None = None) -> float:
        """Take ``cost`` from the client's bucket: 0.0 if it could, else the seconds to wait."""
        now = time.monotonic() if now is None else now
        tokens, when = self.clients.pop(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - when) * self.rate)
        wait = 0.0
        if tokens + 1e-9 >= cost:
            tokens -= cost
        else:
            wait = (cost - tokens) / self.rate
        self.clients[key] = (tokens, now)  # the most recently seen last
        self._forget(now)
        return wait

    def _forget(self, now: float) -> None:
        full = self.capacity / self.rate if self.rate > 0 else math.inf  # seconds to refill
        while self.clients:
            key, (_, when) = next(iter(self.clients.items()))
            if now - when < full and len(self.clients) <= self.max_clients:
                break
            del self.clients[key]


class RateLimit:
    """429 with ``Retry-After`` for a client over its budget (see :class:`Buckets`)."""

    def __init__(
        self, app: ASGIApp, per_minute: float | None, max_clients: int = MAX_CLIENTS
    ) -> None:
        self.app = app
        self.per_minute = per_minute
        self.buckets = Buckets(per_minute, max_clients) if per_minute else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.buckets is not None:
            cost = request_cost(scope["path"])
            if cost:
                peer = scope.get("client")
                key = client_key(str(peer[0])) if peer else "unknown"
                wait = self.buckets.take(key, cost)
                if wait > 0:
                    retry = max(1, math.ceil(wait))
                    await _refuse(
                        send,
                        TooManyRequests(
                            f"more than {self.per_minute:g} requests a minute from this client "
                            f"(rate_limit_per_minute); try again in {retry} s",
                            "rate_limit_per_minute",
                            float(self.per_minute or 0),
                        ),
                        [(b"retry-after", str(retry).encode())],
                    )
                    return
        await self.app(scope, receive, send)


# --- body size ------------------------------------------------------------------------------------


class BodyLimit:
    """413 for a request body over ``max_bytes``, before the application sees the request."""

    def __init__(self, app: ASGIApp, max_bytes: int | None) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self, what: str) -> ContentTooLarge:
        n = self.max_bytes or 0
        return ContentTooLarge(
            f"the request body {what}; this server takes at most {n:,} bytes "
            f"({n / 2**20:g} MiB, max_body_bytes)",
            "max_body_bytes",
            n,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.max_bytes:
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        close = [(b"connection", b"close")]
        length = _header(scope, b"content-length")
        if length:
            try:
                n = int(length[-1])
            except ValueError:
                n = -1
            if n > limit:
                await _refuse(send, self._too_large(f"is {n:,} bytes"), close)
                return
        elif _header(scope, b"transfer-encoding"):
            # a chunked body: read it here, up to the limit, before anything else sees it
            held: list[Message] = []
            total = 0
            while True:
                msg = await receive()
                if msg["type"] != "http.request":
                    held.append(msg)
                    break
                total += len(msg.get("body", b""))
                if total > limit:
                    await _refuse(send, self._too_large(f"passed {limit:,} bytes"), close)
                    return
                held.append(msg)
                if not msg.get("more_body", False):
                    break
            replay = iter(held)

            async def replayed() -> Message:
                m = next(replay, None)
                return m if m is not None else await receive()

            await self.app(scope, replayed, send)
            return
        await self.app(scope, receive, send)


def add_edge_middleware(
    app: Any,
    *,
    max_body_bytes: int | None = DEFAULT_MAX_BODY_BYTES,
    rate_limit_per_minute: float | None = DEFAULT_RATE_LIMIT_PER_MINUTE,
    trusted_proxies: Sequence[str] = (),
) -> None:
    """Install the edge middleware on a FastAPI/Starlette ``app``; the client address is
    resolved first, then duplicate parameters, the rate limit and the body limit. A bad
    trusted proxy is a ValueError here, not at the first request."""
    parse_networks(trusted_proxies)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(RateLimit, per_minute=rate_limit_per_minute)
    app.add_middleware(UniqueParams)
    app.add_middleware(ClientAddress, trusted_proxies=list(trusted_proxies))
