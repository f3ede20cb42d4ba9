"""axe-core (WCAG 2.0/2.1/2.2 A and AA) on the public map in a real browser, in Ukrainian and
English, on a desktop and a phone, at rest, with a hazard's popup open and with the report form
open: no violation, and no "needs review" colour-contrast item on the legend's symbols or on a
focused control (issue 15). axe-core is vendored for the tests only (tests/vendor/axe-core)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from live import wait_for
from test_web_page import READY_MS, Site
from test_web_public_map import PHONE, site  # noqa: F401  (the module's demo site)

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
RUN = """async (tags) => {
  const r = await axe.run(document, {
    runOnly: { type: "tag", values: tags }, resultTypes: ["violations", "incomplete"],
  });
  const brief = (x) => ({
    id: x.id, nodes: x.nodes.map((n) => n.target.join(" ") + " :: " + (n.failureSummary || "")),
  });
  return { violations: r.violations.map(brief), incomplete: r.incomplete.map(brief) };
}"""


def _check(pg: Any, where: str) -> None:
    if not pg.evaluate("typeof axe !== 'undefined'"):
        pg.evaluate(AXE.read_text(encoding="utf-8"))
    got = pg.evaluate(RUN, TAGS)
    assert not got["violations"], f"{where}: {got['violations']}"
    contrast = [
        n
        for item in got["incomplete"]
        if item["id"] == "color-contrast"
        for n in item["nodes"]
        if ".sw" in n or "legend" in n or "ramp" in n or ":focus" in n
    ]
    assert not contrast, f"{where}: contrast to review on legend symbols or focus: {contrast}"


@pytest.fixture
def open_page(browser: Any, site: Site) -> Iterator[Any]:  # noqa: F811
    contexts: list[Any] = []

    def make(lang: str, phone: bool) -> Any:
        ctx = browser.new_context(
            locale="uk-UA" if lang == "uk" else "en-GB",
            **(PHONE if phone else {"viewport": {"width": 1280, "height": 800}}),
        )
        contexts.append(ctx)
        pg = ctx.new_page()
        pg.goto(site.url + "/")
        wait_for(
            pg, "window.demine && (window.demine.ready === true || window.demine.error)", READY_MS
        )
        assert not pg.evaluate("window.demine.error")
        assert pg.evaluate("document.documentElement.lang") == lang
        return pg

    yield make
    for c in contexts:
        c.close()


@pytest.mark.parametrize("lang", ["uk", "en"])
@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_axe_wcag22_aa(open_page: Any, site: Site, lang: str, phone: bool) -> None:  # noqa: F811
    pg = open_page(lang, phone)
    where = f"{lang} {'phone' if phone else 'desktop'}"
    _check(pg, f"{where}, at rest")
    # a focused control (the focus ring) and the skip link
    pg.keyboard.press("Tab")
    _check(pg, f"{where}, skip link focused")
    # a hazard's popup open
    h = site.hazard
    pg.evaluate(
        """async ([id, lon, lat]) => {
          const m = window.demine.map;
          m.jumpTo({center: [lon, lat], zoom: 15});
          await new Promise(r => m.once('idle', r));
          const f = m.queryRenderedFeatures(m.project([lon, lat]),
            {layers: ['hazards-risk', 'hazards-unknown']}).find(f => f.properties.id === id);
          await window.demine.showDetails(f.layer.id, f.properties, [lon, lat]);
        }""",
        [h["id"], h["lon"], h["lat"]],
    )
    pg.locator(".maplibregl-popup .risk").wait_for(timeout=15_000)
    _check(pg, f"{where}, hazard popup open")
    pg.keyboard.press("Escape")
    # the report form open
    pg.click("#report-toggle")
    pg.locator("#report-form").wait_for(state="visible")
    _check(pg, f"{where}, report form open")
