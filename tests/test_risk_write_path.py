"""Risk learning writes through the one write path (issue 11): the history of what it stored
names the actor, a role that may not write risk_updates is refused as any other write is, and
a learning run that fails half way stores nothing. On both backends."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import shapely
from typer.testing import CliRunner

from demine.cli.app import app
from demine.errors import Conflict, PermissionDenied, ValidationError
from demine.ids import uuid7
from demine.model.schema import Record, format_datetime
from demine.services import records
from demine.services.risk import learn

run = CliRunner().invoke
KEYS = ("apii-limit:deact_fail", "apii-limit:sd_fail")  # the order learning writes them in


def _ago(days: float) -> str:
    return format_datetime(datetime.now(UTC) - timedelta(days=days))


def _cleared_field(store: Any, live: int = 5) -> Record:
    """A closed hazard cleared by a completed clearance, with an emplacement record of 1,000
    apii-limit devices and finds linked to it: evidence for both rates of apii-limit."""
    box = shapely.box(37.0, 48.0, 37.01, 48.01)
    h = Record(
        "hazards",
        uuid7(),
        {
            "hazard_type": "CHA",
            "status": "closed",
            "closed_on": datetime.now(UTC).date().isoformat(),
            "name": "cleared field",
        },
        shapely.MultiPolygon([box]),
    )
    store.upsert("hazards", [h], actor="t")
    e = Record(
        "emplacements",
        uuid7(),
        {
            "hazard_id": h.id,
            "device_type": "apii-limit",
            "quantity": 1000,
            "laid_at": _ago(300),
            "emplacing_method": "remote",
        },
        shapely.Point(37.005, 48.005),
    )
    store.upsert("emplacements", [e], actor="t")
    _finds(store, e, live=live, intact=20, remnants=50)
    start = (datetime.now(UTC) - timedelta(days=150)).date().isoformat()
    end = (datetime.now(UTC) - timedelta(days=90)).date().isoformat()
    act = Record(
        "activities",
        uuid7(),
        {
            "hazard_id": h.id,
            "activity_type": "clearance",
            "status": "completed",
            "organisation": "op",
            "started_on": start,
            "completed_on": end,
        },
        None,
    )
    rel = Record(
        "releases",
        uuid7(),
        {"activity_id": act.id, "hazard_id": h.id, "release_type": "cleared", "released_on": end},
        shapely.MultiPolygon([box]),
    )
    store.upsert("activities", [act], actor="t")
    store.upsert("releases", [rel], actor="t")
    return e


def _finds(store: Any, e: Record, *, live: int, intact: int, remnants: int) -> None:
    finds = [
        Record(
            "finds",
            uuid7(),
            {
                "device_type": "apii-limit",
                "state": state,
                "found_at": _ago(100),
                "emplacement_id": e.id,
                "hazard_id": e.properties["hazard_id"],
            },
            shapely.Point(37.005, 48.005),
        )
        for state, n in (
            ("live", live),
            ("deactivated_intact", intact),
            ("self_destructed_remnant", remnants),
        )
        for _ in range(n)
    ]
    store.upsert("finds", finds, actor="t")


def _stored(store: Any) -> dict[str, Record]:
    return {r.properties["key"]: r for r in store.list("risk_updates")}


def _risk_revisions(store: Any) -> list[Any]:
    return [h for h in store.revisions() if h.kind == "risk_updates"]


def test_the_history_of_a_learned_rate_names_the_actor(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cleared_field(store)
    db = store.location
    store.close()
    monkeypatch.setenv("DEMINE_USER", "alice")
    r = run(app, ["--db", db, "risk", "learn", "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(run(app, ["--db", db, "list", "risk_updates", "--json"]).stdout)["records"]
    assert sorted(x["properties"]["key"] for x in rows) == list(KEYS)
    for row in rows:
        h = json.loads(run(app, ["--db", db, "history", row["id"], "--json"]).stdout)
        (rev,) = h["revisions"]
        assert rev["actor"] == "demine risk (alice)"
        assert rev["reason"] == "learned from clearance finds"
    # a sign-off is a new revision by its analyst, the sign-off (who, when, why) recorded
    monkeypatch.setenv("DEMINE_USER", "bob")
    r = run(
        app,
        [
            "--db",
            db,
            "risk",
            "learn",
            "--accept-below-limit",
            "apii-limit",
            "--reason",
            "field data from 3 sites",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    row = next(x for x in rows if x["properties"]["key"] == "apii-limit:deact_fail")
    h = json.loads(run(app, ["--db", db, "history", row["id"], "--json"]).stdout)["revisions"]
    assert [x["actor"] for x in h] == ["demine risk (alice)", "demine risk (bob)"]
    assert "field data from 3 sites" in h[-1]["after"]["properties"]["sign_off"]
    # withdrawing it is another revision, by its own actor
    monkeypatch.setenv("DEMINE_USER", "carol")
    r = run(app, ["--db", db, "risk", "learn", "--withdraw-sign-off", "apii-limit", "--json"])
    assert r.exit_code == 0, r.output
    h = json.loads(run(app, ["--db", db, "history", row["id"], "--json"]).stdout)["revisions"]
    assert h[-1]["actor"] == "demine risk (carol)"
    assert h[-1]["after"]["properties"].get("sign_off") is None


@pytest.mark.parametrize("role", ["public", "field", "victim_assistance"])
def test_a_role_that_may_not_write_risk_updates_is_refused_as_any_write(
    store: Any, role: str
) -> None:
    _cleared_field(store)
    kind = store.kind("risk_updates")
    props = {
        "key": "apii-limit:sd_fail",
        "device_type": "apii-limit",
        "parameter": "sd_fail",
        "prior_alpha": 1.0,
        "prior_beta": 9.0,
        "posterior_alpha": 1.0,
        "posterior_beta": 9.0,
    }
    with pytest.raises(PermissionDenied) as other:
        records.create(store, kind, props, ctx=records.WriteContext(role=role))
    with pytest.raises(PermissionDenied) as learning:
        learn(store, role=role)
    assert str(learning.value) == str(other.value)
    assert "risk_updates" in str(learning.value) and role in str(learning.value)
    assert _stored(store) == {} and _risk_revisions(store) == []
    # refused too when the run would change nothing (not only when it writes)
    learn(store, role="analyst")
    before = {k: r.revision for k, r in _stored(store).items()}
    assert sorted(before) == list(KEYS)
    with pytest.raises(PermissionDenied):
        learn(store, role=role)
    assert {k: r.revision for k, r in _stored(store).items()} == before


@pytest.mark.parametrize("role", ["analyst", "admin"])
def test_analysts_and_admins_learn(store: Any, role: str) -> None:
    _cleared_field(store)
    learned = learn(store, role=role, actor=f"the {role}")
    assert {f"{x.device_type}:{x.parameter}" for x in learned} == set(KEYS)
    assert {h.actor for h in _risk_revisions(store)} == {f"the {role}"}


def _refuse_writes(store: Any, op: str, key: str) -> None:
    """A trigger in the database itself that refuses the write of one risk_updates record
    (``op``: INSERT or UPDATE): the store fails in the middle of its batch."""
    if store.location.startswith("postgresql"):
        store.conn.execute(
            "CREATE OR REPLACE FUNCTION refuse_risk() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'refused by the test' USING ERRCODE = 'check_violation'; "
            "END $$ LANGUAGE plpgsql"
        )
        store.conn.execute(
            f"CREATE TRIGGER refuse_risk BEFORE {op} ON risk_updates FOR EACH ROW "
            f"WHEN (NEW.key = '{key}') EXECUTE FUNCTION refuse_risk()"
        )
    else:
        store.conn.execute(
            f"CREATE TRIGGER refuse_risk BEFORE {op} ON risk_updates "
            f"WHEN NEW.key = '{key}' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        )
        store.conn.commit()


def _allow_writes(store: Any) -> None:
    store.conn.execute(
        "DROP TRIGGER refuse_risk"
        + (" ON risk_updates" if store.location.startswith("postgresql") else "")
    )
    if not store.location.startswith("postgresql"):
        store.conn.commit()


def test_a_learning_run_that_fails_half_way_stores_nothing(store: Any) -> None:
    e = _cleared_field(store)
    # the first run: the first rate is written, the second refused -> neither is stored
    _refuse_writes(store, "INSERT", KEYS[1])
    with pytest.raises(Conflict, match="refused by the test"):
        learn(store, role="analyst", actor="a")
    assert _stored(store) == {} and _risk_revisions(store) == []
    _allow_writes(store)
    learn(store, role="analyst", actor="a")
    first = _stored(store)
    assert sorted(first) == list(KEYS)
    # a later run with new evidence changes both: the first update is made, the second
    # refused -> both keep their revision and their posterior, and no history is added
    _finds(store, e, live=30, intact=0, remnants=0)
    _refuse_writes(store, "UPDATE", KEYS[1])
    with pytest.raises(Conflict, match="refused by the test"):
        learn(store, role="analyst", actor="b")
    now = _stored(store)
    for k in KEYS:
        assert now[k].revision == first[k].revision == 1
        assert now[k].properties == first[k].properties
    assert {h.actor for h in _risk_revisions(store)} == {"a"}
    _allow_writes(store)
    learn(store, role="analyst", actor="b")
    assert all(r.revision == 2 for r in _stored(store).values())


def test_write_many_refuses_the_whole_batch_for_one_bad_record(store: Any) -> None:
    """The write path's batch form: the rules of a single write, faults located by position,
    nothing stored; natural keys are checked across the batch."""
    kind = store.kind("risk_updates")

    def rec(key: str, **over: Any) -> Record:
        code, param = key.split(":")
        props = {
            "key": key,
            "device_type": code,
            "parameter": param,
            "prior_alpha": 1.0,
            "prior_beta": 9.0,
            "posterior_alpha": 2.0,
            "posterior_beta": 9.0,
        }
        return Record("risk_updates", uuid7(), {**props, **over})

    bad = [
        rec("apii-limit:sd_fail"),
        rec("apii-limit:deact_fail", posterior_alpha=-1.0),
        rec("nosuch:sd_fail"),
    ]
    with pytest.raises(ValidationError) as exc:
        records.write_many(store, kind, bad, ctx=records.WriteContext(role="analyst", actor="t"))
    where = {(f.index, f.field) for f in exc.value.faults}
    assert (1, "posterior_alpha") in where and (2, "device_type") in where
    assert 0 not in {f.index for f in exc.value.faults}
    assert store.count("risk_updates") == 0
    twice = [rec("apii-limit:sd_fail"), rec("apii-limit:sd_fail")]
    with pytest.raises(ValidationError, match="nothing stored") as exc:
        records.write_many(store, kind, twice, ctx=records.WriteContext(role="analyst", actor="t"))
    assert any("given twice" in f.reason for f in exc.value.faults)
    assert store.count("risk_updates") == 0
    res = records.write_many(
        store,
        kind,
        [rec("apii-limit:sd_fail")],
        ctx=records.WriteContext(role="analyst", actor="t"),
    )
    assert len(res.created) == 1
    # another record under a key that is taken is refused, naming the holder
    with pytest.raises(ValidationError) as exc:
        records.write_many(
            store,
            kind,
            [rec("apii-limit:sd_fail")],
            ctx=records.WriteContext(role="analyst", actor="t"),
        )
    assert any(res.created[0] in f.reason for f in exc.value.faults)
    assert store.count("risk_updates") == 1
