"""One write path (services.records): a bad record gets the same located faults through every
face that writes records - a file import, ``demine update``, OGC API POST, PUT and PATCH - on
both backends, and nothing of it is stored. A role setting a field it may not read gets the
same refusal everywhere too: PermissionDenied (403 problem+json, CLI exit 5), naming the kind
and the field."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from demine.api.app import create_app
from demine.cli.app import app
from demine.errors import DemineError, ValidationError
from demine.model.kinds import KINDS
from demine.services import intake, records
from demine.services.access import new_token
from demine.services.records import WriteContext
from demine.services.register import ImportOptions, import_file
from demine.store.base import Store

NOWHERE = "0190f0c4-8a4b-7c3d-9e2f-0000000dead0"
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[36.1, 49.9], [36.11, 49.9], [36.11, 49.91], [36.1, 49.91], [36.1, 49.9]]],
}
POINT = {"type": "Point", "coordinates": [36.105, 49.905]}
EMPTY_POLYGON = {"type": "Polygon", "coordinates": [[]]}


@dataclass
class Case:
    name: str
    target: str  # the seeded record the bad write is about
    change: dict[str, Any] = field(default_factory=dict)  # None clears a field
    geometry: Any = None  # a bad geometry (None: keep the seeded one)
    cli: list[str] | None = None  # the same change as demine update FIELD=VALUE arguments
    field: str = ""  # the fault expected on every face ...
    reason: str = ""  # ... and (part of) its reason
    role: str | None = None  # who writes (None: an admin; the CLI without --role)
    status: int = 422  # the answer on every face: 422 (CLI exit 1) or 403 (CLI exit 5)


CASES = [
    Case(
        "unknown device type",
        "find",
        {"device_type": "no-such-device"},
        cli=["device_type=no-such-device"],
        field="device_type",
        reason="unknown device type 'no-such-device'; known: ",
    ),
    Case(
        "empty polygon",
        "hazard",
        geometry=EMPTY_POLYGON,
        field="geometry",
        reason="hazards need a geometry",
    ),
    Case(
        "wrong enum value",
        "find",
        {"state": "exploded"},
        cli=["state=exploded"],
        field="state",
        reason="exploded",
    ),
    Case(
        "number out of range",
        "find",
        {"depth_cm": -5},
        cli=["depth_cm=-5"],
        field="depth_cm",
        reason="is below the minimum 0",
    ),
    Case(
        "missing required field",
        "find",
        {"found_at": None},
        cli=["found_at="],
        field="found_at",
        reason="found_at is required",
    ),
    Case(
        "broken link",
        "activity",
        {"hazard_id": NOWHERE},
        cli=[f"hazard_id={NOWHERE}"],
        field="hazard_id",
        reason=f"no hazard with id {NOWHERE}",
    ),
    Case(
        "duplicate natural key",
        "dt1",
        {"code": "zz-two"},
        cli=["code=zz-two"],
        field="code",
        reason="code 'zz-two' is taken by device_types record ",
    ),
    Case(
        "a field the role may not read",
        "accident",
        {"investigation": "none"},
        cli=["investigation=none"],
        field="",  # a refusal, not a fault of the record: its detail names kind and field
        reason="the field role may not set investigation of accidents",
        role="field",
        status=403,
    ),
]
EXIT = {422: 1, 403: 5}  # the CLI's exit code for each HTTP status (demine.errors)


def _seed(store: Store) -> dict[str, Any]:
    def make(kind: str, props: dict[str, Any], geom: Any = None) -> Any:
        rec, created = records.create(
            store, KINDS[kind], props, geom, ctx=WriteContext(actor="test")
        )
        assert created
        return rec

    h = make("hazards", {"hazard_type": "SHA", "status": "open", "name": "seed"}, SQUARE)
    known = sorted(records.known_device_types(store))
    template = next(r for r in store.list("device_types"))
    dt = {k: v for k, v in template.properties.items() if k != "code"}
    return {
        "hazard": h,
        "find": make(
            "finds",
            {
                "device_type": known[0],
                "state": "live",
                "found_at": "2024-05-01T10:00:00Z",
                "depth_cm": 5,
            },
            POINT,
        ),
        "activity": make(
            "activities",
            {
                "hazard_id": h.id,
                "activity_type": "technical_survey",
                "status": "planned",
                "organisation": "Org",
            },
        ),
        "dt1": make("device_types", {**dt, "code": "zz-one"}),
        "dt2": make("device_types", {**dt, "code": "zz-two"}),
        "accident": make(
            "accidents",
            {
                "occurred_at": "2024-05-01T10:00:00Z",
                "accident_type": "civilian",
                "description": "seed",
                "investigation": "fuse found",
            },
            POINT,
        ),
    }


def _bad(case: Case, target: Any) -> tuple[dict[str, Any], Any]:
    """The whole bad record: the seeded one with the bad change."""
    kind = KINDS[target.kind]
    props = {
        k: v
        for k, v in target.properties.items()
        if not (k in kind.field_names and kind.field(k).derived)
    }
    for k, v in case.change.items():
        if v is None:
            props.pop(k, None)
        else:
            props[k] = v
    geom = case.geometry if case.geometry is not None else _geojson(target.geometry)
    return props, geom


def _geojson(geom: Any) -> Any:
    import shapely

    return None if geom is None else json.loads(shapely.to_geojson(geom))


def _pairs(problem: dict[str, Any]) -> list[tuple[str, str]]:
    """A face's answer (problem details): its located faults, or for a refusal its detail."""
    if "errors" not in problem:
        return [("", str(problem["detail"]))]
    return sorted((str(f["field"]), str(f["reason"])) for f in problem["errors"])


