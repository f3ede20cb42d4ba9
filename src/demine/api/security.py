"""HTTP hardening: the security headers of every response, caching of answers that depend on
the caller's role, and the base URL of every absolute link (never taken from an unchecked
``Host`` header).

* :class:`SecurityHeaders` is a pure ASGI middleware (no ``BaseHTTPMiddleware``: it does not
  buffer or re-stream bodies) wrapped *outside* Starlette's error middleware, so that errors,
  404s and even an unhandled 500 carry the headers too.
* :func:`link_base` is what every link is built from: ``--public-url`` when it is set; else the
  request's own ``scheme://host`` when the ``Host`` is one the server answers to (loopback
  names, the bound address, ``allowed_hosts``); else nothing, and links are root-relative.
* :func:`role_etag` makes an entity tag differ by role: two roles that are shown different
  content must never share a tag (a cache or a conditional request would mix them up).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from demine.errors import Fault, ValidationError

# answers under these paths depend on who asks (the role read from the token)
ROLE_PATHS = ("/api/v1/", "/ogc", "/tiles/")
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")

PERMISSIONS_POLICY = ", ".join(
    [
        "geolocation=(self)",  # "my location" on the map page
        "camera=(self)",
        "microphone=()",
        "accelerometer=()",
        "gyroscope=()",
        "magnetometer=()",
        "payment=()",
        "usb=()",
        "midi=()",
        "display-capture=()",
        "fullscreen=()",
        "autoplay=()",
        "encrypted-media=()",
        "picture-in-picture=()",
        "publickey-credentials-get=()",
        "screen-wake-lock=()",
        "xr-spatial-tracking=()",
        "serial=()",
        "hid=()",
        "bluetooth=()",
        "idle-detection=()",
    ]
)
# what is not a page: JSON, problem+json, tiles, GeoJSON, images...
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# a printable document that runs nothing (the land-release certificate: inline style only)
DOCUMENT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)
# an SVG chart opened on its own: its <style> may apply, nothing may run or load
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


def sha256_source(text: str) -> str:
    """The CSP source expression that allows exactly this inline ``<script>``/``<style>``."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def _origin_problem(parts: SplitResult, bad_scheme: str) -> str | None:
    """What is wrong with an absolute URL's scheme and host for a setting, or None."""
    if parts.scheme not in ("http", "https"):
        return bad_scheme
    if not parts.hostname or not _HOST.fullmatch(parts.netloc.rsplit("@", 1)[-1]):
        return "it must name a host (and optionally a port)"
    if "@" in parts.netloc:
        return "it must not hold a user or password"
    return None


def public_url_checked(url: str) -> str:
    """``--public-url`` as links are built from it: ``http(s)://host[:port][/path]``, no
    trailing slash, no query or fragment."""
    text = url.strip()
    parts = urlsplit(text)
    problem = _origin_problem(parts, "it must start with http:// or https://")
    if problem is None and (parts.query or parts.fragment or text.endswith(("?", "#"))):
        problem = "it must not have a query (?...) or a fragment (#...)"
    if problem is not None:
        raise ValidationError(
            f"public URL {url!r}: {problem}, e.g. https://example.org/demine",
            [Fault(problem, field="public_url")],
        )
    return text.rstrip("/")


def tile_origin(tile_url: str | None) -> str | None:
    """The origin the base-map tiles come from, as a CSP source (None: none, or this site)."""
    if not tile_url:
        return None
    parts = urlsplit(tile_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        if parts.scheme or tile_url.startswith("//"):
            raise ValidationError(
                f"tile URL {tile_url!r}: it must be http(s)://host/...{{z}}/{{x}}/{{y}}... or a "
                "path on this server",
                [Fault("expected an http(s) URL template", field="tile_url")],
            )
        return None  # a path on this server: 'self'
    host = parts.netloc.rsplit("@", 1)[-1]
    if "{" in host:  # a subdomain template ({s}.tile.example.org): any subdomain
        host = "*." + host.split(".", 1)[1] if "." in host else host
    if not re.fullmatch(r"[A-Za-z0-9*.\-\[\]:]+", host):
        raise ValidationError(
            f"tile URL {tile_url!r}: the host {host!r} is not a host name",
            [Fault("expected an http(s) URL template", field="tile_url")],
        )
    return f"{parts.scheme}://{host}"


def pack_url_checked(url: str | None, field: str = "pack_url") -> str | None:
    """``--pack-url``: an offline safety pack's directory, ``http(s)://host[:port]/path/`` or a
    path on this server (``/packs/east/``); no user, query or fragment. Ends with a slash."""
    if not url or not url.strip():
        return None
    text = url.strip()
    parts = urlsplit(text)
    problem = None
    if parts.scheme or text.startswith("//"):
        problem = _origin_problem(
            parts, "it must start with https:// (or http://) or be a path on this server"
        )
    elif not text.startswith("/"):
        problem = "a path on this server starts with /"
    if problem is None and (parts.query or parts.fragment or "?" in text or "#" in text):
        problem = "it must not have a query (?...) or a fragment (#...)"
    if problem is not None:
        raise ValidationError(
            f"pack URL {url!r}: {problem}, e.g. https://cdn.example.org/packs/east/",
            [Fault(problem, field=field)],
        )
    return text if text.endswith("/") else text + "/"


def pack_origin(pack_url: str | None) -> str | None:
    """The origin a configured pack is read from, as a CSP source (None: none, or this site)."""
    url = pack_url_checked(pack_url)
    if url is None or url.startswith("/"):
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def html_csp(
    *,
    tile_url: str | None,
    script_hashes: Iterable[str],
    style_hashes: Iterable[str],
    pack_url: str | None = None,
) -> str:
    """The policy of the pages: everything from this server; the base-map host for tiles; the
    configured offline pack's host for fetches (its pack.json, index and PMTiles ranges)."""
    extra = tile_origin(tile_url)
    tiles = f" {extra}" if extra else ""
    pack = pack_origin(pack_url)
    connect = tiles + (f" {pack}" if pack and pack != extra else "")
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self' " + " ".join(script_hashes),
            "style-src 'self' " + " ".join(style_hashes),
            f"img-src 'self' data: blob:{tiles}",
            f"connect-src 'self'{connect}",
            "worker-src 'self' blob:",  # MapLibre's worker (a module next to it; blob: in v5)
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    ).replace(" ;", ";")


