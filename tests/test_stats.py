"""Statistics, charts and the annual report over a synthetic year (tests/stats_data.py), on
both store backends.

The land-release figures are checked two ways: the integers add up exactly (cancelled +
reduced + cleared = released in every row and in the total; rows add up to the total), and
each figure agrees with an independent computation (shapely overlays, areas from pyproj's
``Geod`` on the WGS 84 ellipsoid) within ``TOL_M2`` plus ``TOL_REL`` of the figure: each piece
is rounded to a whole m² once (at most 0.5 m² a piece), and demine's equal-area projection
differs from the ellipsoidal geodesic area by about 1e-6.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Geod
from shapely.geometry.polygon import orient
from typer.testing import CliRunner

import stats_data
from demine.cli.app import app as cli
from demine.services.access import new_token
from demine.services.charts import CHARTS, render
from demine.services.report import annual_html, html_to_pdf
from demine.services.stats import (
    SMALL,
    WITHHELD,
    breakdown,
    compute,
    land_release_csv,
    parse_period,
    suppress,
)

TOL_M2 = 3.0
TOL_REL = 5e-6
TYPES = ("cancelled", "reduced", "cleared")
NO_ACCESS = ("public", "field", "analyst")  # roles that may not read victims' personal data
GEOD = Geod(ellps="WGS84")


@pytest.fixture
def year(store: Any) -> stats_data.Year:
    return stats_data.build(store)


# --- an independent computation -----------------------------------------------------------------


def geod_m2(g: Any) -> float:
    """Ellipsoidal area of ``g`` with its edges straight in (lon, lat), as demine takes them:
    densified to 1e-5 degree (about 1 m) so that Geod's geodesic edges follow them."""
    total = 0.0
    for p in shapely.get_parts(shapely.segmentize(g, 1e-5)):
        if p.geom_type == "Polygon" and not p.is_empty:
            total += GEOD.geometry_area_perimeter(orient(p, 1.0))[0]
    return total


def expected_cells(store: Any) -> dict[tuple[str, int], dict[str, float]]:
    """(area, year) -> release type -> m², by plain overlays in date order, of the geometries
    as stored (the store densifies long edges)."""
    out: dict[tuple[str, int], dict[str, float]] = defaultdict(lambda: dict.fromkeys(TYPES, 0.0))
    releases = list(store.list("releases"))
    areas = {a.properties["name"]: a.geometry for a in store.list("oblasts")}
    assert set(areas) == set(stats_data.AREAS)
    for h in store.list("hazards"):
        rels = sorted(
            (r for r in releases if r.properties["hazard_id"] == h.id),
            key=lambda r: (r.properties["released_on"], r.id),
        )
        done = shapely.Polygon()
        for r in rels:
            credited = r.geometry.intersection(h.geometry).difference(done)
            done = done.union(credited)
            yr = int(r.properties["released_on"][:4])
            rest = credited
            for name, poly in areas.items():
                out[(name, yr)][r.properties["release_type"]] += geod_m2(
                    credited.intersection(poly)
                )
                rest = rest.difference(poly)
            out[("unassigned", yr)][r.properties["release_type"]] += geod_m2(rest)
    return out


def close(got: int, want: float) -> bool:
    return abs(got - want) <= TOL_M2 + TOL_REL * abs(want)


def sums_exact(st: dict[str, Any]) -> None:
    land = st["land_release"]
    total = land["total"]
    for r in [*land["rows"], *land["by_area"], *land["by_year"], total]:
        assert all(isinstance(r[f"{t}_m2"], int) for t in (*TYPES, "released"))
        assert sum(r[f"{t}_m2"] for t in TYPES) == r["released_m2"], r
    for col in (*TYPES, "released"):
        k = f"{col}_m2"
        assert sum(r[k] for r in land["rows"]) == total[k]
        assert sum(r[k] for r in land["by_area"]) == total[k]
        assert sum(r[k] for r in land["by_year"]) == total[k]
        assert st[k] == total[k]


# --- land release -------------------------------------------------------------------------------


