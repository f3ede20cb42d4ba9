"""Form specifications (issue 14, services/forms.py): the spec of every kind agrees with what
the write path accepts and refuses; served at /api/v1/forms with an ETag, per role."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from fastapi.testclient import TestClient

from demine.errors import PermissionDenied, ValidationError
from demine.model.kinds import KINDS
from demine.services import forms, records
from demine.services.access import WRITERS
from demine.services.quality import save_minimum_data
from demine.services.records import WriteContext
from demine.services.submitting import Submitted

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


def _refs(store: Any) -> dict[str, str]:
    """One stored record for each reference a form may name."""
    hz, _ = records.create(
        store, KINDS["hazards"], {"hazard_type": "CHA", "status": "open"}, SQUARE
    )
    act, _ = records.create(
        store,
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
        store,
        KINDS["accidents"],
        {"occurred_at": "2024-03-01T08:00:00Z", "accident_type": "civilian"},
        POINT,
    )
    return {"hazard_id": hz.id, "activity_id": act.id, "accident_id": acc.id}


def _value(f: dict[str, Any], refs: dict[str, str]) -> Any:
    """A value taken from the spec alone: its first choice, its minimum, a date."""
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


def _filled(spec: dict[str, Any], refs: dict[str, str]) -> tuple[dict[str, Any], Any]:
    """Every required and minimum-data field filled from the spec, and the geometry."""
    props = {
        f["name"]: _value(f, refs)
        for f in spec["fields"]
        if (f["required"] or f["minimum_data"]) and f["name"] != "emplacement_id"
    }
    geom = {"Polygon": INNER, "Point": POINT, None: None}[spec["geometry"]]
    return props, geom


def _write(store: Any, kind: str, props: dict[str, Any], geom: Any, role: str | None) -> None:
    # a field team's write is checked as any write, then kept as a submission
    with contextlib.suppress(Submitted):
        records.create(store, KINDS[kind], props, geom, ctx=WriteContext(role=role, actor="t"))


SPEC_KINDS = list(forms.FORM_KINDS)


def test_spec_shape_and_words(store: Any) -> None:
    spec = forms.form_spec(store, "hazards", "operator")
    assert spec["kind"] == "hazards" and spec["geometry"] == "Polygon"
    assert spec["geometry_required"] is True
    assert spec["title"]["uk"] == "Небезпечні території"
    by = {f["name"]: f for f in spec["fields"]}
    ht = by["hazard_type"]
    assert ht["type"] == "choice" and ht["required"] and ht["minimum_data"]
    assert [c["label"]["uk"] for c in ht["choices"]] == [
        "Підозріла небезпечна територія (ПНТ)",
        "Підтверджена небезпечна територія (ПдНТ)",
    ]
    assert by["device_categories"]["multiple"] is True
    assert "area_m2" not in by  # derived
    assert "handed_over_to" not in by  # an analyst's field: an operator may not set it
    assert by["name"]["required"] is False and by["name"]["minimum_data"] is False
    for f in spec["fields"]:
        assert f["label"]["en"] and f["label"]["uk"] and f["hint"]["uk"], f["name"]
        assert set(f) >= {"name", "type", "label", "hint", "required", "minimum_data", "choices"}
        assert set(f) >= {"min", "max", "max_length", "restricted"}
    assert set(spec["messages"]) == {
        "required",
        "choice",
        "range",
        "range_max",
        "type",
        "catalogue",
    }
    analyst = forms.form_spec(store, "hazards", "analyst")
    assert "handed_over_to" in {f["name"] for f in analyst["fields"]}
    assert analyst["version"] != spec["version"]
    eo = {f["name"]: f for f in forms.form_spec(store, "eo_reports", "field")["fields"]}
    assert eo["reporter_contact"]["restricted"] and not eo["description"]["restricted"]
    finds = {f["name"]: f for f in forms.form_spec(store, "finds", "field")["fields"]}
    codes = {c["value"] for c in finds["device_type"]["choices"]}
    assert codes == {str(r.properties["code"]) for r in store.list("device_types")}
    assert finds["hazard_id"]["type"] == "reference"
    victims = {f["name"]: f for f in forms.form_spec(store, "victims", None)["fields"]}
    assert victims["age"]["min"] == 0 and victims["age"]["max"] == 120


def test_minimum_data_of_the_store_is_in_the_spec(store: Any) -> None:
    before = forms.form_spec(store, "hazards", "operator")
    assert not {f["name"]: f for f in before["fields"]}["name"]["minimum_data"]
    save_minimum_data(store, {"hazards": {"name": {"weight": 10}}}, source="test")
    after = forms.form_spec(store, "hazards", "operator")
    by = {f["name"]: f for f in after["fields"]}
    assert by["name"]["minimum_data"] and not by["hazard_type"]["minimum_data"]
    assert after["version"] != before["version"]


def test_roles_and_unknown_kinds(store: Any) -> None:
    assert "hazards" in forms.writable_kinds("operator")
    assert "victims" not in forms.writable_kinds("field")
    assert "risk_updates" not in forms.writable_kinds("admin")
    with pytest.raises(PermissionDenied, match="field role"):
        forms.form_spec(store, "emplacements", "field")
    with pytest.raises(Exception, match="no form 'nope'"):
        forms.form_spec(store, "nope", "admin")


@pytest.mark.parametrize("kind", SPEC_KINDS)
def test_a_feature_filled_from_the_spec_is_accepted(store: Any, kind: str) -> None:
    refs = _refs(store)
    role = next(
        r for r in ("field", "operator", "victim_assistance", "analyst") if r in WRITERS[kind]
    )
    spec = forms.form_spec(store, kind, role)
    props, geom = _filled(spec, refs)
    if kind == "device_types":
        props["code"] = "NEW-1"  # the natural key: not one of the catalogue's
    _write(store, kind, props, geom, role)


@pytest.mark.parametrize("kind", SPEC_KINDS)
def test_each_rule_of_the_spec_is_refused_naming_the_field(store: Any, kind: str) -> None:
    refs = _refs(store)
    spec = forms.form_spec(store, kind, "admin" if kind != "victims" else "victim_assistance")
    role = None
    good, geom = _filled(spec, refs)
    if kind == "device_types":
        good["code"] = "NEW-2"
    wrongs: list[tuple[str, Any, str]] = []
    for f in spec["fields"]:
        name = f["name"]
        msg = spec["messages"]
        if f["required"]:  # the server's words are the spec's
            wrongs.append((name, None, msg["required"]["en"].format(field=name)))
        if f["type"] == "choice":
            wrongs.append((name, "not-a-choice", "not-a-choice"))
        if f["min"] is not None:
            low = f["min"] - 1  # a number is shown as a float (-1.0), an integer as is
            shown = float(low) if f["type"] == "number" else int(low)
            words = msg["range"]["en"].format(value=shown, min=f"{f['min']:g}")
            wrongs.append((name, low, words))
        if f["max"] is not None:
            high = f["max"] + 1
            shown = float(high) if f["type"] == "number" else int(high)
            words = msg["range_max"]["en"].format(value=shown, max=f"{f['max']:g}")
            wrongs.append((name, high, words))
        bad_type = {
            "integer": ("1.5", "whole number"),
            "number": ("abc", "expected a number"),
            "date": ("15/01/2024", "expected"),
            "datetime": ("yesterday", "expected"),
            "boolean": ("perhaps", "true or false"),
            "reference": ("not-an-id", "UUID"),
        }.get(f["type"])
        if bad_type is not None:
            wrongs.append((name, *bad_type))
    assert wrongs, kind
    for name, value, words in wrongs:
        props = dict(good)
        if value is None:
            props.pop(name, None)
        else:
            props[name] = value
        with pytest.raises(ValidationError) as e:
            _write(store, kind, props, geom, role)
        faults = [(x.field, x.reason) for x in e.value.faults]
        assert any(f == name and words in r for f, r in faults), (kind, name, value, faults)
    if spec["geometry_required"]:
        with pytest.raises(ValidationError) as e:
            _write(store, kind, good, None, role)
        assert "geometry" in str(e.value.to_dict() if hasattr(e.value, "to_dict") else e.value)


# --- HTTP -------------------------------------------------------------------------------------


def _client(store: Any) -> tuple[TestClient, dict[str, dict[str, str]]]:
    from demine.api.app import create_app
    from demine.services.access import new_token

    heads: dict[str, dict[str, str]] = {"public": {}}
    for role in ("admin", "analyst", "field", "operator", "victim_assistance"):
        store.add_user(f"u_{role}", role)
        token, th = new_token()
        store.add_token(f"u_{role}", th)
        heads[role] = {"Authorization": f"Bearer {token}"}
    return TestClient(create_app(store.location), raise_server_exceptions=False), heads


def test_http_forms_by_role_with_etag(store: Any) -> None:
    client, h = _client(store)
    with client:
        assert client.get("/api/v1/forms").status_code == 401
        assert client.get("/api/v1/forms/finds").status_code == 401
        r = client.get("/api/v1/forms", headers=h["field"])
        assert r.status_code == 200
        kinds = [f["kind"] for f in r.json()["forms"]]
        assert kinds == forms.writable_kinds("field") and "finds" in kinds
        assert "emplacements" not in kinds and "victims" not in kinds
        r = client.get("/api/v1/forms/finds", headers=h["field"])
        assert r.status_code == 200 and r.json() == forms.form_spec(store, "finds", "field")
        tag = r.headers["etag"]
        again = client.get("/api/v1/forms/finds", headers={**h["field"], "If-None-Match": tag})
        assert again.status_code == 304 and again.headers["etag"] == tag
        other = client.get("/api/v1/forms/finds", headers={**h["analyst"], "If-None-Match": tag})
        assert other.status_code == 200 and other.headers["etag"] != tag
        r = client.get("/api/v1/forms/emplacements", headers=h["field"])
        assert r.status_code == 403 and "field role" in r.json()["detail"]
        assert client.get("/api/v1/forms/victims", headers=h["analyst"]).status_code == 403
        assert (
            client.get("/api/v1/forms/victims", headers=h["victim_assistance"]).status_code == 200
        )
        assert client.get("/api/v1/forms/nope", headers=h["admin"]).status_code == 404
        save_minimum_data(store, {"finds": {"notes": {"weight": 5}}}, source="test")
        changed = client.get("/api/v1/forms/finds", headers={**h["field"], "If-None-Match": tag})
        assert changed.status_code == 200 and changed.headers["etag"] != tag


def test_every_field_of_every_form_has_its_words_in_both_languages(store: Any) -> None:
    from demine.services import forms_text

    for kind in forms.FORM_KINDS:
        spec = forms.form_spec(store, kind, None)
        assert spec["title"]["uk"] == forms_text.TITLES_UK[kind]
        for f in spec["fields"]:
            where = (kind, f["name"])
            assert f["name"] in forms_text.LABELS_UK, where
            assert f["hint"]["en"] and f["hint"]["uk"], where
            for c in f["choices"] or []:
                if f["name"] != "device_type":  # the catalogue's own names
                    assert c["label"]["uk"] != c["value"], (*where, c["value"])
