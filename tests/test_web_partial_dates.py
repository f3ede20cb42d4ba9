"""Partial and unknown dates in the web page (app.js's recordDate) in both languages.

In its own test_web_* module: the session's browser must start after the tests that render
PDFs with their own Playwright (a sync Playwright cannot start inside a running one).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def test_web_shows_partial_dates_in_both_languages(browser: Any) -> None:
    """app.js's recordDate, run in Chromium with each language's strings: a year as it is, a
    year-month as a month name and the year, unknown in words."""
    import re

    web = Path(__file__).resolve().parent.parent / "src" / "demine" / "web"
    js = (web / "app.js").read_text(encoding="utf-8")
    m = re.search(r"function recordDate\(v\) \{.*?\n\}", js, re.S)
    assert m, "recordDate is not in app.js"
    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        for lang, want in (
            ("en", ["2019", "May 2019", "unknown", "2019-05-14", "2019-05-14"]),
            ("uk", ["2019", "травень 2019", "невідомо", "2019-05-14", "2019-05-14"]),
        ):
            strings = json.loads((web / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
            got = page.evaluate(
                """([strings, src]) => {
                  const t = (key, vars = {}) => (strings[key] ?? key).replace(
                    /\\{(\\w+)\\}/g, (_, k) => String(vars[k]));
                  const recordDate = new Function("t", src + "; return recordDate;")(t);
                  return ["2019", "2019-05", "unknown", "2019-05-14", "2019-05-14T08:30:00Z"]
                    .map(recordDate);
                }""",
                [strings, m.group(0)],
            )
            assert got == want, lang
    finally:
        page.close()
