"""The land-status extract as a document (docs/extract.md): JSON (the signed document itself),
HTML (the template ``extract.html.j2``, in both languages, the signed JSON in a
``<script type="application/json" id="demine-extract">`` block, a QR code) and PDF (that page
printed by Chromium, services/report/pdf.py). An HTML or PDF file ends with a seal: one line
holding the signed document and a signature over the sha256 of every byte before it, so one
changed byte anywhere in the file fails the check. Reading any of the three back:
:func:`read_extract`."""

from __future__ import annotations

import base64
import hashlib
import re
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
from markupsafe import Markup

from demine.errors import Fault, ValidationError
from demine.services.extract import b64, canonical, seal_message
from demine.services.templating import render_template

__all__ = ["document_html", "document_pdf", "read_extract", "render", "verify_url"]

LANGS = ("uk", "en")
HTML_SEAL = b"\n<!--demine-extract-seal "
PDF_SEAL = b"\n%demine-extract-seal "
_SEAL_END = {HTML_SEAL: b"-->\n", PDF_SEAL: b"\n"}
MAX_FILE_BYTES = 10 * 2**20  # an extract file read back (the verify route's body cap too)

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Land-status extract",
        "subtitle": "What the national mine action register records for this place",
        "not_safe": "This extract states what is recorded. It is NOT a statement that the land is "
        "safe: no record is not proof of safety. Explosive ordnance may be present where "
        "nothing is recorded.",
        "safety": "If you see an explosive object: do not touch or approach it, leave the way you "
        "came, and call 101.",
        "authority": "Issued by",
        "extract_id": "Extract number",
        "issued": "Issued (UTC)",
        "as_of": "Records as they stood at the end of",
        "place": "Place",
        "point": "Point (latitude, longitude, WGS 84)",
        "parcel": "Parcel (polygon, WGS 84), vertices",
        "radius": "Search radius",
        "none": "Nothing recorded touches this place.",
        "hazards": "Recorded hazardous areas",
        "releases": "Land released (cancelled, reduced, cleared)",
        "eo_reports": "Reports of explosive objects (published)",
        "activities": "Survey and clearance activities",
        "record": "Record",
        "revision": "revision",
        "details": "Details",
        "verify": "Check this extract: open the address in the QR code and give it this file, or "
        "run: demine extract verify FILE. The check says whether the signature is valid and "
        "whether the records for this place have changed since.",
        "key": "Signing key",
        "synthetic": "SYNTHETIC DATA: this extract is made from a demonstration store.",
        "m": "m",
    },
    "uk": {
        "title": "Витяг про стан земельної ділянки",
        "subtitle": "Що зареєстровано в національному реєстрі протимінної діяльності "
        "для цього місця",
        "not_safe": "Цей витяг вказує лише те, що зареєстровано. Він НЕ підтверджує, що земля "
        "безпечна: відсутність записів не є доказом безпеки. Вибухонебезпечні предмети можуть "
        "бути й там, де нічого не зареєстровано.",
        "safety": "Якщо ви побачили вибухонебезпечний предмет: не торкайтеся і не наближайтеся до "
        "нього, поверніться тим самим шляхом, яким прийшли, і зателефонуйте 101.",
        "authority": "Видано",
        "extract_id": "Номер витягу",
        "issued": "Дата видачі (UTC)",
        "as_of": "Записи станом на кінець дня",
        "place": "Місце",
        "point": "Точка (широта, довгота, WGS 84)",
        "parcel": "Ділянка (полігон, WGS 84), вершин",
        "radius": "Радіус пошуку",
        "none": "Для цього місця нічого не зареєстровано.",
        "hazards": "Зареєстровані небезпечні території",
        "releases": "Вивільнення територій (скасування, зменшення, очищення)",
        "eo_reports": "Повідомлення про вибухонебезпечні предмети (оприлюднені)",
        "activities": "Обстеження та розмінування",
        "record": "Запис",
        "revision": "редакція",
        "details": "Відомості",
        "verify": "Перевірте цей витяг: відкрийте адресу з QR-коду і передайте цей файл, або "
        "виконайте: demine extract verify ФАЙЛ. Перевірка покаже, чи дійсний підпис і чи "
        "змінилися записи для цього місця відтоді.",
        "key": "Ключ підпису",
        "synthetic": "СИНТЕТИЧНІ ДАНІ: цей витяг зроблено з демонстраційного сховища.",
        "m": "м",
    },
}
# the codes an extract shows, in words (uk: the terms of ДСТУ 8820)
CODES: dict[str, dict[str, str]] = {
    "en": {
        "SHA": "suspected hazardous area (SHA)",
        "CHA": "confirmed hazardous area (CHA)",
        "open": "open",
        "closed": "closed (land released)",
        "handed_over": "handed over (land released)",
        "cancelled": "cancelled (non-technical survey)",
        "reduced": "reduced (technical survey)",
        "cleared": "cleared",
        "new": "received, not yet checked",
        "verified": "verified",
        "dismissed": "dismissed",
        "linked": "linked to a hazardous area",
        "non_technical_survey": "non-technical survey",
        "technical_survey": "technical survey",
        "clearance": "clearance",
        "qa_qc": "quality control",
        "planned": "planned",
        "ongoing": "ongoing",
        "completed": "completed",
    },
    "uk": {
        "SHA": "підозріла небезпечна територія (ПНТ)",
        "CHA": "підтверджена небезпечна територія (ПдНТ)",
        "open": "відкрита",
        "closed": "закрита (територію вивільнено)",
        "handed_over": "передана (територію вивільнено)",
        "cancelled": "скасовано (нетехнічне обстеження)",
        "reduced": "зменшено (технічне обстеження)",
        "cleared": "очищено",
        "new": "отримано, ще не перевірено",
        "verified": "підтверджено",
        "dismissed": "відхилено",
        "linked": "пов'язано з небезпечною територією",
        "non_technical_survey": "нетехнічне обстеження",
        "technical_survey": "технічне обстеження",
        "clearance": "розмінування",
        "qa_qc": "контроль якості",
        "planned": "заплановано",
        "ongoing": "триває",
        "completed": "завершено",
    },
}
FIELDS: dict[str, dict[str, str]] = {
    "en": {
        "reference": "reference",
        "name": "name",
        "hazard_type": "type",
        "status": "status",
        "reported_on": "reported",
        "closed_on": "closed",
        "release_type": "type",
        "released_on": "released",
        "organisation": "organisation",
        "hazard_id": "hazardous area",
        "reported_at": "reported",
        "activity_type": "type",
        "started_on": "started",
        "completed_on": "completed",
    },
    "uk": {
        "reference": "код",
        "name": "назва",
        "hazard_type": "тип",
        "status": "стан",
        "reported_on": "повідомлено",
        "closed_on": "закрито",
        "release_type": "вид",
        "released_on": "дата",
        "organisation": "організація",
        "hazard_id": "небезпечна територія",
        "reported_at": "повідомлено",
        "activity_type": "вид",
        "started_on": "розпочато",
        "completed_on": "завершено",
    },
}


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValidationError(
            f"unknown language {lang!r}", [Fault("expected uk or en", field="lang")]
        )
    return lang


