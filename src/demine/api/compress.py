"""Compressed, revalidatable answers for the pages' files and the map's larger bodies.

A phone on a slow link pays for every byte: the public map's files are sent gzip-compressed when
the client accepts it (MapLibre's 1.1 MB module is 0.29 MB compressed), each with an entity tag
of its content, so that a reload answers ``304 Not Modified`` with no body. A file's compressed
copy is made once per content (level 9) and kept while the file is unchanged.

``Vary: Accept-Encoding`` tells shared caches that the body depends on that header.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from pathlib import Path

from fastapi import Request, Response

from demine.api.security import if_none_match

MIN_SIZE = 512  # bytes: smaller bodies are sent as they are (gzip's header would not pay)
_LEVEL = 9  # files: compressed once, so the best ratio
_LEVEL_DYNAMIC = 5  # bodies made per request: most of level 9's gain at a fraction of its time


def accepts_gzip(request: Request) -> bool:
    """The request's ``Accept-Encoding`` admits gzip (RFC 9110 12.5.3; ``q=0`` refuses it)."""
    header = request.headers.get("accept-encoding", "")
    for part in header.split(","):
        token, _, params = part.strip().partition(";")
        if token.strip().lower() not in ("gzip", "*"):
            continue
        q = params.strip().lower()
        if q.startswith("q="):
            try:
                return float(q[2:]) > 0
            except ValueError:
                return False
        return True
    return False


class _Entry:
    __slots__ = ("etag", "gz", "raw")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.etag = '"' + hashlib.sha256(raw).hexdigest()[:32] + '"'
        gz = gzip.compress(raw, compresslevel=_LEVEL, mtime=0) if len(raw) >= MIN_SIZE else b""
        self.gz = gz if gz and len(gz) < len(raw) else None


_files: dict[tuple[str, int, int], _Entry] = {}
_lock = threading.Lock()


def _entry(path: Path) -> _Entry:
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    hit = _files.get(key)
    if hit is None:
        hit = _Entry(path.read_bytes())
        with _lock:
            for old in [k for k in _files if k[0] == key[0]]:  # an older copy of this file
                del _files[old]
            _files[key] = hit
    return hit


def _send(request: Request, entry: _Entry, media_type: str, cache_control: str) -> Response:
    headers = {"Cache-Control": cache_control, "ETag": entry.etag, "Vary": "Accept-Encoding"}
    if if_none_match(request, entry.etag):
        return Response(status_code=304, headers=headers)
    if entry.gz is not None and accepts_gzip(request):
        headers["Content-Encoding"] = "gzip"
        return Response(entry.gz, media_type=media_type, headers=headers)
    return Response(entry.raw, media_type=media_type, headers=headers)


def file_response(request: Request, path: Path, media_type: str, cache_control: str) -> Response:
    """``path``'s bytes, compressed when accepted, with an entity tag; 304 when it matches."""
    return _send(request, _entry(path), media_type, cache_control)


def body_response(
    request: Request,
    body: bytes,
    media_type: str,
    headers: dict[str, str] | None = None,
    *,
    status_code: int = 200,
) -> Response:
    """A body made for this request, gzip-compressed when the client accepts it and it pays."""
    out = dict(headers or {})
    vary = out.get("Vary")
    out["Vary"] = f"{vary}, Accept-Encoding" if vary else "Accept-Encoding"
    if len(body) >= MIN_SIZE and accepts_gzip(request):
        gz = gzip.compress(body, compresslevel=_LEVEL_DYNAMIC, mtime=0)
        if len(gz) < len(body):
            out["Content-Encoding"] = "gzip"
            return Response(gz, status_code=status_code, media_type=media_type, headers=out)
    return Response(body, status_code=status_code, media_type=media_type, headers=out)
