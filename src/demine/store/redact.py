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
# query (or conninfo) parameters that hold a secret
_SECRET_PARAM = re.compile(r"(?i)((?:^|[?&;])(?:ssl)?password=)[^&#]*")
# in free text: scheme://user:SECRET@ ... (libpq ends the user part at the first '@' or '/')
_URL_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^:@/\s]*):[^@/\s]*@")
# in free text: a keyword/value connection string's password=VALUE or password='VALUE'
_KV_PASSWORD = re.compile(r"(?i)(\b(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&'\"]+)")


def is_url(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` is URL-shaped (``scheme://...``) rather than a file path."""
    return bool(_SCHEME.match(os.fspath(location)))


def redact_location(location: str | os.PathLike[str]) -> str:
    """``location`` as it may be shown: a URL's password replaced by ``***``
    (``postgresql://user:***@host:5432/db``), ``password=`` parameters likewise. A file path
    comes back as it is."""
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
        s = s[:q] + _SECRET_PARAM.sub(lambda m_: m_.group(1) + MASK, s[q:])
    return s


def location_secrets(location: str | os.PathLike[str]) -> list[str]:
    """The passwords written in a location (raw and percent-decoded), for
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
            if eq and k.lower() in ("password", "sslpassword") and v:
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
