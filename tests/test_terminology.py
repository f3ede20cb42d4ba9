"""The Ukrainian words the package ships follow docs/terminology.md (issue 15): every text
table of the services (forms, annual report, charts, safety answers, extracts, civilian
reports), the public map's and the field app's ``uk.json`` and the pages' Ukrainian text are
scanned for the forms the table forbids, so that they cannot come back; and the safety
answers say whom to call in both languages."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest

import demine
from demine.services import extract_doc, forms_text, safety
from demine.services.report import text as report_text

WEB = Path(demine.__file__).parent / "web"
CYRILLIC = re.compile(r"[\u0400-\u04ff]")

# the forms docs/terminology.md forbids, each with why
FORBIDDEN_UK: dict[str, re.Pattern[str]] = {
    "«небезпечна зона» (say «небезпечна територія»)": re.compile(r"небезпечн\w*\s+зон\w*", re.I),
    "«небезпечний район» (say «небезпечна територія»)": re.compile(
        r"небезпечн\w*\s+район\w*", re.I
    ),
    "ПНР/ПтНР (say ПНТ/ПдНТ)": re.compile(r"(?<!\w)(?:ПНР|ПтНР)(?!\w)"),
    "«звільнення земель» (say «вивільнення територій»)": re.compile(
        r"звільн\w*\s+зем\w*|(?<!\w)зем(?:ля|лі|ель|лю|лям)\s+(?:вже\s+)?(?:було\s+)?звільн\w*",
        re.I,
    ),
    "«і повідомте» without saying whom (say «телефонуйте 101»)": re.compile(
        r"повідомте(?:\s+про\s+(?:нього|неї|них))?\s*(?:[.!;]|$)", re.I
    ),
    "«ще діє» of a device (say «досі може вибухнути»)": re.compile(r"(?<!\w)ще\s+ді[єяю]\w*", re.I),
}
# English: "and report (it)" with nobody to report to (say "call 101")
FORBIDDEN_EN = re.compile(r"\band report(?: it)?\b(?!\s+to\b)", re.I)

TEXT_MODULES = (
    "demine.services.forms_text",
    "demine.services.report.text",
    "demine.services.charts",
    "demine.services.safety",
    "demine.services.extract_doc",
    "demine.services.civilian_text",
    "demine.services.xlsform",
)
UK_JSON = (WEB / "i18n" / "uk.json", WEB / "field" / "i18n" / "uk.json")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            yield from _strings(v)


def _module_uk(name: str) -> list[str]:
    """Every Ukrainian string in a module's tables (its module-level values)."""
    mod = import_module(name)
    found = [s for k, v in vars(mod).items() if not k.startswith("__") for s in _strings(v)]
    return [s for s in found if CYRILLIC.search(s)]


def _page_uk(path: Path) -> str:
    """A page's or a script's text, tags and code kept: the forbidden forms are Ukrainian
    words, so nothing else in the file can match them."""
    return path.read_text(encoding="utf-8")


def _shipped_uk() -> dict[str, list[str]]:
    where: dict[str, list[str]] = {m: _module_uk(m) for m in TEXT_MODULES}
    for p in UK_JSON:
        where[str(p.relative_to(WEB))] = list(_strings(json.loads(p.read_text("utf-8"))))
    for p in sorted(WEB.glob("**/*.html")) + sorted(WEB.glob("**/*.js")):
        if "vendor" in p.parts:
            continue
        text = _page_uk(p)
        if CYRILLIC.search(text):
            where[str(p.relative_to(WEB))] = [text]
    return where


def _faults(texts: dict[str, list[str]]) -> list[str]:
    out = []
    for where, strings in texts.items():
        for s in strings:
            for why, pat in FORBIDDEN_UK.items():
                for m in pat.finditer(s):
                    out.append(f"{where}: {m.group(0)!r} — {why}")
    return out


