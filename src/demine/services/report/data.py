"""The annual report's content as plain data: every heading, note, headline figure and table
cell as text in the report's language, numbers formatted, nothing escaped (the renderers do
that), and the charts as SVG text. :func:`report_data` builds it from the statistics of
:func:`demine.services.stats.compute`; :func:`annual_data` computes those first."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from demine import __version__
from demine.services.charts import render
from demine.services.report.text import (
    ACCIDENT_TYPES_UK,
    TEXT,
    VALUES_UK,
    check_lang,
)
from demine.services.stats import WITHHELD, Period, compute

TREND_YEARS = 5  # the land-release table by year covers the report year and the four before
DEVICE_STATES = ("live", "deactivated_intact", "self_destructed_remnant", "unknown")
EORE_GROUPS = ("sessions", "girls", "boys", "women", "men")

Runs = list[tuple[str, bool]]  # text in runs, True where emphasised


# --- formatting ---------------------------------------------------------------------------------


def text(v: Any) -> str:
    """A value as text (None as an em dash)."""
    return "—" if v is None else str(v)


def count(v: Any) -> str:
    """A count or m² figure: thousands separated; strings ("<5") as they are. The narrow
    no-break space is the thousands separator in both languages."""
    if isinstance(v, bool) or v is None:
        return text(v)
    if isinstance(v, int):
        return f"{v:,}".replace(",", "\u202f")
    if isinstance(v, float):
        return f"{v:,.0f}".replace(",", "\u202f")
    return text(v)


def km2(m2: int | float, lang: str = "en") -> str:
    """An area in km² to three decimals: a decimal point in English, a comma in Ukrainian."""
    s = f"{m2 / 1e6:,.3f}".replace(",", "\u202f")
    return s.replace(".", ",") if lang == "uk" else s


def local_date(stamp: str, lang: str) -> str:
    """The generation time (``YYYY-MM-DDTHH:MM:SSZ``): as it is in English, ``DD.MM.YYYY
    HH:MM UTC`` in Ukrainian."""
    if lang != "uk" or len(stamp) < 16:
        return stamp
    return f"{stamp[8:10]}.{stamp[5:7]}.{stamp[:4]} {stamp[11:16]} UTC"


def runs(template: str, **values: Any) -> Runs:
    """``"a **{b}** c"`` as ``[("a ", False), (str(b), True), (" c", False)]``: the text of
    ``template`` in runs, each formatted with ``values``, True where emphasised."""
    parts = template.split("**")
    return [(part.format(**values), i % 2 == 1) for i, part in enumerate(parts) if part]


def value_name(v: Any, lang: str, names: Mapping[str, str] = VALUES_UK) -> str:
    """A code from the data as shown: as it is (``_`` as spaces) in English, its Ukrainian
    name when it has one."""
    s = str(v)
    if lang == "uk" and s in names:
        return names[s]
    return s.replace("_", " ")


def area_name(name: Any, lang: str) -> Any:
    """An area's name as shown: only the "unassigned" bucket is translated."""
    if lang == "uk" and name == "unassigned":
        return VALUES_UK["unassigned"]
    return name


def code_name(v: Any, lang: str) -> Any:
    """A code (device category, hazard type): as it is in English, its Ukrainian name."""
    if lang == "uk" and v is not None:
        return VALUES_UK.get(str(v), v)
    return v


def categories(v: Any, lang: str = "en") -> str:
    """A hazard's device categories (a list, or text with commas), comma-separated."""
    if not v:
        return ""
    if lang == "uk":
        items = v.split(",") if isinstance(v, str) else v
        return ", ".join(str(code_name(str(x).strip(), lang)) for x in items)
    if isinstance(v, str):
        return v.replace(",", ", ")
    return ", ".join(str(x) for x in v)


# --- the content --------------------------------------------------------------------------------