def test_land_release_sums_are_exact_and_right(store: Any, year: stats_data.Year) -> None:
    want = expected_cells(store)
    for period in ("2025", "2024", "2024-2025", None):
        st = compute(store, role="analyst", by="oblasts", period=period)
        sums_exact(st)
        years = {2024, 2025} if period in (None, "2024-2025") else {int(str(period))}
        got = {(r["area"], int(r["period"])): r for r in st["land_release"]["rows"]}
        for (area, yr), cell in want.items():
            if yr not in years:
                continue
            row = got.get((area, yr))
            for t in TYPES:
                value = row[f"{t}_m2"] if row else 0
                assert close(value, cell[t]), (period, area, yr, t, value, cell[t])
        # every row is an (area, year) with land released in the period
        assert {k for k in got} <= {k for k, c in want.items() if sum(c.values()) > 0.5}
        # the total against the independent figures
        for t in TYPES:
            w = sum(c[t] for (a, yr), c in want.items() if yr in years)
            assert close(st[f"{t}_m2"], w), (t, st[f"{t}_m2"], w)


def test_straddling_and_outside_land_is_split_by_area(store: Any, year: stats_data.Year) -> None:
    st = compute(store, role="public", by="oblasts", period="2025")
    by_area = {r["area"]: r for r in st["land_release"]["by_area"]}
    assert set(by_area) == {"west", "east", "north", "unassigned"}
    # H1's reduction straddles west/east; H2's clearance straddles east/north
    assert by_area["west"]["reduced_m2"] > 0 and by_area["east"]["reduced_m2"] > 0
    assert by_area["east"]["cleared_m2"] > 0 and by_area["north"]["cleared_m2"] > 0
    # H3 lies in no admin area
    assert by_area["unassigned"]["cancelled_m2"] > 0
    nc = st["land_release"]["not_counted"]
    assert nc["overlap_m2"] > 0 and nc["outside_m2"] > 0
    # without a layer: one area, same totals
    flat = compute(store, role="public", period="2025")
    assert [r["area"] for r in flat["land_release"]["rows"]] == ["all"]
    # rounded once per piece x area: the split may move a total by half a m² per part
    assert abs(flat["released_m2"] - st["released_m2"]) <= 5
    sums_exact(flat)


def test_periods_add_up(store: Any, year: stats_data.Year) -> None:
    a = compute(store, by="oblasts", period="2024")
    b = compute(store, by="oblasts", period="2025")
    ab = compute(store, by="oblasts", period="2024-2025")
    for t in (*TYPES, "released"):
        assert a[f"{t}_m2"] + b[f"{t}_m2"] == ab[f"{t}_m2"]
    assert [r["period"] for r in ab["land_release"]["by_year"]] == ["2024", "2025"]
    assert a["devices"]["total"] == 1 and b["devices"]["total"] == 11
    assert a["accidents"]["total"] == 1 and b["accidents"]["total"] == 2
    assert a["eore"]["sessions"] == 1 and b["eore"]["sessions"] == 2
    assert b["eore"]["beneficiaries"] == 44
    assert (b["eore"]["girls"], b["eore"]["boys"], b["eore"]["women"], b["eore"]["men"]) == (
        11,
        14,
        10,
        9,
    )
    # hazards at the end of 2025: H4 (recorded in 2026) is not there; H2 closed in 2025
    hz = b["hazards"]
    assert hz["recorded"] == 3 and hz["open"] == 2 and hz["closed_in_period"] == 1
    assert hz["remaining_m2"] == sum(r["remaining_m2"] for r in hz["remaining_by_area"])
    assert hz["remaining_m2"] == sum(v["remaining_m2"] for v in hz["by_type"].values())
    assert sum(r["hazards"] for r in hz["remaining_by_area"]) == hz["open"]
    with pytest.raises(Exception, match="bad period"):
        parse_period("2025-2024")
    assert parse_period("2024-2025") is not None and parse_period(None) is None


# --- devices, accidents, casualties -------------------------------------------------------------


def test_devices_and_accidents(store: Any, year: stats_data.Year) -> None:
    st = compute(store, by="oblasts", period="2025")
    dev = st["devices"]
    assert dev["by_category"]["ap_fragmentation"] == 8 and dev["by_category"]["at"] == 3
    assert dev["by_state"] == {
        "live": 3,
        "self_destructed_remnant": 2,
        "deactivated_intact": 6,
        "unknown": 0,
    }
    assert dev["by_category_state"]["ap_fragmentation"]["deactivated_intact"] == 6
    assert dev["by_area"] == {"west": 3, "east": 6, "north": 2}
    acc = st["accidents"]
    assert acc["by_type"] == {"demining": 1, "civilian": 1}
    assert acc["by_device_category"]["at"] == 1 and acc["by_device_category"]["ap_blast"] == 1
    assert acc["by_area"] == {"west": 1, "east": 1}


