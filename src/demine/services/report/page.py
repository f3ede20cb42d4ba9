"""The annual report as one self-contained HTML page (charts inline as SVG, print styles):
the plain data of :mod:`demine.services.report.data` through the Jinja2 template
``demine/templates/annual_report.html.j2``, every value HTML-escaped."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from demine.services.report.data import annual_data, report_data
from demine.services.templating import render_template, template_text

TEMPLATE = "annual_report.html.j2"
STYLE_SHEET = "annual_report.css"


def page_html(data: Mapping[str, Any]) -> str:
    """The page of report data (:func:`~demine.services.report.data.report_data`). Only the
    charts (SVG drawn by :mod:`demine.services.charts`, its labels escaped) and the style
    sheet go in as markup."""

    def charts(section: Mapping[str, Any]) -> dict[str, Any]:
        marked = [{**c, "svg": Markup(c["svg"])} for c in section["charts"]]
        return {**section, "charts": marked}

    context = {
        **data,
        "css": Markup(template_text(STYLE_SHEET)),
        "land": charts(data["land"]),
        "form_f": charts(data["form_f"]),
    }
    return render_template(TEMPLATE, context).rstrip("\n")


def annual_html(
    store: Any,
    year: int,
    *,
    role: str = "analyst",
    by: str | None = None,
    name_field: str | None = None,
    lang: str = "en",
) -> str:
    """The annual report for ``year`` as one self-contained HTML page, as ``role`` may see it,
    in English (``lang="en"``) or Ukrainian (``"uk"``)."""
    return page_html(annual_data(store, year, role=role, by=by, name_field=name_field, lang=lang))


def render_annual(
    st: Mapping[str, Any], trend: Mapping[str, Any], year: int, *, lang: str = "en"
) -> str:
    """The page from statistics already computed: of the year (``st``) and of the years up
    to it (``trend``)."""
    return page_html(report_data(st, trend, year, lang=lang))
