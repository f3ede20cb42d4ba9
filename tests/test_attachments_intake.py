"""Attachments through intake (issue 13), on both backends (the `store` fixture), through the
CLI and HTTP: the reviewer reads originals (EXIF); a field team's file on an official record is
a submission (action `attach`) that moves to the record when approved; a file on its own
organisation's submission is stored at once and moves to the record the approval writes;
another organisation's submission's files answer 404 on every face."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from demine.api import create_app
from demine.cli.app import app as cli
from demine.store.open import open_store
from test_attachments import LAT, LON, jpeg_with_exif
from test_intake import populate

EO = {
    "type": "Feature",
    "properties": {"reported_at": "2025-01-01T00:00:00Z", "status": "new", "public": True},
    "geometry": {"type": "Point", "coordinates": [37.9, 48.5]},
}
USERS = {
    "f_halo": ("field", "HALO"),
    "o_halo": ("operator", "HALO"),
    "o_mag": ("operator", "MAG"),
    "rev": ("reviewer", None),
    "adm": ("admin", None),
    "ana": ("analyst", None),
}
JPG = {"Content-Type": "image/jpeg"}


@dataclass
class World:
    location: str
    client: TestClient
    headers: dict[str, dict[str, str]]
    photo: Path

    def cli(self, user: str, *args: str) -> Any:
        pre = ["--db", self.location, "--role", USERS[user][0]]
        return CliRunner().invoke(cli, [*pre, *args], env={"DEMINE_USER": user})

    def record(self) -> str:
        r = self.client.post(
            "/ogc/collections/eo_reports/items", json=EO, headers=self.headers["adm"]
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def record_files(self, rid: str, user: str = "rev") -> list[dict[str, Any]]:
        r = self.client.get(
            f"/api/v1/records/eo_reports/{rid}/attachments", headers=self.headers[user]
        )
        assert r.status_code == 200, r.text
        return list(r.json()["attachments"])

    def sub_files(self, sid: str, user: str) -> Any:
        return self.client.get(f"/api/v1/submissions/{sid}/attachments", headers=self.headers[user])

    def approve(self, sid: str) -> list[str]:
        r = self.client.post(f"/api/v1/submissions/{sid}/approve", headers=self.headers["rev"])
        assert r.status_code == 200, r.text
        return list(r.json()["ids"])


@pytest.fixture
def world(store: Any, tmp_path: Path) -> Iterator[World]:
    location, headers = populate(store, USERS)
    photo = tmp_path / "IMG_0001.jpg"
    photo.write_bytes(jpeg_with_exif())
    yield World(location, TestClient(create_app(location)), headers, photo)


def test_the_reviewer_reads_originals(world: World, tmp_path: Path) -> None:
    rid = world.record()
    r = world.cli("adm", "attach", rid, str(world.photo), "--json")
    assert r.exit_code == 0, r.output
    aid = json.loads(r.stdout)["attachment_id"]
    r = world.cli("rev", "attachments", rid, "--json")
    assert r.exit_code == 0, r.output
    (a,) = json.loads(r.stdout)["attachments"]
    assert (a["exif"]["lat"], a["exif"]["lon"], a["filename"]) == (LAT, LON, "IMG_0001.jpg")
    (h,) = world.record_files(rid, "rev")
    assert h["exif"]["lat"] == LAT
    got = world.client.get(
        f"/api/v1/records/eo_reports/{rid}/attachments/{aid}", headers=world.headers["rev"]
    )
    assert got.status_code == 200 and got.content == world.photo.read_bytes()
    out = tmp_path / "o.jpg"
    r = world.cli("rev", "attachment", "get", aid, "-o", str(out), "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["copy"] == "original", r.output
    # a field team still gets the public copy only, without the place
    (f,) = world.record_files(rid, "f_halo")
    assert "exif" not in f and "filename" not in f


def test_a_field_file_on_a_record_is_a_submission_until_approved(world: World) -> None:
    """HTTP and CLI: the file is kept with a submission (action attach, the record as target),
    not on the record; approved, it is the record's."""
    rid = world.record()
    r = world.client.post(
        f"/api/v1/records/eo_reports/{rid}/attachments?filename=site.jpg",
        content=world.photo.read_bytes(),
        headers={**world.headers["f_halo"], **JPG},
    )
    assert r.status_code == 202, r.text
    sub = r.json()
    assert (sub["action"], sub["target_id"], sub["organisation"]) == ("attach", rid, "HALO")
    assert r.headers["location"] == f"/api/v1/submissions/{sub['id']}"
    c = world.cli("f_halo", "attach", rid, str(world.photo), "--json")
    assert c.exit_code == 0, c.output
    sub2 = json.loads(c.stdout)["submission"]
    assert sub2["action"] == "attach" and sub2["state"] == "submitted"
    assert world.record_files(rid) == []  # not the record's yet
    mine = world.sub_files(sub["id"], "f_halo")
    assert mine.status_code == 200 and len(mine.json()["attachments"]) == 1
    shown = world.client.get(f"/api/v1/submissions/{sub['id']}", headers=world.headers["rev"])
    payload = shown.json()["payload"]
    assert payload["filename"] == "site.jpg" and "exif_lat" not in payload
    ids = world.approve(sub["id"])
    assert ids == [rid]
    r2 = world.cli("rev", "review", "approve", sub2["id"], "--json")
    assert r2.exit_code == 0, r2.output
    files = world.record_files(rid)
    assert sorted(f["filename"] for f in files) == ["IMG_0001.jpg", "site.jpg"]
    assert all(f["exif"]["lat"] == LAT for f in files)
    assert world.sub_files(sub["id"], "rev").json()["attachments"] == []
    # a submission whose record is gone is not approved: it stays open, the file with it
    c = world.cli("f_halo", "attach", rid, str(world.photo), "--json")
    sid3 = json.loads(c.stdout)["submission"]["id"]
    assert world.cli("adm", "delete", rid, "--json").exit_code == 0
    r3 = world.client.post(f"/api/v1/submissions/{sid3}/approve", headers=world.headers["rev"])
    assert r3.status_code == 404, r3.text
    assert len(world.sub_files(sid3, "rev").json()["attachments"]) == 1