def test_casualties_exact_for_victim_assistance(store: Any, year: stats_data.Year) -> None:
    for role in ("victim_assistance", "admin"):
        cas = compute(store, role=role, period="2025")["casualties"]
        assert cas["exact"] and cas["total"] == 9
        cells = {k: b["cells"] for k, b in cas["breakdowns"].items()}
        assert cells["outcome"] == {"killed": 2, "injured": 7}
        assert cells["sex"] == {"female": 1, "male": 8, "unknown": 0}
        assert cells["age_group"] == {"child": 0, "adult": 9, "unknown": 0}
        assert cells["victim_type"]["deminer"] == 6 and cells["victim_type"]["civilian"] == 3
        assert cells["accident_type"] == {"demining": 6, "civilian": 3}
    cas = compute(store, role="victim_assistance", period="2024")["casualties"]
    assert cas["total"] == 1


def test_casualties_suppressed_for_other_roles(store: Any, year: stats_data.Year) -> None:
    for role in NO_ACCESS:
        st = compute(store, role=role, period="2025")
        cas = st["casualties"]
        assert st["suppressed"] and not cas["exact"] and cas["rule"]
        # 9 people, but from 2 accidents (fewer than 3): with the public accident points it
        # would give one accident's casualties, so it is withheld (security issue 10)
        assert cas["total"] == WITHHELD
        b = cas["breakdowns"]
        # killed 2: a small cell, so the whole breakdown is withheld (injured 7 = 9 - 2)
        assert b["outcome"] == {"withheld": True, "cells": {"killed": None, "injured": None}}
        assert b["sex"]["withheld"] and b["victim_type"]["withheld"]
        assert b["accident_type"]["withheld"]  # civilian 3
        # adults 9 from 2 accidents: withheld too (cells from 3 accidents or more are exact:
        # tests/test_stats_suppression.py)
        assert b["age_group"] == {
            "withheld": True,
            "cells": {"child": None, "adult": None, "unknown": None},
        }
    # one casualty in 2024: the total is "<5", every breakdown withheld
    cas = compute(store, role="public", period="2024")["casualties"]
    assert cas["total"] == SMALL
    assert all(b["withheld"] for b in cas["breakdowns"].values())
    # no published cell is from 1 to 4, for any period
    for period in ("2024", "2025", "2024-2025", None):
        for role in NO_ACCESS:
            cas = compute(store, role=role, period=period)["casualties"]
            values = [cas["total"]] + [
                v for b in cas["breakdowns"].values() for v in b["cells"].values()
            ]
            assert not [v for v in values if isinstance(v, int) and 0 < v < 5], (period, values)


def test_suppression_rule() -> None:
    assert [suppress(n, False) for n in (0, 1, 4, 5, 12)] == [0, SMALL, SMALL, 5, 12]
    assert [suppress(n, True) for n in (0, 1, 4)] == [0, 1, 4]
    assert breakdown({"a": 5, "b": 0, "c": 9}, False) == {
        "withheld": False,
        "cells": {"a": 5, "b": 0, "c": 9},
    }
    assert breakdown({"a": 5, "b": 1}, False)["cells"] == {"a": None, "b": None}
    assert breakdown({"a": 5, "b": 1}, True)["cells"] == {"a": 5, "b": 1}


# --- faces: JSON, CSV, charts, report, API -------------------------------------------------------


def _cli(store: Any, *args: str, role: str = "analyst") -> Any:
    r = CliRunner().invoke(cli, ["--db", store.location, "--role", role, *args])
    assert r.exit_code == 0, r.output
    return r


