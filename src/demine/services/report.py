"""The annual report: one self-contained HTML page (charts inline as SVG, print styles), and
its PDF printed by headless Chromium.

Laid out like the Landmine Monitor land-release tables (area cancelled by non-technical survey,
reduced by technical survey and cleared, per area and per year, in m² and km², with totals) and
an Ottawa Convention Article 7 report (Form C: mined areas remaining; Form F: programmes of
release and destruction, progress; Form I: risk education), with accidents and casualties as
aggregates only. Every figure comes from :func:`demine.services.stats.compute`; every value is
HTML-escaped. No victim's or reporter's personal data is read for it beyond counts, and counts
are suppressed for roles without victim-assistance access (docs/statistics.md).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from demine import __version__
from demine.errors import DemineError
from demine.services.charts import render
from demine.services.stats import Period, compute

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TREND_YEARS = 5  # the land-release table by year covers the report year and the four before


class PdfUnavailable(DemineError):
    exit_code = 2
    title = "PDF printing unavailable"


def e(v: Any) -> str:
    """A value as escaped HTML text (None as an em dash)."""
    if v is None:
        return "—"
    return escape(str(v), quote=True)


def n(v: Any) -> str:
    """A count or m² figure: thousands separated; strings ("<5") as they are."""
    if isinstance(v, bool) or v is None:
        return e(v)
    if isinstance(v, int):
        return f"{v:,}".replace(",", "\u202f")
    if isinstance(v, float):
        return f"{v:,.0f}".replace(",", "\u202f")
    return e(v)


def km2(m2: int | float) -> str:
    return f"{m2 / 1e6:,.3f}".replace(",", "\u202f")


def _table(
    head: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    foot: Sequence[Any] | None = None,
    cls: str = "",
    caption: str | None = None,
) -> str:
    """A table; cells already formatted as HTML (each value escaped by its formatter)."""
    out = [f'<table class="{e(cls)}">']
    if caption:
        out.append(f"<caption>{e(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>")
    body = ["<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows]
    out.append("".join(body) or f'<tr><td colspan="{len(head)}">No records.</td></tr>')
    out.append("</tbody>")
    if foot is not None:
        out.append("<tfoot><tr>" + "".join(f"<th>{c}</th>" for c in foot) + "</tr></tfoot>")
    out.append("</table>")
    return "".join(out)


def _svg(stats: Mapping[str, Any], name: str) -> str:
    svg = render(stats, name, "svg").decode("utf-8")
    start = svg.find("<svg")
    return f'<figure class="chart" data-chart="{e(name)}">{svg[start:]}</figure>'


def _land_row(label: str, r: Mapping[str, Any]) -> list[str]:
    out = [e(label)]
    for k in ("cancelled_m2", "reduced_m2", "cleared_m2", "released_m2"):
        out += [n(r[k]), km2(r[k])]
    return out


LAND_HEAD = [
    "{label}",
    "Cancelled by NTS (m²)",
    "km²",
    "Reduced by TS (m²)",
    "km²",
    "Cleared (m²)",
    "km²",
    "Total released (m²)",
    "km²",
]

STYLE = """
:root { font-family: "DejaVu Sans", "Noto Sans", Arial, sans-serif; color: #1b1b1b; }
body { margin: 1.5rem auto; max-width: 60rem; padding: 0 1rem; font-size: 10.5pt; }
h1 { font-size: 1.6rem; margin: 0 0 0.3rem; }
h2 { font-size: 1.2rem; border-bottom: 2px solid #263238; padding-bottom: 0.15rem;
     margin-top: 1.6rem; }
h3 { font-size: 1.02rem; margin: 1rem 0 0.3rem; }
.meta { color: #555; margin: 0 0 0.8rem; }
.synthetic { background: #ffd54f; border: 2px solid #c77800; padding: 0.5rem 0.7rem;
             font-weight: bold; margin: 0.6rem 0; }
table { border-collapse: collapse; width: 100%; margin: 0.4rem 0 0.8rem; font-size: 9.5pt; }
caption { text-align: left; font-weight: bold; padding: 0.2rem 0; }
th, td { border: 1px solid #b0b0b0; padding: 0.18rem 0.35rem; }
th { background: #eceff1; text-align: left; }
td:not(:first-child), tfoot th:not(:first-child) { text-align: right;
  font-variant-numeric: tabular-nums; }
tfoot th { background: #cfd8dc; }
table.hazards td:nth-child(-n+5) { text-align: left; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr));
           gap: 0.4rem; margin: 0.6rem 0; }
.figure { border: 1px solid #b0b0b0; padding: 0.35rem 0.5rem; }
.figure b { display: block; font-size: 1.15rem; }
.note { color: #444; font-size: 9pt; }
figure.chart { margin: 0.5rem 0; }
figure.chart svg { width: 100%; height: auto; }
@media print {
  @page { size: A4; margin: 14mm 12mm; }
  body { margin: 0; max-width: none; padding: 0; font-size: 9.5pt; }
  h2 { break-after: avoid; }
  table, figure.chart, .figures { break-inside: avoid; }
  .synthetic { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def annual_html(
    store: Any,
    year: int,
    *,
    role: str = "analyst",
    by: str | None = None,
    name_field: str | None = None,
) -> str:
    """The annual report for ``year`` as one self-contained HTML page, as ``role`` may see it."""
    st = compute(store, role=role, by=by, name_field=name_field, period=Period(year, year))
    trend = compute(
        store,
        role=role,
        by=by,
        name_field=name_field,
        period=Period(year - TREND_YEARS + 1, year),
    )
    return render_annual(st, trend, year)


def render_annual(st: Mapping[str, Any], trend: Mapping[str, Any], year: int) -> str:
    land = st["land_release"]
    hz = st["hazards"]
    dev = st["devices"]
    acc = st["accidents"]
    cas = st["casualties"]
    eore = st["eore"]
    area_label = f"Area ({st['by']})" if st["by"] else "Area"
    parts: list[str] = []
    add = parts.append
    title = f"Mine action annual report {year}"
    add("<!doctype html>")
    add('<html lang="en"><head><meta charset="utf-8">')
    add('<meta name="viewport" content="width=device-width, initial-scale=1">')
    add(f"<title>{e(title)}</title><style>{STYLE}</style></head><body>")
    add(f"<h1>{e(title)}</h1>")
    add(
        f'<p class="meta">1 January – 31 December {e(year)}. Generated {e(st["generated_at"])} '
        f"by demine {e(__version__)} from the records in the store, for the "
        f"<b>{e(st['role'])}</b> role."
        + (f" Administrative areas: reference layer <b>{e(st['by'])}</b>." if st["by"] else "")
        + "</p>"
    )
    if st["synthetic"]:
        add(
            '<p class="synthetic" role="alert">SYNTHETIC DATA — generated for demonstration. '
            "These figures describe no real place and must never be used for safety decisions. "
            "СИНТЕТИЧНІ ДАНІ — лише для демонстрації.</p>"
        )

    # --- headline figures ---
    figs = [
        ("Land released", f"{km2(st['released_m2'])} km²"),
        ("Remaining hazardous area at 31 Dec", f"{km2(hz['remaining_m2'])} km²"),
        ("Hazardous areas open at 31 Dec", n(hz["open"])),
        ("Devices found", n(dev["total"])),
        ("Accidents", n(acc["total"])),
        ("Casualties", n(cas["total"])),
        ("Risk-education beneficiaries", n(eore["beneficiaries"])),
    ]
    add('<section class="figures">')
    for label, value in figs:
        add(f'<div class="figure">{e(label)}<b>{value}</b></div>')
    add("</section>")

    # --- land release (Landmine Monitor) ---
    add(f"<h2>1. Land release in {e(year)}</h2>")
    add(
        '<p class="note">Cancelled: released by non-technical survey; reduced: by technical '
        "survey; cleared: by clearance (IMAS 07.11). A polygon released twice is counted "
        "once, in the year of the earlier release; parts outside a hazard are never counted. "
        "Each piece is rounded to a whole m² once; every total is a sum of those, so the m² "
        "columns add up exactly (km² are shown to three decimals for reading).</p>"
    )
    head = [h.format(label=e(area_label)) for h in LAND_HEAD]
    add(
        _table(
            head,
            (_land_row(r["area"], r) for r in land["by_area"]),
            foot=_land_row("Total", land["total"]),
            cls="land",
            caption=f"Land released in {year}, by area",
        )
    )
    nc = land["not_counted"]
    add(
        f'<p class="note">Not counted: {n(nc["overlap_m2"])} m² released again where land was '
        f"already released; {n(nc['outside_m2'])} m² of release polygons outside their hazard"
        + (
            f"; {n(land['releases_without_hazard'])} release(s) naming no known hazard"
            if land["releases_without_hazard"]
            else ""
        )
        + ".</p>"
    )
    t_land = trend["land_release"]
    head_y = [h.format(label="Year") for h in LAND_HEAD]
    add(
        _table(
            head_y,
            (_land_row(r["period"], r) for r in t_land["by_year"]),
            foot=_land_row("Total", t_land["total"]),
            cls="land-years",
            caption=f"Land released per year, {trend['period']['label']}",
        )
    )
    add(_svg(trend, "released"))
    if st["by"]:
        add(_svg(st, "areas"))

    # --- Form C ---
    add("<h2>2. Article 7, Form C — location of mined areas</h2>")
    add(
        '<p class="note">Hazardous areas recorded by 31 December and not closed by then, with '
        "the area that remained after the land released up to that day. SHA: suspected "
        "hazardous area (indirect evidence); CHA: confirmed hazardous area (direct "
        "evidence). Hazards are counted in the area holding a point inside them; their "
        "remaining area is split among the areas it lies in.</p>"
    )
    rba = hz["remaining_by_area"]
    add(
        _table(
            [
                e(area_label),
                "Hazardous areas",
                "SHA (m²)",
                "CHA (m²)",
                "Remaining (m²)",
                "km²",
            ],
            (
                [
                    e(r["area"]),
                    n(r["hazards"]),
                    n(r["SHA_m2"]),
                    n(r["CHA_m2"]),
                    n(r["remaining_m2"]),
                    km2(r["remaining_m2"]),
                ]
                for r in rba
            ),
            foot=[
                "Total",
                n(hz["open"]),
                n(hz["by_type"]["SHA"]["remaining_m2"]),
                n(hz["by_type"]["CHA"]["remaining_m2"]),
                n(hz["remaining_m2"]),
                km2(hz["remaining_m2"]),
            ],
            caption=f"Hazardous areas remaining at 31 December {year}",
        )
    )
    add(
        _table(
            [
                "Reference",
                "Name",
                "Type",
                e(area_label),
                "Device categories",
                "Recorded (m²)",
                "Remaining (m²)",
            ],
            (
                [
                    e(h["reference"]),
                    e(h["name"]),
                    e(h["hazard_type"]),
                    e(h["area"]),
                    e(_cats(h["device_categories"])),
                    n(h["hazard_m2"]),
                    n(h["remaining_m2"]),
                ]
                for h in hz["open_hazards"]
            ),
            cls="hazards",
            caption="Each hazardous area remaining",
        )
    )

    # --- Form F ---
    add("<h2>3. Article 7, Form F — status of programmes for release and destruction</h2>")
    comp = st["activities"]["completed"]
    add(
        _table(
            ["Progress in " + e(year), "Number"],
            [
                ["Hazardous areas newly recorded", n(hz["reported_in_period"])],
                ["Hazardous areas closed", n(hz["closed_in_period"])],
                ["Non-technical surveys completed", n(comp.get("non_technical_survey", 0))],
                ["Technical surveys completed", n(comp.get("technical_survey", 0))],
                ["Clearance tasks completed", n(comp.get("clearance", 0))],
                ["QA/QC completed", n(comp.get("qa_qc", 0))],
                ["Land released (m²)", n(st["released_m2"])],
                ["Remaining hazardous area at 31 December (m²)", n(hz["remaining_m2"])],
            ],
            caption="Progress",
        )
    )
    states = ("live", "deactivated_intact", "self_destructed_remnant", "unknown")
    cats = [c for c, k in dev["by_category"].items() if k]
    add(
        _table(
            [
                "Device category",
                "Live",
                "Deactivated, intact",
                "Self-destructed remnant",
                "Unknown",
                "Total",
            ],
            (
                [e(c)]
                + [n(dev["by_category_state"][c].get(s, 0)) for s in states]
                + [n(dev["by_category"][c])]
                for c in cats
            ),
            foot=["Total", *(n(dev["by_state"][s]) for s in states), n(dev["total"])],
            caption=f"Devices found in survey and clearance in {year}, by category and state",
        )
    )
    if dev["total"]:
        add(_svg(st, "devices"))

    # --- Form I ---
    add("<h2>4. Article 7, Form I — explosive ordnance risk education</h2>")
    add(
        _table(
            ["Organisation", "Sessions", "Girls", "Boys", "Women", "Men", "Total"],
            (
                [
                    e(org),
                    *(n(v[k]) for k in ("sessions", "girls", "boys", "women", "men")),
                    n(v["beneficiaries"]),
                ]
                for org, v in eore["by_organisation"].items()
            ),
            foot=[
                "Total",
                *(n(eore[k]) for k in ("sessions", "girls", "boys", "women", "men")),
                n(eore["beneficiaries"]),
            ],
            caption=f"Risk education in {year}: sessions and beneficiaries by sex and age "
            "(girls and boys: under 18)",
        )
    )

    # --- accidents and casualties ---
    add("<h2>5. Accidents and casualties</h2>")
    add(
        _table(
            ["Accidents", "Number"],
            [[e(k.replace("_", " ")), n(v)] for k, v in acc["by_type"].items()],
            foot=["Total", n(acc["total"])],
            caption="Accidents by type",
        )
    )
    add(
        _table(
            ["Device category", "Accidents"],
            [[e(k), n(v)] for k, v in acc["by_device_category"].items() if v],
            caption="Accidents by device category",
        )
    )
    add(
        '<p class="note">Casualties are people killed or injured (IMAS 10.60). Only counts are '
        "published here; no personal data."
        + (
            " Counts from 1 to 4 are shown as “&lt;5”, and a breakdown with any such count is "
            "withheld whole so that no small count can be recovered by subtraction from the "
            "total."
            if cas["rule"]
            else " This copy shows exact counts (victim-assistance role): do not publish it."
        )
        + "</p>"
    )
    add(
        _table(
            ["Casualties", "Number"],
            [["All casualties", n(cas["total"])]],
            caption=f"Casualties in {year}",
        )
    )
    names = {
        "outcome": "By outcome",
        "sex": "By sex",
        "age_group": "By age (child: under 18)",
        "victim_type": "By type of victim",
        "accident_type": "By type of accident",
        "area": "By administrative area (of the accident)",
    }
    for key, label in names.items():
        if key not in cas["breakdowns"]:
            continue
        b = cas["breakdowns"][key]
        rows = [
            [e(k.replace("_", " ")), "withheld" if b["withheld"] else n(v)]
            for k, v in b["cells"].items()
        ]
        add(_table([e(label), "Casualties"], rows, cls="casualties", caption=label))

    # --- method and sources ---
    add("<h2>6. Method and sources</h2>")
    add("<ul class='note'>")
    for item in (
        f"Source: the demine register ({st['generated_at']}): hazardous areas, survey and "
        "clearance activities, land-release records, device finds, accidents and victims, "
        "risk-education sessions.",
        st["rules"]["rounding"],
        "Land counts in the year of its release date (released_on); finds in the year found, "
        "accidents and their casualties in the year they happened, risk education in the "
        "year held.",
        st["rules"]["suppression"],
        "Layout: Landmine Monitor land-release tables; Convention on the Prohibition of "
        "Anti-Personnel Mines (Ottawa Convention), Article 7 transparency report Forms C, F "
        "and I.",
    ):
        add(f"<li>{e(item)}</li>")
    add("</ul></body></html>")
    return "\n".join(parts)


def _cats(v: Any) -> str:
    if not v:
        return ""
    if isinstance(v, str):
        return v.replace(",", ", ")
    return ", ".join(str(x) for x in v)


# --- PDF ----------------------------------------------------------------------------------------


def chromium_path() -> str | None:
    """Chromium to print with: $DEMINE_CHROMIUM, Debian's /usr/bin/chromium, or one on PATH."""
    for c in (os.environ.get("DEMINE_CHROMIUM"), CHROMIUM):
        if c and Path(c).is_file():
            return c
    return shutil.which("chromium") or shutil.which("chromium-browser")


def html_to_pdf(page_html: str, out: Path) -> int:
    """Print ``page_html`` to the PDF ``out`` with headless Chromium (Playwright). Returns the
    size in bytes."""
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
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_content(page_html, wait_until="load")
            page.emulate_media(media="print")
            data = page.pdf(
                format="A4",
                print_background=True,
                display_header_footer=True,
                header_template="<span></span>",
                footer_template=(
                    '<div style="font-size:8px;width:100%;text-align:center;color:#555">'
                    'page <span class="pageNumber"></span> / <span class="totalPages"></span>'
                    "</div>"
                ),
                margin={"top": "14mm", "bottom": "16mm", "left": "12mm", "right": "12mm"},
            )
        finally:
            browser.close()
    out.write_bytes(data)
    return len(data)
