"""The field app's forms (``/static/field/forms.js``, issue 14) in a real browser (Playwright +
Debian's chromium, headless) against a live server, on both backends.

Every form a field or operator team fills in is made from the server's specification
(``GET /api/v1/forms/{kind}``): one labelled control a field, required and recommended
fields marked in words, the choices of the spec, English and Ukrainian. The browser's checks
say exactly what the server says for the same value: each fault class of each kind is sent
both to ``validate()`` and, as the item the form would send, to ``POST /api/v1/sync/outbox``;
the messages are compared word for word (a value above a maximum, which no field/operator form
has, through the victims form and the write path of the victim-assistance role). A form read
back gives the values it was given (types kept) and the server stores what it reads; faults
are shown on their controls, the first focused; the form is filled with the keyboard alone
and fits a 390 px phone.

Until the app's page exists the module is loaded in a harness page served by Playwright on
the live server's origin (``/__harness__.html``, without a CSP); its API calls are the real
server's.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from live import serve, wait_for
from sites import module_store
from test_web_page import ARTIFACTS

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[30.0, 50.0], [30.01, 50.0], [30.01, 50.01], [30.0, 50.01], [30.0, 50.0]]],
}
INNER = {
    "type": "Polygon",
    "coordinates": [
        [[30.002, 50.002], [30.004, 50.002], [30.004, 50.004], [30.002, 50.004], [30.002, 50.002]]
    ],
}
POINT = {"type": "Point", "coordinates": [30.005, 50.005]}
USERS = {
    "f_halo": ("field", "HALO"),
    "o_halo": ("operator", "HALO"),
    "va": ("victim_assistance", None),
}
HARNESS = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/field/forms.css">
<title>forms.js harness</title></head>
<body><main id="root"></main>
<script type="module">
import * as F from "/static/field/forms.js";
window.F = F;
window.__ready = true;
</script></body></html>"""


@dataclass
class Site:
    url: str
    tokens: dict[str, str]
    refs: dict[str, str]  # field name -> the id of a stored record it may name


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    with module_store(
        request.param,
        tmp_path_factory,
        "web_field_forms",
        organisations={"HALO": "The HALO Trust"},
        users=USERS,
    ) as (location, tokens):
        yield from _forms_site(location, tokens)


def _forms_site(location: str, tokens: dict[str, str]) -> Iterator[Site]:
    """A hazard, an activity and an accident for the forms' references; the live server."""
    from demine.api.app import create_app
    from demine.model.kinds import KINDS
    from demine.services import records
    from demine.store.open import open_store

    s = open_store(location)
    try:
        hz, _ = records.create(
            s, KINDS["hazards"], {"hazard_type": "CHA", "status": "open"}, SQUARE
        )
        act, _ = records.create(
            s,
            KINDS["activities"],
            {
                "hazard_id": hz.id,
                "activity_type": "non_technical_survey",
                "status": "ongoing",
                "started_on": "2024-01-10",
                "organisation": "HALO",
            },
            SQUARE,
        )
        acc, _ = records.create(
            s,
            KINDS["accidents"],
            {"occurred_at": "2024-03-01T08:00:00Z", "accident_type": "civilian"},
            POINT,
        )
        refs = {"hazard_id": hz.id, "activity_id": act.id, "accident_id": acc.id}
    finally:
        s.close()
    with serve(create_app(location)) as url:
        yield Site(url, tokens, refs)


@dataclass
class Harness:
    site: Site
    page: Any
    errors: list[str]
    specs: dict[str, dict[str, dict[str, Any]]]  # role -> kind -> spec

    def js(self, script: str, arg: Any = None) -> Any:
        return self.page.evaluate(script, arg)


FETCH_SPECS = """async (token) => {
  const h = {headers: {Authorization: "Bearer " + token}};
  const list = await (await fetch("/api/v1/forms", h)).json();
  const out = {};
  for (const f of list.forms) {
    out[f.kind] = await (await fetch("/api/v1/forms/" + f.kind, h)).json();
  }
  return out;
}"""


