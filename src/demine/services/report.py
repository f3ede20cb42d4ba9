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
from demine.errors import DemineError, Fault, ValidationError
from demine.files import write_private
from demine.model.synthetic import SYNTHETIC_NOTICE, SYNTHETIC_NOTICE_UK
from demine.services.charts import render
from demine.services.stats import WITHHELD, Period, compute

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
    """A count or m² figure: thousands separated; strings ("<5") as they are. The narrow
    no-break space is the thousands separator in both languages."""
    if isinstance(v, bool) or v is None:
        return e(v)
    if isinstance(v, int):
        return f"{v:,}".replace(",", "\u202f")
    if isinstance(v, float):
        return f"{v:,.0f}".replace(",", "\u202f")
    return e(v)


def km2(m2: int | float, lang: str = "en") -> str:
    """An area in km² to three decimals: a decimal point in English, a comma in Ukrainian."""
    s = f"{m2 / 1e6:,.3f}".replace(",", "\u202f")
    return s.replace(".", ",") if lang == "uk" else s


def _date(stamp: str, lang: str) -> str:
    """The generation time (``YYYY-MM-DDTHH:MM:SSZ``): as it is in English, ``DD.MM.YYYY
    HH:MM UTC`` in Ukrainian."""
    if lang != "uk" or len(stamp) < 16:
        return stamp
    return f"{stamp[8:10]}.{stamp[5:7]}.{stamp[:4]} {stamp[11:16]} UTC"


