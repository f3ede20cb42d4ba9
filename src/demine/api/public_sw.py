"""``/sw.js``: the public map's service worker (web/sw.js), with its shell list and version.

The shell is found, not listed by hand: the page's own ``static/...`` files named in
``index.html``, then every module those import (``import ... from "./x.js"``, ``import("./x.js")``)
and every file of the page that a module names in a string (the strings, MapLibre's worker),
followed to the end; plus both languages' strings and MapLibre's files. So a module added to
the page is kept offline without anyone remembering to list it; a test checks the list against
what the browser loads. The version is a hash of every shell file's bytes.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import orjson
from fastapi import APIRouter, Response

from demine.api.web import WEB

router = APIRouter(tags=["map"])

_HTML_REF = re.compile(r'(?:src|href)="static/([^"?#]+)"')
_JS_REF = re.compile(r"""["'`]((?:\.\.?/|static/)?[\w./-]+\.(?:m?js|css|json|svg|png))["'`]""")
_ALWAYS = ("i18n/en.json", "i18n/uk.json")


def _resolve(base: str, ref: str) -> str | None:
    """A reference in the module at ``base`` (a path under web/) as a path under web/."""
    if ref.startswith("static/"):
        rel = ref.removeprefix("static/")
    elif ref.startswith(("./", "../")):
        parts = base.split("/")[:-1]
        for seg in ref.split("/"):
            if seg == "..":
                if not parts:
                    return None
                parts.pop()
            elif seg not in (".", ""):
                parts.append(seg)
        rel = "/".join(parts)
    else:
        rel = ref if "/" in ref else "/".join([*base.split("/")[:-1], ref])
    path = WEB / rel
    try:
        ok = path.resolve().is_relative_to(WEB.resolve()) and path.is_file()
    except (OSError, ValueError):
        ok = False
    return rel if ok and not rel.startswith(("field/",)) else None


def shell_files() -> list[str]:
    """Paths under web/ the public map needs, found from index.html (see the module)."""
    html = (WEB / "index.html").read_text(encoding="utf-8")
    todo = [r for r in _HTML_REF.findall(html) if (WEB / r).is_file()]
    todo += [a for a in _ALWAYS if (WEB / a).is_file()]
    todo += [f"vendor/maplibre-gl/{p.name}" for p in sorted((WEB / "vendor/maplibre-gl").iterdir())
             if p.suffix in (".mjs", ".js", ".css")]  # fmt: skip
    seen: list[str] = []
    while todo:
        rel = todo.pop(0)
        if rel in seen:
            continue
        seen.append(rel)
        if rel.endswith((".js", ".mjs")) and not rel.startswith("vendor/"):
            text = (WEB / rel).read_text(encoding="utf-8")
            for ref in _JS_REF.findall(text):
                got = _resolve(rel, ref)
                if got is not None and got not in seen:
                    todo.append(got)
    return seen


@lru_cache(maxsize=1)
def _service_worker() -> bytes:
    files = shell_files()
    digest = hashlib.sha256((WEB / "sw.js").read_bytes())
    digest.update((WEB / "index.html").read_bytes())
    for rel in files:
        digest.update(rel.encode())
        digest.update((WEB / rel).read_bytes())
    shell = ["./", *(f"static/{rel}" for rel in files)]
    return (
        (WEB / "sw.js")
        .read_bytes()
        .replace(b"__VERSION__", digest.hexdigest()[:16].encode())
        .replace(b"__SHELL__", orjson.dumps(shell))
    )


@router.api_route("/sw.js", methods=["GET", "HEAD"], include_in_schema=False)
def public_service_worker() -> Response:
    return Response(
        _service_worker(),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "no-cache"},
    )