@dataclass
class SecurityConfig:
    html_csp: str
    public_url: str | None = None
    allowed_hosts: frozenset[str] = field(default_factory=lambda: frozenset(LOOPBACK_HOSTS))

    @property
    def hsts(self) -> bool:
        return bool(self.public_url and self.public_url.startswith("https://"))


def _content_type(headers: MutableHeaders) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


class SecurityHeaders:
    """Adds the security headers to every HTTP response, and ``Vary: Authorization`` (plus
    ``Cache-Control: private`` when a token was sent) to every answer that depends on the
    caller's role. A route that sets its own ``Content-Security-Policy`` keeps it."""

    def __init__(self, app: ASGIApp, config: SecurityConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        role_dependent = path.startswith(ROLE_PATHS) or path == "/ogc"
        token = any(k == b"authorization" for k, _ in scope.get("headers", ()))
        config = self.config

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                # a 304 carries no policy: its headers update the browser's stored copy (RFC
                # 9111 4.3.4), and a 304 has no type to choose by, so a policy here would put
                # the API's "default-src 'none'" on a cached page
                if "content-security-policy" not in h and message["status"] != 304:
                    media = _content_type(h)
                    if media in ("text/html", "text/javascript", "application/javascript"):
                        h["Content-Security-Policy"] = config.html_csp
                    elif media == "image/svg+xml":
                        h["Content-Security-Policy"] = SVG_CSP
                    else:
                        h["Content-Security-Policy"] = API_CSP
                h["X-Content-Type-Options"] = "nosniff"
                h["X-Frame-Options"] = "DENY"
                h["Referrer-Policy"] = "strict-origin"
                h["Cross-Origin-Opener-Policy"] = "same-origin"
                h["Permissions-Policy"] = PERMISSIONS_POLICY
                if config.hsts:
                    h["Strict-Transport-Security"] = "max-age=31536000"
                if role_dependent:
                    _vary_authorization(h, token)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _vary_authorization(h: MutableHeaders, token: bool) -> None:
    vary = [v.strip() for v in h.get("vary", "").split(",") if v.strip()]
    if "*" not in vary and "authorization" not in {v.lower() for v in vary}:
        vary.append("Authorization")
        h["Vary"] = ", ".join(vary)
    if not token:
        return
    cc = [d.strip() for d in h.get("cache-control", "").split(",") if d.strip()]
    names = {d.split("=")[0].lower() for d in cc}
    if "no-store" in names or "private" in names:
        return
    cc = [d for d in cc if d.split("=")[0].lower() not in ("public", "s-maxage")]
    h["Cache-Control"] = ", ".join(["private", *cc] if cc else ["private", "no-cache"])


# --- links --------------------------------------------------------------------------------------

# host[:port]: a DNS name, an IPv4 address or a bracketed IPv6 address
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"(?:{_LABEL}(?:\.{_LABEL})*\.?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{{1,5}})?")


def host_name(host_header: str) -> str | None:
    """The name in a ``Host`` header (lower case, IPv6 without brackets); None if malformed."""
    if not _HOST.fullmatch(host_header):
        return None
    if host_header.startswith("["):
        return host_header[1 : host_header.index("]")].lower()
    return host_header.rsplit(":", 1)[0].rstrip(".").lower() if host_header else None


def link_base(request: Request) -> str:
    """The scheme, host and path prefix every absolute link starts with ("" = root-relative).

    ``--public-url`` if set (the ``Host`` header is then ignored). Otherwise the request's own
    origin, only when its ``Host`` names one of the hosts the server answers to; any other
    ``Host`` gets root-relative links (nothing a client sent is echoed into a link)."""
    config: SecurityConfig | None = getattr(request.app.state, "security", None)
    if config is None:
        return ""
    if config.public_url:
        return config.public_url
    host = request.headers.get("host", "")
    name = host_name(host)
    if name is None or name not in config.allowed_hosts:
        return ""
    scheme = "https" if request.url.scheme == "https" else "http"
    return f"{scheme}://{host}"


def public_base(request: Request) -> str:
    """``--public-url``, or "" (root-relative links): for the map page's own links."""
    config: SecurityConfig | None = getattr(request.app.state, "security", None)
    return config.public_url if config is not None and config.public_url else ""


def role_etag(role: str, payload: str | bytes) -> str:
    """A strong entity tag of ``payload`` as shown to ``role``: the same bytes shown to two
    roles still get two tags (a conditional request must never cross roles)."""
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    h = hashlib.blake2b(data, digest_size=12)
    h.update(b"\x00role=" + role.encode("utf-8"))
    return '"' + h.hexdigest() + '"'


def if_none_match(request: Request, tag: str) -> bool:
    """The request's ``If-None-Match`` names ``tag`` (weak comparison, RFC 9110 13.1.2)."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or tag in tags or f"W/{tag}" in tags
