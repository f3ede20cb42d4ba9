"""Attachments (issue 13): photos and documents on records, on both backends and through every
face. A photo's EXIF location and time are read at upload and shown to the roles that read
originals, never to the public; the public copy carries no metadata and looks the same; only
JPEG, PNG and PDF are taken, by content; limits hold; nothing is half-stored; the GeoPackage
stays valid (GDAL's validator) with the media table readable by GDAL."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
import shapely
from fastapi.testclient import TestClient
from PIL import Image, PngImagePlugin
from typer.testing import CliRunner

from demine.cli.app import app as cli_app
from demine.errors import NotFound, PermissionDenied, ValidationError
from demine.ids import uuid7
from demine.model.schema import Record
from demine.services import attachments as att
from gpkg_check import assert_gdal_valid

LAT, LON = 48.5, 37.9
TAKEN = "2025:06:01 10:20:30"
GPS_IFD = 0x8825


def jpeg_with_exif(size: tuple[int, int] = (64, 48)) -> bytes:
    """A JPEG carrying EXIF GPS (48.5 N, 37.9 E), DateTimeOriginal and a comment."""
    im = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[GPS_IFD] = {1: "N", 2: (48.0, 30.0, 0.0), 3: "E", 4: (37.0, 54.0, 0.0)}
    exif[0x8769] = {0x9003: TAKEN, 0x9011: "+03:00"}
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif, comment=b"taken by Ivan at his house", quality=90)
    return out.getvalue()


def png_with_text() -> bytes:
    im = Image.new("RGBA", (40, 30), (10, 200, 10, 128))
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Olena Petrenko, +380 00 000 0000")
    info.add_itxt("Comment", "near the school gate")
    out = io.BytesIO()
    im.save(out, "PNG", pnginfo=info)
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _hazard(store: Any) -> str:
    h = Record(
        "hazards",
        uuid7(),
        {"hazard_type": "CHA", "status": "open", "name": "H1"},
        shapely.MultiPolygon([shapely.box(37.0, 48.0, 37.01, 48.01)]),
    )
    store.upsert("hazards", [h], actor="t")
    return h.id


def _eo_report(store: Any) -> str:
    r = Record(
        "eo_reports",
        uuid7(),
        {"reported_at": "2025-07-01T10:00:00Z", "status": "new", "public": True},
        shapely.Point(37.2, 48.2),
    )
    store.upsert("eo_reports", [r], actor="t")
    return r.id


def _cli(store: Any, role: str, *args: str) -> Any:
    return CliRunner().invoke(cli_app, ["--role", role, "--db", store.location, *args])


def _stored(store: Any) -> int:
    """Rows in the attachments table (whatever the owner)."""
    return int(store.conn.execute("SELECT count(*) FROM demine_attachments").fetchone()[0])


def _exif_of(data: bytes) -> tuple[Any, dict[str, Any]]:
    im = Image.open(io.BytesIO(data))
    return im, dict(im.getexif())


# --- the CLI ----------------------------------------------------------------------------------


def test_cli_photo_exif_for_reviewers_public_copy_stripped(store: Any, tmp_path: Path) -> None:
    hid = _hazard(store)
    photo = tmp_path / "IMG_0001.jpg"
    original = jpeg_with_exif()
    photo.write_bytes(original)
    r = _cli(store, "admin", "attach", hid, str(photo), "--json")
    assert r.exit_code == 0, r.output
    added = json.loads(r.stdout)
    aid = added["attachment_id"]
    assert added["exif"] == {"lat": LAT, "lon": LON, "time": "2025-06-01T10:20:30+03:00"}
    assert added["filename"] == "IMG_0001.jpg" and added["content_type"] == "image/jpeg"
    assert added["size"] == len(original)

    # the reviewer side (analyst, admin) sees where and when the photo was taken
    for role in ("analyst", "admin"):
        r = _cli(store, role, "attachments", hid, "--json")
        assert r.exit_code == 0, r.output
        (a,) = json.loads(r.stdout)["attachments"]
        assert a["exif"]["lat"] == LAT and a["exif"]["lon"] == LON
        assert a["exif"]["time"].startswith("2025-06-01T10:20:30")
    r = _cli(store, "analyst", "attachments", hid)  # the table shows the place too
    assert r.exit_code == 0 and "48.500000, 37.900000" in r.output, r.output

    # the public and field teams see that there is a photo, not where it was taken
    for role in ("public", "field"):
        r = _cli(store, role, "attachments", hid, "--json")
        assert r.exit_code == 0, r.output
        (a,) = json.loads(r.stdout)["attachments"]
        assert "exif" not in a and "filename" not in a and "created_by" not in a, a
        assert a["public_copy"] is True
        assert "48.5" not in r.stdout and "IMG_0001" not in r.stdout

    # the public copy: no EXIF at all (no GPS IFD), no comment, the same picture size
    out = tmp_path / "public.jpg"
    r = _cli(store, "public", "attachment", "get", aid, "-o", str(out), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["copy"] == "public"
    im, exif = _exif_of(out.read_bytes())
    assert im.format == "JPEG" and im.size == (64, 48)
    assert exif == {} and im.getexif().get_ifd(GPS_IFD) == {}
    assert "comment" not in im.info and b"Ivan" not in out.read_bytes()
    assert out.stat().st_mode & 0o077 == 0  # written for its owner only

    # the original, as uploaded, for the admin; the public copy on request
    r = _cli(store, "admin", "attachment", "get", aid, "-o", str(tmp_path / "o.jpg"))
    assert r.exit_code == 0 and "original" in r.output, r.output
    assert (tmp_path / "o.jpg").read_bytes() == original
    assert _exif_of(original)[0].getexif().get_ifd(GPS_IFD)  # the check above can fail
    r = _cli(store, "admin", "attachment", "get", aid, "-o", str(tmp_path / "p.jpg"), "--public")
    assert r.exit_code == 0 and (tmp_path / "p.jpg").read_bytes() == out.read_bytes()


def test_cli_refuses_what_is_not_taken_naming_the_file(store: Any, tmp_path: Path) -> None:
    hid = _hazard(store)
    fake = tmp_path / "holiday.jpg"
    fake.write_bytes(b"GIF89a" + b"\x00" * 100)
    r = _cli(store, "admin", "attach", hid, str(fake))
    assert r.exit_code == 1, r.output
    assert "holiday.jpg" in r.output and "not a JPEG, PNG or PDF" in r.output
    assert "its name says .jpg" in r.output
    r = _cli(store, "admin", "attach", hid, str(fake), "--json")
    problem = json.loads(r.stdout)["error"]
    assert problem["errors"][0]["source"] == "holiday.jpg"
    # a JPEG's first bytes but no image: refused, named
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0" + b"junk" * 50)
    r = _cli(store, "admin", "attach", hid, str(broken))
    assert r.exit_code == 1 and "broken.jpg" in r.output and "not a readable JPEG" in r.output
    # a missing file
    r = _cli(store, "admin", "attach", hid, str(tmp_path / "nope.jpg"))
    assert r.exit_code == 1 and "nope.jpg" in r.output
    # a role that may not write hazards may not attach to them
    good = tmp_path / "good.jpg"
    good.write_bytes(jpeg_with_exif())
    r = _cli(store, "victim_assistance", "attach", hid, str(good))  # (field may, since issue 14)
    assert r.exit_code == 5, r.output
    assert _stored(store) == 0  # nothing half-stored


def test_over_the_limit_is_refused_and_nothing_stored(store: Any, tmp_path: Path) -> None:
    hid = _hazard(store)
    big = tmp_path / "big.png"
    big.write_bytes(png_with_text())
    store.set_setting(att.SETTING, 200)  # configurable per store
    r = _cli(store, "admin", "attach", hid, str(big), "--json")
    assert r.exit_code == 1, r.output
    problem = json.loads(r.stdout)["error"]
    assert problem["limit"] == "attachment_max_bytes" and problem["limit_value"] == 200
    assert "big.png" in problem["detail"] and "over the limit" in problem["detail"]
    assert _stored(store) == 0
    assert att.max_bytes(store) == 200
    store.set_setting(att.SETTING, None)
    assert att.max_bytes(store) == att.MAX_BYTES == 10 * 2**20
    r = _cli(store, "admin", "attach", hid, str(big), "--json")
    assert r.exit_code == 0, r.output


def test_too_many_pixels_refused(store: Any) -> None:
    hid = _hazard(store)
    im = Image.new("L", (9000, 7000))  # 63 megapixels of one colour: a small file
    out = io.BytesIO()
    im.save(out, "PNG")
    with pytest.raises(ValidationError, match="huge.png: the image is 9000 x 7000 pixels"):
        att.attach(store, hid, "huge.png", out.getvalue(), role="admin", actor="t")
    assert _stored(store) == 0


# --- PNG and PDF ------------------------------------------------------------------------------


def test_png_text_chunks_are_stripped(store: Any) -> None:
    hid = _hazard(store)
    data = png_with_text()
    assert b"Olena" in data
    a = att.attach(store, hid, "map.png", data, role="analyst", actor="t")
    assert a["content_type"] == "image/png" and a["exif"] == {
        "lat": None,
        "lon": None,
        "time": None,
    }
    meta, public, name = att.get(store, a["attachment_id"], role="public")
    assert meta["copy"] == "public" and name.endswith(".png") and "map" not in name
    assert b"Olena" not in public and b"school" not in public
    assert b"tEXt" not in public and b"iTXt" not in public and b"zTXt" not in public
    im = Image.open(io.BytesIO(public))
    assert im.size == (40, 30) and im.mode == "RGBA"
    assert not {"Author", "Comment"} & set(im.info)
    assert im.tobytes() == Image.open(io.BytesIO(data)).tobytes()  # the same pixels
    _, orig, _ = att.get(store, a["attachment_id"], role="admin")
    assert orig == data


def test_an_exif_orientation_is_applied_to_the_public_copy(store: Any) -> None:
    """A camera held upright writes the pixels sideways and says so in EXIF (Orientation 6):
    the public copy has no EXIF left to say it, so the pixels are turned instead."""
    hid = _hazard(store)
    im = Image.new("RGB", (64, 48), (0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif)
    a = att.attach(store, hid, "upright.jpg", out.getvalue(), role="admin", actor="t")
    _, public, _ = att.get(store, a["attachment_id"], role="public")
    got, exif_left = _exif_of(public)
    assert got.size == (48, 64) and exif_left == {}


def test_pdf_is_taken_without_a_public_copy(store: Any) -> None:
    hid = _hazard(store)
    a = att.attach(store, hid, "survey report.pdf", PDF, role="admin", actor="t")
    assert a["content_type"] == "application/pdf" and a["public_copy"] is False
    meta, data, name = att.get(store, a["attachment_id"], role="analyst")
    assert data == PDF and name == "survey report.pdf" and meta["copy"] == "original"
    with pytest.raises(PermissionDenied, match="is a PDF: it has no public copy"):
        att.get(store, a["attachment_id"], role="public")
    with pytest.raises(NotFound, match="no public copy"):
        att.get(store, a["attachment_id"], role="admin", public=True)
    _, listed = att.list_record(store, hid, role="public")
    assert listed[0]["public_copy"] is False and "filename" not in listed[0]


def test_declared_type_must_match_the_content(store: Any) -> None:
    hid = _hazard(store)
    with pytest.raises(ValidationError, match="x.pdf: sent as application/pdf but the"):
        att.attach(
            store,
            hid,
            "x.pdf",
            png_with_text(),
            role="admin",
            actor="t",
            declared="application/pdf",
        )
    assert _stored(store) == 0


# --- the HTTP API -----------------------------------------------------------------------------


def _client(store: Any) -> tuple[TestClient, dict[str, dict[str, str]]]:
    from demine.api.app import create_app
    from demine.services.access import new_token

    heads: dict[str, dict[str, str]] = {"public": {}}
    for role in ("admin", "analyst", "field"):
        store.add_user(f"u_{role}", role)
        token, th = new_token()
        store.add_token(f"u_{role}", th)
        heads[role] = {"Authorization": f"Bearer {token}"}
    return TestClient(create_app(store.location), raise_server_exceptions=False), heads


def test_http_upload_list_and_serve_by_role(store: Any) -> None:
    hid, eid = _hazard(store), _eo_report(store)
    client, h = _client(store)
    original = jpeg_with_exif()
    base = f"/api/v1/records/hazards/{hid}/attachments"
    with client:
        jpg = {"Content-Type": "image/jpeg"}
        r = client.post(base + "?filename=site.jpg", content=original, headers=jpg)
        assert r.status_code == 401, r.text  # the public cannot attach
        r = client.post(base, content=original, headers={**h["field"], **jpg})
        assert r.status_code == 202, r.text  # a field team's file on a hazard is a submission
        assert r.json()["action"] == "attach"
        r = client.post(
            base + "?filename=фото ділянки.jpg", content=original, headers={**h["admin"], **jpg}
        )
        assert r.status_code == 201, r.text
        uk = r.json()["attachment_id"]
        r = client.get(f"{base}/{uk}", headers=h["analyst"])
        assert r.status_code == 200 and r.content == original
        cd = r.headers["content-disposition"]
        assert "filename*=UTF-8''%D1%84%D0%BE%D1%82%D0%BE%20" in cd, cd
        r = client.post(
            base + "?filename=site.jpg", content=original, headers={**h["admin"], **jpg}
        )
        assert r.status_code == 201, r.text
        a = r.json()
        assert a["exif"] == {"lat": LAT, "lon": LON, "time": "2025-06-01T10:20:30+03:00"}
        assert r.headers["Location"] == f"{base}/{a['attachment_id']}"
        # a field team attaches to what it writes (an EO report); the name from the header
        r = client.post(
            f"/api/v1/records/eo_reports/{eid}/attachments",
            content=original,
            headers={
                **h["field"],
                "Content-Type": "application/octet-stream",
                "Content-Disposition": 'attachment; filename="report photo.jpg"',
            },
        )
        # a field team's file on a record is a submission (docs/intake.md), approved here
        assert r.status_code == 202 and r.json()["action"] == "attach", r.text
        from demine.services.intake import approve

        assert approve(store, r.json()["id"], role="admin", actor="t")["ids"] == [eid]

        # the list: the EXIF place for the reviewer side only
        r = client.get(base, headers=h["analyst"])
        assert r.status_code == 200 and r.json()["attachments"][1]["exif"]["lat"] == LAT
        assert [x["filename"] for x in r.json()["attachments"]] == ["фото ділянки.jpg", "site.jpg"]
        r = client.get(base)
        assert r.status_code == 200, r.text
        assert len(r.json()["attachments"]) == 2
        assert not any("exif" in x for x in r.json()["attachments"]) and "48.5" not in r.text
        assert "site.jpg" not in r.text

        # the file: the original for the analyst, the stripped copy for the public
        one = f"{base}/{a['attachment_id']}"
        r = client.get(one, headers=h["analyst"])
        assert r.status_code == 200 and r.content == original
        assert r.headers["content-type"] == "image/jpeg"
        assert 'filename="site.jpg"' in r.headers["content-disposition"]
        assert "no-store" in r.headers["cache-control"]
        r = client.get(one)
        assert r.status_code == 200 and r.content != original
        im, exif = _exif_of(r.content)
        assert exif == {} and im.size == (64, 48)
        assert "site.jpg" not in r.headers["content-disposition"]
        r = client.get(one + "?copy=original")
        assert r.status_code == 403, r.text
        r = client.get(one + "?copy=public", headers=h["admin"])
        assert r.status_code == 200 and _exif_of(r.content)[1] == {}
        # through another record: not found
        r = client.get(f"/api/v1/records/eo_reports/{eid}/attachments/{a['attachment_id']}")
        assert r.status_code == 404
        # an EO report not marked public does not exist for the public, nor its attachments
        store.update("eo_reports", eid, properties={"public": False}, actor="t")
        r = client.get(f"/api/v1/records/eo_reports/{eid}/attachments")
        assert r.status_code == 404, r.text
        r = client.get(f"/api/v1/records/eo_reports/{eid}/attachments", headers=h["field"])
        assert r.status_code == 200 and len(r.json()["attachments"]) == 1
        # a kind the role may not read: 404 as in the OGC API (the CLI says why: exit 5)
        r = client.get(f"/api/v1/records/victims/{uuid7()}/attachments", headers=h["analyst"])
        assert r.status_code == 404, r.text


def test_http_refusals_are_located_and_store_nothing(store: Any) -> None:
    hid = _hazard(store)
    client, h = _client(store)
    base = f"/api/v1/records/hazards/{hid}/attachments"
    with client:
        r = client.post(
            base + "?filename=notes.jpg",
            content=b"just some text, not a photo",
            headers={**h["admin"], "Content-Type": "image/jpeg"},
        )
        assert r.status_code == 422, r.text
        p = r.json()
        assert "notes.jpg" in p["detail"] and p["errors"][0]["source"] == "notes.jpg"
        store.set_setting(att.SETTING, 100)
        r = client.post(base + "?filename=big.jpg", content=jpeg_with_exif(), headers=h["admin"])
        assert r.status_code == 413, r.text
        assert "big.jpg" in r.json()["detail"] and r.json()["limit_value"] == 100
        r = client.post(
            f"/api/v1/records/hazards/{uuid7()}/attachments", content=PDF, headers=h["admin"]
        )
        assert r.status_code == 404, r.text
    assert _stored(store) == 0


# --- owners: deleted records, submissions -------------------------------------------------------


def test_deleted_record_keeps_its_attachments_until_restored(store: Any) -> None:
    hid = _hazard(store)
    a = att.attach(store, hid, "p.jpg", jpeg_with_exif(), role="admin", actor="t")
    store.delete("hazards", hid, actor="t")
    with pytest.raises(NotFound, match="which is deleted: 'demine restore' brings both back"):
        att.get(store, a["attachment_id"], role="admin")
    assert _stored(store) == 1  # kept, with the record's history
    store.restore(hid, 1, actor="t")
    _, listed = att.list_record(store, hid, role="admin")
    assert [x["attachment_id"] for x in listed] == [a["attachment_id"]]
    if hasattr(store, "path"):  # the GeoPackage's mapping follows the restored row
        fid = store.conn.execute("SELECT fid FROM hazards WHERE id = ?", (hid,)).fetchone()[0]
        rows = store.conn.execute("SELECT base_id FROM demine_hazards_attachments").fetchall()
        assert rows == [(fid,)]


def test_submission_owner_any_id(store: Any) -> None:
    sid = uuid7()
    meta = att.add(store, "submission", sid, "field.jpg", jpeg_with_exif(), "fieldworker")
    assert meta["owner_kind"] == "submission" and meta["exif_lat"] == LAT
    assert [m["attachment_id"] for m in store.attachments("submission", sid)] == [
        meta["attachment_id"]
    ]
    view, data, _ = att.get(store, meta["attachment_id"], role="reviewer")
    assert view["exif"]["lon"] == LON and data.startswith(b"\xff\xd8")
    with pytest.raises(PermissionDenied):
        att.get(store, meta["attachment_id"], role="public")
    with pytest.raises(NotFound):
        att.add(store, "hazards", uuid7(), "x.jpg", jpeg_with_exif(), "t")
    # a name is kept without its directories or control characters
    other = att.add(store, "submission", sid, "../../etc/\x1bpass.png", png_with_text(), "t")
    assert other["filename"] == "pass.png"


def test_the_same_attachment_twice_is_a_conflict_and_stores_one(store: Any) -> None:
    from demine.errors import Conflict

    hid = _hazard(store)
    meta = att.add(store, "hazards", hid, "p.jpg", jpeg_with_exif(), "t")
    again = {**meta, "exif_lat": None}
    with pytest.raises(Conflict, match="cannot store the attachment"):
        store.add_attachment(again, b"other bytes", None)
    assert _stored(store) == 1
    assert store.attachment(meta["attachment_id"])["exif_lat"] == LAT


def test_copy_keeps_attachments(store: Any, tmp_path: Path) -> None:
    """demine copy brings the attachments (ids, EXIF, authors, both copies) across backends:
    from this store into a new GeoPackage, and from that into a new PostGIS schema."""
    import os
    import uuid

    from demine.services.copy import copy_store
    from demine.store.open import open_store

    hid = _hazard(store)
    a = att.attach(store, hid, "p.jpg", jpeg_with_exif(), role="admin", actor="t")
    b = att.attach(store, hid, "r.pdf", PDF, role="admin", actor="t")
    gpkg = open_store(str(tmp_path / "copy.gpkg"))
    targets = [gpkg]
    pg = os.environ.get("DEMINE_TEST_PG")
    schema = "t_att_" + uuid.uuid4().hex[:10]
    if pg:
        targets.append(open_store(f"{pg}{'&' if '?' in pg else '?'}demine_schema={schema}"))
    try:
        src = store
        for dst in targets:
            info = copy_store(src, dst)
            assert info["attachments"] == 2
            for x in (a, b):
                got = dst.attachment(x["attachment_id"])
                assert got is not None and got == store.attachment(x["attachment_id"])
                for public in (False, True):
                    assert dst.attachment_data(x["attachment_id"], public=public) == (
                        store.attachment_data(x["attachment_id"], public=public)
                    )
            src = dst
    finally:
        for t in targets:
            t.close()
        if pg:
            import psycopg

            with psycopg.connect(pg.split("?")[0], autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_an_older_store_gets_the_table(store: Any) -> None:
    from demine.store.open import open_store

    hid = _hazard(store)
    if hasattr(store, "path"):
        store.conn.execute("DROP TABLE demine_attachments")
        store.conn.execute("UPDATE demine_settings SET value = '6' WHERE key = 'schema_version'")
    else:
        store.conn.execute("DROP TABLE demine_attachments")
        store.conn.execute("UPDATE demine_schema SET version = 5")
    store.close()
    again = open_store(store.location)
    try:
        a = att.attach(again, hid, "p.png", png_with_text(), role="admin", actor="t")
        assert again.attachment(a["attachment_id"]) is not None
    finally:
        again.close()


# --- the GeoPackage: valid, and readable by GDAL --------------------------------------------------


def test_geopackage_with_attachments_passes_gdal_validator(gpkg_store: Any) -> None:
    store = gpkg_store
    hid, eid = _hazard(store), _eo_report(store)
    att.attach(store, hid, "a.jpg", jpeg_with_exif(), role="admin", actor="t")
    att.attach(store, hid, "b.pdf", PDF, role="admin", actor="t")
    att.attach(store, eid, "c.png", png_with_text(), role="admin", actor="t")
    att.add(store, "submission", uuid7(), "d.jpg", jpeg_with_exif(), "t")  # no table: no relation
    store.close()
    assert_gdal_valid(store.path)

    con = sqlite3.connect(store.path)
    rel = con.execute(
        "SELECT base_table_name, base_primary_column, related_table_name, "
        "related_primary_column, relation_name, mapping_table_name FROM gpkgext_relations "
        "ORDER BY base_table_name"
    ).fetchall()
    assert rel == [
        ("eo_reports", "fid", "demine_attachments", "id", "media", "demine_eo_reports_attachments"),
        ("hazards", "fid", "demine_attachments", "id", "media", "demine_hazards_attachments"),
    ]
    ext = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM gpkg_extensions WHERE extension_name = 'gpkg_related_tables'"
        )
    }
    assert ext == {
        "gpkgext_relations",
        "demine_hazards_attachments",
        "demine_eo_reports_attachments",
    }
    assert con.execute(
        "SELECT data_type FROM gpkg_contents WHERE table_name = 'demine_attachments'"
    ).fetchone() == ("attributes",)
    con.close()

    ogrinfo = shutil.which("ogrinfo")
    assert ogrinfo, "ogrinfo (Debian gdal-bin) must be on PATH"
    out = subprocess.run(
        [ogrinfo, "-ro", "-q", str(store.path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "demine_attachments" in out.stdout and "demine_hazards_attachments" in out.stdout
    out = subprocess.run(
        [ogrinfo, "-ro", "-so", str(store.path), "demine_attachments"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Feature Count: 4" in out.stdout, out.stdout
    assert "data: Binary" in out.stdout and "content_type: String" in out.stdout
    out = subprocess.run(
        [ogrinfo, "-ro", "-so", str(store.path), "demine_hazards_attachments"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Feature Count: 2" in out.stdout, out.stdout
    from pyogrio.raw import read

    meta, _, _, data = read(store.path, layer="demine_attachments", columns=["content_type"])[:4]
    assert sorted(data[0]) == [
        "application/pdf",
        "image/jpeg",
        "image/jpeg",
        "image/png",
    ]
