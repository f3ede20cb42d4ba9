"""Showing where a store is without showing its secrets.

A PostGIS store's location is a URL that may carry a password
(``postgresql://user:PASSWORD@host:port/db?demine_schema=x``, or ``?password=...``). Every
message, log line, JSON member and ``repr`` that names a store goes through
:func:`redact_location`; any other text that might echo a connection string (a driver's
error message) goes through :func:`scrub_secrets` before it is shown or logged.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from urllib.parse import unquote

MASK = "***"

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
# URL query parameters whose values are shown; any other's (password, sslpassword, and a
# misspelt or unknown one, which might be a password) is masked
SHOWN_PARAMS = frozenset(
    {
        "demine_schema",
        "host",
        "hostaddr",
        "port",
        "dbname",
        "user",
        "sslmode",
        "application_name",
        "fallback_application_name",
        "connect_timeout",
        "target_session_attrs",
        "load_balance_hosts",
        "client_encoding",
        "gssencmode",
        "channel_binding",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "sslcrl",
        "sslsni",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
        "service",
    }
)
# in free text: scheme://user:SECRET@ ... (libpq ends the user part at the first '@' or '/')
_URL_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^:@/\s]*):[^@/\s]*@")
# in free text: a keyword/value connection string's password=VALUE or password='VALUE'
_KV_PASSWORD = re.compile(r"(?i)(\b(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&'\"]+)")


def is_url(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` is URL-shaped (``scheme://...``) rather than a file path."""
    return bool(_SCHEME.match(os.fspath(location)))


def redact_location(location: str | os.PathLike[str]) -> str:
    """``location`` as it may be shown: a URL's password replaced by ``***``
    (``postgresql://user:***@host:5432/db``), and so the value of every query parameter not
    known to be harmless (``password=``, ``sslpassword=``, a misspelt one). A file path comes
    back as it is."""
    s = os.fspath(location)
    m = _SCHEME.match(s)
    if not m:
        return s
    start = m.end()
    # libpq's reading of a URI: the user part runs to the first '@' before any '/'
    end = start
    while end < len(s) and s[end] not in "@/":
        end += 1
    if end < len(s) and s[end] == "@":
        user, colon, _ = s[start:end].partition(":")
        if colon:
            s = s[:start] + user + ":" + MASK + s[end:]
    q = s.find("?")
    if q >= 0:
        parts = []
        for part in s[q + 1 :].split("&"):
            k, eq, v = part.partition("=")
            parts.append(part if not eq or not v or k.lower() in SHOWN_PARAMS else k + "=" + MASK)
        s = s[: q + 1] + "&".join(parts)
    return s


def location_secrets(location: str | os.PathLike[str]) -> list[str]:
    """What :func:`redact_location` masks in a location (raw and percent-decoded), for
    :func:`scrub_secrets`."""
    s = os.fspath(location)
    m = _SCHEME.match(s)
    if not m:
        return []
    out: list[str] = []
    start = m.end()
    end = start
    while end < len(s) and s[end] not in "@/":
        end += 1
    if end < len(s) and s[end] == "@":
        _, colon, pw = s[start:end].partition(":")
        if colon and pw:
            out.append(pw)
    q = s.find("?")
    if q >= 0:
        for part in re.split(r"[&;]", s[q + 1 :]):
            k, eq, v = part.partition("=")
            if eq and v and k.lower() not in SHOWN_PARAMS:
                out.append(v)
    return sorted({x for p in out for x in (p, unquote(p)) if x}, key=len, reverse=True)


def scrub_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every password it may hold masked: the given ``secrets`` wherever they
    appear, URL passwords (``scheme://user:***@``) and ``password=`` values."""
    for sec in sorted(set(secrets), key=len, reverse=True):
        if sec:
            text = text.replace(sec, MASK)
    text = _URL_USERINFO.sub(lambda m: m.group(1) + ":" + MASK + "@", text)
    return _KV_PASSWORD.sub(lambda m: m.group(1) + MASK, text)