def _table(
    head: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    foot: Sequence[Any] | None = None,
    cls: str = "",
    caption: str | None = None,
    empty: str = "No records.",
) -> str:
    """A table; cells already formatted as HTML (each value escaped by its formatter)."""
    out = [f'<table class="{e(cls)}">']
    if caption:
        out.append(f"<caption>{e(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>")
    body = ["<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows]
    out.append("".join(body) or f'<tr><td colspan="{len(head)}">{e(empty)}</td></tr>')
    out.append("</tbody>")
    if foot is not None:
        out.append("<tfoot><tr>" + "".join(f"<th>{c}</th>" for c in foot) + "</tr></tfoot>")
    out.append("</table>")
    return "".join(out)


def _svg(stats: Mapping[str, Any], name: str, lang: str = "en") -> str:
    svg = render(stats, name, "svg", lang=lang).decode("utf-8")
    start = svg.find("<svg")
    return f'<figure class="chart" data-chart="{e(name)}">{svg[start:]}</figure>'


def _land_row(label: str, r: Mapping[str, Any], lang: str = "en") -> list[str]:
    out = [e(label)]
    for k in ("cancelled_m2", "reduced_m2", "cleared_m2", "released_m2"):
        out += [n(r[k]), km2(r[k], lang)]
    return out


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


LANGS = ("en", "uk")

# Every fixed string of the report, by language. Values that are codes in the data (device
# categories, hazard types, casualty breakdown cells) are shown as they are in English and
# through VALUES in Ukrainian.
TEXT: dict[str, dict[str, Any]] = {
    "en": {
        "title": "Mine action annual report {year}",
        "meta": "1 January – 31 December {year}. Generated {generated} by demine {version} "
        "from the records in the store, for the <b>{role}</b> role.",
        "meta_by": " Administrative areas: reference layer <b>{by}</b>.",
        "synthetic": "SYNTHETIC DATA — generated for demonstration. These figures describe no "
        "real place and must never be used for safety decisions. СИНТЕТИЧНІ ДАНІ — лише для "
        "демонстрації.",
        "area": "Area",
        "area_by": "Area ({by})",
        "total": "Total",
        "no_records": "No records.",
        "fig_released": "Land released",
        "fig_remaining": "Remaining hazardous area at 31 Dec",
        "fig_open": "Hazardous areas open at 31 Dec",
        "fig_devices": "Devices found",
        "fig_accidents": "Accidents",
        "fig_casualties": "Casualties",
        "fig_eore": "Risk-education beneficiaries",
        "km2": "km²",
        "h_land": "1. Land release in {year}",
        "land_note": "Cancelled: released by non-technical survey; reduced: by technical "
        "survey; cleared: by clearance (IMAS 07.11). A polygon released twice is counted "
        "once, in the year of the earlier release; parts outside a hazard are never counted. "
        "Each piece is rounded to a whole m² once; every total is a sum of those, so the m² "
        "columns add up exactly (km² are shown to three decimals for reading).",
        "land_head": [
            "{label}",
            "Cancelled by NTS (m²)",
            "km²",
            "Reduced by TS (m²)",
            "km²",
            "Cleared (m²)",
            "km²",
            "Total released (m²)",
            "km²",
        ],
        "land_caption": "Land released in {year}, by area",
        "not_counted": "Not counted: {overlap} m² released again where land was already "
        "released; {outside} m² of release polygons outside their hazard",
        "no_hazard": "; {k} release(s) naming no known hazard",
        "year": "Year",
        "years_caption": "Land released per year, {period}",
        "h_form_c": "2. Article 7, Form C — location of mined areas",
        "form_c_note": "Hazardous areas recorded by 31 December and not closed by then, with "
        "the area that remained after the land released up to that day. SHA: suspected "
        "hazardous area (indirect evidence); CHA: confirmed hazardous area (direct "
        "evidence). Hazards are counted in the area holding a point inside them; their "
        "remaining area is split among the areas it lies in.",
        "c_head": ["Hazardous areas", "SHA (m²)", "CHA (m²)", "Remaining (m²)", "km²"],
        "c_caption": "Hazardous areas remaining at 31 December {year}",
        "h_head": [
            "Reference",
            "Name",
            "Type",
            "{area}",
            "Device categories",
            "Recorded (m²)",
            "Remaining (m²)",
        ],
        "h_caption": "Each hazardous area remaining",
        "h_form_f": "3. Article 7, Form F — status of programmes for release and destruction",
        "progress_head": ["Progress in {year}", "Number"],
        "progress": [
            "Hazardous areas newly recorded",
            "Hazardous areas closed",
            "Non-technical surveys completed",
            "Technical surveys completed",
            "Clearance tasks completed",
            "QA/QC completed",
            "Land released (m²)",
            "Remaining hazardous area at 31 December (m²)",
        ],
        "progress_caption": "Progress",
        "dev_head": [
            "Device category",
            "Live",
            "Deactivated, intact",
            "Self-destructed remnant",
            "Unknown",
            "Total",
        ],
        "dev_caption": "Devices found in survey and clearance in {year}, by category and state",
        "h_form_i": "4. Article 7, Form I — explosive ordnance risk education",
        "eore_head": ["Organisation", "Sessions", "Girls", "Boys", "Women", "Men", "Total"],
        "eore_caption": "Risk education in {year}: sessions and beneficiaries by sex and age "
        "(girls and boys: under 18)",
        "h_accidents": "5. Accidents and casualties",
        "acc_head": ["Accidents", "Number"],
        "acc_caption": "Accidents by type",
        "acc_dev_head": ["Device category", "Accidents"],
        "acc_dev_caption": "Accidents by device category",
        "cas_note": "Casualties are people killed or injured (IMAS 10.60). Only counts are "
        "published here; no personal data.",
        "cas_rule": " Counts from 1 to 4 are shown as “&lt;5”; a figure of people from fewer "
        "than 3 accidents is withheld, and so is a breakdown with any such small cell in any "
        "year, whole, so that no small count and no single accident's casualties can be "
        "recovered by subtraction from the total or from another period.",
        "cas_exact": " This copy shows exact counts (victim-assistance role): do not publish it.",
        "cas_head": ["Casualties", "Number"],
        "cas_all": "All casualties",
        "cas_caption": "Casualties in {year}",
        "breakdowns": {
            "outcome": "By outcome",
            "sex": "By sex",
            "age_group": "By age (child: under 18)",
            "victim_type": "By type of victim",
            "accident_type": "By type of accident",
            "area": "By administrative area (of the accident)",
        },
        "cas_col": "Casualties",
        "withheld": "withheld",
        "h_method": "6. Method and sources",
        "source": "Source: the demine register ({generated}): hazardous areas, survey and "
        "clearance activities, land-release records, device finds, accidents and victims, "
        "risk-education sessions.",
        "counting": "Land counts in the year of its release date (released_on); finds in the "
        "year found, accidents and their casualties in the year they happened, risk education "
        "in the year held.",
        "layout": "Layout: Landmine Monitor land-release tables; Convention on the Prohibition "
        "of Anti-Personnel Mines (Ottawa Convention), Article 7 transparency report Forms C, F "
        "and I.",
        "pdf_page": "page",
    },
    "uk": {
        "title": "Річний звіт з протимінної діяльності за {year} рік",
        "meta": "1 січня – 31 грудня {year} р. Створено {generated} програмою demine {version} "
        "на основі записів сховища, для ролі <b>{role}</b>.",
        "meta_by": " Адміністративні одиниці: довідковий шар <b>{by}</b>.",
        "synthetic": f"{SYNTHETIC_NOTICE_UK} Ці показники не описують жодного реального місця. "
        f"({SYNTHETIC_NOTICE})",
        "area": "Територія",
        "area_by": "Територія ({by})",
        "total": "Усього",
        "no_records": "Записів немає.",
        "fig_released": "Звільнено земель",
        "fig_remaining": "Залишок небезпечної площі на 31 грудня",
        "fig_open": "Незакриті небезпечні райони на 31 грудня",
        "fig_devices": "Виявлено вибухонебезпечних предметів (ВНП)",
        "fig_accidents": "Нещасні випадки",
        "fig_casualties": "Постраждалі",
        "fig_eore": "Охоплено навчанням ризикам ВНП (осіб)",
        "km2": "км²",
        "h_land": "1. Звільнення земель у {year} році",
        "land_note": "Скасовано: звільнено нетехнічним обстеженням; зменшено: технічним "
        "обстеженням; очищено: очищенням (IMAS 07.11). Полігон, звільнений двічі, враховується "
        "один раз — у році першого звільнення; частини поза небезпечним районом не "
        "враховуються ніколи. Кожну частину округлено до цілого м² один раз; кожен підсумок є "
        "сумою цих значень, тож стовпці м² сходяться точно (км² показано з трьома знаками "
        "після коми для зручності читання).",
        "land_head": [
            "{label}",
            "Скасовано нетехнічним обстеженням (м²)",
            "км²",
            "Зменшено технічним обстеженням (м²)",
            "км²",
            "Очищено (м²)",
            "км²",
            "Усього звільнено (м²)",
            "км²",
        ],
        "land_caption": "Звільнені землі у {year} році за територіями",
        "not_counted": "Не враховано: {overlap} м² повторного звільнення там, де землі вже було "
        "звільнено; {outside} м² полігонів звільнення поза межами їхнього небезпечного району",
        "no_hazard": "; записів про звільнення без відомого небезпечного району: {k}",
        "year": "Рік",
        "years_caption": "Звільнені землі за роками, {period}",
        "h_form_c": "2. Стаття 7 Оттавської конвенції, форма C — розташування замінованих районів",
        "form_c_note": "Небезпечні райони, зареєстровані до 31 грудня й не закриті на цю дату, "
        "з площею, що залишилася після звільнення земель до цього дня. ПНР: підозріло "
        "небезпечний район (непрямі ознаки); ПтНР: підтверджено небезпечний район (прямі "
        "докази). Небезпечний район враховується на тій території, де лежить точка всередині "
        "нього; його залишкова площа розподіляється між територіями, на яких він розташований.",
        "c_head": [
            "Небезпечні райони",
            "ПНР (м²)",
            "ПтНР (м²)",
            "Залишок (м²)",
            "км²",
        ],
        "c_caption": "Небезпечні райони, що залишалися на 31 грудня {year} р.",
        "h_head": [
            "Реєстраційний номер",
            "Назва",
            "Тип",
            "{area}",
            "Категорії ВНП",
            "Зареєстровано (м²)",
            "Залишок (м²)",
        ],
        "h_caption": "Кожен небезпечний район, що залишився",
        "h_form_f": "3. Стаття 7 Оттавської конвенції, форма F — стан виконання програм "
        "звільнення земель і знищення",
        "progress_head": ["Результати за {year} рік", "Кількість"],
        "progress": [
            "Нових зареєстрованих небезпечних районів",
            "Закритих небезпечних районів",
            "Завершених нетехнічних обстежень",
            "Завершених технічних обстежень",
            "Завершених завдань з очищення",
            "Завершених перевірок контролю якості (QA/QC)",
            "Звільнено земель (м²)",
            "Залишок небезпечної площі на 31 грудня (м²)",
        ],
        "progress_caption": "Результати",
        "dev_head": [
            "Категорія ВНП",
            "Бойові",
            "Деактивовані, цілі",
            "Залишки після самоліквідації",
            "Стан невідомий",
            "Усього",
        ],
        "dev_caption": "Вибухонебезпечні предмети (ВНП), виявлені під час обстеження та "
        "очищення у {year} році, за категоріями і станом",
        "h_form_i": "4. Стаття 7 Оттавської конвенції, форма I — навчання ризикам ВНП",
        "eore_head": [
            "Організація",
            "Заняття",
            "Дівчата",
            "Хлопці",
            "Жінки",
            "Чоловіки",
            "Усього",
        ],
        "eore_caption": "Навчання ризикам ВНП у {year} році: заняття та учасники за статтю й "
        "віком (дівчата і хлопці: до 18 років)",
        "h_accidents": "5. Нещасні випадки та постраждалі",
        "acc_head": ["Нещасні випадки", "Кількість"],
        "acc_caption": "Нещасні випадки за типом",
        "acc_dev_head": ["Категорія ВНП", "Нещасні випадки"],
        "acc_dev_caption": "Нещасні випадки за категорією ВНП",
        "cas_note": "Постраждалі — загиблі або поранені особи (IMAS 10.60). Тут публікуються "
        "лише кількості; жодних персональних даних.",
        "cas_rule": " Кількості від 1 до 4 показано як «&lt;5»; показник, що охоплює "
        "постраждалих менш ніж від 3 нещасних випадків, не публікується, як і повністю розподіл "
        "із хоча б одною такою малою кількістю в будь-якому році, щоб ні малу кількість, ні "
        "кількість постраждалих одного нещасного випадку не можна було відновити відніманням від "
        "загальної чи від іншого періоду.",
        "cas_exact": " Ця копія містить точні кількості (роль допомоги постраждалим): не "
        "публікуйте її.",
        "cas_head": ["Постраждалі", "Кількість"],
        "cas_all": "Усі постраждалі",
        "cas_caption": "Постраждалі у {year} році",
        "breakdowns": {
            "outcome": "За наслідками",
            "sex": "За статтю",
            "age_group": "За віком (діти: до 18 років)",
            "victim_type": "За категорією постраждалих",
            "accident_type": "За типом нещасного випадку",
            "area": "За адміністративною одиницею (місця нещасного випадку)",
        },
        "cas_col": "Постраждалі",
        "withheld": "не публікується",
        "h_method": "6. Методика та джерела",
        "source": "Джерело: реєстр demine ({generated}): небезпечні райони, заходи з "
        "обстеження та очищення, записи про звільнення земель, знахідки ВНП, нещасні випадки "
        "та постраждалі, заняття з навчання ризикам ВНП.",
        "counting": "Землі враховуються в році дати звільнення (released_on); знахідки — у "
        "році виявлення, нещасні випадки та їхні постраждалі — у році, коли вони сталися, "
        "навчання ризикам ВНП — у році проведення.",
        "layout": "Макет: таблиці звільнення земель Landmine Monitor; звіт про заходи "
        "прозорості за статтею 7 Конвенції про заборону протипіхотних мін (Оттавська "
        "конвенція), форми C, F та I.",
        "rounding": "Площі геодезичні (WGS 84). Кожну зараховану частину звільнення розділено "
        "за адміністративними одиницями й округлено до цілого м² один раз; кожен інший "
        "показник є сумою цих цілих чисел, тож скасовано + зменшено + очищено = звільнено "
        "точно, а рядки в сумі дають підсумок.",
        "suppression": "Дані про постраждалих агреговані й складені з окремих календарних "
        "років. Для ролей, крім victim_assistance та admin, показник року малий, якщо він "
        "охоплює від 1 до 4 осіб або постраждалих менш ніж від 3 нещасних випадків. Загальна "
        "кількість публікується, лише якщо жоден рік періоду не малий (інакше «<5» для 1–4, "
        "або «не публікується»); розподіл не публікується повністю (його клітинки порожні), "
        "якщо будь-яка його клітинка мала в будь-якому році періоду, а за адміністративними "
        "одиницями — завжди. Тож кожен опублікований показник — сума цілих років без малих "
        "клітинок, і ні клітинки однієї відповіді, ні два періоди не можна відняти одне від "
        "одного, щоб отримати малу кількість чи постраждалих одного нещасного випадку. 0 "
        "лишається 0.",
        "pdf_page": "сторінка",
    },
}

# Ukrainian names of the codes shown in the report (English shows the codes themselves).
VALUES_UK = {
    # hazard types
    "SHA": "ПНР",
    "CHA": "ПтНР",
    # device categories
    "ap_blast": "протипіхотні фугасні міни",
    "ap_fragmentation": "протипіхотні осколкові міни",
    "at": "протитранспортні міни",
    "uxo": "нерозірвані боєприпаси",
    "cluster_submunition": "касетні суббоєприпаси",
    "ied": "саморобні вибухові пристрої (СВП)",
    "other": "інші",
    "unknown": "невідомо",
    # accident types, outcomes, sex, age, victims
    "demining": "під час розмінування",
    "civilian": "цивільні",
    "killed": "загиблі",
    "injured": "поранені",
    "female": "жіноча",
    "male": "чоловіча",
    "child": "діти",
    "adult": "дорослі",
    "deminer": "сапери",
    "military": "військові",
    "unassigned": "поза межами адміністративних одиниць",
}
ACCIDENT_TYPES_UK = {"demining": "під час розмінування", "civilian": "серед цивільного населення"}


def _v(v: Any, lang: str, names: Mapping[str, str] = VALUES_UK) -> str:
    """A code from the data as shown: as it is (``_`` as spaces) in English, its Ukrainian
    name when it has one."""
    s = str(v)
    if lang == "uk" and s in names:
        return names[s]
    return s.replace("_", " ")


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValidationError(
            f"unknown report language {lang!r}",
            [Fault(f"expected one of {', '.join(LANGS)}", field="lang")],
        )
    return lang


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
    check_lang(lang)
    st = compute(store, role=role, by=by, name_field=name_field, period=Period(year, year))
    trend = compute(
        store,
        role=role,
        by=by,
        name_field=name_field,
        period=Period(year - TREND_YEARS + 1, year),
    )
    return render_annual(st, trend, year, lang=lang)


def render_annual(
    st: Mapping[str, Any], trend: Mapping[str, Any], year: int, *, lang: str = "en"
) -> str:
    t = TEXT[check_lang(lang)]
    land = st["land_release"]
    hz = st["hazards"]
    dev = st["devices"]
    acc = st["accidents"]
    cas = st["casualties"]
    eore = st["eore"]
    area_label = t["area_by"].format(by=st["by"]) if st["by"] else t["area"]
    total = t["total"]
    empty = t["no_records"]
    generated = _date(st["generated_at"], lang)
    parts: list[str] = []
    add = parts.append
    title = t["title"].format(year=year)
    add("<!doctype html>")
    add(f'<html lang="{lang}"><head><meta charset="utf-8">')
    add('<meta name="viewport" content="width=device-width, initial-scale=1">')
    add(f"<title>{e(title)}</title><style>{STYLE}</style></head><body>")
    add(f"<h1>{e(title)}</h1>")
    add(
        '<p class="meta">'
        + t["meta"].format(
            year=e(year), generated=e(generated), version=e(__version__), role=e(st["role"])
        )
        + (t["meta_by"].format(by=e(st["by"])) if st["by"] else "")
        + "</p>"
    )
    if st["synthetic"]:
        add(f'<p class="synthetic" role="alert">{e(t["synthetic"])}</p>')

    # --- headline figures ---
    figs = [
        ("fig_released", f"{km2(st['released_m2'], lang)} {t['km2']}"),
        ("fig_remaining", f"{km2(hz['remaining_m2'], lang)} {t['km2']}"),
        ("fig_open", n(hz["open"])),
        ("fig_devices", n(dev["total"])),
        ("fig_accidents", n(acc["total"])),
        ("fig_casualties", t["withheld"] if cas["total"] == WITHHELD else n(cas["total"])),
        ("fig_eore", n(eore["beneficiaries"])),
    ]
    add('<section class="figures">')
    for key, value in figs:
        add(f'<div class="figure">{e(t[key])}<b>{value}</b></div>')
    add("</section>")

    # --- land release (Landmine Monitor) ---
    add(f"<h2>{t['h_land'].format(year=e(year))}</h2>")
    add(f'<p class="note">{t["land_note"]}</p>')
    head = [h.format(label=e(area_label)) for h in t["land_head"]]
    add(
        _table(
            head,
            (_land_row(_area(r["area"], lang), r, lang) for r in land["by_area"]),
            foot=_land_row(total, land["total"], lang),
            cls="land",
            caption=t["land_caption"].format(year=year),
            empty=empty,
        )
    )
    nc = land["not_counted"]
    add(
        '<p class="note">'
        + t["not_counted"].format(overlap=n(nc["overlap_m2"]), outside=n(nc["outside_m2"]))
        + (
            t["no_hazard"].format(k=n(land["releases_without_hazard"]))
            if land["releases_without_hazard"]
            else ""
        )
        + ".</p>"
    )
    t_land = trend["land_release"]
    head_y = [h.format(label=t["year"]) for h in t["land_head"]]
    add(
        _table(
            head_y,
            (_land_row(r["period"], r, lang) for r in t_land["by_year"]),
            foot=_land_row(total, t_land["total"], lang),
            cls="land-years",
            caption=t["years_caption"].format(period=trend["period"]["label"]),
            empty=empty,
        )
    )
    add(_svg(trend, "released", lang))
    if st["by"]:
        add(_svg(st, "areas", lang))

    # --- Form C ---
    add(f"<h2>{e(t['h_form_c'])}</h2>")
    add(f'<p class="note">{e(t["form_c_note"])}</p>')
    rba = hz["remaining_by_area"]
    add(
        _table(
            [e(area_label), *t["c_head"]],
            (
                [
                    e(_area(r["area"], lang)),
                    n(r["hazards"]),
                    n(r["SHA_m2"]),
                    n(r["CHA_m2"]),
                    n(r["remaining_m2"]),
                    km2(r["remaining_m2"], lang),
                ]
                for r in rba
            ),
            foot=[
                total,
                n(hz["open"]),
                n(hz["by_type"]["SHA"]["remaining_m2"]),
                n(hz["by_type"]["CHA"]["remaining_m2"]),
                n(hz["remaining_m2"]),
                km2(hz["remaining_m2"], lang),
            ],
            caption=t["c_caption"].format(year=year),
            empty=empty,
        )
    )
    add(
        _table(
            [h.format(area=e(area_label)) for h in t["h_head"]],
            (
                [
                    e(h["reference"]),
                    e(h["name"]),
                    e(_code(h["hazard_type"], lang)),
                    e(_area(h["area"], lang)),
                    e(_cats(h["device_categories"], lang)),
                    n(h["hazard_m2"]),
                    n(h["remaining_m2"]),
                ]
                for h in hz["open_hazards"]
            ),
            cls="hazards",
            caption=t["h_caption"],
            empty=empty,
        )
    )

    # --- Form F ---
    add(f"<h2>{e(t['h_form_f'])}</h2>")
    comp = st["activities"]["completed"]
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
    add(
        _table(
            [h.format(year=e(year)) for h in t["progress_head"]],
            [[label, n(v)] for label, v in zip(t["progress"], progress, strict=True)],
            caption=t["progress_caption"],
            empty=empty,
        )
    )
    states = ("live", "deactivated_intact", "self_destructed_remnant", "unknown")
    cats = [c for c, k in dev["by_category"].items() if k]
    add(
        _table(
            t["dev_head"],
            (
                [e(_code(c, lang))]
                + [n(dev["by_category_state"][c].get(s, 0)) for s in states]
                + [n(dev["by_category"][c])]
                for c in cats
            ),
            foot=[total, *(n(dev["by_state"][s]) for s in states), n(dev["total"])],
            caption=t["dev_caption"].format(year=year),
            empty=empty,
        )
    )
    if dev["total"]:
        add(_svg(st, "devices", lang))

    # --- Form I ---
    add(f"<h2>{e(t['h_form_i'])}</h2>")
    add(
        _table(
            t["eore_head"],
            (
                [
                    e(org),
                    *(n(v[k]) for k in ("sessions", "girls", "boys", "women", "men")),
                    n(v["beneficiaries"]),
                ]
                for org, v in eore["by_organisation"].items()
            ),
            foot=[
                total,
                *(n(eore[k]) for k in ("sessions", "girls", "boys", "women", "men")),
                n(eore["beneficiaries"]),
            ],
            caption=t["eore_caption"].format(year=year),
            empty=empty,
        )
    )

    # --- accidents and casualties ---
    add(f"<h2>{e(t['h_accidents'])}</h2>")
    add(
        _table(
            t["acc_head"],
            [[e(_v(k, lang, ACCIDENT_TYPES_UK)), n(v)] for k, v in acc["by_type"].items()],
            foot=[total, n(acc["total"])],
            caption=t["acc_caption"],
            empty=empty,
        )
    )
    add(
        _table(
            t["acc_dev_head"],
            [[e(_code(k, lang)), n(v)] for k, v in acc["by_device_category"].items() if v],
            caption=t["acc_dev_caption"],
            empty=empty,
        )
    )
    add(
        '<p class="note">'
        + t["cas_note"]
        + (t["cas_rule"] if cas["rule"] else t["cas_exact"])
        + "</p>"
    )
    add(
        _table(
            t["cas_head"],
            [[t["cas_all"], t["withheld"] if cas["total"] == WITHHELD else n(cas["total"])]],
            caption=t["cas_caption"].format(year=year),
            empty=empty,
        )
    )
    for key, label in t["breakdowns"].items():
        if key not in cas["breakdowns"]:
            continue
        b = cas["breakdowns"][key]
        names = ACCIDENT_TYPES_UK if key == "accident_type" else VALUES_UK
        rows = [
            [
                e(_area(k, lang) if key == "area" and lang == "uk" else _v(k, lang, names)),
                t["withheld"] if b["withheld"] else n(v),
            ]
            for k, v in b["cells"].items()
        ]
        add(_table([e(label), t["cas_col"]], rows, cls="casualties", caption=label, empty=empty))

    # --- method and sources ---
    add(f"<h2>{e(t['h_method'])}</h2>")
    add("<ul class='note'>")
    rules = st["rules"]
    for item in (
        t["source"].format(generated=generated),
        t.get("rounding", rules["rounding"]),
        t["counting"],
        t.get("suppression", rules["suppression"]),
        t["layout"],
    ):
        add(f"<li>{e(item)}</li>")
    add("</ul></body></html>")
    return "\n".join(parts)


def _area(name: Any, lang: str) -> Any:
    """An area's name as shown: only the "unassigned" bucket is translated."""
    if lang == "uk" and name == "unassigned":
        return VALUES_UK["unassigned"]
    return name


def _code(v: Any, lang: str) -> Any:
    """A code (device category, hazard type): as it is in English, its Ukrainian name."""
    if lang == "uk" and v is not None:
        return VALUES_UK.get(str(v), v)
    return v


def _cats(v: Any, lang: str = "en") -> str:
    if not v:
        return ""
    if lang == "uk":
        items = v.split(",") if isinstance(v, str) else v
        return ", ".join(str(_code(str(x).strip(), lang)) for x in items)
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
