"""Compressed, revalidatable answers for the pages' files and the map's larger bodies.

A phone on a slow link pays for every byte: the public map's files are sent compressed when the
client accepts it, each with an entity tag of its content, so that a reload answers
``304 Not Modified`` with no body. Brotli (RFC 7932) is preferred to gzip when both are accepted:
MapLibre's 1.1 MB module is 0.30 MB in gzip and 0.24 MB in brotli at quality 11.

A file's compressed copies are made once per content and kept while the file is unchanged: gzip
(level 9) at once; brotli at quality 11. Quality 11 takes about 2 s for MapLibre's module, so the
vendored files ship their brotli copy beside them (``NAME.br``, made by
``python -m demine.api.compress FILE...``; a copy that does not decompress to the file is never
sent); another file over ``_BR_INLINE`` bytes gets its copy made on a background thread, and gzip
is sent until it is ready, so no request waits for it. Bodies made per request (tiles, risk,
regions) use brotli quality 5 or gzip level 5: most of the best ratio at a fraction of its time.

``Vary: Accept-Encoding`` tells shared caches that the body depends on that header.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from pathlib import Path

import brotli
from fastapi import Request, Response

from demine.api.security import if_none_match

MIN_SIZE = 512  # bytes: smaller bodies are sent as they are (gzip's header would not pay)
_LEVEL = 9  # files: compressed once, so the best ratio
_LEVEL_DYNAMIC = 5  # bodies made per request: most of level 9's gain at a fraction of its time
_BR_QUALITY = 11  # files: compressed once, so the best ratio
_BR_QUALITY_DYNAMIC = 5
_BR_INLINE = 160 * 1024  # bytes: a smaller file gets its brotli copy at once (under 0.3 s, once)


def accepts_gzip(request: Request) -> bool:
    """The request's ``Accept-Encoding`` admits gzip (RFC 9110 12.5.3; ``q=0`` refuses it)."""
    return accepts(request, "gzip")


def accepts_br(request: Request) -> bool:
    """The request's ``Accept-Encoding`` admits brotli (``br``; ``q=0`` refuses it)."""
    return accepts(request, "br")


def accepts(request: Request, coding: str) -> bool:
    """The request's ``Accept-Encoding`` admits ``coding``: named with a q above 0, or ``*``."""
    header = request.headers.get("accept-encoding", "")
    parts = [p.strip().partition(";") for p in header.split(",")]
    named = [(t.strip().lower(), p) for t, _, p in parts]
    if any(t == coding for t, _ in named):  # a coding named is judged by its own q, not by "*"
        named = [(t, p) for t, p in named if t == coding]
    for token, params in named:
        if token not in (coding, "*"):
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
    __slots__ = ("br", "br_started", "etag", "gz", "raw")

    def __init__(self, raw: bytes, shipped: Path | None = None) -> None:
        self.raw = raw
        self.etag = '"' + hashlib.sha256(raw).hexdigest()[:32] + '"'
        gz = gzip.compress(raw, compresslevel=_LEVEL, mtime=0) if len(raw) >= MIN_SIZE else b""
        self.gz = gz if gz and len(gz) < len(raw) else None
        self.br: bytes | None = None  # set once made; only when smaller than gzip and the raw
        self.br_started = len(raw) < MIN_SIZE or self.gz is None  # nothing to gain: never made
        if not self.br_started and shipped is not None and shipped.is_file():
            self._take_br(_shipped_copy(shipped, raw))
        if not self.br_started and len(raw) <= _BR_INLINE:
            self.br_started = True
            self._make_br()

    def _take_br(self, br: bytes | None) -> None:
        if br is not None:
            self.br_started = True
            if self.gz is not None and len(br) < len(self.gz):
                self.br = br

    def _make_br(self) -> None:
        self._take_br(brotli.compress(self.raw, quality=_BR_QUALITY))

    def br_copy(self) -> bytes | None:
        """The brotli copy when it is ready; the first ask starts making it (in the background)."""
        if self.br is None and not self.br_started:
            with _lock:
                if self.br_started:
                    return self.br
                self.br_started = True
            threading.Thread(target=self._make_br, name="demine-brotli", daemon=True).start()
        return self.br


_files: dict[tuple[str, int, int], _Entry] = {}
_lock = threading.Lock()


def _shipped_copy(path: Path, raw: bytes) -> bytes | None:
    """The brotli copy shipped beside a file, when it decompresses to exactly the file."""
    try:
        br = path.read_bytes()
        return br if brotli.decompress(br) == raw else None
    except (OSError, brotli.error):
        return None


def _entry(path: Path) -> _Entry:
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    hit = _files.get(key)
    if hit is None:
        hit = _Entry(path.read_bytes(), path.with_name(path.name + ".br"))
        with _lock:
            for old in [k for k in _files if k[0] == key[0]]:  # an older copy of this file
                del _files[old]
            _files[key] = hit
    return hit


def _send(request: Request, entry: _Entry, media_type: str, cache_control: str) -> Response:
    headers = {"Cache-Control": cache_control, "ETag": entry.etag, "Vary": "Accept-Encoding"}
    if if_none_match(request, entry.etag):
        return Response(status_code=304, headers=headers)
    if accepts_br(request) and (br := entry.br_copy()) is not None:
        headers["Content-Encoding"] = "br"
        return Response(br, media_type=media_type, headers=headers)
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
    """A body made for this request, brotli- or gzip-compressed when the client accepts it and
    it pays."""
    out = dict(headers or {})
    vary = out.get("Vary")
    out["Vary"] = f"{vary}, Accept-Encoding" if vary else "Accept-Encoding"
    if len(body) >= MIN_SIZE and accepts_br(request):
        br = brotli.compress(body, quality=_BR_QUALITY_DYNAMIC)
        if len(br) < len(body):
            out["Content-Encoding"] = "br"
            return Response(br, status_code=status_code, media_type=media_type, headers=out)
    if len(body) >= MIN_SIZE and accepts_gzip(request):
        gz = gzip.compress(body, compresslevel=_LEVEL_DYNAMIC, mtime=0)
        if len(gz) < len(body):
            out["Content-Encoding"] = "gzip"
            return Response(gz, status_code=status_code, media_type=media_type, headers=out)
    return Response(body, status_code=status_code, media_type=media_type, headers=out)


def main(argv: list[str] | None = None) -> None:
    """Write ``FILE.br`` beside each file named (brotli quality 11): the copies shipped with the
    vendored files. ``python -m demine.api.compress src/demine/web/vendor/*/*.mjs``"""
    import sys

    for name in argv if argv is not None else sys.argv[1:]:
        src = Path(name)
        out = src.with_name(src.name + ".br")
        out.write_bytes(brotli.compress(src.read_bytes(), quality=_BR_QUALITY))
        print(f"{out}: {out.stat().st_size} bytes ({src.stat().st_size} raw)")


if __name__ == "__main__":
    main()