def table(
    head: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    empty: str,
    foot: Sequence[str] | None = None,
    cls: str = "",
    caption: str | None = None,
) -> dict[str, Any]:
    """One table: its head, rows and foot as text cells; ``empty`` shown when it has no row."""
    return {
        "cls": cls,
        "caption": caption,
        "head": list(head),
        "rows": [list(r) for r in rows],
        "foot": list(foot) if foot is not None else None,
        "empty": empty,
    }


def chart(stats: Mapping[str, Any], name: str, lang: str) -> dict[str, str]:
    """A chart of ``stats`` as SVG text (from its ``<svg`` element on)."""
    svg = render(stats, name, "svg", lang=lang).decode("utf-8")
    return {"name": name, "svg": svg[svg.find("<svg") :]}


def annual_data(
    store: Any,
    year: int,
    *,
    role: str = "analyst",
    by: str | None = None,
    name_field: str | None = None,
    lang: str = "en",
) -> dict[str, Any]:
    """The annual report for ``year`` as plain data (:func:`report_data`), as ``role`` may
    see it, in English (``lang="en"``) or Ukrainian (``"uk"``)."""
    check_lang(lang)
    st = compute(store, role=role, by=by, name_field=name_field, period=Period(year, year))
    trend = compute(
        store,
        role=role,
        by=by,
        name_field=name_field,
        period=Period(year - TREND_YEARS + 1, year),
    )
    return report_data(st, trend, year, lang=lang)


def report_data(
    st: Mapping[str, Any], trend: Mapping[str, Any], year: int, *, lang: str = "en"
) -> dict[str, Any]:
    """The report's content from the statistics of the year (``st``) and of the years up to
    it (``trend``): plain text, numbers formatted for ``lang``, charts as SVG text."""
    r = _Sections(st, trend, year, check_lang(lang))
    t = r.t
    hz, cas = st["hazards"], st["casualties"]
    meta = runs(t["meta"], year=year, generated=r.generated, version=__version__, role=st["role"])
    if st["by"]:
        meta += runs(t["meta_by"], by=st["by"])
    return {
        "lang": lang,
        "year": year,
        "title": t["title"].format(year=year),
        "meta": meta,
        "synthetic": t["synthetic"] if st["synthetic"] else None,
        "figures": [
            (t["fig_released"], f"{km2(st['released_m2'], lang)} {t['km2']}"),
            (t["fig_remaining"], f"{km2(hz['remaining_m2'], lang)} {t['km2']}"),
            (t["fig_open"], count(hz["open"])),
            (t["fig_devices"], count(st["devices"]["total"])),
            (t["fig_accidents"], count(st["accidents"]["total"])),
            (t["fig_casualties"], r.casualties(cas["total"])),
            (t["fig_eore"], count(st["eore"]["beneficiaries"])),
        ],
        "land": r.land(),
        "form_c": r.form_c(),
        "form_f": r.form_f(),
        "form_i": r.form_i(),
        "accidents": r.accidents(),
        "method": r.method(),
    }


