"""The annual report's PDF: its HTML page printed by headless Chromium (through Playwright),
with a page footer in the report's language."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from demine.errors import DemineError
from demine.files import write_private
from demine.services.report.text import TEXT, check_lang

CHROMIUM = "/usr/bin/chromium"
# how long Chromium may take to start, load the page and print it: Playwright's default (30 s)
# was exceeded on a loaded 2-core machine; a printer that is slow is not an error
PDF_TIMEOUT_MS = 300_000
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class PdfUnavailable(DemineError):
    exit_code = 2
    title = "PDF printing unavailable"


def chromium_path() -> str | None:
    """Chromium to print with: $DEMINE_CHROMIUM, Debian's /usr/bin/chromium, or one on PATH."""
    for c in (os.environ.get("DEMINE_CHROMIUM"), CHROMIUM):
        if c and Path(c).is_file():
            return c
    return shutil.which("chromium") or shutil.which("chromium-browser")


def html_to_pdf(page_html: str, out: Path, *, lang: str = "en") -> int:
    """Print ``page_html`` to the PDF ``out`` with headless Chromium (Playwright), its page
    footer in ``lang``. Returns the size in bytes."""
    page_word = TEXT[check_lang(lang)]["pdf_page"]
    exe = chromium_path()
    if exe is None:
        raise PdfUnavailable(
            "no Chromium to print the PDF with: install it (Debian: apt-get install chromium) "
            "or set DEMINE_CHROMIUM to its path; the HTML report needs nothing"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise PdfUnavailable(
            "the PDF report needs Playwright: pip install playwright (or demine[test]); "
            "no browser download is needed, it drives the installed Chromium"
        ) from None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, timeout=PDF_TIMEOUT_MS)
        try:
            page = browser.new_page()
            page.set_default_timeout(PDF_TIMEOUT_MS)
            page.set_content(page_html, wait_until="load", timeout=PDF_TIMEOUT_MS)
            page.emulate_media(media="print")
            data = page.pdf(
                format="A4",
                print_background=True,
                display_header_footer=True,
                header_template="<span></span>",
                footer_template=(
                    '<div style="font-size:8px;width:100%;text-align:center;color:#555">'
                    f'{page_word} <span class="pageNumber"></span> / '
                    '<span class="totalPages"></span>'
                    "</div>"
                ),
                margin={"top": "14mm", "bottom": "16mm", "left": "12mm", "right": "12mm"},
            )
        finally:
            browser.close()
    write_private(out, data)
    return len(data)