def digest(document: dict[str, Any]) -> str:
    """The sha256 of the signed payload (what the QR code names)."""
    return hashlib.sha256(canonical(document["payload"])).hexdigest()


def verify_url(base: str | None, document: dict[str, Any]) -> str:
    """The address the QR code holds: the verify page with the extract's id and digest; with
    no base address, a ``demine-extract:`` name of the same."""
    p = document["payload"]
    q = urlencode({"extract": p["extract_id"], "digest": digest(document)[:32]})
    if base:
        return f"{base.rstrip('/')}/verify?{q}"
    return f"demine-extract:{p['extract_id']}?{q.split('&', 1)[1]}"


def _qr_svg(text: str) -> str:
    import io

    import segno

    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=3, border=2, xmldecl=False)
    return out.getvalue().decode("utf-8")


def _value(lang: str, key: str, value: Any) -> str:
    if key in ("hazard_type", "status", "release_type", "activity_type"):
        return CODES[lang].get(str(value), str(value))
    return str(value)


def render(document: dict[str, Any], *, base_url: str | None = None) -> str:
    """The HTML page of a signed document (not yet sealed)."""
    p = document["payload"]
    lang = check_lang(str(p.get("lang") or "en"))
    other = "en" if lang == "uk" else "uk"
    t, t2 = TEXT[lang], TEXT[other]
    g = p["geometry"]
    if g["type"] == "Point":
        lon, lat = g["coordinates"][:2]
        place = (t["point"], t2["point"], f"{lat:.6f}, {lon:.6f}")
    else:
        from shapely.geometry import shape

        n = int(__import__("shapely").get_num_coordinates(shape(g)))
        place = (t["parcel"], t2["parcel"], str(n))
    sections = []
    for kind in ("hazards", "releases", "eo_reports", "activities"):
        rows = []
        for r in p["records"]:
            if r["kind"] != kind:
                continue
            s = r["summary"]
            rows.append(
                {
                    "id": r["id"],
                    "revision": r["revision"],
                    "details": [(FIELDS[lang].get(k, k), _value(lang, k, v)) for k, v in s.items()],
                }
            )
        sections.append({"title": t[kind], "title2": t2[kind], "rows": rows})
    url = verify_url(base_url, document)
    return render_template(
        "extract.html.j2",
        {
            "lang": lang,
            "t": t,
            "t2": t2,
            "p": p,
            "place": place,
            "sections": sections,
            "empty": not p["records"],
            "qr": Markup(_qr_svg(url)),
            "verify_url": url,
            "signed_json": Markup(canonical(document).decode("utf-8")),
        },
    )


