"""The demo: a SYNTHETIC dataset on Ukraine's regions, imported through the normal import path,
and a plain page to look at it (the web map replaces it when it lands)."""

from __future__ import annotations

import html
import tempfile
from pathlib import Path
from typing import Any

import orjson

from demine.errors import DemineError
from demine.services.register import ImportOptions, import_file
from demine.services.setup import UKRAINE_BBOX, init_store
from demine.store.gpkg import GeoPackageStore

KIND_ORDER = ("hazards", "emplacements", "finds", "eo_reports")


def build_demo_store(path: Path, *, seed: int = 7) -> dict[str, Any]:
    """(Re)build the demo store at ``path``. Refuses to touch a store holding real data."""
    from demine.demo_data import SYNTHETIC_NOTICE, build_demo

    if path.exists():
        existing = GeoPackageStore(path)
        try:
            synthetic = existing.setting("synthetic")
        except DemineError:
            synthetic = None
        finally:
            existing.close()
        if not synthetic:
            raise DemineError(
                f"{path} exists and is not a demo store: the demo never writes synthetic data "
                "into a real store; choose another --db"
            )
        path.unlink()
    store = GeoPackageStore(path)
    init_store(store, area_of_interest=UKRAINE_BBOX)
    store.set_setting("synthetic", True)
    store.set_setting("synthetic_notice", SYNTHETIC_NOTICE)
    data = build_demo(seed)
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in KIND_ORDER:
            f = Path(tmp) / f"{kind}.geojson"
            f.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": data[kind]}))
            rep = import_file(
                store,
                f,
                ImportOptions(kind=kind, actor="demine demo", reason="SYNTHETIC demo data"),
            )
            counts[kind] = rep.imported
    from demine.services.risk import learn

    learned = learn(store)  # finds in the closed demo hazards teach the failure rates
    store.close()
    return {
        "location": str(path),
        "counts": counts,
        "synthetic": True,
        "notice": SYNTHETIC_NOTICE,
        "learned": [x.to_dict() for x in learned],
    }


def render_page(path: Path) -> str:
    """A plain HTML page over the demo store: banner, counts, the hazards."""
    from demine.demo_data import SYNTHETIC_NOTICE, SYNTHETIC_NOTICE_UK

    store = GeoPackageStore(path)
    try:
        rows = []
        for r in store.list("hazards"):
            p = r.properties
            rows.append(
                "<tr>"
                + "".join(
                    f"<td>{html.escape(str(x))}</td>"
                    for x in (
                        p.get("name", ""),
                        p.get("hazard_type", ""),
                        p.get("status", ""),
                        p.get("admin_area", ""),
                        f"{p.get('area_m2', 0) / 10_000:,.1f} ha",
                        r.id,
                    )
                )
                + "</tr>"
            )
        counts = {k: store.count(k) for k in KIND_ORDER}
    finally:
        store.close()
    banner = (
        f'<div class="banner" role="alert"><strong>{html.escape(SYNTHETIC_NOTICE)}</strong>'
        f"<br>{html.escape(SYNTHETIC_NOTICE_UK)}</div>"
    )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>demine demo (SYNTHETIC DATA)</title>
<style>body{{font-family:sans-serif;margin:2em}}.banner{{background:#ffd54f;padding:1em;
border:2px solid #c77800;margin-bottom:1em}}td,th{{padding:2px 8px;border-bottom:1px solid #ddd}}
</style></head><body>{banner}
<h1>demine demo</h1>
<p>{", ".join(f"{n} {k}" for k, n in counts.items())}. The map comes with the web release;
meanwhile open the GeoPackage in QGIS, or ask <code>/check?lat=48.0&amp;lon=37.8&amp;radius=500
</code>.</p>
<form action="/check"><label>lat <input name="lat" value="48.0"></label>
<label>lon <input name="lon" value="37.8"></label>
<label>radius (m) <input name="radius" value="500"></label><button>Check a place</button></form>
<h2>Hazards (synthetic)</h2><table><tr><th>name</th><th>type</th><th>status</th>
<th>region</th><th>area</th><th>id</th></tr>{"".join(rows)}</table>
<p>Boundaries: Ukraine's administrative regions, OPORA / ukrainian_geodata, CC BY 4.0.</p>
</body></html>"""


def serve_demo(path: Path, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the plain demo page until interrupted."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlparse

    from demine.services.safety import check_point

    class Handler(BaseHTTPRequestHandler):
        def _send(self, code: int, body: bytes, ctype: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            u = urlparse(self.path)
            if u.path == "/":
                self._send(200, render_page(path).encode(), "text/html; charset=utf-8")
            elif u.path == "/check":
                q = parse_qs(u.query)
                store = GeoPackageStore(path)
                try:
                    hits = check_point(
                        store,
                        float(q["lat"][0]),
                        float(q["lon"][0]),
                        float(q.get("radius", ["500"])[0]),
                    )
                    body = {"synthetic": True, "hazards": [h.to_dict() for h in hits]}
                    self._send(200, orjson.dumps(body), "application/json")
                except (KeyError, ValueError, DemineError) as e:
                    self._send(400, orjson.dumps({"error": str(e)}), "application/json")
                finally:
                    store.close()
            else:
                self._send(404, b"not found", "text/plain")

        def log_message(self, *args: Any) -> None:
            pass

    srv = ThreadingHTTPServer((host, port), Handler)
    print(f"serving the SYNTHETIC demo on http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
