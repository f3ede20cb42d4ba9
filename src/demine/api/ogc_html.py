"""Plain server-rendered HTML for the OGC API (no JavaScript): every resource as a readable
page with its links, and the API definition as a list of operations."""

from __future__ import annotations

from html import escape
from typing import Any

import orjson

from demine.model.kinds import Kind

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5em;max-width:70em}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;"
    "text-align:left;vertical-align:top}pre{background:#f6f6f6;padding:.5em;overflow:auto}"
    ".notice{background:#fff3cd;padding:.5em;border:1px solid #e0c060}"
)


def _doc(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width'><title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )


def _links(links: list[dict[str, Any]]) -> str:
    if not links:
        return ""
    rows = "".join(
        f"<li><a href='{escape(str(x.get('href', '')))}'>{escape(str(x.get('title') or x['href']))}"
        f"</a> <small>({escape(str(x.get('rel', '')))}, {escape(str(x.get('type', '')))})"
        "</small></li>"
        for x in links
    )
    return f"<h2>Links</h2><ul>{rows}</ul>"


def _json_block(body: Any) -> str:
    text = orjson.dumps(body, option=orjson.OPT_INDENT_2).decode()
    return f"<details><summary>JSON</summary><pre>{escape(text)}</pre></details>"


def page(title: str, body: dict[str, Any]) -> str:
    desc = f"<p>{escape(str(body['description']))}</p>" if body.get("description") else ""
    return _doc(title, desc + _links(body.get("links", [])) + _json_block(body))


def collections_page(body: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td><a href='{escape(_href(c, 'self'))}?f=html'>{escape(c['id'])}</a></td>"
        f"<td>{escape(c.get('title', ''))}</td><td>{escape(c.get('description', ''))}</td>"
        f"<td><a href='{escape(_href(c, 'self'))}/items?f=html'>features</a></td></tr>"
        for c in body["collections"]
    )
    table = f"<table><tr><th>id</th><th>title</th><th>description</th><th></th></tr>{rows}</table>"
    return _doc("Collections", table + _links(body["links"]))


def _href(doc: dict[str, Any], rel: str) -> str:
    for x in doc.get("links", []):
        if x.get("rel") == rel:
            return str(x["href"]).split("?")[0]
    return ""


def collection_page(body: dict[str, Any]) -> str:
    return page(body.get("title") or body["id"], body)


def _props_table(props: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>" for k, v in props.items()
    )
    return f"<table>{rows}</table>"


def items_page(kind: Kind, body: dict[str, Any]) -> str:
    names: list[str] = []
    for f in body["features"]:
        for k in f.get("properties") or {}:
            if k not in names:
                names.append(k)
    head = "<tr><th>id</th>" + "".join(f"<th>{escape(n)}</th>" for n in names) + "</tr>"
    rows = "".join(
        f"<tr><td><a href='{escape(_href(f, 'self'))}?f=html'>{escape(str(f['id']))}</a></td>"
        + "".join(f"<td>{escape(str((f.get('properties') or {}).get(n, '')))}</td>" for n in names)
        + "</tr>"
        for f in body["features"]
    )
    counts = f"<p>{body['numberReturned']} features on this page"
    if "numberMatched" in body:
        counts += f" of {body['numberMatched']}"
    counts += ".</p>"
    return _doc(kind.title, counts + f"<table>{head}{rows}</table>" + _links(body["links"]))


def item_page(kind: Kind, f: dict[str, Any]) -> str:
    geom = orjson.dumps(f.get("geometry")).decode()
    if len(geom) > 2000:
        geom = geom[:2000] + " …"
    body = (
        _props_table(f.get("properties") or {})
        + f"<h2>Geometry (CRS84)</h2><pre>{escape(geom)}</pre>"
        + _links(f.get("links", []))
    )
    return _doc(f"{kind.title}: {f['id']}", body)


def api_page(doc: dict[str, Any]) -> str:
    out = [f"<p>{escape(str(doc['info'].get('description', '')))}</p>"]
    out.append("<p>The machine-readable definition: <a href='?f=json'>OpenAPI 3.0 (JSON)</a>.</p>")
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if method == "parameters":
                continue
            out.append(
                f"<h2>{escape(method.upper())} {escape(path)}</h2>"
                f"<p>{escape(op.get('summary', ''))}</p>"
            )
            if op.get("description"):
                out.append(f"<p>{escape(op['description'])}</p>")
            params = [
                p if "$ref" not in p else doc["components"]["parameters"][p["$ref"].split("/")[-1]]
                for p in op.get("parameters", [])
            ]
            if params:
                rows = "".join(
                    f"<tr><td>{escape(p['name'])}</td><td>{escape(p['in'])}</td>"
                    f"<td>{escape(p.get('description', ''))}</td></tr>"
                    for p in params
                )
                out.append(
                    f"<table><tr><th>parameter</th><th>in</th><th>meaning</th></tr>{rows}</table>"
                )
            codes = ", ".join(escape(str(c)) for c in op.get("responses", {}))
            out.append(f"<p>Responses: {codes}</p>")
    return _doc(doc["info"]["title"], "".join(out))