class _Sections:
    """The sections of the report, each as plain data, in the words of ``lang``."""

    def __init__(
        self, st: Mapping[str, Any], trend: Mapping[str, Any], year: int, lang: str
    ) -> None:
        self.st, self.trend, self.year, self.lang = st, trend, year, lang
        self.t = t = TEXT[lang]
        self.area_label = t["area_by"].format(by=st["by"]) if st["by"] else t["area"]
        self.total, self.empty = t["total"], t["no_records"]
        self.generated = local_date(st["generated_at"], lang)

    def casualties(self, v: Any) -> str:
        """A casualty figure, or the word for a figure withheld."""
        return str(self.t["withheld"]) if v == WITHHELD else count(v)

    def land_row(self, label: str, r: Mapping[str, Any]) -> list[str]:
        out = [text(label)]
        for k in ("cancelled_m2", "reduced_m2", "cleared_m2", "released_m2"):
            out += [count(r[k]), km2(r[k], self.lang)]
        return out

    def land(self) -> dict[str, Any]:
        """1. Land release (Landmine Monitor): by area in the year, by year up to it."""
        st, t, lang, year = self.st, self.t, self.lang, self.year
        land, t_land = st["land_release"], self.trend["land_release"]
        nc = land["not_counted"]
        not_counted = t["not_counted"].format(
            overlap=count(nc["overlap_m2"]), outside=count(nc["outside_m2"])
        )
        if land["releases_without_hazard"]:
            not_counted += t["no_hazard"].format(k=count(land["releases_without_hazard"]))
        charts = [chart(self.trend, "released", lang)]
        if st["by"]:
            charts.append(chart(st, "areas", lang))
        return {
            "heading": t["h_land"].format(year=year),
            "note": t["land_note"],
            "by_area": table(
                [h.format(label=self.area_label) for h in t["land_head"]],
                (self.land_row(area_name(r["area"], lang), r) for r in land["by_area"]),
                foot=self.land_row(self.total, land["total"]),
                cls="land",
                caption=t["land_caption"].format(year=year),
                empty=self.empty,
            ),
            "not_counted": not_counted + ".",
            "by_year": table(
                [h.format(label=t["year"]) for h in t["land_head"]],
                (self.land_row(r["period"], r) for r in t_land["by_year"]),
                foot=self.land_row(self.total, t_land["total"]),
                cls="land-years",
                caption=t["years_caption"].format(period=self.trend["period"]["label"]),
                empty=self.empty,
            ),
            "charts": charts,
        }

    def form_c(self) -> dict[str, Any]:
        """2. Article 7 Form C: hazardous areas remaining, by area and each."""
        t, lang, hz = self.t, self.lang, self.st["hazards"]
        return {
            "heading": t["h_form_c"],
            "note": t["form_c_note"]
            + (
                t["overlap"].format(
                    n=count(hz["overlapping"]),
                    sum=count(hz["remaining_sum_m2"]),
                    union=count(hz["remaining_m2"]),
                )
                if hz.get("overlapping")
                else ""
            ),
            "remaining": table(
                [self.area_label, *t["c_head"]],
                (
                    [
                        text(area_name(r["area"], lang)),
                        count(r["hazards"]),
                        count(r["SHA_m2"]),
                        count(r["CHA_m2"]),
                        count(r["remaining_m2"]),
                        km2(r["remaining_m2"], lang),
                    ]
                    for r in hz["remaining_by_area"]
                ),
                foot=[
                    self.total,
                    count(hz["open"]),
                    count(hz["by_type"]["SHA"]["remaining_m2"]),
                    count(hz["by_type"]["CHA"]["remaining_m2"]),
                    count(hz["remaining_m2"]),
                    km2(hz["remaining_m2"], lang),
                ],
                caption=t["c_caption"].format(year=self.year),
                empty=self.empty,
            ),
            "hazards": table(
                [h.format(area=self.area_label) for h in t["h_head"]],
                (
                    [
                        text(h["reference"]),
                        text(h["name"]),
                        text(code_name(h["hazard_type"], lang)),
                        text(area_name(h["area"], lang)),
                        text(categories(h["device_categories"], lang)),
                        count(h["hazard_m2"]),
                        count(h["remaining_m2"]),
                    ]
                    for h in hz["open_hazards"]
                ),
                cls="hazards",
                caption=t["h_caption"],
                empty=self.empty,
            ),
        }

    def form_f(self) -> dict[str, Any]:
        """3. Article 7 Form F: progress in the year, devices found."""
        st, t, lang = self.st, self.t, self.lang
        hz, dev, comp = st["hazards"], st["devices"], st["activities"]["completed"]
        progress = [
            hz["reported_in_period"],
            hz["closed_in_period"],
            comp.get("non_technical_survey", 0),
            comp.get("technical_survey", 0),
            comp.get("clearance", 0),
            comp.get("qa_qc", 0),
            st["released_m2"],
            hz["remaining_m2"],
        ]
        cats = [c for c, k in dev["by_category"].items() if k]
        return {
            "heading": t["h_form_f"],
            "progress": table(
                [h.format(year=self.year) for h in t["progress_head"]],
                [[label, count(v)] for label, v in zip(t["progress"], progress, strict=True)],
                caption=t["progress_caption"],
                empty=self.empty,
            ),
            "devices": table(
                t["dev_head"],
                (
                    [text(code_name(c, lang))]
                    + [count(dev["by_category_state"][c].get(s, 0)) for s in DEVICE_STATES]
                    + [count(dev["by_category"][c])]
                    for c in cats
                ),
                foot=[
                    self.total,
                    *(count(dev["by_state"][s]) for s in DEVICE_STATES),
                    count(dev["total"]),
                ],
                caption=t["dev_caption"].format(year=self.year),
                empty=self.empty,
            ),
            "charts": [chart(st, "devices", lang)] if dev["total"] else [],
        }

    def form_i(self) -> dict[str, Any]:
        """4. Article 7 Form I: risk education by organisation."""
        t, eore = self.t, self.st["eore"]
        return {
            "heading": t["h_form_i"],
            "eore": table(
                t["eore_head"],
                (
                    [text(org), *(count(v[k]) for k in EORE_GROUPS), count(v["beneficiaries"])]
                    for org, v in eore["by_organisation"].items()
                ),
                foot=[
                    self.total,
                    *(count(eore[k]) for k in EORE_GROUPS),
                    count(eore["beneficiaries"]),
                ],
                caption=t["eore_caption"].format(year=self.year),
                empty=self.empty,
            ),
        }

    def accidents(self) -> dict[str, Any]:
        """5. Accidents and casualties: aggregates only, as the role may see them."""
        t, lang = self.t, self.lang
        acc, cas = self.st["accidents"], self.st["casualties"]
        breakdowns = []
        for key, label in t["breakdowns"].items():
            if key not in cas["breakdowns"]:
                continue
            b = cas["breakdowns"][key]
            names = ACCIDENT_TYPES_UK if key == "accident_type" else VALUES_UK
            rows = [
                [
                    text(
                        area_name(k, lang)
                        if key == "area" and lang == "uk"
                        else value_name(k, lang, names)
                    ),
                    t["withheld"] if b["withheld"] else count(v),
                ]
                for k, v in b["cells"].items()
            ]
            head = [label, t["cas_col"]]
            breakdowns.append(table(head, rows, cls="casualties", caption=label, empty=self.empty))
        return {
            "heading": t["h_accidents"],
            "by_type": table(
                t["acc_head"],
                [
                    [text(value_name(k, lang, ACCIDENT_TYPES_UK)), count(v)]
                    for k, v in acc["by_type"].items()
                ],
                foot=[self.total, count(acc["total"])],
                caption=t["acc_caption"],
                empty=self.empty,
            ),
            "by_device": table(
                t["acc_dev_head"],
                [
                    [text(code_name(k, lang)), count(v)]
                    for k, v in acc["by_device_category"].items()
                    if v
                ],
                caption=t["acc_dev_caption"],
                empty=self.empty,
            ),
            "note": t["cas_note"] + (t["cas_rule"] if cas["rule"] else t["cas_exact"]),
            "casualties": table(
                t["cas_head"],
                [[t["cas_all"], self.casualties(cas["total"])]],
                caption=t["cas_caption"].format(year=self.year),
                empty=self.empty,
            ),
            "breakdowns": breakdowns,
        }

    def method(self) -> dict[str, Any]:
        """6. Method and sources."""
        t, rules = self.t, self.st["rules"]
        return {
            "heading": t["h_method"],
            "points": [
                t["source"].format(generated=self.generated),
                t.get("rounding", rules["rounding"]),
                t["counting"],
                t.get("suppression", rules["suppression"]),
                t["layout"],
            ],
        }