def _faces(store: Store, seeded: dict[str, Any], case: Case, tmp: Path) -> dict[str, Any]:
    """Send the bad record through every face as ``case.role``; each face's answer (problem
    details: the same dict in the CLI's --json and over HTTP)."""
    target = seeded[case.target]
    kind = target.kind
    props, geom = _bad(case, target)
    out: dict[str, Any] = {}
    role = case.role or "admin"
    as_role = [] if case.role is None else ["--role", case.role]

    # a file import (the bad record under the target's id)
    src = tmp / f"{kind}.geojson"
    feature = {"type": "Feature", "id": target.id, "geometry": geom, "properties": props}
    src.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    with pytest.raises(DemineError) as e:
        import_file(store, src, ImportOptions(kind=kind, actor="test"), role=case.role)
    assert e.value.http_status == case.status, e.value
    if isinstance(e.value, ValidationError):
        assert all(f.source == src.name and f.index == 0 for f in e.value.faults)
    out["import"] = e.value.to_problem()

    # the CLI's import of the same file: exit 1 (5) with the same faults (refusal)
    r = CliRunner().invoke(
        app, ["--db", store.location, *as_role, "import", str(src), "--kind", kind, "--json"]
    )
    assert r.exit_code == EXIT[case.status], r.output
    out["cli import"] = json.loads(r.stdout)["error"]

    # demine update (the CLI takes no geometry: its service, records.update, does)
    if case.cli is not None:
        r = CliRunner().invoke(
            app, ["--db", store.location, *as_role, "update", target.id, *case.cli, "--json"]
        )
        assert r.exit_code == EXIT[case.status], r.output
        out["demine update"] = json.loads(r.stdout)["error"]
    else:
        with pytest.raises(DemineError) as e:
            ctx = WriteContext(role=case.role, actor="t")
            records.update(store, target.id, case.change, geometry=case.geometry, ctx=ctx)
        out["records.update"] = e.value.to_problem()

    # the OGC API, Part 4
    store.add_user(f"u_{role}", role)
    token, h = new_token()
    store.add_token(f"u_{role}", h)
    auth = {"Authorization": f"Bearer {token}"}
    url = f"/ogc/collections/{kind}/items"
    body = {"type": "Feature", "geometry": geom, "properties": props}
    patch: dict[str, Any] = {"properties": case.change}
    if case.geometry is not None:
        patch["geometry"] = case.geometry
    with TestClient(create_app(store.location)) as client:
        for face, resp in (
            ("OGC POST", client.post(url, json=body, headers=auth)),
            ("OGC PUT", client.put(f"{url}/{target.id}", json=body, headers=auth)),
            ("OGC PATCH", client.patch(f"{url}/{target.id}", json=patch, headers=auth)),
        ):
            assert resp.status_code == case.status, (face, resp.text)
            assert resp.headers["content-type"].startswith("application/problem+json")
            out[face] = resp.json()
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_face_gives_the_same_located_fault(store: Store, tmp_path: Path, case: Case) -> None:
    seeded = _seed(store)
    target = seeded[case.target]
    kinds = ("hazards", "finds", "activities", "device_types", "accidents")
    before = {k: sorted((r.id, r.revision) for r in store.list(k)) for k in kinds}

    faces = _faces(store, seeded, case, tmp_path)

    expected = _pairs(faces["import"])
    assert expected, "the import found no fault"
    assert [f for f, _ in expected] == [case.field], expected
    assert case.reason in expected[0][1]
    if case.name == "duplicate natural key":
        assert expected[0][1].endswith(seeded["dt2"].id)
    for face, faults in faces.items():
        assert _pairs(faults) == expected, f"{face} disagrees with the import"
    # one error class on every face: the same status and title in the CLI's --json and HTTP
    assert {(p["status"], p["title"]) for p in faces.values()} == {
        (case.status, faces["import"]["title"])
    }
    # nothing half-stored: no record of any kind changed or appeared
    assert {k: sorted((r.id, r.revision) for r in store.list(k)) for k in kinds} == before
    assert store.get(target.kind, target.id).properties == target.properties


