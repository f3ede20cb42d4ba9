"""The annual report's content is plain data (services/report/data.py), rendered to HTML by the
Jinja2 template templates/annual_report.html.j2 with autoescaping: no HTML in the data, every
value escaped once in the page, the synthetic-data notice where it was (after the title and
meta line, before the figures), and the templates shipped as package data."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest

import stats_data
from demine.ids import uuid7
from demine.model.schema import Record
from demine.model.synthetic import SYNTHETIC_NOTICE_UK
from demine.services.report import annual_data, annual_html, page_html

ROOT = Path(__file__).resolve().parents[1]
TAG = re.compile(r"</?[a-zA-Z][^>]*>|&[a-z]+;|&#[0-9x]+;")


@pytest.fixture
def year(store: Any) -> stats_data.Year:
    return stats_data.build(store)


def _strings(v: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in the data with where it is, the charts' SVG left out."""
    if isinstance(v, dict):
        for k, x in v.items():
            if k != "svg":
                yield from _strings(x, f"{path}.{k}")
    elif isinstance(v, list | tuple):
        for i, x in enumerate(v):
            yield from _strings(x, f"{path}[{i}]")
    elif isinstance(v, str):
        yield path, v


def _stamp(page: str) -> str:
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ|\d\d\.\d\d\.\d{4} \d\d:\d\d UTC", "T", page)


@pytest.mark.parametrize("lang", ["en", "uk"])
def test_report_data_is_plain(store: Any, year: stats_data.Year, lang: str) -> None:
    data = annual_data(store, 2025, role="public", by="oblasts", lang=lang)
    json.dumps(data)  # plain values only
    texts = list(_strings(data))
    assert len(texts) > 200
    for where, s in texts:
        assert not TAG.search(s), (where, s)  # no markup and no entity: the renderer escapes
    assert "<5" in data["accidents"]["note"]  # the rule's text, as text
    assert ("public", True) in data["meta"] and ("oblasts", True) in data["meta"]
    charts = [c["name"] for c in (*data["land"]["charts"], *data["form_f"]["charts"])]
    assert charts == ["released", "areas", "devices"]
    assert all(c["svg"].startswith("<svg") for c in data["land"]["charts"])
    page = page_html(data)
    assert _stamp(page) == _stamp(annual_html(store, 2025, role="public", by="oblasts", lang=lang))
    assert "<b>public</b>" in page and "<b>oblasts</b>" in page and "**" not in page
    assert "“&lt;5”" in page or "«&lt;5»" in page


def test_synthetic_notice_where_it_was(store: Any, year: stats_data.Year) -> None:
    for lang, words in (("en", "SYNTHETIC DATA"), ("uk", SYNTHETIC_NOTICE_UK)):
        data = annual_data(store, 2025, lang=lang)
        assert data["synthetic"] and words in data["synthetic"]
        page = annual_html(store, 2025, lang=lang)
        notice = page.index('<p class="synthetic" role="alert">')
        assert page.index('<p class="meta">') < notice < page.index('<section class="figures">')
        assert page.count('class="synthetic"') == 1
    store.set_setting("synthetic", False)
    assert annual_data(store, 2025)["synthetic"] is None
    page = annual_html(store, 2025)
    assert 'class="synthetic"' not in page and "SYNTHETIC" not in re.sub(
        r"<style>.*?</style>", "", page, flags=re.S
    )


def test_values_escaped_once(store: Any) -> None:
    name = "<i>x</i> & 'y' \"z\" **b**"
    store.upsert(
        "hazards",
        [
            Record(
                "hazards",
                uuid7(),
                {"hazard_type": "SHA", "status": "open", "name": name, "reference": "R&D"},
                stats_data.mp((30.0, 50.0, 30.01, 50.01)),
            )
        ],
        actor="t",
    )
    data = annual_data(store, 2025)
    rows = data["form_c"]["hazards"]["rows"]
    assert [r[:2] for r in rows] == [["R&D", name]]  # as recorded: the data is not escaped
    page = annual_html(store, 2025)
    assert "<td>R&amp;D</td>" in page
    assert "<td>&lt;i&gt;x&lt;/i&gt; &amp; &#39;y&#39; &#34;z&#34; **b**</td>" in page
    assert "<i>" not in page and "&amp;amp;" not in page and "&amp;lt;" not in page


def test_templates_are_package_data() -> None:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = cfg["tool"]["setuptools"]["package-data"]["demine"]
    templates = ROOT / "src" / "demine" / "templates"
    names = {p.name for p in templates.iterdir()}
    assert {"annual_report.html.j2", "annual_report.css", "certificate.html.j2"} <= names
    for p in templates.iterdir():
        rel = p.relative_to(ROOT / "src" / "demine").as_posix()
        assert any(fnmatch(rel, pat) for pat in patterns), f"{rel} is not package data"
