"""The organisation that made a record (issue 13): every record carries `record_organisation`,
set by the store on create (the writer's organisation; on approval the submission's), kept on
every change, never set by a write, shown by `demine show`, the exports (GeoJSON, GeoPackage,
CSV), OGC items and copied with the store; a store made before the column gets it filled from
the first revision's actor. Both backends (the `store` fixture).

The system column is not called `organisation`: hazards, finds, activities, releases,
accidents and EORE sessions have a data field of that name (the operator on the ground, as
reported), which the record's maker is not."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import shapely.geometry
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from demine.api import create_app
from demine.cli.app import app as cli
from demine.services.records import WriteContext, create
from demine.store.open import open_store
from test_intake import populate

EO = {
    "type": "Feature",
    "properties": {"reported_at": "2025-01-01T00:00:00Z", "status": "new", "public": True},
    "geometry": {"type": "Point", "coordinates": [30.505, 50.405]},
}
USERS = {
    "f_halo": ("field", "HALO"),
    "o_mag": ("operator", "MAG"),
    "rev": ("reviewer", None),
    "adm": ("admin", None),
}


@dataclass
class World:
    location: str
    client: TestClient
    headers: dict[str, dict[str, str]]

    def cli(self, user: str | None, role: str | None, *args: str) -> Any:
        env = {"DEMINE_USER": user} if user else {}
        pre = ["--db", self.location] + (["--role", role] if role else [])
        return CliRunner().invoke(cli, [*pre, *args], env=env)

    def show(self, rid: str) -> dict[str, Any]:
        r = self.cli("adm", "admin", "show", rid, "--json")
        assert r.exit_code == 0, r.output
        return dict(json.loads(r.stdout))

    def item(self, rid: str) -> dict[str, Any]:
        r = self.client.get(f"/ogc/collections/eo_reports/items/{rid}")
        assert r.status_code == 200, r.text
        return dict(r.json()["properties"])

    def post(self, user: str, props: dict[str, Any] | None = None) -> Any:
        body = {**EO, "properties": {**EO["properties"], **(props or {})}}
        return self.client.post(
            "/ogc/collections/eo_reports/items", json=body, headers=self.headers[user]
        )

    def approve(self, sid: str) -> str:
        r = self.client.post(f"/api/v1/submissions/{sid}/approve", headers=self.headers["rev"])
        assert r.status_code == 200, r.text
        return str(r.json()["ids"][0])


@pytest.fixture
def world(store: Any) -> Iterator[World]:
    location, headers = populate(store, USERS)
    yield World(location, TestClient(create_app(location)), headers)


def _exported(w: World, tmp_path: Path) -> dict[str, dict[str, str | None]]:
    """Each export format's record_organisation by record id."""
    out: dict[str, dict[str, str | None]] = {}
    for suffix in ("geojson", "csv", "gpkg"):
        f = tmp_path / f"eo.{suffix}"
        r = w.cli("adm", "admin", "export", str(f), "--kind", "eo_reports", "--json")
        assert r.exit_code == 0, r.output
        if suffix == "geojson":
            feats = json.loads(f.read_text())["features"]
            got = {x["id"]: x["properties"]["record_organisation"] for x in feats}
        elif suffix == "csv":
            with f.open(newline="", encoding="utf-8-sig") as fh:
                got = {row["id"]: row["record_organisation"] for row in csv.DictReader(fh)}
        else:
            con = sqlite3.connect(f)
            try:
                rows = con.execute("SELECT id, record_organisation FROM eo_reports").fetchall()
            finally:
                con.close()
            got = {i: o for i, o in rows}
        out[suffix] = got
    return out


def test_records_carry_the_organisation_that_made_them(world: World, tmp_path: Path) -> None:
    """An admin's record: the authority. A field team's approved submission: the field team's
    organisation, in show, every export and the OGC item; an admin's later change keeps it."""
    mine = world.post("adm")
    assert mine.status_code == 201, mine.text
    adm_id = mine.json()["id"]
    sub = world.post("f_halo", {"status": "verified"})
    assert sub.status_code == 202, sub.text
    halo_id = world.approve(sub.json()["id"])
    assert world.show(adm_id)["record_organisation"] == "AUTHORITY"
    assert world.show(halo_id)["record_organisation"] == "HALO"
    assert world.item(adm_id)["record_organisation"] == "AUTHORITY"
    assert world.item(halo_id)["record_organisation"] == "HALO"
    want = {adm_id: "AUTHORITY", halo_id: "HALO"}
    assert _exported(world, tmp_path) == {"geojson": want, "csv": want, "gpkg": want}
    text = world.cli("adm", "admin", "show", halo_id)
    assert "record_organisation: HALO" in text.output
    # an admin's change, then an operator's approved one: still made by HALO
    r = world.cli("adm", "admin", "update", halo_id, "status=dismissed", "--json")
    assert r.exit_code == 0, r.output
    sub2 = world.client.patch(
        f"/ogc/collections/eo_reports/items/{halo_id}",
        json={"properties": {"status": "verified"}},
        headers={**world.headers["o_mag"], "content-type": "application/merge-patch+json"},
    )
    assert sub2.status_code == 202, sub2.text
    world.approve(sub2.json()["id"])
    shown = world.show(halo_id)
    assert shown["revision"] == 3 and shown["record_organisation"] == "HALO"
    # a local user at the command line (no user of the store) writes for the authority
    r = world.cli("somebody", None, "update", halo_id, "status=new", "--json")
    assert r.exit_code == 0, r.output
    assert world.show(halo_id)["record_organisation"] == "HALO"