def test_a_good_write_passes_every_face(store: Store, tmp_path: Path) -> None:
    """The control: the same faces store a good change (so the table above tests the rules,
    not a face that refuses everything)."""
    seeded = _seed(store)
    f = seeded["find"]
    rec = records.update(store, f.id, {"depth_cm": 7}, ctx=WriteContext(actor="t"))
    assert rec.revision == 2 and rec.properties["depth_cm"] == 7
    r = CliRunner().invoke(app, ["--db", store.location, "update", f.id, "depth_cm=9", "--json"])
    assert r.exit_code == 0, r.output
    assert store.get("finds", f.id).properties["depth_cm"] == 9
    # a code moved to a free value, and an import by natural key updates its holder
    d = records.update(store, seeded["dt1"].id, {"code": "zz-three"}, ctx=WriteContext(actor="t"))
    assert d.properties["code"] == "zz-three"
    two = seeded["dt2"]
    props = {**two.properties, "name": "renamed"}
    src = tmp_path / "dt.geojson"
    src.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "geometry": None, "properties": props}],
            }
        )
    )
    rep = import_file(store, src, ImportOptions(kind="device_types", actor="t"))
    assert rep.updated == 1 and store.get("device_types", two.id).properties["name"] == "renamed"
    # the field role writes what it may read of an accident on every face (the refusal in the
    # table above is of the hidden field, not of the role); the field it may not read is kept.
    # A field team's write is a submission (docs/intake.md): it is a record once approved.
    acc = seeded["accident"]
    r = CliRunner().invoke(
        app,
        ["--db", store.location, "--role", "field", "update", acc.id, "description=cli", "--json"],
    )
    assert r.exit_code == 0, r.output
    assert store.get("accidents", acc.id).properties["description"] != "cli"
    intake.approve(store, json.loads(r.stdout)["submission"]["id"], role="reviewer", actor="rev")
    assert store.get("accidents", acc.id).properties["description"] == "cli"
    store.add_user("u_field", "field")
    token, h = new_token()
    store.add_token("u_field", h)
    with TestClient(create_app(store.location)) as client:
        p = client.patch(
            f"/ogc/collections/accidents/items/{acc.id}",
            json={"properties": {"description": "ogc"}},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert p.status_code == 202, p.text
    assert "investigation" not in p.text
    intake.approve(store, p.json()["id"], role="reviewer", actor="rev")
    now = store.get("accidents", acc.id).properties
    assert now["description"] == "ogc" and now["investigation"] == "fuse found"


def test_a_code_twice_in_one_import_is_a_fault(store: Store, tmp_path: Path) -> None:
    seeded = _seed(store)
    props = {k: v for k, v in seeded["dt1"].properties.items() if k != "code"}
    feats = [
        {"type": "Feature", "geometry": None, "properties": {**props, "code": "zz-new"}}
        for _ in range(2)
    ]
    src = tmp_path / "dt.geojson"
    src.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    n = store.count("device_types")
    with pytest.raises(ValidationError) as e:
        import_file(store, src, ImportOptions(kind="device_types", actor="t"))
    assert [(f.index, f.field, f.reason) for f in e.value.faults] == [
        (1, "code", "code 'zz-new' is given twice")
    ]
    assert store.count("device_types") == n