def _seal(document: dict[str, Any], body: bytes, private_key: Any, marker: bytes) -> bytes:
    sha = hashlib.sha256(body).hexdigest()
    seal = {
        "document": document,
        "sha256": sha,
        "signature": b64(private_key.sign(seal_message(document["payload"]["extract_id"], sha))),
    }
    line = base64.b64encode(canonical(seal))
    return body + marker + line + _SEAL_END[marker]


def document_html(document: dict[str, Any], private_key: Any, *, base_url: str | None) -> bytes:
    """The sealed HTML file of a signed document."""
    return _seal(document, render(document, base_url=base_url).encode(), private_key, HTML_SEAL)


def document_pdf(document: dict[str, Any], private_key: Any, *, base_url: str | None) -> bytes:
    """The sealed PDF file of a signed document (printed by Chromium)."""
    from demine.services.report.pdf import html_to_pdf

    page = render(document, base_url=base_url)
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "extract.pdf"
        html_to_pdf(page, out, lang=str(document["payload"].get("lang") or "en"))
        body = out.read_bytes()
    return _seal(document, body, private_key, PDF_SEAL)


def _bad(reason: str) -> ValidationError:
    return ValidationError("not a demine extract", [Fault(reason, field="file")])


def read_extract(data: bytes) -> tuple[Any, dict[str, Any] | None, bytes | None]:
    """A file of an extract: (the signed document, the seal or None, the sealed bytes or None).
    JSON must be in its signed byte form (one changed byte fails); HTML and PDF must end with
    their seal. Anything else is a ValidationError naming what is wrong."""
    if len(data) > MAX_FILE_BYTES:
        raise _bad(f"the file is larger than {MAX_FILE_BYTES // 2**20} MiB")
    for marker, end in _SEAL_END.items():
        at = data.rfind(marker)
        if at < 0:
            continue
        body, rest = data[:at], data[at + len(marker) :]
        if not rest.endswith(end):
            raise _bad("the seal at the end of the file is damaged")
        line = rest[: -len(end)]
        if not re.fullmatch(rb"[A-Za-z0-9+/=]+", line):
            raise _bad("the seal at the end of the file is damaged")
        try:
            raw = base64.b64decode(line, validate=True)
            seal = orjson.loads(raw)
        except (ValueError, orjson.JSONDecodeError):
            raise _bad("the seal at the end of the file is damaged") from None
        if not isinstance(seal, dict) or canonical(seal) != raw:
            raise _bad("the seal at the end of the file is damaged")
        return seal.get("document"), seal, body
    text = data.strip()
    if text.startswith(b"%PDF") or b"<html" in text[:2000].lower():
        raise _bad("the document has no demine seal at its end (it was cut or changed)")
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise _bad("expected an extract as JSON, HTML or PDF") from None
    if canonical(doc) != text:
        raise _bad("the JSON is not in its signed byte form: it was changed")
    return doc, None, None