def test_a_write_cannot_set_the_organisation(world: World) -> None:
    """`record_organisation` is a system column: in a write it is ignored, as `revision` or
    `updated_by` are (never stored as an extra source field either), on every face."""
    r = world.post("adm", {"record_organisation": "MAG", "updated_by": "x"})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    shown = world.show(rid)
    assert shown["record_organisation"] == "AUTHORITY" and "extra" not in shown
    r = world.client.patch(
        f"/ogc/collections/eo_reports/items/{rid}",
        json={"properties": {"record_organisation": "MAG", "status": "verified"}},
        headers={**world.headers["adm"], "content-type": "application/merge-patch+json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["record_organisation"] == "AUTHORITY"
    item = world.client.get(f"/ogc/collections/eo_reports/items/{rid}").json()
    put = world.client.put(  # what was read, written back with the organisation changed
        f"/ogc/collections/eo_reports/items/{rid}",
        json={**item, "properties": {**item["properties"], "record_organisation": "MAG"}},
        headers=world.headers["adm"],
    )
    assert put.status_code == 200, put.text
    r = world.cli("adm", "admin", "update", rid, "record_organisation=MAG", "--json")
    assert r.exit_code == 0, r.output
    # a field team's submission naming another organisation is approved as its own
    sub = world.post("f_halo", {"record_organisation": "MAG"})
    assert sub.status_code == 202, sub.text
    halo = world.approve(sub.json()["id"])
    assert world.show(halo)["record_organisation"] == "HALO"
    shown = world.show(rid)
    assert shown["record_organisation"] == "AUTHORITY" and "extra" not in shown
    assert shown["properties"]["status"] == "verified"


def test_the_copy_keeps_the_organisation(world: World, tmp_path: Path) -> None:
    """A store copied keeps each record's organisation, even when its maker has since moved
    to another organisation (the copy does not derive it again)."""
    sub = world.post("f_halo")
    halo = world.approve(sub.json()["id"])
    s = open_store(world.location)
    try:
        s.set_user_organisation("f_halo", "MAG")
    finally:
        s.close()
    dst = tmp_path / "copy.gpkg"
    r = CliRunner().invoke(cli, ["copy", world.location, str(dst), "--json"])
    assert r.exit_code == 0, r.output
    c = open_store(str(dst))
    try:
        assert c.get("eo_reports", halo).record_organisation == "HALO"
    finally:
        c.close()


def test_a_store_made_before_is_filled_from_history(world: World) -> None:
    """A store of before the column (GeoPackage 6, PostGIS 5): opened, every record gets the
    organisation of its first revision's actor (a user's; the authority for a name the store
    does not know), whoever changed it since."""
    halo = world.approve(world.post("f_halo").json()["id"])
    mag = world.approve(world.post("o_mag").json()["id"])
    r = world.cli("adm", "admin", "update", mag, "status=verified", "--json")  # later: adm
    assert r.exit_code == 0, r.output
    adm = world.post("adm").json()["id"]
    s = open_store(world.location)
    try:  # a local user at the command line, whom the store does not know
        ctx = WriteContext(actor="nobody")
        point = shapely.geometry.shape(EO["geometry"])
        nobody = create(s, s.kind("eo_reports"), dict(EO["properties"]), point, ctx=ctx)[0].id
        c = s.conn
        tables = [k.name for k in s.kinds()]
        if s.location.startswith("postgresql"):
            for t in tables:
                c.execute(f'ALTER TABLE "{t}" DROP COLUMN record_organisation')
            c.execute("UPDATE demine_schema SET version = 5")
        else:
            with c:
                for t in tables:
                    c.execute(f'ALTER TABLE "{t}" DROP COLUMN record_organisation')
                c.execute("UPDATE demine_settings SET value = '6' WHERE key = 'schema_version'")
    finally:
        s.close()
    again = open_store(world.location)
    try:
        got = {i: again.get("eo_reports", i).record_organisation for i in (halo, mag, adm, nobody)}
        assert got == {halo: "HALO", mag: "MAG", adm: "AUTHORITY", nobody: "AUTHORITY"}
        assert all(again.get("eo_reports", i).revision >= 1 for i in got)
    finally:
        again.close()
    assert world.item(mag)["record_organisation"] == "MAG"