def test_a_file_on_its_own_submission_is_direct_and_moves_on_approval(world: World) -> None:
    r = world.client.post(
        "/ogc/collections/eo_reports/items", json=EO, headers=world.headers["f_halo"]
    )
    assert r.status_code == 202, r.text
    sid = r.json()["id"]
    up = world.client.post(
        f"/api/v1/submissions/{sid}/attachments?filename=a.jpg",
        content=world.photo.read_bytes(),
        headers={**world.headers["f_halo"], **JPG},
    )
    assert up.status_code == 201, up.text
    assert up.headers["location"].startswith(f"/api/v1/submissions/{sid}/attachments/")
    c = world.cli("o_halo", "attach", sid, str(world.photo), "--submission", "--json")
    assert c.exit_code == 0, c.output
    listed = world.cli("f_halo", "attachments", sid, "--submission", "--json")
    assert listed.exit_code == 0 and len(json.loads(listed.stdout)["attachments"]) == 2
    (rid,) = world.approve(sid)
    files = world.record_files(rid)
    assert sorted(f["filename"] for f in files) == ["IMG_0001.jpg", "a.jpg"]
    # decided: no more files
    late = world.client.post(
        f"/api/v1/submissions/{sid}/attachments",
        content=world.photo.read_bytes(),
        headers={**world.headers["f_halo"], **JPG},
    )
    assert late.status_code == 409, late.text


def test_another_organisations_submission_files_are_not_found(world: World, tmp_path: Path) -> None:
    r = world.client.post(
        "/ogc/collections/eo_reports/items", json=EO, headers=world.headers["f_halo"]
    )
    sid = r.json()["id"]
    up = world.client.post(
        f"/api/v1/submissions/{sid}/attachments",
        content=world.photo.read_bytes(),
        headers={**world.headers["f_halo"], **JPG},
    )
    aid = up.json()["attachment_id"]
    base = f"/api/v1/submissions/{sid}/attachments"
    h = world.headers["o_mag"]
    answers = [
        world.client.get(base, headers=h),
        world.client.get(f"{base}/{aid}", headers=h),
        world.client.post(base, content=world.photo.read_bytes(), headers={**h, **JPG}),
    ]
    assert [a.status_code for a in answers] == [404, 404, 404], [a.text for a in answers]
    out = tmp_path / "x.jpg"
    cli_answers = [
        world.cli("o_mag", "attachments", sid, "--submission", "--json"),
        world.cli("o_mag", "attachment", "get", aid, "-o", str(out), "--json"),
        world.cli("o_mag", "attach", sid, str(world.photo), "--submission", "--json"),
    ]
    assert [a.exit_code for a in cli_answers] == [3, 3, 3], [a.output for a in cli_answers]
    assert not out.exists()
    # its own organisation gets the public copy (no EXIF), the reviewer the original
    mine = world.client.get(f"{base}/{aid}", headers=world.headers["o_halo"])
    assert mine.status_code == 200 and mine.content != world.photo.read_bytes()
    theirs = world.client.get(f"{base}/{aid}", headers=world.headers["rev"])
    assert theirs.status_code == 200 and theirs.content == world.photo.read_bytes()
    # a role that sees no submissions is refused (403, exit 5), and the public needs a token
    assert world.client.get(base, headers=world.headers["ana"]).status_code == 403
    r = world.cli("ana", "attachment", "get", aid, "-o", str(out))
    assert r.exit_code == 5, r.output
    assert world.client.get(base).status_code == 401
    s = open_store(world.location)
    try:
        assert len(s.attachments("submission", sid)) == 1  # nothing added by the refusals
    finally:
        s.close()