def test_shipped_ukrainian_has_no_forbidden_form() -> None:
    texts = _shipped_uk()
    # the scan reaches every text this test names (a module or file with no Ukrainian left
    # would mean it scans nothing there)
    assert all(texts[m] for m in TEXT_MODULES), [m for m in TEXT_MODULES if not texts[m]]
    assert {"i18n/uk.json", "field/i18n/uk.json", "index.html"} <= set(texts)
    assert sum(len(v) for v in texts.values()) > 500
    assert _faults(texts) == []


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("Ви в зареєстрованій небезпечній зоні.", "небезпечна зона"),
        ("Небезпечні райони", "небезпечний район"),
        ("ПтНР (м²)", "ПНР/ПтНР"),
        ("тип: ПНР", "ПНР/ПтНР"),
        ("1. Звільнення земель у 2025 році", "звільнення земель"),
        ("Хто отримав звільнені землі", "звільнення земель"),
        ("закритий (землі звільнено)", "звільнення земель"),
        ("поверніться тим самим шляхом і повідомте.", "і повідомте"),
        ("відійдіть і повідомте про нього.", "і повідомте"),
        ("Боєприпаси, що відмовили (ще діяли)", "ще діє"),
    ],
)
def test_the_scan_finds_each_forbidden_form(bad: str, why: str) -> None:
    faults = _faults({"sample": [bad]})
    assert len(faults) == 1 and why in faults[0], faults


def test_the_scan_lets_the_right_words_through() -> None:
    good = [
        "Підозріла небезпечна територія (ПНТ)",
        "Підтверджена небезпечна територія (ПдНТ)",
        "Вивільнення територій у 2025 році",
        "закрита (територію вивільнено)",
        "повідомте, де він і який на вигляд",
        "Область, район або громада",
        "Земельна ділянка",
    ]
    assert _faults({"sample": good}) == []


def _lower1(s: str) -> str:
    return s[:1].lower() + s[1:]


def test_hazard_types_are_the_tables_in_every_text() -> None:
    sha, cha = "підозріла небезпечна територія (ПНТ)", "підтверджена небезпечна територія (ПдНТ)"
    assert (_lower1(forms_text.CHOICES_UK["SHA"]), _lower1(forms_text.CHOICES_UK["CHA"])) == (
        sha,
        cha,
    )
    assert extract_doc.CODES["uk"]["SHA"] == sha and extract_doc.CODES["uk"]["CHA"] == cha
    assert (report_text.VALUES_UK["SHA"], report_text.VALUES_UK["CHA"]) == ("ПНТ", "ПдНТ")
    # the report spells them out before its tables use the abbreviations alone
    note = report_text.TEXT["uk"]["form_c_note"]
    assert f"ПНТ: {sha.removesuffix(' (ПНТ)')}" in note
    assert f"ПдНТ: {cha.removesuffix(' (ПдНТ)')}" in note
    uk = json.loads((WEB / "i18n" / "uk.json").read_text("utf-8"))
    assert (_lower1(uk["type_SHA"]), _lower1(uk["type_CHA"])) == (sha, cha)


def test_safety_answers_say_whom_to_call() -> None:
    told = [*safety.MESSAGES.values(), (safety.NOTICE, safety.NOTICE_UK), safety.REPORTED]
    for en, uk in told:
        assert not FORBIDDEN_EN.search(en), en
        assert "повідомте" not in uk and "зон" not in uk, uk
    for en, uk in (safety.MESSAGES["inside"], (safety.NOTICE, safety.NOTICE_UK), safety.REPORTED):
        assert "call 101" in en and "телефонуйте 101" in uk, (en, uk)
    # never that a place is safe: the answer with nothing near says it is no proof
    en, uk = safety.MESSAGES["none"]
    assert "not proof" in en and "не доводить" in uk


def test_english_pages_say_whom_to_call() -> None:
    for p in (WEB / "i18n" / "en.json", WEB / "field" / "i18n" / "en.json"):
        for s in _strings(json.loads(p.read_text("utf-8"))):
            assert not FORBIDDEN_EN.search(s), (p.name, s)