@pytest.fixture(scope="module")
def harness(browser: Any, site: Site) -> Iterator[Harness]:
    """One page a backend: a phone (390 x 844) in Kyiv's time zone, forms.js loaded."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        locale="en-US",
        timezone_id="Europe/Kiev",
        has_touch=True,
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.route(
        site.url + "/__harness__.html",
        lambda route: route.fulfill(status=200, content_type="text/html", body=HARNESS),
    )
    resp = page.goto(site.url + "/__harness__.html")
    assert resp is not None and resp.status == 200
    wait_for(page, "window.__ready === true")
    specs = {
        role: page.evaluate(FETCH_SPECS, site.tokens[user])
        for role, user in (("field", "f_halo"), ("operator", "o_halo"))
    }
    specs["victim_assistance"] = {
        "victims": page.evaluate(
            """async (t) => (await fetch("/api/v1/forms/victims",
                 {headers: {Authorization: "Bearer " + t}})).json()""",
            site.tokens["va"],
        )
    }
    try:
        yield Harness(site, page, errors, specs)
    finally:
        context.close()


# --- values from the spec ------------------------------------------------------------------


def _value(f: dict[str, Any], refs: dict[str, str]) -> Any:
    t = f["type"]
    if t == "choice":
        return f["choices"][0]["value"]
    if t == "reference":
        return refs[f["name"]]
    if t in ("integer", "number"):
        return f["min"] if f["min"] is not None else 1
    if t == "date":
        return "2024-01-15"
    if t == "datetime":
        return "2024-01-15T08:00:00Z"
    if t == "boolean":
        return True
    return "text"


def _base(spec: dict[str, Any], refs: dict[str, str]) -> dict[str, Any]:
    """Every required and recommended field filled: a form the server takes."""
    return {
        f["name"]: _value(f, refs)
        for f in spec["fields"]
        if (f["required"] or f["minimum_data"]) and f["name"] != "emplacement_id"
    }


def _geometry(spec: dict[str, Any]) -> Any:
    return {"Polygon": INNER, "Point": POINT, None: None}[spec["geometry"]]


def _fill(template: str, params: dict[str, str]) -> str:
    out = template
    for k, v in params.items():
        out = out.replace("{" + k + "}", v)
    return out


def _cases(spec: dict[str, Any], base: dict[str, Any]) -> list[dict[str, Any]]:
    """Each fault class of each field of the form (and a few values the server takes).

    ``how``: ``missing`` (the field left out), ``value`` (a value given to validate() and
    sent as is: what no control makes, a stored or imported value), ``typed`` (text typed
    into the field's control, then read with readForm). ``key``: the message expected (None:
    no fault; only for a field of ``base``, whose other fields a rule across fields may want:
    a closed_on of an open hazard is refused, which no form checks)."""
    out: list[dict[str, Any]] = []

    def case(f: dict[str, Any], how: str, value: Any, key: str | None) -> None:
        if key is None and f["name"] not in base:
            return
        out.append({"field": f["name"], "how": how, "value": value, "key": key})

    for f in spec["fields"]:
        t = f["type"]
        if f["required"]:
            case(f, "missing", None, "required")
            if t not in ("choice", "boolean"):
                case(f, "typed", "", "required")
        if t == "choice" and f["catalogue"]:
            case(f, "value", "nope", "catalogue")
        elif t == "choice" and f["multiple"]:
            first = f["choices"][0]["value"]
            case(f, "value", f"{first},nope", "choice")
            case(f, "value", f"{first.upper()}, {first}", None)  # as the server reads it
        elif t == "choice":
            case(f, "value", "nope", "choice")
            case(f, "value", 5, "choice")
            case(f, "value", "it's", "choice")  # shown as Python shows it: "it's"
            case(f, "value", "Ліс 'x' \"y\"\t\u00ad\u2028\U0001f600", "choice")
            case(f, "value", f["choices"][0]["value"].swapcase(), None)  # read as the first
        if t in ("integer", "number"):
            low = (f["min"] if f["min"] is not None else 0) - 1
            if f["min"] is not None:
                case(f, "typed", str(low), "range")
                if t == "number":
                    case(f, "typed", str(low + 0.5), "range")
                    case(f, "value", -1e-5, "range")
            if f["max"] is not None:
                case(f, "typed", str(f["max"] + 1), "range_max")
            case(f, "typed", "abc", "type")
            case(
                f, "typed", "1.5" if t == "integer" else "12,5", "type" if t == "integer" else None
            )
            case(f, "typed", " 7 ", None)
            case(f, "value", True, "type")
            for text in ("1_000", "5.", "+5", ".5e1"):  # Python's float reads them all
                case(f, "typed", text, None)
            for text in ("1e", "0x10", "nan", "inf", "1,5,0"):
                case(f, "typed", text, "type")
        if t == "date":
            case(f, "value", "15/01/2024", "type")
            case(f, "value", "2024-02-30", "type")
            case(f, "value", "2024-1-15", "type")
            case(f, "value", "20240116", None)
            if f["partial"]:
                case(f, "value", "2024-01", None)  # the base's month: no rule on the order
                case(f, "value", "2019-13", "type")
        if t == "datetime":
            case(f, "value", "yesterday", "type")
            case(f, "value", "2024-01-15T24:00:00Z", "type")
            case(f, "value", "2024-01-15 08:00", None)
            case(f, "value", "2024-01-15T08:00:00+02:00", None)
            for text in ("2024-01-15T08", "20240115T0800", "2024-01-15x08:00:00.25", "2024-01-16"):
                case(f, "value", text, None)  # as Python's datetime.fromisoformat reads them
            for text in ("2024-01-15T8:00", "2024-01-15T08:00:60", "2024-01-15T08:00+2"):
                case(f, "value", text, "type")
            if f["partial"]:
                case(f, "value", "2024", None)
        if t == "boolean":
            case(f, "value", "perhaps", "type")
            case(f, "value", "так", None)
        if t == "reference":
            case(f, "typed", "not-an-id", "type")
            case(f, "typed", "12345678-1234-1234-1234-1234567890", "type")
    return out


# faults whose English has no template in the spec (the server's own words; their Ukrainian is
# the type template's): a partial date out of range, a number that is not finite
OWN_WORDS = {
    ("date", "2019-13"): ": month 13 is not a month (01 to 12)",
    ("number", "nan"): "expected a finite number, got 'nan'",
    ("number", "inf"): "expected a finite number, got 'inf'",
}

RUN_CASES = """([spec, base, cases]) => {
  const root = document.getElementById("root");
  return cases.map((c) => {
    let values;
    if (c.how === "typed") {
      const form = F.renderForm(spec, {lang: "en", values: base, idPrefix: "p"});
      root.replaceChildren(form);
      const control = form.querySelector("#p-" + c.field);
      control.value = c.value;
      values = F.readForm(form, spec);
    } else {
      values = {...base};
      if (c.how === "missing") delete values[c.field];
      else values[c.field] = c.value;
    }
    return {
      values,
      en: F.validate(spec, values, "en"),
      uk: F.validate(spec, values, "uk"),
    };
  });
}"""


def _params(
    spec: dict[str, Any], f: dict[str, Any], key: str, sent: Any, lang: str
) -> dict[str, str]:
    """The placeholders of a message, filled as the server fills them."""
    choices = ", ".join(c["value"] for c in f["choices"] or [])
    if key == "required":
        return {"field": f["name"]}
    if key in ("choice", "catalogue"):
        bad = sent
        if f["multiple"]:
            bad = next(x for x in str(sent).split(",") if x.strip().lower() not in choices.lower())
        return {"choices": choices, "value": repr(bad)}
    if key in ("range", "range_max"):
        shown = repr(float(sent)) if f["type"] == "number" else str(int(sent))
        bound = f["min"] if key == "range" else f["max"]
        return {"value": shown, "min" if key == "range" else "max": f"{bound:g}"}
    assert key == "type", key
    value = "a boolean" if sent is True else repr(sent)
    return {"type": f["expects"][lang], "value": value}


def _server_faults(answer: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for x in answer["faults"]:
        _, _, name = x["field"].partition(".properties.")
        if name:
            out.append((name, x["reason"]))
    return out


@pytest.mark.parametrize("role", ["field", "operator"])
def test_browser_and_server_say_the_same(harness: Harness, role: str) -> None:
    """Table-driven over every kind of the role and every fault class: validate()'s English
    is the server's fault for the same item, word for word; its Ukrainian is the spec's
    template filled the same way; an item without faults is stored."""
    import httpx

    user = {"field": "f_halo", "operator": "o_halo"}[role]
    head = {"Authorization": f"Bearer {harness.site.tokens[user]}"}
    checked: set[tuple[str, str]] = set()
    for kind, spec in harness.specs[role].items():
        base = _base(spec, harness.site.refs)
        cases = _cases(spec, base)
        got = harness.js(RUN_CASES, [spec, base, cases])
        items = [
            {
                "client_id": str(uuid.uuid4()),
                "kind": kind,
                "action": "create",
                "properties": g["values"],
                "geometry": _geometry(spec),
            }
            for g in got
        ]
        r = httpx.post(
            harness.site.url + "/api/v1/sync/outbox",
            json={"device": "forms-test", "items": items},
            headers=head,
            timeout=60,
        )
        assert r.status_code == 200, r.text
        answers = r.json()["items"]
        fields = {f["name"]: f for f in spec["fields"]}
        for c, g, a in zip(cases, got, answers, strict=True):
            where = (kind, c["field"], c["how"], c["value"], g["values"].get(c["field"]))
            server = _server_faults(a)
            browser = [(x["field"], x["message"]) for x in g["en"]]
            assert browser == server, where
            if c["key"] is None:
                assert a["status"] == "stored" and browser == [], (where, a)
                checked.add((fields[c["field"]]["type"], "taken"))
                continue
            assert a["status"] == "invalid" and len(server) == 1, (where, a)
            f = fields[c["field"]]
            sent = g["values"].get(c["field"])
            en = _params(spec, f, c["key"], sent, "en")
            uk = _params(spec, f, c["key"], sent, "uk")
            words = spec["messages"][c["key"]]
            own = OWN_WORDS.get((f["type"], c["value"]))
            if own is None:
                assert server[0] == (c["field"], _fill(words["en"], en)), where
            else:  # the server's own words (no template): the browser's English are the same
                assert own in server[0][1], where
            assert [(x["field"], x["message"]) for x in g["uk"]] == [
                (c["field"], _fill(words["uk"], uk))
            ], where
            checked.add((f["type"], c["key"]))
    # every class of fault was met: missing, not a choice, below a minimum, a wrong type
    assert {("choice", "choice"), ("choice", "catalogue"), ("choice", "required")} <= checked
    assert {("integer", "range"), ("number", "range"), ("integer", "type")} <= checked
    assert {("number", "type"), ("reference", "type"), ("date", "type")} <= checked
    assert {("datetime", "type"), ("boolean", "type"), ("datetime", "required")} <= checked
    # and values the server takes as they are typed (a decimal comma, spaces, another case)
    assert {("integer", "taken"), ("number", "taken"), ("choice", "taken")} <= checked
    assert {("date", "taken"), ("datetime", "taken")} <= checked
    assert not harness.errors


def test_above_the_maximum_says_what_the_server_says(harness: Harness) -> None:
    """No field or operator form has a maximum: the victims form (victim-assistance role,
    written directly) has, age at most 120. Its write path's words are the browser's."""
    import httpx

    spec = harness.specs["victim_assistance"]["victims"]
    by = {f["name"]: f for f in spec["fields"]}
    assert by["age"]["max"] == 120
    base = _base(spec, harness.site.refs)
    cases = [
        {"field": "age", "how": "typed", "value": "121", "key": "range_max"},
        {"field": "age", "how": "typed", "value": "-1", "key": "range"},
        {"field": "age", "how": "typed", "value": "120", "key": None},
    ]
    got = harness.js(RUN_CASES, [spec, base, cases])
    head = {"Authorization": f"Bearer {harness.site.tokens['va']}"}
    for c, g in zip(cases, got, strict=True):
        r = httpx.post(
            harness.site.url + "/ogc/collections/victims/items",
            json={"type": "Feature", "properties": g["values"], "geometry": _geometry(spec)},
            headers=head,
            timeout=60,
        )
        browser = [(x["field"], x["message"]) for x in g["en"]]
        if c["key"] is None:
            assert r.status_code == 201 and browser == [], (c, r.text)
            continue
        assert r.status_code == 422, r.text
        server = [(e["field"], e["reason"]) for e in r.json()["errors"]]
        words = spec["messages"][c["key"]]
        assert (
            browser
            == server
            == [
                (
                    "age",
                    _fill(
                        words["en"], _params(spec, by["age"], c["key"], g["values"]["age"], "en")
                    ),
                )
            ]
        ), c
        uk = _fill(words["uk"], _params(spec, by["age"], c["key"], g["values"]["age"], "uk"))
        assert [(x["field"], x["message"]) for x in g["uk"]] == [("age", uk)]


# --- rendering ----------------------------------------------------------------------------

RENDER = """([spec, lang]) => {
  const root = document.getElementById("root");
  const form = F.renderForm(spec, {lang, idPrefix: "r"});
  root.replaceChildren(form);
  const text = (n) => (n ? n.textContent.replace(/\\s+/g, " ").trim() : "");
  const ids = [...form.querySelectorAll("[id]")].map((n) => n.id);
  const fields = spec.fields.map((f) => {
    const own = [...form.querySelectorAll("input, select, textarea")]
      .filter((n) => n.getAttribute("data-field") === f.name);
    const box = form.querySelector("[data-field='" + f.name + "'].df-field");
    const title = box.querySelector(box.matches("fieldset") ? "legend" : "label");
    const hintIds = (box.matches("fieldset") ? box : own[0]).getAttribute("aria-describedby") || "";
    const hint = hintIds ? document.getElementById(hintIds.split(" ")[0]) : null;
    return {
      name: f.name,
      tags: own.map((n) => n.tagName.toLowerCase() + ":" + (n.type || "")),
      labels: own.map((n) => text(n.labels && n.labels[0])),
      fieldset: box.matches("fieldset"),
      title: text(title),
      options: own[0].tagName === "SELECT" ? [...own[0].options].map((o) => o.value) : null,
      optionText: own[0].tagName === "SELECT"
        ? [...own[0].options].map((o) => o.textContent) : null,
      hint: text(hint),
      required: (box.matches("fieldset") ? box : own[0]).getAttribute("aria-required") === "true",
      heights: [...own.map((n) => (n.type === "checkbox" ? n.closest("label") : n))]
        .map((n) => n.getBoundingClientRect().height),
      right: Math.max(...[box, ...own].map((n) => n.getBoundingClientRect().right)),
    };
  });
  return {
    fields,
    unlabelled: [...form.querySelectorAll("input, select, textarea")]
      .filter((n) => !n.labels || !n.labels.length || !text(n.labels[0])).map((n) => n.id),
    duplicateIds: ids.filter((x, i) => ids.indexOf(x) !== i),
    lang: form.lang,
    scrollWidth: document.documentElement.scrollWidth,
    formWidth: form.scrollWidth,
    clientWidth: form.clientWidth,
  };
}"""


def test_every_form_renders_in_both_languages(harness: Harness) -> None:
    """Each kind of the field and operator roles: one labelled control a field, the
    required ones marked in words, recommended (minimum data) and restricted fields too, the
    spec's choices after an empty first, hints linked; the labels switch with the language;
    tap targets of 44 px and nothing wider than the 390 px phone."""
    marks = {
        "en": ("(required)", "(recommended)", "not public"),
        "uk": ("(обов'язкове)", "(рекомендоване)", "не публічне"),
    }
    seen = set()
    for role in ("field", "operator"):
        kinds = harness.specs[role]
        assert set(kinds) >= {"hazards", "finds", "eo_reports", "activities", "releases"}
        for kind, spec in kinds.items():
            for lang in ("en", "uk"):
                got = harness.js(RENDER, [spec, lang])
                where = (role, kind, lang)
                assert got["lang"] == lang and not got["unlabelled"], (where, got["unlabelled"])
                assert not got["duplicateIds"], where
                assert got["scrollWidth"] <= 390 and got["formWidth"] <= got["clientWidth"], where
                if role == "field":  # the artefacts: each form, both languages
                    ARTIFACTS.mkdir(exist_ok=True)
                    harness.page.screenshot(
                        path=str(ARTIFACTS / f"field-form-{kind}-{lang}.png"), full_page=True
                    )
                req, rec, restricted = marks[lang]
                for f, g in zip(spec["fields"], got["fields"], strict=True):
                    w = (*where, f["name"])
                    label = f["label"][lang]
                    assert g["title"].startswith(label), (w, g["title"])
                    assert (req in g["title"]) == f["required"], w
                    assert (rec in g["title"]) == (f["minimum_data"] and not f["required"]), w
                    assert (restricted in g["title"]) == f["restricted"], w
                    assert g["hint"] == f["hint"][lang], w
                    assert g["required"] == f["required"], w
                    assert min(g["heights"]) >= 44 and g["right"] <= 390, (w, g)
                    if f["type"] == "choice" and f["multiple"]:
                        assert g["fieldset"] and g["tags"] == ["input:checkbox"] * len(f["choices"])
                        assert g["labels"] == [c["label"][lang] for c in f["choices"]], w
                        seen.add("multiple")
                        continue
                    assert len(g["tags"]) == 1 and not g["fieldset"], (w, g["tags"])
                    assert g["labels"][0].startswith(label), w
                    if f["type"] == "choice":
                        assert g["options"] == [""] + [c["value"] for c in f["choices"]], w
                        assert g["optionText"][1:] == [c["label"][lang] for c in f["choices"]]
                    elif f["type"] == "boolean":
                        assert g["options"] == ["", "true", "false"], w
                    expected_tag = {
                        "choice": "select:select-one",
                        "boolean": "select:select-one",
                        "date": "input:date",
                        "datetime": "input:datetime-local",
                        "reference": "input:text",
                        "integer": "input:text",
                        "number": "input:text",
                    }.get(f["type"])
                    if expected_tag:
                        assert g["tags"] == [expected_tag], w
                    seen.add(f["type"])
                    if f["restricted"]:
                        seen.add("restricted")
    assert seen >= {"choice", "multiple", "boolean", "date", "datetime", "reference", "text"}
    assert seen >= {"integer", "number", "restricted"}
    assert not harness.errors


REFERENCES = """([spec, refs]) => {
  const form = F.renderForm(spec, {lang: "uk", references: refs, idPrefix: "s"});
  document.getElementById("root").replaceChildren(form);
  const sel = form.querySelector("#s-hazard_id");
  return {tag: sel.tagName, options: [...sel.options].map((o) => [o.value, o.textContent])};
}"""


def test_a_reference_is_a_choice_of_the_given_records(harness: Harness) -> None:
    spec = harness.specs["field"]["finds"]
    hid = harness.site.refs["hazard_id"]
    refs = {"hazard_id": [{"value": hid, "label": {"en": "North field", "uk": "Північне поле"}}]}
    got = harness.js(REFERENCES, [spec, refs])
    assert got["tag"] == "SELECT"
    assert got["options"] == [["", "— оберіть —"], [hid, "Північне поле"]]


# --- reading a form back ------------------------------------------------------------------


def _full(spec: dict[str, Any], refs: dict[str, str]) -> dict[str, Any]:
    """A value in every field: text with quotes and Cyrillic, whole and decimal numbers, both
    booleans, the last choice, two of a multiple choice, a date-time with seconds."""
    out: dict[str, Any] = {}
    flip = False
    for f in spec["fields"]:
        t = f["type"]
        if t == "text":
            out[f["name"]] = "Поле 'North' \"3\""
        elif t == "integer":
            out[f["name"]] = 3
        elif t == "number":
            out[f["name"]] = 2.5
        elif t == "boolean":
            out[f["name"]] = flip
            flip = not flip
        elif t == "choice" and f["multiple"]:
            # in another order than the spec's, as a stored value may be: read as it came
            out[f["name"]] = f"{f['choices'][-1]['value']},{f['choices'][0]['value']}"
        elif t == "choice":
            out[f["name"]] = f["choices"][-1]["value"]
        elif t == "date":
            out[f["name"]] = "2024-01-15"
        elif t == "datetime":
            out[f["name"]] = "2024-01-15T08:00:30Z"
        elif t == "reference":
            out[f["name"]] = refs.get(f["name"], str(uuid.uuid4()))
    return out


ROUND_TRIP = """([spec, values]) => {
  const form = F.renderForm(spec, {lang: "en", values, idPrefix: "t"});
  document.getElementById("root").replaceChildren(form);
  const shown = {};
  const local = {};
  for (const f of spec.fields) {
    const c = form.querySelector("#t-" + f.name);
    if (c && c.tagName !== "FIELDSET") shown[f.name] = c.value;
    const note = form.querySelector("#t-" + f.name + "-local");
    if (note && c.getAttribute("aria-describedby").split(" ").includes(note.id)) {
      local[f.name] = note.textContent;
    }
  }
  return {read: F.readForm(form, spec), shown, local};
}"""


def _kyiv_offset() -> str:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    off = datetime.now(ZoneInfo("Europe/Kyiv")).utcoffset()
    assert off is not None
    minutes = int(off.total_seconds()) // 60
    return f"+{minutes // 60:02d}:{minutes % 60:02d}"


def test_a_form_reads_back_what_it_was_given_and_the_server_stores_it(harness: Harness) -> None:
    import httpx

    head = {"Authorization": f"Bearer {harness.site.tokens['f_halo']}"}
    items = []
    for kind, spec in harness.specs["field"].items():
        values = _full(spec, harness.site.refs)
        got = harness.js(ROUND_TRIP, [spec, values])
        assert got["read"] == values, kind
        for f in spec["fields"]:
            if f["type"] == "datetime":  # shown in the device's time: Kyiv, UTC+2 in January
                assert got["shown"][f["name"]] == "2024-01-15T10:00:30", kind
                # and the form says so: the phone's offset now (+02:00 or +03:00 in summer)
                assert got["local"][f["name"]] == (
                    f"In this phone's time (UTC{_kyiv_offset()}); sent in UTC."
                ), kind
        # a value no control offers (a stored partial date, a legacy code) is kept as it is
        odd = {}
        for f in spec["fields"]:
            if f["type"] == "choice" and not f["catalogue"]:
                odd[f["name"]] = "legacy"
            elif f["type"] == "boolean":
                odd[f["name"]] = "perhaps"
            elif f["type"] in ("date", "datetime") and f["partial"]:
                odd[f["name"]] = "unknown" if f["unknown"] else "2019-05"
        if odd:
            kept = harness.js(ROUND_TRIP, [spec, odd])["read"]
            assert kept == odd, kind
            faults = harness.js("([s, v]) => F.validate(s, v, 'en')", [spec, odd])
            assert {x["field"] for x in faults} >= {
                n for n, v in odd.items() if v in ("legacy", "perhaps")
            }, kind
        # no value: nothing read (an unset yes/no is not "no")
        empty = harness.js(ROUND_TRIP, [spec, {}])
        assert empty["read"] == {}, kind
        # the required and recommended fields, as read from the form, are what the server takes
        base = harness.js(ROUND_TRIP, [spec, _base(spec, harness.site.refs)])["read"]
        assert base == _base(spec, harness.site.refs)
        items.append(
            {
                "client_id": str(uuid.uuid4()),
                "kind": kind,
                "action": "create",
                "properties": base,
                "geometry": _geometry(spec),
            }
        )
    r = httpx.post(
        harness.site.url + "/api/v1/sync/outbox",
        json={"device": "forms-test", "items": items},
        headers=head,
        timeout=60,
    )
    assert r.status_code == 200, r.text
    assert [a["status"] for a in r.json()["items"]] == ["stored"] * len(items), r.text
    # a multiple choice changed by the team reads in the spec's order
    picked = harness.js(
        """([spec]) => {
          const form = F.renderForm(spec, {values: {device_categories: "uxo,at"}, idPrefix: "m"});
          document.getElementById("root").replaceChildren(form);
          const before = F.readForm(form, spec).device_categories;
          form.querySelector("input[value=ap_blast]").click();
          return [before, F.readForm(form, spec).device_categories];
        }""",
        [harness.specs["field"]["hazards"]],
    )
    assert picked == ["uxo,at", "ap_blast,at,uxo"]
    assert not harness.errors


# --- faults on the form -------------------------------------------------------------------

SHOW = """([spec, faults]) => {
  const form = F.renderForm(spec, {lang: "en", idPrefix: "v"});
  document.getElementById("root").replaceChildren(form);
  const loose = F.showFaults(form, faults);
  const summary = form.querySelector(".df-summary");
  const marked = [...form.querySelectorAll("[aria-invalid='true']")].map((n) => n.id);
  const linked = marked.map((id) => {
    const n = document.getElementById(id);
    const ids = (n.getAttribute("aria-describedby") || "").split(" ");
    const err = ids.map((x) => document.getElementById(x))
      .find((e) => e && e.classList.contains("df-error"));
    return err && !err.hidden ? err.textContent : null;
  });
  return {
    marked, linked, loose,
    focused: document.activeElement.id,
    summary: summary.hidden ? null : summary.textContent,
  };
}"""

CLEAR = """() => {
  const form = document.querySelector("form");
  const c = form.querySelector("#v-state");
  c.value = "live";
  c.dispatchEvent(new Event("change", {bubbles: true}));
  const after = c.getAttribute("aria-invalid");
  F.clearFaults(form);
  return {after, left: form.querySelectorAll("[aria-invalid], .df-error:not([hidden])").length};
}"""


def test_faults_are_shown_on_their_controls_the_first_focused(harness: Harness) -> None:
    spec = harness.specs["field"]["finds"]
    faults = harness.js("([s]) => F.validate(s, {depth_cm: -2}, 'en')", [spec])
    assert [f["field"] for f in faults] == ["device_type", "state", "found_at", "depth_cm"]
    got = harness.js(SHOW, [spec, faults])
    assert got["marked"] == ["v-device_type", "v-state", "v-found_at", "v-depth_cm"]
    assert got["linked"] == [f["message"] for f in faults]
    assert got["focused"] == "v-device_type" and got["loose"] == [] and got["summary"] is None
    ARTIFACTS.mkdir(exist_ok=True)
    harness.page.screenshot(path=str(ARTIFACTS / "field-form-finds-faults-en.png"))
    cleared = harness.js(CLEAR)
    assert cleared == {"after": None, "left": 0}
    # a sync answer's faults: located in the item; one no control shows goes to the summary
    answer = [
        {"field": "items[0].geometry", "reason": "finds need a geometry"},
        {"field": "items[0].properties.found_at", "reason": "found_at is required"},
    ]
    got = harness.js(SHOW, [spec, answer])
    assert got["marked"] == ["v-found_at"] and got["linked"] == ["found_at is required"]
    assert got["focused"] == "v-found_at"
    assert got["loose"] == [answer[0]] and "finds need a geometry" in got["summary"]
    got = harness.js(SHOW, [spec, [answer[0]]])
    assert got["focused"] == "v-faults"  # nothing on a control: the summary
    # a multiple choice: every box marked, the first focused, the group told
    hz = harness.specs["field"]["hazards"]
    faults = harness.js("([s]) => F.validate(s, {device_categories: 'at,zzz'}, 'uk')", [hz])
    assert [f["field"] for f in faults] == ["hazard_type", "status", "device_categories"]
    got = harness.js(SHOW, [hz, faults[2:]])
    n = len({f["name"]: f for f in hz["fields"]}["device_categories"]["choices"])
    assert got["marked"] == ["v-device_categories"] + [f"v-device_categories-{i}" for i in range(n)]
    assert got["focused"] == "v-device_categories-0"
    assert got["linked"][0] == faults[2]["message"] and faults[2]["message"].startswith(
        "Очікується одне зі значень"
    )


# --- the keyboard alone ---------------------------------------------------------------------


def test_a_form_is_filled_with_the_keyboard_alone(harness: Harness) -> None:
    """Tab goes through the controls in the form's order; typing, arrow keys and space fill
    an EORE session the server takes."""
    import httpx

    page = harness.page
    spec = harness.specs["field"]["eore_sessions"]
    harness.js(
        "([s]) => { const f = F.renderForm(s, {lang: 'en', idPrefix: 'k'});"
        " document.getElementById('root').replaceChildren(f); }",
        [spec],
    )
    controls = harness.js(
        "() => [...document.querySelectorAll('form input, form select, form textarea')]"
        ".map((n) => n.id)"
    )
    page.focus("#" + controls[0])
    order = [controls[0]]
    for _ in range(4 * len(controls)):  # a date control takes a Tab a part (month, day, year)
        page.keyboard.press("Tab")
        now = harness.js("() => document.activeElement.id")
        if now not in controls:
            break
        if now != order[-1]:
            order.append(now)
    assert order == controls
    by = {f["name"]: f for f in spec["fields"]}
    assert by["held_on"]["type"] == "date" and by["delivery"]["type"] == "choice"

    def tab() -> str:
        """Tab to the next control (a date control's parts are stops of its own)."""
        start = harness.js("() => document.activeElement.id")
        for _ in range(6):
            page.keyboard.press("Tab")
            now = str(harness.js("() => document.activeElement.id"))
            if now != start:
                return now
        raise AssertionError(f"Tab did not leave {start}")

    page.focus("#k-held_on")
    page.keyboard.type("03152025")  # en-US: month, day, year
    assert tab() == "k-organisation"
    page.keyboard.type("HALO")
    assert tab() == "k-place"
    page.keyboard.type("School No. 3")
    assert tab() == "k-delivery"
    page.keyboard.press("ArrowDown")  # the first choice
    for name, n in (("girls", "12"), ("boys", "10"), ("women", "4"), ("men", "2")):
        assert tab() == f"k-{name}"
        page.keyboard.type(n)
    values = harness.js("([s]) => F.readForm(document.querySelector('form'), s)", [spec])
    assert values == {
        "held_on": "2025-03-15",
        "organisation": "HALO",
        "place": "School No. 3",
        "delivery": by["delivery"]["choices"][0]["value"],
        "girls": 12,
        "boys": 10,
        "women": 4,
        "men": 2,
    }
    assert harness.js("([s, v]) => F.validate(s, v, 'en')", [spec, values]) == []
    r = httpx.post(
        harness.site.url + "/api/v1/sync/outbox",
        json={
            "device": "forms-test",
            "items": [
                {
                    "client_id": str(uuid.uuid4()),
                    "kind": "eore_sessions",
                    "action": "create",
                    "properties": values,
                    "geometry": POINT,
                }
            ],
        },
        headers={"Authorization": f"Bearer {harness.site.tokens['f_halo']}"},
        timeout=60,
    )
    assert r.status_code == 200 and r.json()["items"][0]["status"] == "stored", r.text
    # a required field left empty: the fault is on it and it has the focus
    page.fill("#k-organisation", "")
    harness.js(
        "([s]) => { const f = document.querySelector('form');"
        " F.showFaults(f, F.validate(s, F.readForm(f, s), 'en')); }",
        [spec],
    )
    assert harness.js("() => document.activeElement.id") == "k-organisation"
    assert harness.js("() => document.activeElement.getAttribute('aria-invalid')") == "true"
    assert not harness.errors


# --- under the app's Content-Security-Policy ---------------------------------------------------

WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI);
});
"""

CSP_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>forms.js under the CSP</title>
<link rel="stylesheet" href="/static/field/forms.css"></head>
<body><main id="root"></main>
<script type="module" src="/__csp_harness__.js"></script></body></html>"""
CSP_SCRIPT = """
import * as F from "/static/field/forms.js";
const specs = JSON.parse(sessionStorage.getItem("specs"));
const root = document.getElementById("root");
let n = 0;
for (const spec of specs) {
  for (const lang of ["en", "uk"]) {
    const form = F.renderForm(spec, {lang, idPrefix: "c" + n++});
    root.append(form);
    F.showFaults(form, F.validate(spec, {}, lang));
  }
}
window.__done = n;
"""


