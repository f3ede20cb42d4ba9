"""Partial and unknown dates of legacy records (issue 12): a year, a year-month or ``unknown``
kept as such on both backends, through the CLI and the OGC API; rules that fail only when the
order is certainly wrong; statistics that count them in their year (and say how many have none);
a residual-risk estimate that counts a partial laying date from its conservative end; and the
``unknown`` vocabulary values."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from demine.api.app import create_app
from demine.cli.app import app
from demine.errors import ValidationError
from demine.ids import uuid7
from demine.model.dates import display
from demine.model.devices import device_type
from demine.model.kinds import KINDS
from demine.model.schema import validate_properties
from demine.services.access import new_token
from demine.services.register import ImportOptions, import_file
from demine.services.risk.hazards import hazard_risks
from demine.services.risk.inputs import today_day
from demine.services.stats import compute

HAZARD_DATES = ["2019", "2019-05", "unknown", "UNKNOWN", "2019-05-14", " 2018 "]
STORED = ["2019", "2019-05", "unknown", "unknown", "2019-05-14", "2018"]


def _cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def _poly(x: float, y: float = 48.0, d: float = 0.01) -> dict[str, Any]:
    ring = [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def _hazards_file(path: Path, dates: list[str]) -> Path:
    feats = [
        {
            "type": "Feature",
            "id": f"LEG-{i}",
            "properties": {
                "hazard_type": "SHA",
                "status": "open",
                "name": f"legacy {i}",
                "reported_on": d,
            },
            "geometry": _poly(37 + 0.02 * i),
        }
        for i, d in enumerate(dates)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return path


def _check(kind: str, **props: Any) -> tuple[dict[str, Any], list[Any]]:
    k = KINDS[kind]
    clean, _, faults = validate_properties(k.fields, k.rules, props)
    return clean, faults


# --- the model ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kept"),
    [("2019", "2019"), ("2019-05", "2019-05"), ("unknown", "unknown"), ("Unknown", "unknown")]
    + [(2019, "2019"), (" 2019-05 ", "2019-05"), ("2019-05-14", "2019-05-14")],
)
def test_a_partial_date_field_keeps_the_value_as_given(value: Any, kept: str) -> None:
    clean, faults = _check("hazards", hazard_type="SHA", status="open", reported_on=value)
    assert faults == [] and clean["reported_on"] == kept


@pytest.mark.parametrize(
    ("kind", "props", "field", "words"),
    [
        # not a month: the field and the value are named
        ("hazards", {"reported_on": "2019-13"}, "reported_on", ["'2019-13'", "month 13"]),
        ("hazards", {"reported_on": "19-05"}, "reported_on", ["'19-05'", "YYYY-MM"]),
        ("hazards", {"reported_on": "May 2019"}, "reported_on", ["'May 2019'"]),
        # land release certifies a day: released_on stays a full date
        ("releases", {"released_on": "2019"}, "released_on", ["YYYY-MM-DD", "'2019'"]),
        # a session held at no known time counts in no year: held_on may be partial, not unknown
        ("eore_sessions", {"held_on": "unknown"}, "held_on", ["cannot be unknown"]),
        # the estimate needs a laying period: laid_at may be partial, never unknown
        ("emplacements", {"laid_at": "unknown"}, "laid_at", ["cannot be unknown"]),
        ("accidents", {"occurred_at": "2019-00"}, "occurred_at", ["month 00"]),
        # finds feed the evidence on devices' state with their day: full dates only
        ("finds", {"found_at": "2019"}, "found_at", ["ISO 8601"]),
    ],
)
def test_bad_or_disallowed_partial_dates_are_located_faults(
    kind: str, props: dict[str, Any], field: str, words: list[str]
) -> None:
    _, faults = _check(kind, **props)
    mine = [f for f in faults if f.field == field]
    assert len(mine) == 1, faults
    for w in words:
        assert w in mine[0].reason, mine[0].reason


def test_each_field_takes_what_its_records_may_lack() -> None:
    """The decision, field by field (docs/data-model.md, "Partial and unknown dates")."""
    want = {
        ("hazards", "reported_on"): (True, True),
        ("hazards", "surveyed_on"): (True, True),
        ("hazards", "closed_on"): (True, False),
        ("hazards", "handed_over_on"): (True, False),
        ("emplacements", "laid_at"): (True, False),
        ("emplacements", "laid_earliest"): (True, False),
        ("accidents", "occurred_at"): (True, True),
        ("eore_sessions", "held_on"): (True, False),
    }
    for k in KINDS.values():
        for f in k.fields:
            assert (f.partial, f.unknown) == want.get((k.name, f.name), (False, False)), (
                k.name,
                f.name,
            )


@pytest.mark.parametrize(
    ("reported", "closed", "fails"),
    [
        ("2019", "2019-05-14", False),  # may be in order: no fault
        ("2019-06", "2019-05-14", True),  # certainly out of order
        ("2019-05", "2019-05-01", False),
        ("2020", "2019", True),
        ("unknown", "2019", False),
        ("2019-05-15", "2019-05", False),
        ("2019-05-15", "2019-05-14", True),  # full dates: as before
    ],
)
def test_date_order_fails_only_when_certainly_wrong(
    reported: str, closed: str, fails: bool
) -> None:
    _, faults = _check(
        "hazards", hazard_type="SHA", status="closed", reported_on=reported, closed_on=closed
    )
    assert any(f.field == "closed_on" and "before" in f.reason for f in faults) is fails, faults


def test_not_in_the_future_and_laying_period() -> None:
    year = datetime.now(UTC).year
    _, faults = _check("eore_sessions", held_on=str(year), organisation="x")
    assert faults == []  # this year may be past
    _, faults = _check("eore_sessions", held_on=str(year + 1), organisation="x")
    assert [f.field for f in faults] == ["held_on"] and "future" in faults[0].reason
    base = {"device_type": "uxo", "quantity": 1}
    assert _check("emplacements", **base, laid_at="2019", laid_earliest="2019-03")[1] == []
    _, faults = _check("emplacements", **base, laid_at="2019", laid_earliest="2020-01")
    assert [f.field for f in faults] == ["laid_earliest"]


def test_display() -> None:
    assert display("2019") == "2019"
    assert display("2019-05") == "May 2019"
    assert display("2019-05", "uk") == "травень 2019"
    assert display("unknown", "uk") == "невідомо"
    assert display("2019-05-14") == "2019-05-14"


def test_unknown_vocabulary_values() -> None:
    clean, faults = _check(
        "accidents", occurred_at="unknown", accident_type="Unknown", device_category="unknown"
    )
    assert faults == [] and clean["accident_type"] == "unknown"
    assert clean["device_category"] == "unknown"
    d = device_type("unknown")
    # nothing known of the device: no self-destruction or self-deactivation assumed
    assert d.persistence.value == "persistent" and d.sd_days is None and d.category == "unknown"
    _, faults = _check("hazards", hazard_type="SHA", status="open", device_categories="unknown")
    assert faults == []


# --- both backends: storage, CLI ------------------------------------------------------------


def test_cli_import_show_and_reimport(store: Any, tmp_path: Path) -> None:
    src = _hazards_file(tmp_path / "legacy.geojson", HAZARD_DATES)
    args = ["--db", store.location, "import", str(src), "--kind", "hazards", "--json"]
    r = _cli(*args)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["created"] == len(HAZARD_DATES)
    got = {x.source_id: x.properties.get("reported_on") for x in store.list("hazards")}
    assert got == {f"LEG-{i}": d for i, d in enumerate(STORED)}
    rid = next(x.id for x in store.list("hazards") if x.source_id == "LEG-0")
    shown = json.loads(_cli("--db", store.location, "show", rid, "--json").stdout)
    assert shown["properties"]["reported_on"] == "2019"
    again = json.loads(_cli(*args).stdout)  # read back exactly as written: nothing changes
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, len(STORED))


def test_cli_import_refuses_a_bad_month_naming_field_and_value(store: Any, tmp_path: Path) -> None:
    src = _hazards_file(tmp_path / "bad.geojson", ["2019", "2019-13"])
    r = _cli("--db", store.location, "import", str(src), "--kind", "hazards", "--json")
    assert r.exit_code == 1, r.output  # invalid input
    errors = json.loads(r.stdout)["error"]["errors"]
    assert [(e["field"], e["index"]) for e in errors] == [("reported_on", 1)]
    assert "'2019-13'" in errors[0]["reason"] and "month 13" in errors[0]["reason"]
    assert store.count("hazards") == 0  # nothing half-stored


def test_date_format_mapping_passes_partial_dates_on(store: Any, tmp_path: Path) -> None:
    """A source with dd.mm.yyyy dates and legacy years/unknowns: --date-format reads the first,
    the others are kept (and still checked by the field)."""
    src = _hazards_file(tmp_path / "mixed.geojson", ["14.05.2019", "2019", "unknown"])
    opts = ImportOptions(kind="hazards", date_formats={"reported_on": "%d.%m.%Y"})
    assert import_file(store, src, opts).created == 3
    got = sorted(x.properties["reported_on"] for x in store.list("hazards"))
    assert got == ["2019", "2019-05-14", "unknown"]
    bad = _hazards_file(tmp_path / "bad.geojson", ["2019-13"])
    with pytest.raises(ValidationError) as e:
        import_file(store, bad, opts)
    assert [f.field for f in e.value.faults] == ["reported_on"]


def test_gpkg_columns_and_an_older_store(tmp_path: Path) -> None:
    """A new GeoPackage holds partial dates in TEXT columns; an older one has DATE columns
    (NUMERIC affinity: SQLite stores "2019" as the integer 2019): read back as "2019"."""
    from demine.services.setup import init_store
    from demine.store.gpkg import GeoPackageStore

    path = tmp_path / "s.gpkg"
    s = GeoPackageStore(path)
    init_store(s)
    import_file(s, _hazards_file(tmp_path / "h.geojson", ["2019-05"]), ImportOptions("hazards"))
    s.close()
    con = sqlite3.connect(path)
    cols = {r[1]: r[2] for r in con.execute("PRAGMA table_info(hazards)")}
    assert cols["reported_on"] == "TEXT" and cols["closed_on"] == "TEXT"
    assert {r[1]: r[2] for r in con.execute("PRAGMA table_info(releases)")}["released_on"] == (
        "DATE"
    )
    # an older store: the same table with reported_on declared DATE (as demine made it)
    sql = con.execute("SELECT sql FROM sqlite_master WHERE name = 'hazards'").fetchone()[0]
    older = sql.replace('"reported_on" TEXT', '"reported_on" DATE')
    assert older != sql
    con.execute("PRAGMA writable_schema = ON")
    con.execute("UPDATE sqlite_master SET sql = ? WHERE name = 'hazards'", (older,))
    con.commit()
    con.close()
    s = GeoPackageStore(path)  # its connection has the GeoPackage functions the triggers use
    s.conn.execute("UPDATE hazards SET reported_on = 2019")  # what an older store holds
    s.conn.commit()
    assert s.conn.execute("SELECT typeof(reported_on) FROM hazards").fetchone()[0] == "integer"
    assert [x.properties["reported_on"] for x in s.list("hazards")] == ["2019"]
    s.close()


def test_postgis_migration_keeps_the_values(pg_url: str) -> None:
    """A PostGIS store made before partial dates (schema 4: date and timestamptz columns) is
    converted in place when opened: every value kept as the same ISO text, and the columns
    take partial dates from then on, checked by the database too."""
    import psycopg

    from demine.model.schema import Record
    from demine.services.setup import init_store
    from demine.store.open import open_store

    s = open_store(pg_url)
    init_store(s)
    hz = Record(
        "hazards",
        uuid7(),
        {"hazard_type": "SHA", "status": "open", "reported_on": "2019-05-14"},
        shapely.MultiPolygon([shapely.box(37, 48, 37.01, 48.01)]),
    )
    acc = [
        Record(
            "accidents",
            uuid7(),
            {"occurred_at": t, "accident_type": "civilian"},
            shapely.Point(37, 48),
        )
        for t in ("2019-05-14T08:30:00Z", "2019-05-14T08:30:00.250Z")
    ]
    s.upsert("hazards", [hz], actor="t")
    s.upsert("accidents", acc, actor="t")
    c = s.conn
    # back to what schema 4 made
    c.execute("ALTER TABLE hazards DROP CONSTRAINT hazards_reported_on_partial")
    c.execute("ALTER TABLE hazards ALTER COLUMN reported_on TYPE date USING reported_on::date")
    c.execute("ALTER TABLE accidents DROP CONSTRAINT accidents_occurred_at_partial")
    c.execute(
        "ALTER TABLE accidents ALTER COLUMN occurred_at TYPE timestamptz "
        "USING occurred_at::timestamptz"
    )
    c.execute("UPDATE demine_schema SET version = 4")
    c.commit()
    s.close()
    s = open_store(pg_url)
    assert s.get("hazards", hz.id).properties["reported_on"] == "2019-05-14"
    assert sorted(a.properties["occurred_at"] for a in s.list("accidents")) == [
        "2019-05-14T08:30:00.250Z",
        "2019-05-14T08:30:00Z",
    ]
    types = dict(
        s.conn.execute(
            "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND column_name IN ('reported_on', "
            "'occurred_at', 'released_on') "
            "AND table_name IN ('hazards', 'accidents', 'releases')"
        ).fetchall()
    )
    assert types == {
        "hazards.reported_on": "text",
        "accidents.occurred_at": "text",
        "releases.released_on": "date",
    }
    hz.properties["reported_on"] = "2019"
    s.upsert("hazards", [hz], actor="t")
    assert s.get("hazards", hz.id).properties["reported_on"] == "2019"
    with pytest.raises(psycopg.errors.CheckViolation):
        s.conn.execute("UPDATE hazards SET reported_on = '2019-5'")
    s.conn.rollback()
    s.close()


# --- statistics -----------------------------------------------------------------------------


def _accidents_file(path: Path, dates: list[str]) -> Path:
    feats = [
        {
            "type": "Feature",
            "id": f"ACC-{i}",
            "properties": {"occurred_at": d, "accident_type": "unknown" if i else "civilian"},
            "geometry": {"type": "Point", "coordinates": [37 + 0.01 * i, 48]},
        }
        for i, d in enumerate(dates)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return path


def test_stats_count_partial_dates_in_their_year_and_say_how_many_have_none(
    store: Any, tmp_path: Path
) -> None:
    dates = ["2019", "2019-05", "2019-05-14T08:30:00Z", "2020-02", "unknown", "Unknown"]
    rep = import_file(
        store, _accidents_file(tmp_path / "a.geojson", dates), ImportOptions("accidents")
    )
    assert rep.created == 6
    got = {x.source_id: x.properties["occurred_at"] for x in store.list("accidents")}
    assert got["ACC-0"] == "2019" and got["ACC-3"] == "2020-02" and got["ACC-5"] == "unknown"
    every = compute(store)["accidents"]
    assert every["total"] == 6 and every["undated"] == 2
    assert every["by_year"] == {"2019": 3, "2020": 1, "unknown": 2}
    assert every["by_type"] == {"demining": 0, "civilian": 1, "unknown": 5}
    y2019 = compute(store, period="2019")["accidents"]
    assert (y2019["total"], y2019["by_year"], y2019["undated"]) == (3, {"2019": 3}, 2)
    r = _cli("--db", store.location, "stats", "--period", "2019")
    assert r.exit_code == 0, r.output
    assert "Accidents: 3" in r.stdout
    assert "2 accident(s) of unknown date are in no period" in r.stdout


# --- residual risk --------------------------------------------------------------------------


def _risk_store(store: Any, laid: dict[str, str]) -> dict[str, str]:
    """One open hazard per laying date, each with 1,000 apii-limit devices (self-destruct in
    30 days, self-deactivate in 120)."""
    from demine.model.schema import Record

    ids = {}
    for i, (name, when) in enumerate(laid.items()):
        h = Record(
            "hazards",
            uuid7(),
            {"hazard_type": "CHA", "status": "open", "name": name},
            shapely.MultiPolygon([shapely.box(37 + i * 0.02, 48, 37.01 + i * 0.02, 48.01)]),
        )
        e = Record(
            "emplacements",
            uuid7(),
            {"hazard_id": h.id, "device_type": "apii-limit", "quantity": 1000, "laid_at": when},
            shapely.Point(37.005 + i * 0.02, 48.005),
        )
        store.upsert("hazards", [h], actor="t")
        store.upsert("emplacements", [e], actor="t")
        ids[name] = h.id
    return ids


def _live(store: Any, hid: str, on: date | None = None) -> float:
    """Expected live devices of the hazard on a day (default: today)."""
    from demine.risk import day_number

    day = today_day() if on is None else day_number(on)
    hr = hazard_risks(store, np.array([day]), hazard_id=hid, draws=400, seed=1)[0]
    assert hr.estimate is not None
    return float(hr.estimate.to_dicts()[0]["expected_live"])


def test_risk_counts_a_partial_laying_date_from_its_last_day(store: Any) -> None:
    """A year-month (or a year) of laying: the devices are counted from its LAST day, the end
    that leaves the most of them live (more residual risk for civilians, never less)."""
    # the month before last (over by today), seen 15 days after its end: its last day is then
    # within the 30 days before self-destruction, its first day past them, whatever today is
    # (a fixed offset from today failed on the days a month's end fell on that step)
    first = (date.today().replace(day=1) - timedelta(days=32)).replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    seen = last + timedelta(days=15)
    ym = first.strftime("%Y-%m")
    this_year = str(date.today().year)
    ids = _risk_store(
        store,
        {
            "partial": ym,
            "last": f"{last.isoformat()}T00:00:00Z",
            "first": f"{first.isoformat()}T00:00:00Z",
            "year": this_year,
            "today": f"{date.today().isoformat()}T00:00:00Z",
        },
    )
    partial, at_last, at_first = (_live(store, ids[n], seen) for n in ("partial", "last", "first"))
    assert partial == pytest.approx(at_last)
    assert partial > at_first  # the first day would have let more of them self-destruct
    # this year: its last day is not past yet; laid by today at latest, so counted from today
    assert _live(store, ids["year"]) == pytest.approx(_live(store, ids["today"]))
    hr = hazard_risks(store, np.array([today_day()]), hazard_id=ids["partial"], draws=50)[0]
    text = json.dumps(hr.estimate.assumptions if hr.estimate else [])
    assert f"laid between {first.isoformat()} and {last.isoformat()}" in text


# --- the OGC API ----------------------------------------------------------------------------


def test_ogc_items_write_read_and_filter(store: Any, tmp_path: Path) -> None:
    import_file(
        store, _hazards_file(tmp_path / "h.geojson", HAZARD_DATES), ImportOptions("hazards")
    )
    store.add_user("ana", "analyst")
    token, h = new_token()
    store.add_token("ana", h)
    auth = {"Authorization": f"Bearer {token}"}
    url = "/ogc/collections/hazards/items"
    with TestClient(create_app(store.location)) as client:
        items = client.get(url, params={"limit": 50}).json()["features"]
        got = {f["properties"]["name"]: f["properties"].get("reported_on") for f in items}
        assert got == {f"legacy {i}": d for i, d in enumerate(STORED)}
        # datetime=: a year or a year-month covers its days; unknown matches no interval
        r = client.get(url, params={"datetime": "2019-05-01/2019-05-31", "limit": 50})
        assert r.status_code == 200
        names = {f["properties"]["name"] for f in r.json()["features"]}
        assert names == {"legacy 0", "legacy 1", "legacy 4"}
        # CQL2: a comparison with a partial date is unknown (three-valued): never an error
        for flt in (
            "reported_on >= DATE('2018-01-01')",
            "NOT (reported_on >= DATE('2018-01-01'))",
            "T_AFTER(reported_on, DATE('2018-01-01'))",
        ):
            r = client.get(url, params={"filter": flt, "limit": 50})
            assert r.status_code == 200, (flt, r.text)
            names = {f["properties"]["name"] for f in r.json()["features"]}
            assert names == ({"legacy 4"} if flt.startswith(("reported", "T_")) else set()), flt
        body = {
            "type": "Feature",
            "properties": {"hazard_type": "SHA", "status": "open", "reported_on": "2019-13"},
            "geometry": _poly(38),
        }
        bad = client.post(url, json=body, headers=auth)
        assert bad.status_code == 422
        errs = bad.json()["errors"]
        assert [e["field"] for e in errs] == ["reported_on"] and "'2019-13'" in errs[0]["reason"]
        body["properties"]["reported_on"] = "2017-11"
        ok = client.post(url, json=body, headers=auth)
        assert ok.status_code == 201, ok.text
        assert ok.json()["properties"]["reported_on"] == "2017-11"
        one = client.get(ok.headers["Location"].replace("http://testserver", ""))
        assert one.json()["properties"]["reported_on"] == "2017-11"
