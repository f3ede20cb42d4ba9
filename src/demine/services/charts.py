"""Charts of the statistics, as PNG or SVG (matplotlib, Agg; no display needed).

Each chart is drawn from the JSON of :func:`demine.services.stats.compute`, so a chart shows
exactly the figures ``demine stats`` prints. A store marked synthetic gets a SYNTHETIC label on
every chart. SVG text stays text (searchable, and selectable in the PDF report).

* ``released``: land released per year, stacked by type (cancelled, reduced, cleared), km²;
* ``areas``: land released per administrative area, stacked by type, km²;
* ``devices``: devices found per category, stacked by state.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

CHARTS = ("released", "areas", "devices")
FORMATS = ("svg", "png")
MEDIA_TYPES = {"svg": "image/svg+xml", "png": "image/png"}
COLOURS = {"cancelled": "#9ecae1", "reduced": "#4292c6", "cleared": "#2b8a3e"}
STATE_COLOURS = {
    "live": "#b2182b",
    "deactivated_intact": "#ef8a62",
    "self_destructed_remnant": "#999999",
    "unknown": "#d9d9d9",
}
_LOCK = threading.Lock()  # rcParams are global: one chart at a time

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "released": "Land released per year",
        "areas": "Land released per administrative area",
        "devices": "Devices found per category",
        "km2": "km²",
        "count": "devices",
        "cancelled": "Cancelled (non-technical survey)",
        "reduced": "Reduced (technical survey)",
        "cleared": "Cleared",
        "live": "live",
        "deactivated_intact": "deactivated, intact",
        "self_destructed_remnant": "self-destructed remnant",
        "unknown": "unknown",
        "no_data": "No data for this period",
        "synthetic": "SYNTHETIC — demonstration data, not for safety decisions",
        "period": "Period",
        "all": "all years",
        "unassigned": "unassigned",
        "ap_blast": "AP blast",
        "ap_fragmentation": "AP fragmentation",
        "at": "anti-vehicle",
        "uxo": "UXO",
        "cluster_submunition": "submunition",
        "ied": "IED",
        "other": "other",
    },
    "uk": {
        "released": "Вивільнені території за роками",
        "areas": "Вивільнені території за адміністративними одиницями",
        "devices": "Знайдені боєприпаси за категоріями",
        "km2": "км²",
        "count": "предметів",
        "cancelled": "Скасовано (нетехнічне обстеження)",
        "reduced": "Зменшено (технічне обстеження)",
        "cleared": "Очищено (розмінування)",
        "live": "бойовий",
        "deactivated_intact": "деактивований, цілий",
        "self_destructed_remnant": "залишки після самоліквідації",
        "unknown": "невідомо",
        "no_data": "Немає даних за цей період",
        "synthetic": "SYNTHETIC — синтетичні дані, не для рішень щодо безпеки",
        "period": "Період",
        "all": "усі роки",
        "unassigned": "поза межами",
        "ap_blast": "протипіхотні\nфугасні",
        "ap_fragmentation": "протипіхотні\nосколкові",
        "at": "протитранспортні",
        "uxo": "НВБ",
        "cluster_submunition": "суббоєприпаси",
        "ied": "СВП",
        "other": "інше",
    },
}


def _t(lang: str, key: str) -> str:
    table = TEXT.get(lang, TEXT["en"])
    return table.get(key, TEXT["en"].get(key, key))


def _stack(
    ax: Any,
    labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    colours: Mapping[str, str],
    lang: str,
    horizontal: bool = False,
) -> None:
    base = [0.0] * len(labels)
    pos = list(range(len(labels)))
    for key, values in series.items():
        if horizontal:
            ax.barh(pos, values, left=base, color=colours[key], label=_t(lang, key))
        else:
            ax.bar(pos, values, bottom=base, color=colours[key], label=_t(lang, key))
        base = [b + v for b, v in zip(base, values, strict=True)]
    if horizontal:
        ax.set_yticks(pos, labels)
        ax.invert_yaxis()
    else:
        ax.set_xticks(pos, labels, rotation=0 if len(labels) < 8 else 45)
    ax.figure.legend(fontsize=8, frameon=False, loc="outside lower center", ncols=3)
    ax.spines[["top", "right"]].set_visible(False)


def render(stats: Mapping[str, Any], name: str, fmt: str = "svg", lang: str = "en") -> bytes:
    """Chart ``name`` (one of :data:`CHARTS`) of ``stats`` as ``fmt`` (svg or png)."""
    if name not in CHARTS:
        raise ValueError(f"unknown chart {name!r}: expected one of {', '.join(CHARTS)}")
    if fmt not in FORMATS:
        raise ValueError(f"unknown chart format {fmt!r}: expected svg or png")
    with (
        _LOCK,
        matplotlib.rc_context(
            {"svg.fonttype": "none", "svg.hashsalt": f"demine-{name}", "font.size": 9}
        ),
    ):
        fig = Figure(figsize=(7.0, 3.8), dpi=100, layout="constrained")
        ax = fig.add_subplot()
        period = stats.get("period")
        sub = f"{_t(lang, 'period')}: {period['label'] if period else _t(lang, 'all')}"
        ax.set_title(f"{_t(lang, name)} — {sub}", fontsize=10, loc="left")
        drawn = _draw(ax, stats, name, lang)
        if not drawn:
            ax.set_axis_off()
            ax.text(0.5, 0.5, _t(lang, "no_data"), ha="center", va="center", fontsize=11)
        if stats.get("synthetic"):
            fig.suptitle(
                _t(lang, "synthetic"),
                x=0.99,
                ha="right",
                fontsize=9,
                fontweight="bold",
                color="#8a4b00",
                bbox={"facecolor": "#ffd54f", "edgecolor": "#c77800", "pad": 2},
            )
            fig.text(
                0.5,
                0.5,
                "SYNTHETIC",
                ha="center",
                va="center",
                fontsize=48,
                color="#c77800",
                alpha=0.15,
                rotation=20,
            )
        buf = io.BytesIO()
        meta: dict[str, Any] = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(buf, format=fmt, metadata=meta)
    return buf.getvalue()


def _draw(ax: Any, stats: Mapping[str, Any], name: str, lang: str) -> bool:
    types = ("cancelled", "reduced", "cleared")
    if name in ("released", "areas"):
        land = stats["land_release"]
        rows = land["by_year"] if name == "released" else land["by_area"]
        key = "period" if name == "released" else "area"
        if not rows or not any(r["released_m2"] for r in rows):
            return False
        labels = [_t(lang, r[key]) if r[key] == "unassigned" else str(r[key]) for r in rows]
        series = {t: [r[f"{t}_m2"] / 1e6 for r in rows] for t in types}
        _stack(ax, labels, series, COLOURS, lang, horizontal=name == "areas")
        if name == "areas":
            ax.set_xlabel(_t(lang, "km2"))
        else:
            ax.set_ylabel(_t(lang, "km2"))
        return True
    dev = stats["devices"]
    cats = [c for c, n in dev["by_category"].items() if n]
    if not cats:
        return False
    states = [s for s in STATE_COLOURS if any(dev["by_category_state"][c].get(s) for c in cats)]
    series = {s: [float(dev["by_category_state"][c].get(s, 0)) for c in cats] for s in states}
    _stack(ax, [_t(lang, c) for c in cats], series, STATE_COLOURS, lang)
    ax.set_ylabel(_t(lang, "count"))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return True