def test_forms_break_no_rule_of_the_pages_csp(harness: Harness) -> None:
    """The app's page has the pages' policy (no inline script or style, no eval): forms.js
    renders and marks every form under it without a violation."""
    from demine.api.security import html_csp

    page = harness.page.context.new_page()
    page.add_init_script(WATCH)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    base = harness.site.url
    policy = html_csp(tile_url=None, script_hashes=(), style_hashes=())
    page.route(
        base + "/__csp_harness__.html",
        lambda route: route.fulfill(
            status=200,
            content_type="text/html",
            body=CSP_PAGE,
            headers={"Content-Security-Policy": policy},
        ),
    )
    page.route(
        base + "/__csp_harness__.js",
        lambda route: route.fulfill(status=200, content_type="text/javascript", body=CSP_SCRIPT),
    )
    specs = list(harness.specs["operator"].values())
    # the specs reach the page through its storage (the origin's, set before the page loads)
    page.goto(base + "/static/field/forms.css")
    page.evaluate("(s) => sessionStorage.setItem('specs', s)", json.dumps(specs))
    page.goto(base + "/__csp_harness__.html")
    try:
        assert wait_for(page, "window.__done") == 2 * len(specs)
        assert page.evaluate("window.__csp") == [] and errors == []
        assert page.evaluate("document.querySelectorAll('[aria-invalid=true]').length") > 0
    finally:
        page.close()
