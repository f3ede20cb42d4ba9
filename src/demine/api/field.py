"""The field app (issue 14): an installable web app (PWA) for field teams and operators.

* ``/field`` redirects (308) to ``field/`` (relative, so it works under ``--public-url``);
* ``/field/`` the app's page (``web/field/field.html``); its scripts, styles, strings and icons
  are ordinary static files under ``/static/field/...``;
* ``/field/sw.js`` the service worker (scope ``/field/``): it keeps the app shell on the device
  so that the app opens with no connection. Its cache name carries a hash of every shell file,
  so a changed file installs a new worker and the old cache is dropped;
* ``/field/manifest.webmanifest`` the Web App Manifest ("Add to home screen").

The app's data (forms, work area, outbox, photos, token) are kept by the app in IndexedDB;
the service worker never caches ``/api/`` answers. See docs/field.md.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import orjson
from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse

from demine.api.web import WEB

router = APIRouter(tags=["field"])

FIELD = WEB / "field"
_SHELL = re.compile(r"const SHELL = \[(.*?)\];", re.S)
_NAME = re.compile(r'"([^"]+)"')

MANIFEST = {
    "name": "demine field",
    "short_name": "demine field",
    "description": "Record hazards, finds and reports in the field, offline; sent for review.",
    "start_url": ".",
    "scope": ".",
    "display": "standalone",
    "background_color": "#ffffff",
    "theme_color": "#263238",
    "icons": [
        {
            "src": f"../static/field/icons/icon-{n}.png",
            "sizes": f"{n}x{n}",
            "type": "image/png",
            "purpose": "any maskable",
        }
        for n in (192, 512)
    ],
}


def shell_urls() -> list[str]:
    """The URLs the service worker keeps (relative to ``/field/sw.js``), as it lists them."""
    found = _SHELL.search((FIELD / "sw.js").read_text(encoding="utf-8"))
    if found is None:
        raise RuntimeError("web/field/sw.js has no 'const SHELL = [...];' list")
    return _NAME.findall(found.group(1))


def _manifest_bytes() -> bytes:
    return orjson.dumps(MANIFEST, option=orjson.OPT_INDENT_2)


@lru_cache(maxsize=1)
def _service_worker() -> bytes:
    """sw.js with its cache version: a hash of sw.js and every file of the shell."""
    digest = hashlib.sha256((FIELD / "sw.js").read_bytes())
    digest.update(_manifest_bytes())
    for url in shell_urls():
        if url.startswith("../static/"):
            digest.update(url.encode())
            digest.update((WEB / url.removeprefix("../static/")).read_bytes())
    digest.update((FIELD / "field.html").read_bytes())
    version = digest.hexdigest()[:16]
    return (FIELD / "sw.js").read_bytes().replace(b"__VERSION__", version.encode())


_NO_CACHE = {"Cache-Control": "no-cache"}


@router.api_route("/field", methods=["GET", "HEAD"], include_in_schema=False)
def field_redirect() -> Response:
    return Response(status_code=308, headers={"Location": "field/"})


@router.api_route("/field/", methods=["GET", "HEAD"], include_in_schema=False)
def field_page() -> Response:
    return HTMLResponse((FIELD / "field.html").read_bytes(), headers=_NO_CACHE)


@router.api_route("/field/sw.js", methods=["GET", "HEAD"], include_in_schema=False)
def field_service_worker() -> Response:
    return Response(
        _service_worker(), media_type="text/javascript; charset=utf-8", headers=_NO_CACHE
    )


@router.api_route("/field/manifest.webmanifest", methods=["GET", "HEAD"], include_in_schema=False)
def field_manifest() -> Response:
    return Response(_manifest_bytes(), media_type="application/manifest+json", headers=_NO_CACHE)
