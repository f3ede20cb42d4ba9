"""The annual report: one self-contained HTML page (charts inline as SVG, print styles), and
its PDF printed by headless Chromium.

Laid out like the Landmine Monitor land-release tables (area cancelled by non-technical survey,
reduced by technical survey and cleared, per area and per year, in m² and km², with totals) and
an Ottawa Convention Article 7 report (Form C: mined areas remaining; Form F: programmes of
release and destruction, progress; Form I: risk education), with accidents and casualties as
aggregates only. Every figure comes from :func:`demine.services.stats.compute`; every value is
HTML-escaped. No victim's or reporter's personal data is read for it beyond counts, and counts
are suppressed for roles without victim-assistance access (docs/statistics.md).

* :mod:`.text`: every fixed string, in English and Ukrainian (a table);
* :mod:`.data`: the report's content as plain data (text, formatted numbers, SVG charts);
* :mod:`.page`: that data through ``demine/templates/annual_report.html.j2`` (HTML);
* :mod:`.pdf`: the HTML printed to PDF by headless Chromium.
"""

from __future__ import annotations

from demine.services.report.data import (
    TREND_YEARS,
    annual_data,
    count,
    km2,
    report_data,
)
from demine.services.report.page import annual_html, page_html, render_annual
from demine.services.report.pdf import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PDF_TIMEOUT_MS,
    PdfUnavailable,
    chromium_path,
    html_to_pdf,
)
from demine.services.report.text import ACCIDENT_TYPES_UK, LANGS, TEXT, VALUES_UK, check_lang

__all__ = [
    "ACCIDENT_TYPES_UK",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "LANGS",
    "PDF_TIMEOUT_MS",
    "TEXT",
    "TREND_YEARS",
    "VALUES_UK",
    "PdfUnavailable",
    "annual_data",
    "annual_html",
    "check_lang",
    "chromium_path",
    "count",
    "html_to_pdf",
    "km2",
    "page_html",
    "render_annual",
    "report_data",
]
