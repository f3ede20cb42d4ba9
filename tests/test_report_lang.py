"""The annual report in Ukrainian (``lang="uk"``, ``demine report annual --lang uk``): every
fixed string translated, Ukrainian number formatting, the same figures as the English report,
and no personal data for the roles without access to it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import stats_data
from demine.cli.app import app as cli
from demine.errors import ValidationError
from demine.services.report import annual_html, km2

NO_ACCESS = ("public", "field", "analyst")

UK_HEADINGS = (
    "Річний звіт з протимінної діяльності за 2025 рік",
    "1. Вивільнення територій у 2025 році",
    "Вивільнені території за роками, 2021-2025",
    "Стаття 7 Оттавської конвенції, форма C",
    "Стаття 7 Оттавської конвенції, форма F",
    "Стаття 7 Оттавської конвенції, форма I — інформування про ризики ВНП",
    "5. Нещасні випадки та постраждалі",
    "6. Методика та джерела",
    "Скасовано нетехнічним обстеженням (м²)",
    "Зменшено технічним обстеженням (м²)",
    "Очищено (м²)",
    "ПНТ (м²)",
    "ПдНТ (м²)",
    "підозріла небезпечна територія",
    "підтверджена небезпечна територія",
    "Конвенції про заборону протипіхотних мін (Оттавська конвенція)",
    "СИНТЕТИЧНІ",
)
EN_HEADINGS = (
    "Mine action annual report",
    "Land release in 2025",
    "Land released per year",
    "Article 7, Form C",
    "Form F",
    "Form I",
    "Accidents and casualties",
    "Method and sources",
    "Cancelled by NTS",
    "Reduced by TS",
    "Remaining hazardous area",
    "Device category",
    "Risk education in",
    "By outcome",
    "All casualties",
    "No records.",
    "withheld",
    ">Total<",
    "Organisation",
)
NUMBER = re.compile(r"^[0-9][0-9\u202f\u00a0 ]*(?:[.,][0-9]+)?(?: (?:km²|км²))?$")


@pytest.fixture
def year(store: Any) -> stats_data.Year:
    return stats_data.build(store)


def _visible(page: str) -> str:
    """The page without its style sheet and inline charts."""
    page = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    return re.sub(r"<svg.*?</svg>", "", page, flags=re.S)


def _figures(page: str) -> list[str]:
    """Every number in a table cell or a headline figure, in order, with the thousands
    separators removed and a decimal point."""
    body = _visible(page)
    cells = re.findall(r"<t[dh]>([^<]*)</t[dh]>|<b>([^<]*)</b>", body)
    out = []
    for td, b in cells:
        v = (td or b).strip()
        if NUMBER.match(v):
            v = v.removesuffix(" km²").removesuffix(" км²")
            out.append(re.sub(r"[\u202f\u00a0 ]", "", v).replace(",", "."))
    return out


def test_ukrainian_report(store: Any, year: stats_data.Year) -> None:
    for role in (*NO_ACCESS, "victim_assistance"):
        en = annual_html(store, 2025, role=role, by="oblasts")
        uk = annual_html(store, 2025, role=role, by="oblasts", lang="uk")
        assert uk.startswith('<!doctype html>\n<html lang="uk">') and "@media print" in uk
        assert '<html lang="en">' in en
        for heading in UK_HEADINGS:
            assert heading in uk, heading
        text = _visible(uk).replace("SYNTHETIC DEMO DATA", "")  # the banner is bilingual
        for heading in EN_HEADINGS:
            assert heading not in text, heading
        assert uk.count("<svg") >= 3  # charts inline, labelled in Ukrainian
        assert "Вивільнені території за роками" in uk and "Land released per year" not in uk
        # the same figures, in Ukrainian formatting
        fen, fuk = _figures(en), _figures(uk)
        assert len(fen) > 50 and fen == fuk
        assert "," not in "".join(re.findall(r"<td>([0-9\u202f.,]+)</td>", en))  # en: points
        assert re.search(r"<td>[0-9]+,[0-9]{3}</td>", uk)  # uk: decimal comma in km²
        # personal data: never in either language for roles without access
        for s in stats_data.SECRETS:
            assert s not in uk, (s, role)
        if role in NO_ACCESS:
            assert "<td>не публікується</td>" in uk and "withheld" not in uk
        else:
            assert "<td>не публікується</td>" not in uk
            assert "точні кількості" in uk


def test_ukrainian_numbers() -> None:
    assert km2(1_234_567_890) == "1\u202f234.568"
    assert km2(1_234_567_890, "uk") == "1\u202f234,568"


def test_bad_lang(store: Any) -> None:
    with pytest.raises(ValidationError) as ei:
        annual_html(store, 2025, lang="xx")
    assert ei.value.faults[0].field == "lang"


def test_cli_lang(tmp_path: Path, store: Any, year: stats_data.Year) -> None:
    out = tmp_path / "f.html"
    r = CliRunner().invoke(
        cli,
        ["--db", store.location, "--role", "public", "report", "annual", "--year", "2025"]
        + ["--lang", "uk", "-o", str(out)],
    )
    assert r.exit_code == 0, r.output
    page = out.read_text(encoding="utf-8")
    assert '<html lang="uk">' in page and "Вивільнення територій у 2025 році" in page
    for s in stats_data.SECRETS:
        assert s not in page
    bad = tmp_path / "bad.html"
    r = CliRunner().invoke(
        cli,
        ["--db", store.location, "report", "annual", "--year", "2025", "--lang", "xx"]
        + ["-o", str(bad)],
    )
    assert r.exit_code == 2
    assert "--lang" in r.output and "xx" in r.output
    assert not bad.exists()