def test_cli_json_and_csv(store: Any, year: stats_data.Year) -> None:
    r = _cli(store, "stats", "--by", "oblasts", "--period", "2025", "--json")
    st = json.loads(r.stdout)
    for k in ("cancelled_m2", "reduced_m2", "cleared_m2", "released_m2"):
        assert isinstance(st[k], int)
    assert st["released_m2"] == st["cancelled_m2"] + st["reduced_m2"] + st["cleared_m2"]
    assert st["synthetic"] is True and st["by"] == "oblasts" and st["period"]["label"] == "2025"
    r = _cli(store, "stats", "--by", "oblasts", "--period", "2024-2025", "--csv")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert list(rows[0]) == [
        "area",
        "period",
        "cancelled_m2",
        "reduced_m2",
        "cleared_m2",
        "released_m2",
    ]
    body, total = rows[:-1], rows[-1]
    assert total["area"] == "total" and total["period"] == "2024-2025"
    for c in ("cancelled_m2", "reduced_m2", "cleared_m2", "released_m2"):
        assert sum(int(r[c]) for r in body) == int(total[c])
    for r in body:
        assert int(r["cancelled_m2"]) + int(r["reduced_m2"]) + int(r["cleared_m2"]) == int(
            r["released_m2"]
        )
    assert {r["period"] for r in body} == {"2024", "2025"}
    r = _cli(store, "stats", "--by", "oblasts", "--period", "2025")
    assert "Land released" in r.stdout
    bad = CliRunner().invoke(cli, ["--db", store.location, "stats", "--period", "nope"])
    assert bad.exit_code == 1


def _no_secrets(text: str, where: str) -> None:
    for s in stats_data.SECRETS:
        assert s not in text, f"{s!r} in {where}"


def test_no_personal_data_in_stats_outputs(store: Any, year: stats_data.Year) -> None:
    for role in (*NO_ACCESS, "victim_assistance"):
        for period in ("2024", "2025", None):
            st = compute(store, role=role, by="oblasts", period=period)
            _no_secrets(json.dumps(st), f"stats JSON for {role}")
            _no_secrets(land_release_csv(st), f"stats CSV for {role}")
        for args in (["stats", "--json"], ["stats", "--csv"], ["stats"]):
            _no_secrets(_cli(store, *args, role=role).stdout, f"demine {args} for {role}")


def test_charts(tmp_path: Path, store: Any, year: stats_data.Year) -> None:
    st = compute(store, by="oblasts", period="2024-2025")
    for name in CHARTS:
        png = render(st, name, "png")
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        svg = render(st, name, "svg", "uk")
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg")
        assert b"SYNTHETIC" in svg
    out = tmp_path / "released.svg"
    _cli(store, "chart", "released", "--by", "oblasts", "-o", str(out))
    ET.fromstring(out.read_bytes())
    out = tmp_path / "devices.png"
    _cli(store, "chart", "devices", "-o", str(out))
    assert out.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError):
        render(st, "nope", "svg")


def test_charts_of_a_real_store_are_not_labelled_synthetic(tmp_path: Path) -> None:
    from demine.services.setup import init_store
    from demine.store.gpkg import GeoPackageStore

    s = GeoPackageStore(tmp_path / "real.gpkg")
    try:
        init_store(s)
        stats_data.build(s, synthetic=False)
        st = compute(s, period="2025")
        assert st["synthetic"] is False
        for name in CHARTS:
            assert b"SYNTHETIC" not in render(st, name, "svg")
        assert "SYNTHETIC" not in annual_html(s, 2025)
        # an empty period draws a chart that says so
        empty = compute(s, period="1999")
        assert b"No data" in render(empty, "released", "svg")
    finally:
        s.close()


def test_annual_report_html(store: Any, year: stats_data.Year) -> None:
    for role in (*NO_ACCESS, "victim_assistance"):
        page = annual_html(store, 2025, role=role, by="oblasts")
        _no_secrets(page, f"annual report for {role}")
        assert page.startswith("<!doctype html>") and "@media print" in page
        for heading in (
            "Land release in 2025",
            "Land released per year, 2021-2025",
            "Form C",
            "Form F",
            "Form I",
            "Accidents and casualties",
            "SYNTHETIC DATA",
        ):
            assert heading in page, heading
        assert page.count("<svg") >= 3  # charts inline
        st = compute(store, role=role, by="oblasts", period="2025")
        total = f"{st['released_m2']:,}".replace(",", "\u202f")
        assert total in page
        assert "HZ-1" in page and "HZ-3" in page and "HZ-4" not in page  # Form C
        if role in NO_ACCESS:
            assert "withheld" in page
    _cli(store, "report", "annual", "--year", "2025", "--help")


