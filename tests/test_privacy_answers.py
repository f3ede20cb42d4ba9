"""Answers that must not depend on what the caller may not read (security issue 10).

* The statistics API's ``by`` error lists only what the role may use (reference layers), the
  same for a record kind and for a name that is nothing, so it names no hidden kind.
* A field user re-sending an accident it created gets the same answer whether or not an
  analyst has since added an (analyst-only) investigation; deleting an accident is refused the
  same way whether or not (victim_assistance-only) victims refer to it.
* The public sees an accident without who was working there (operator, activity, notes), and
  cannot filter on them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import shapely
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from demine.api.app import create_app
from demine.cli.app import app as cli
from demine.ids import uuid7
from demine.model.kinds import layer_kind
from demine.model.schema import FieldSpec, Record
from demine.model.schema import FieldType as T
from demine.services.access import new_token

run = CliRunner().invoke
HIDDEN = {  # kinds each role may not read (and so must not be told of)
    "public": ("victims", "emplacements", "risk_updates", "finds"),
    "field": ("victims", "emplacements", "risk_updates"),
    "analyst": ("victims",),
}


@pytest.fixture
def site(store: Any) -> dict[str, Any]:
    kind = layer_kind("oblasts", (FieldSpec("name", T.TEXT, "Name"),))
    store.create_layer(kind)
    store.upsert(
        "oblasts",
        [Record("oblasts", uuid7(), {"name": "west"}, shapely.box(35.9, 47.9, 36.1, 48.1))],
        actor="t",
    )
    headers: dict[str, dict[str, str]] = {"public": {}}
    for role in ("field", "analyst", "victim_assistance", "admin"):
        store.add_user(f"u_{role}", role)
        token, h = new_token()
        store.add_token(f"u_{role}", h)
        headers[role] = {"Authorization": f"Bearer {token}"}
    return {"location": store.location, "headers": headers}


def test_stats_by_error_names_only_reference_layers(site: dict[str, Any]) -> None:
    with TestClient(create_app(site["location"])) as c:
        for role, hidden in HIDDEN.items():
            h = site["headers"][role]
            bodies = {}
            for name in (*hidden, "hazards", "nothing-here"):
                r = c.get(f"/api/v1/stats?by={name}", headers=h)
                assert r.status_code == 422, (role, name, r.text)
                assert r.headers["content-type"].startswith("application/problem+json")
                body = r.json()
                assert "reference layers: oblasts" in r.text
                text = r.text.replace(repr(name), "NAME").replace(name, "NAME")
                for kind in hidden:
                    assert kind not in text, (role, name, kind, r.text)
                bodies[name] = json.dumps(body).replace(name, "NAME")
                chart = c.get(f"/api/v1/stats/chart/released.svg?by={name}", headers=h)
                assert chart.status_code == 422
                assert chart.json()["detail"] == body["detail"]
            # the same answer for a hidden kind, a public kind and nothing at all
            assert len(set(bodies.values())) == 1, bodies
    r = run(cli, ["--db", site["location"], "--role", "public", "stats", "--by", "nope", "--json"])
    assert r.exit_code != 0 and "reference layers: oblasts" in r.output
    for kind in HIDDEN["public"]:
        assert kind not in r.output


def _accident(fid: str) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": fid,
        "geometry": {"type": "Point", "coordinates": [36.0, 48.0]},
        "properties": {
            "occurred_at": "2025-04-01T09:30:00Z",
            "accident_type": "demining",
            "device_category": "ap_blast",
            "description": "stepped on a device",
        },
    }


def test_answers_to_a_field_user_do_not_depend_on_hidden_data(site: dict[str, Any]) -> None:
    h = site["headers"]
    url = "/ogc/collections/accidents/items"
    with TestClient(create_app(site["location"])) as c:
        plain, investigated = str(uuid7()), str(uuid7())
        for fid in (plain, investigated):
            # a field team's write is a submission (docs/intake.md): the admin approves it
            r = c.post(url, json=_accident(fid), headers=h["field"])
            assert r.status_code == 202, r.text
            ok = c.post(f"/api/v1/submissions/{r.json()['id']}/approve", headers=h["admin"])
            assert ok.status_code == 200 and ok.json()["ids"] == [fid], ok.text
        r = c.patch(
            f"{url}/{investigated}",
            json={"properties": {"investigation": "PLANTED-FINDINGS"}},
            headers={**h["analyst"], "Content-Type": "application/merge-patch+json"},
        )
        assert r.status_code == 200, r.text
        # sending the same feature again: the same answer for both (before the fix: 409 for
        # the one with an investigation, which the field role cannot read)
        again = {
            fid: c.post(url, json=_accident(fid), headers=h["field"])
            for fid in (plain, investigated)
        }
        # (now submissions: the same answer, whatever is stored)
        assert {r.status_code for r in again.values()} == {202}
        for r in again.values():
            assert "investigation" not in r.text
            assert "PLANTED" not in r.text
        # a different feature under an existing id: a submission for both alike
        other = {
            **_accident(plain),
            "properties": {**_accident(plain)["properties"], "accident_type": "civilian"},
        }
        for fid in (plain, investigated):
            r = c.post(url, json={**other, "id": fid}, headers=h["field"])
            assert r.status_code == 202 and "PLANTED" not in r.text
        # victims refer to one accident: deleting is refused alike for both, whatever the data
        r = c.post(
            "/ogc/collections/victims/items",
            json={
                "type": "Feature",
                "geometry": None,
                "properties": {"accident_id": plain, "outcome": "injured", "sex": "female"},
            },
            headers=h["victim_assistance"],
        )
        assert r.status_code == 201, r.text
        answers = {}
        for fid in (plain, investigated):
            r = c.delete(f"{url}/{fid}", headers=h["field"])
            assert r.status_code == 403, r.text
            answers[fid] = r.json()["detail"]
        assert len(set(answers.values())) == 1 and "victims" in answers[plain]
        # an admin reads victims (and may write accidents): it is told why it may not delete
        assert c.delete(f"{url}/{plain}", headers=h["admin"]).status_code == 409
        assert c.delete(f"{url}/{investigated}", headers=h["admin"]).status_code == 204


def test_the_public_sees_no_operator_of_an_accident(site: dict[str, Any], store: Any) -> None:
    act = Record(
        "activities",
        uuid7(),
        {"activity_type": "clearance", "status": "ongoing", "organisation": "PLANTED-OPERATOR"},
    )
    acc = Record(
        "accidents",
        uuid7(),
        {
            "occurred_at": "2025-04-01T09:30:00Z",
            "accident_type": "demining",
            "organisation": "PLANTED-OPERATOR",
            "activity_id": act.id,
            "notes": "PLANTED-NOTE",
        },
        shapely.Point(36.0, 48.0),
    )
    store.upsert("accidents", [acc], actor="t")
    h = site["headers"]
    url = "/ogc/collections/accidents/items"
    with TestClient(create_app(site["location"])) as c:
        pub = c.get(f"{url}/{acc.id}").json()["properties"]
        assert {"occurred_at", "accident_type"} <= set(pub)
        assert not {"organisation", "activity_id", "notes"} & set(pub)
        assert "PLANTED" not in c.get(f"{url}?f=html").text
        r = c.get(f"{url}?filter=organisation%20%3D%20'PLANTED-OPERATOR'")
        assert r.status_code == 400
        field = c.get(f"{url}/{acc.id}", headers=h["field"]).json()["properties"]
        assert field["organisation"] == "PLANTED-OPERATOR" and field["notes"] == "PLANTED-NOTE"
    r = run(cli, ["--db", site["location"], "--role", "public", "show", acc.id, "--json"])
    assert r.exit_code == 0 and "PLANTED" not in r.output
