"""Land-status extracts (issue 15 item 4, docs/extract.md), on both backends: a signed extract
verifies; one changed byte fails (JSON, HTML, PDF); an extract made before a later release says
the store has changed since; a past date reads the history; revoked and unknown keys; public
data only; the limits; the HTTP routes (no key: 503; the verify route's body cap)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from shapely.geometry import MultiPolygon, Point, box
from typer.testing import CliRunner

from demine.cli.app import app as cli
from demine.ids import uuid7
from demine.model.schema import Record
from demine.store.base import Revision

LAT, LON = 50.4105, 30.5105
HAZ_BOX = (30.51, 50.41, 30.512, 50.412)


def run(store: Any, *args: str, role: str = "analyst") -> Any:
    return CliRunner().invoke(cli, ["--db", store.location, "--role", role, *args])


def _hazard(store: Any, **props: Any) -> Record:
    r = Record(
        "hazards",
        uuid7(),
        {"hazard_type": "CHA", "status": "open", "name": "Поле 7", **props},
        MultiPolygon([box(*HAZ_BOX)]),
    )
    store.upsert("hazards", [r], actor="test")
    return store.get("hazards", r.id)


def _release(store: Any, hazard_id: str) -> Record:
    r = Record(
        "releases",
        uuid7(),
        {"hazard_id": hazard_id, "release_type": "cleared", "released_on": "2026-01-05"},
        MultiPolygon([box(30.51, 50.41, 30.511, 50.411)]),
    )
    store.upsert("releases", [r], actor="test")
    return r


@pytest.fixture
def keyed(store: Any, tmp_path: Path) -> tuple[Any, Path]:
    key = tmp_path / "authority.pem"
    r = run(store, "extract", "keygen", "--out", str(key), "--json", role="admin")
    assert r.exit_code == 0, r.output
    return store, key


def _make(store: Any, key: Path, out: Path, *extra: str) -> Any:
    return run(
        store,
        "extract",
        "make",
        "--point",
        f"{LAT},{LON}",
        "--key",
        str(key),
        "-o",
        str(out),
        *extra,
    )


def test_keygen_writes_a_private_key_only_to_the_file(keyed: Any, tmp_path: Path) -> None:
    store, key = keyed
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    pem = key.read_text()
    assert "PRIVATE KEY" in pem
    body = "".join(pem.splitlines()[1:-1])
    settings = json.dumps(store.settings())
    assert body not in settings and "PRIVATE" not in settings
    (entry,) = store.setting("extract_keys")
    assert entry["revoked_at"] is None and len(entry["key_id"]) == 16
    again = run(store, "extract", "keygen", "--out", str(key), role="admin")
    assert again.exit_code == 4 and "never overwritten" in again.output
    denied = run(store, "extract", "keygen", "--out", str(tmp_path / "k2.pem"))
    assert denied.exit_code == 5 and not (tmp_path / "k2.pem").exists()


def test_a_signed_extract_verifies_and_one_changed_byte_fails(keyed: Any, tmp_path: Path) -> None:
    store, key = keyed
    h = _hazard(store)
    out = tmp_path / "e.json"
    r = _make(store, key, out, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_bytes())
    assert [(x["kind"], x["id"]) for x in doc["payload"]["records"]] == [("hazards", h.id)]
    ok = run(store, "extract", "verify", str(out))
    assert ok.exit_code == 0, ok.output
    assert "signature valid" in ok.output and "has not changed" in ok.output
    data = out.read_bytes()
    # a changed byte anywhere: the status, a record id, the date, the signature, a brace
    for needle in (b'"open"', h.id.encode(), b'"as_of":"', b'"signature":"', b"}}"):
        at = data.index(needle) + len(needle) - 2
        bad = bytearray(data)
        bad[at] = ord("x") if bad[at] != ord("x") else ord("y")
        f = tmp_path / "bad.json"
        f.write_bytes(bytes(bad))
        r = run(store, "extract", "verify", str(f))
        assert r.exit_code == 1, (needle, r.output)
    # the same JSON pretty-printed is not its signed form either
    f.write_text(json.dumps(doc, indent=1))
    assert run(store, "extract", "verify", str(f)).exit_code == 1


def test_the_html_extract_says_what_is_recorded_and_is_sealed(keyed: Any, tmp_path: Path) -> None:
    store, key = keyed
    _hazard(store)
    out = tmp_path / "e.html"
    assert _make(store, key, out, "--lang", "uk").exit_code == 0
    text = out.read_text()
    assert text.index("Цей витяг вказує лише те") < text.index("This extract states")
    assert "no record is not proof of safety" in text and "не є доказом безпеки" in text
    assert "підтверджена небезпечна територія" in text and "call 101" in text
    assert '<script type="application/json" id="demine-extract">{"payload":' in text
    assert "<svg" in text  # the QR code
    assert run(store, "extract", "verify", str(out)).exit_code == 0
    data = out.read_bytes()
    # the visible text (not the JSON block) changed by one byte: the seal fails
    at = data.index("відкрита".encode())
    bad = data[:at] + "з".encode() + data[at + 2 :]
    f = tmp_path / "bad.html"
    f.write_bytes(bad)
    r = run(store, "extract", "verify", str(f))
    assert r.exit_code == 1 and "content was changed" in r.output, r.output
    f.write_bytes(data[: data.rindex(b"<!--demine-extract-seal")])  # the seal cut off
    r = run(store, "extract", "verify", str(f))
    assert r.exit_code == 1 and "no demine seal" in r.output, r.output


def test_an_extract_made_before_a_later_release_says_the_store_has_changed(
    keyed: Any, tmp_path: Path
) -> None:
    store, key = keyed
    h = _hazard(store)
    out = tmp_path / "e.json"
    assert _make(store, key, out).exit_code == 0
    rel = _release(store, h.id)
    r = run(store, "extract", "verify", str(out))
    assert r.exit_code == 6, r.output
    assert "signature valid" in r.output and "changed since" in r.output
    assert f"added: releases {rel.id}" in r.output
    store.update("hazards", h.id, properties={"status": "open", "name": "renamed"}, actor="t")
    j = json.loads(run(store, "extract", "verify", str(out), "--json").stdout)
    assert j["valid"] and j["changed"]
    got = {(c["change"], c["kind"], c["id"]) for c in j["changes"]}
    assert got == {("added", "releases", rel.id), ("changed", "hazards", h.id)}


def test_a_past_date_reads_the_history(keyed: Any, tmp_path: Path) -> None:
    """Records as they stood at the end of a past date: an older revision of a hazard, and
    not a release made later (histories loaded with their real dates)."""
    store, key = keyed
    hid, rid = uuid7(), uuid7()
    geom = MultiPolygon([box(*HAZ_BOX)])
    props = {"hazard_type": "SHA", "status": "open", "name": "Поле 9"}

    def rev(kind: str, rid_: str, n: int, at: str, p: dict[str, Any]) -> Revision:
        return Revision(
            rid_,
            kind,
            n,
            "create" if n == 1 else "update",
            at,
            "t",
            None,
            Record(kind, rid_, p, geom, revision=n),
        )

    store.load_revisions(
        [
            rev("hazards", hid, 1, "2025-01-10T10:00:00Z", props),
            rev("hazards", hid, 2, "2025-05-02T10:00:00Z", {**props, "hazard_type": "CHA"}),
            rev(
                "releases",
                rid,
                1,
                "2025-05-02T11:00:00Z",
                {"hazard_id": hid, "release_type": "reduced", "released_on": "2025-05-01"},
            ),
        ]
    )
    out = tmp_path / "past.json"
    r = _make(store, key, out, "--as-of", "2025-03-01")
    assert r.exit_code == 0, r.output
    recs = json.loads(out.read_bytes())["payload"]["records"]
    assert [(x["kind"], x["revision"], x["summary"]["hazard_type"]) for x in recs] == [
        ("hazards", 1, "SHA")
    ]
    assert json.loads(out.read_bytes())["payload"]["as_of"] == "2025-03-01"
    r = run(store, "extract", "verify", str(out), "--json")
    assert r.exit_code == 6
    got = {(c["change"], c["kind"]) for c in json.loads(r.stdout)["changes"]}
    assert got == {("changed", "hazards"), ("added", "releases")}
    now = tmp_path / "now.json"
    assert _make(store, key, now).exit_code == 0
    assert len(json.loads(now.read_bytes())["payload"]["records"]) == 2
    future = _make(store, key, tmp_path / "f.json", "--as-of", "2999-01-01")
    assert future.exit_code == 1 and "future" in future.output


def test_revoked_and_unknown_keys_fail(keyed: Any, tmp_path: Path) -> None:
    store, key = keyed
    _hazard(store)
    out = tmp_path / "e.json"
    assert _make(store, key, out).exit_code == 0
    kid = json.loads(out.read_bytes())["payload"]["key_id"]
    # a key this store does not know: another authority's
    other = tmp_path / "other.pem"
    from demine.services.extract import generate_key

    pem, _ = generate_key()
    other.write_bytes(pem)
    r = _make(store, other, tmp_path / "o.json")
    assert r.exit_code == 2 and "not registered" in r.output and str(other) not in r.output
    assert run(store, "extract", "revoke", kid).exit_code == 5  # analyst: no
    r = run(store, "extract", "revoke", kid, "--json", role="admin")
    assert r.exit_code == 0 and json.loads(r.stdout)["revoked_at"]
    r = run(store, "extract", "verify", str(out))
    assert r.exit_code == 1 and "revoked" in r.output
    assert _make(store, key, tmp_path / "x.json").exit_code == 2  # no signing with it
    listed = json.loads(run(store, "extract", "keys", "--json").stdout)
    assert listed[0]["key_id"] == kid and listed[0]["revoked_at"]


def test_an_extract_holds_public_data_only(keyed: Any, tmp_path: Path) -> None:
    store, key = keyed
    _hazard(store)
    pt = Point(LON + 0.0005, LAT + 0.0005)
    reports = [
        Record(
            "eo_reports",
            uuid7(),
            {
                "reported_at": "2026-01-01T10:00:00Z",
                "status": "new",
                "public": pub,
                "reporter_name": "Олена Secretname",
                "reporter_contact": "+380000000001",
                "description": "shell",
            },
            pt,
        )
        for pub in (True, False)
    ]
    store.upsert("eo_reports", reports, actor="t")
    out = tmp_path / "e.html"
    assert _make(store, key, out, "--radius", "200").exit_code == 0
    text = out.read_text()
    assert reports[0].id in text and reports[1].id not in text
    assert "Secretname" not in text and "+380000000001" not in text


def test_limits_name_what_is_wrong(keyed: Any, tmp_path: Path) -> None:
    store, key = keyed
    big = tmp_path / "big.geojson"
    big.write_text(
        json.dumps(
            {
                "type": "Polygon",
                "coordinates": [
                    [[30.0, 50.0], [30.2, 50.0], [30.2, 50.2], [30.0, 50.2], [30.0, 50.0]]
                ],
            }
        )
    )
    r = run(
        store,
        "extract",
        "make",
        "--parcel",
        str(big),
        "--key",
        str(key),
        "-o",
        str(tmp_path / "e.json"),
    )
    assert r.exit_code == 1 and "km²" in r.output and "--parcel" in r.output, r.output
    import math

    ring = [
        [30.5 + 0.001 * math.cos(i / 200 * math.tau), 50.4 + 0.001 * math.sin(i / 200 * math.tau)]
        for i in range(1200)
    ]
    many = tmp_path / "many.geojson"
    many.write_text(
        json.dumps(
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
            }
        )
    )
    r = run(
        store,
        "extract",
        "make",
        "--parcel",
        str(many),
        "--key",
        str(key),
        "-o",
        str(tmp_path / "e.json"),
    )
    assert r.exit_code == 1 and "1201 vertices" in r.output, r.output
    r = _make(store, key, tmp_path / "e.json", "--radius", "50000")
    assert r.exit_code == 1 and "radius" in r.output
    r = run(
        store,
        "extract",
        "make",
        "--point",
        "95,30",
        "--key",
        str(key),
        "-o",
        str(tmp_path / "e.json"),
    )
    assert r.exit_code == 1 and "latitude" in r.output
    assert not (tmp_path / "e.json").exists()
    ok = tmp_path / "small.geojson"
    ok.write_text(
        json.dumps(
            {
                "type": "Polygon",
                "coordinates": [
                    [
                        [30.509, 50.409],
                        [30.511, 50.409],
                        [30.511, 50.411],
                        [30.509, 50.411],
                        [30.509, 50.409],
                    ]
                ],
            }
        )
    )
    _hazard(store)
    r = run(
        store,
        "extract",
        "make",
        "--parcel",
        str(ok),
        "--key",
        str(key),
        "-o",
        str(tmp_path / "p.json"),
    )
    assert r.exit_code == 0, r.output
    assert len(json.loads((tmp_path / "p.json").read_bytes())["payload"]["records"]) == 1


def test_the_pdf_extract_verifies_and_a_changed_byte_fails(keyed: Any, tmp_path: Path) -> None:
    store, key = keyed
    _hazard(store)
    out = tmp_path / "e.pdf"
    r = _make(store, key, out, "--lang", "en")
    assert r.exit_code == 0, r.output
    data = out.read_bytes()
    assert data.startswith(b"%PDF")
    assert run(store, "extract", "verify", str(out)).exit_code == 0
    at = len(data) // 3
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :])
    r = run(store, "extract", "verify", str(bad))
    assert r.exit_code == 1 and "NOT valid" in r.output


# --- over HTTP --------------------------------------------------------------------------------


def _client(store: Any, key: Path | None, **kw: Any) -> TestClient:
    from demine.api.app import create_app

    return TestClient(
        create_app(store.location, extract_key=str(key) if key else None, **kw),
        raise_server_exceptions=False,
    )


def _token(store: Any, role: str) -> dict[str, str]:
    from demine.services.access import new_token

    name = f"u_{role}"
    store.add_user(name, role)
    token, th = new_token()
    store.add_token(name, th)
    return {"Authorization": f"Bearer {token}"}


BODY = {"point": {"lat": LAT, "lon": LON}, "radius_m": 10, "lang": "en"}


def test_http_without_a_key_is_503_naming_the_option(
    store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEMINE_EXTRACT_KEY", raising=False)
    with _client(store, None) as c:
        r = c.post("/api/v1/extracts", json=BODY)
    assert r.status_code == 503 and "--extract-key" in r.json()["detail"], r.text
    missing = tmp_path / "secret-dir" / "nokey.pem"
    with _client(store, missing) as c:
        r = c.post("/api/v1/extracts", json=BODY)
    assert r.status_code == 503 and "--extract-key" in r.json()["detail"]
    assert "secret-dir" not in r.text and "nokey" not in r.text


def test_http_extract_and_verify(keyed: Any, tmp_path: Path) -> None:
    store, key = keyed
    h = _hazard(store)
    analyst = _token(store, "analyst")
    with _client(store, key, public_url="https://mine.example.org/demine") as c:
        r = c.post("/api/v1/extracts", json=BODY)
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        signed = r.content
        assert json.loads(signed)["payload"]["records"][0]["id"] == h.id
        html = c.post(
            "/api/v1/extracts", json={**BODY, "lang": "uk"}, headers={"Accept": "text/html"}
        )
        assert (
            html.status_code == 200 and "script-src" not in html.headers["content-security-policy"]
        )
        assert "https://mine.example.org/demine/verify?extract=" in html.text
        v = c.post("/api/v1/extracts/verify", content=html.content)
        assert v.status_code == 200 and v.json()["valid"] and not v.json()["changed"], v.text
        # the QR code's address names this extract and its digest
        assert f"extract={v.json()['extract_id']}&amp;digest={v.json()['digest'][:32]}" in html.text
        v = c.post("/api/v1/extracts/verify", content=signed.replace(b"open", b"oqen"))
        assert v.status_code == 200 and v.json() == {
            **v.json(),
            "valid": False,
            "reason": "bad_signature",
        }
        _release(store, h.id)
        v = c.post("/api/v1/extracts/verify", content=signed).json()
        assert v["valid"] and v["changed"] and v["changes"][0]["change"] == "added"
        assert c.post("/api/v1/extracts/verify", content=b"hello").status_code == 422
        big = b" " * (10 * 2**20 + 1)
        assert c.post("/api/v1/extracts/verify", content=big).status_code == 413
        # a past date: analysts only (the public: 401)
        past = {**BODY, "as_of": "2025-01-01"}
        assert c.post("/api/v1/extracts", json=past).status_code == 401
        r = c.post("/api/v1/extracts", json=past, headers=analyst)
        assert r.status_code == 200 and json.loads(r.content)["payload"]["as_of"] == "2025-01-01"
        # bounded: a parcel too large, a bad place, both places
        huge = {
            "parcel": {
                "type": "Polygon",
                "coordinates": [[[30.0, 50.0], [30.3, 50.0], [30.3, 50.3], [30.0, 50.0]]],
            }
        }
        r = c.post("/api/v1/extracts", json=huge)
        assert r.status_code == 422 and "km²" in r.text
        r = c.post("/api/v1/extracts", json={**BODY, "parcel": huge["parcel"]})
        assert r.status_code == 422
        page = c.get("/verify")
        assert page.status_code == 200 and "verify.js" in page.text


def test_http_extracts_are_rate_limited_per_client(keyed: Any) -> None:
    store, key = keyed
    with _client(store, key) as c:
        c.app.state.extract_rate_per_minute = 3  # type: ignore[attr-defined]
        codes = [c.post("/api/v1/extracts", json=BODY).status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3] == 429, codes


def test_http_pdf(keyed: Any) -> None:
    store, key = keyed
    _hazard(store)
    with _client(store, key) as c:
        r = c.post("/api/v1/extracts", json=BODY, headers={"Accept": "application/pdf"})
        assert r.status_code == 200 and r.content.startswith(b"%PDF"), r.text[:300]
        v = c.post("/api/v1/extracts/verify", content=r.content).json()
    assert v["valid"] and not v["changed"], v
    assert os.environ.get("DEMINE_EXTRACT_KEY") is None