def test_report_escapes_values(tmp_path: Path) -> None:
    from demine.ids import uuid7
    from demine.model.schema import Record
    from demine.services.setup import init_store
    from demine.store.gpkg import GeoPackageStore

    s = GeoPackageStore(tmp_path / "x.gpkg")
    try:
        init_store(s)
        s.upsert(
            "hazards",
            [
                Record(
                    "hazards",
                    uuid7(),
                    {
                        "hazard_type": "SHA",
                        "status": "open",
                        "name": "<script>alert(1)</script>",
                        "reference": "A&B",
                    },
                    stats_data.mp((30.0, 50.0, 30.01, 50.01)),
                )
            ],
            actor="t",
        )
        page = annual_html(s, 2025)
        assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "A&amp;B" in page
    finally:
        s.close()


def test_annual_report_pdf(tmp_path: Path, store: Any, year: stats_data.Year) -> None:
    html_out, pdf_out = tmp_path / "r.html", tmp_path / "r.pdf"
    _cli(
        store,
        "report",
        "annual",
        "--year",
        "2025",
        "--by",
        "oblasts",
        "-o",
        str(html_out),
        "--pdf",
        str(pdf_out),
        role="public",
    )
    data = pdf_out.read_bytes()
    assert data.startswith(b"%PDF-") and b"/Type /Page" in data.replace(
        b"/Type/Page", b"/Type /Page"
    )
    _no_secrets(html_out.read_text(), "HTML report")
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext is missing: apt-get install poppler-utils (.ci/run installs it)")
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf_out), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Land release in 2025" in text and "Form C" in text and "SYNTHETIC" in text
    _no_secrets(text, "PDF report")


def test_pdf_from_html(tmp_path: Path) -> None:
    out = tmp_path / "x.pdf"
    n = html_to_pdf("<!doctype html><title>x</title><p>hello report</p>", out)
    assert n == out.stat().st_size and out.read_bytes()[:5] == b"%PDF-"


def test_api_stats(store: Any, year: stats_data.Year) -> None:
    from demine.api.app import create_app

    tokens: dict[str, str] = {}
    for role in ("field", "analyst", "victim_assistance"):
        store.add_user(f"u_{role}", role)
        token, token_hash = new_token()
        store.add_token(f"u_{role}", token_hash)
        tokens[role] = token
    with TestClient(create_app(store.location)) as c:
        for role in ("public", *tokens):
            headers = {"Authorization": f"Bearer {tokens[role]}"} if role in tokens else {}
            r = c.get("/api/v1/stats?by=oblasts&period=2025", headers=headers)
            assert r.status_code == 200, r.text
            body = r.json()
            _no_secrets(r.text, f"/api/v1/stats for {role}")
            assert body["role"] == role
            assert body == {
                **compute(store, role=role, by="oblasts", period="2025"),
                "generated_at": body["generated_at"],
            }
            outcome = body["casualties"]["breakdowns"]["outcome"]
            if role == "victim_assistance":
                assert outcome["cells"] == {"killed": 2, "injured": 7}
            else:
                assert outcome["withheld"] is True
            for name in CHARTS:
                svg = c.get(f"/api/v1/stats/chart/{name}.svg?period=2025", headers=headers)
                assert svg.status_code == 200
                assert svg.headers["content-type"].startswith("image/svg+xml")
                _no_secrets(svg.text, f"chart {name} for {role}")
            png = c.get("/api/v1/stats/chart/released.png", headers=headers)
            assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
        assert c.get("/api/v1/stats/chart/nope.svg").status_code == 404
        assert c.get("/api/v1/stats/chart/released.gif").status_code == 404
        bad = c.get("/api/v1/stats?period=nope")
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert c.get("/api/v1/stats?by=hazards").status_code == 422


def test_casualties_by_area(store: Any, year: stats_data.Year) -> None:
    """Casualties by the admin area of the accident's place: exact for victim assistance,
    withheld whole for other roles when any area has 1 to 4."""
    cas = compute(store, role="victim_assistance", by="oblasts", period="2025")["casualties"]
    cells = cas["breakdowns"]["area"]["cells"]
    assert cells["west"] == 3 and cells["east"] == 6 and cells["north"] == 0
    assert sum(cells.values()) == cas["total"] == 9
    for role in NO_ACCESS:
        pub = compute(store, role=role, by="oblasts", period="2025")["casualties"]
        assert pub["breakdowns"]["area"]["withheld"] is True
        assert set(pub["breakdowns"]["area"]["cells"].values()) == {None}
    # without --by there is no area breakdown (one area: the total says it)
    assert "area" not in compute(store, role="admin", period="2025")["casualties"]["breakdowns"]
