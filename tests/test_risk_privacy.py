"""Residual risk for roles below analyst (security issue 10): no answer they get gives back an
emplacement's quantity (analyst-only) or a failure rate learned from clearance (the analyst-only
``risk_updates``).

The attack: from a point value of ``p_any_live`` and the device type's rate (the public
catalogue mean, or the learned one shown in an assumption line), N = ln(1 − p) / ln(1 − rate)
gives the quantity back. Roles below analyst now see the chance as a band worked out with
coarse quantities (demine.risk.public). The tests, on both backends, over the demo store and a
store with a learned update of our own:

* collect every answer those roles get (map hazard JSON, map risk, map config, OGC items and
  item as JSON and HTML, the device-type catalogue, decoded vector tiles, ``demine --role ...
  risk hazard --json`` at a date and over a series) and check that the only probability-like
  numbers in them are band edges: the formula has no point value to work on; a control shows
  that it does recover the quantities from what an analyst sees;
* for every hazard, every rate found in those answers or learned, the quantities consistent with
  the band the hazard shows span a factor of 3 or more (or are unbounded): no quantity is known
  within ±10 % (a ±10 % interval spans 1.1 / 0.9 = 1.22);
* moving every record's quantity to another value of its coarse step (a factor of 1.6 or more
  away) leaves every one of those answers byte for byte the same, while the analyst's change:
  no answer can tell the quantities apart;
* no "Beta(", "learned" or learned posterior appears in any of those answers; an analyst sees
  them;
* the CLI faces that would show exact figures for a chosen quantity (``risk estimate``,
  ``risk learn``, ``prioritize``) refuse those roles (exit 5).

Trying the formula with the band edges themselves as p is no test: with four edges and a few
rates some N always falls within 10 % of some quantity (86 such coincidences on the demo),
although the band is the same for every quantity of the consistent range.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pytest
import shapely
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from demine.api.app import create_app
from demine.cli.app import app as cli
from demine.ids import uuid7
from demine.model.schema import Record, format_datetime
from demine.risk.public import P_BANDS, coarse_quantity, coarse_steps
from demine.services.access import new_token
from demine.store.base import Store
from demine.store.open import open_store

run = CliRunner().invoke
BELOW = ("public", "field", "victim_assistance")  # every role that may not see the figures
EDGES = sorted({b for lo, hi, _ in P_BANDS for b in (lo, hi)})
NUMBER = re.compile(r"(?<![\w.-])(\d+(?:\.\d+)?(?:[eE]-?\d+)?)(?![\w.-])\s*(%?)")
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
FACTOR = 1.1 / 0.9  # a set of quantities narrower than this is known within ±10 %


# --- the stores -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_gpkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from demine.demo import build_demo_store

    db = tmp_path_factory.mktemp("risk_privacy") / "demo.gpkg"
    build_demo_store(db)
    return db


def _ago(days: float) -> str:
    return format_datetime(datetime.now(UTC) - timedelta(days=days))


def _box(i: int) -> Any:
    x = 37.0 + 0.02 * i
    return shapely.MultiPolygon([shapely.box(x, 48.0, x + 0.01, 48.01)])


# (device type, quantity, min, max, days since laying): after the battery life, after the
# self-destruct time, before any mechanism acted, persistent; small and large quantities
LEARNED_RECORDS = (
    [("apii-limit", q, None, None, 400) for q in (3, 7, 12, 40, 95, 130, 300, 700, 1000, 2500)]
    + [("ap-sd-only", q, None, None, 60) for q in (2, 9, 18, 45, 160)]
    + [("apii-limit", q, None, None, 70) for q in (6, 28, 64)]
    + [("apii-limit", 500, 400, 650, 400), ("ap-sd-only", 30, 20, 44, 60)]
    + [("apii-limit", 50, None, None, 5), ("ap-blast-persistent", 8, None, None, 900)]
)


def build_learned(store: Store) -> None:
    """Hazards with one emplacement record each (LEARNED_RECORDS), a hazard with two, and a
    cleared hazard whose finds teach apii-limit's rates: residual Beta(6, 1069), sd_fail
    Beta(35, 140) (the 75 finds of observed fate, not the 1,000 recorded)."""
    from demine.services.risk import learn
    from demine.services.setup import init_store

    init_store(store)
    cleared = Record(
        "hazards",
        uuid7(),
        {
            "hazard_type": "CHA",
            "status": "closed",
            "closed_on": datetime.now(UTC).date().isoformat(),
            "name": "cleared field",
        },
        _box(0),
    )
    hazards = [cleared]
    emps = [
        Record(
            "emplacements",
            uuid7(),
            {
                "hazard_id": cleared.id,
                "device_type": "apii-limit",
                "quantity": 1000,
                "laid_at": _ago(300),
            },
            shapely.Point(37.005, 48.005),
        )
    ]
    for i, (code, q, lo, hi, days) in enumerate(LEARNED_RECORDS, start=1):
        h = Record("hazards", uuid7(), {"hazard_type": "CHA", "status": "open"}, _box(i))
        h.properties["name"] = f"field {i}"
        hazards.append(h)
        props: dict[str, Any] = {
            "hazard_id": h.id,
            "device_type": code,
            "quantity": q,
            "laid_at": _ago(days),
        }
        if lo is not None:
            props.update(quantity_min=lo, quantity_max=hi)
        emps.append(Record("emplacements", uuid7(), props, h.geometry.centroid))
    two = Record("hazards", uuid7(), {"hazard_type": "SHA", "status": "open"}, _box(40))
    two.properties["name"] = "two records"
    hazards.append(two)
    for q, days in ((17, 400), (230, 400)):
        emps.append(
            Record(
                "emplacements",
                uuid7(),
                {
                    "hazard_id": two.id,
                    "device_type": "apii-limit",
                    "quantity": q,
                    "laid_at": _ago(days),
                },
                two.geometry.centroid,
            )
        )
    store.upsert("hazards", hazards, actor="t")
    store.upsert("emplacements", emps, actor="t")
    finds = []
    for state, n in (("live", 5), ("deactivated_intact", 20), ("self_destructed_remnant", 50)):
        finds += [
            Record(
                "finds",
                uuid7(),
                {
                    "device_type": "apii-limit",
                    "state": state,
                    "found_at": _ago(100),
                    "emplacement_id": emps[0].id,
                    "hazard_id": cleared.id,
                },
                shapely.Point(37.005, 48.005),
            )
            for _ in range(n)
        ]
    store.upsert("finds", finds, actor="t")
    # cleared land: a completed clearance released the whole hazard (issue 17: evidence only
    # from land cleared by clearance)
    act = Record(
        "activities",
        uuid7(),
        {
            "hazard_id": cleared.id,
            "activity_type": "clearance",
            "status": "completed",
            "organisation": "op",
            "started_on": _ago(150)[:10],
            "completed_on": _ago(90)[:10],
        },
        None,
    )
    store.upsert("activities", [act], actor="t")
    rel = Record(
        "releases",
        uuid7(),
        {
            "activity_id": act.id,
            "hazard_id": cleared.id,
            "release_type": "cleared",
            "released_on": _ago(90)[:10],
        },
        cleared.geometry,
    )
    store.upsert("releases", [rel], actor="t")
    learned = {(x.device_type, x.parameter): x.posterior for x in learn(store)}
    assert learned[("apii-limit", "deact_fail")].mean > 0.01  # live finds raised q


@dataclass
class Env:
    location: str
    headers: dict[str, dict[str, str]]
    posteriors: list[tuple[float, float]] = field(default_factory=list)
    records: dict[str, list[Record]] = field(default_factory=dict)  # emplacements per hazard
    seen: dict[str, Any] = field(default_factory=dict)  # answers per role, once per store


@contextmanager
def pg_schema() -> Iterator[str]:
    """A PostGIS store URL with a schema of its own, dropped afterwards (as conftest's
    ``pg_url``, for a module-scoped store)."""
    import uuid

    url = os.environ.get("DEMINE_TEST_PG")
    if not url:
        pytest.skip("no PostgreSQL + PostGIS server: set DEMINE_TEST_PG (.ci/run starts one)")
    schema = "t_" + uuid.uuid4().hex[:12]
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}demine_schema={schema}"
    finally:
        import psycopg

        with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def make_env(location: str, dataset: str, demo_gpkg: Path) -> Env:
    from demine.services.copy import copy_store

    if dataset == "demo":
        if location.endswith(".gpkg"):
            shutil.copy(demo_gpkg, location)
            store = open_store(location)
        else:
            src = open_store(str(demo_gpkg))
            store = open_store(location)
            copy_store(src, store)
            src.close()
    else:
        store = open_store(location)
        build_learned(store)
    headers: dict[str, dict[str, str]] = {"public": {}}
    for role in ("field", "victim_assistance", "analyst", "admin"):
        store.add_user(f"u_{role}", role)
        token, h = new_token()
        store.add_token(f"u_{role}", h)
        headers[role] = {"Authorization": f"Bearer {token}"}
    env = Env(location, headers)
    env.posteriors = [
        (r.properties["posterior_alpha"], r.properties["posterior_beta"])
        for r in store.list("risk_updates")
    ]
    assert env.posteriors, "the store must have learned rates"
    for e in store.list("emplacements"):
        env.records.setdefault(e.properties["hazard_id"], []).append(e)
    store.close()
    return env


CASES = [("gpkg", "demo"), ("gpkg", "learned"), ("postgis", "demo"), ("postgis", "learned")]


@contextmanager
def env_for(case: tuple[str, str], demo_gpkg: Path, tmp: Path) -> Iterator[Env]:
    backend, dataset = case
    if backend == "gpkg":
        yield make_env(str(tmp / f"{dataset}.gpkg"), dataset, demo_gpkg)
    else:
        with pg_schema() as url:
            yield make_env(url, dataset, demo_gpkg)


@pytest.fixture(scope="module", params=CASES, ids=["-".join(c) for c in CASES])
def env(
    request: pytest.FixtureRequest, demo_gpkg: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Env]:
    """A store read by the tests (not changed): one per backend and data set."""
    with env_for(request.param, demo_gpkg, tmp_path_factory.mktemp("env")) as e:
        yield e


@pytest.fixture(params=CASES, ids=["-".join(c) for c in CASES])
def fresh_env(request: pytest.FixtureRequest, demo_gpkg: Path, tmp_path: Path) -> Iterator[Env]:
    """A store the test may change."""
    with env_for(request.param, demo_gpkg, tmp_path) as e:
        yield e


# --- collecting answers -----------------------------------------------------------------------


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def html_text(text: str) -> str:
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
    return re.sub(r"<[^>]+>", " ", text)


def numbers(obj: Any) -> list[float]:
    """Every number in a JSON value, its strings included (a percentage as a fraction)."""
    out: list[float] = []

    def walk(o: Any) -> None:
        if isinstance(o, bool) or o is None:
            return
        if isinstance(o, int | float):
            out.append(float(o))
        elif isinstance(o, str):
            for m in NUMBER.finditer(UUID.sub(" ", o)):
                v = float(m.group(1))
                out.append(v / 100 if m.group(2) else v)
        elif isinstance(o, dict):
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    walk(obj)
    return out


def cli_json(location: str, role: str, *args: str) -> Any:
    r = run(cli, ["--db", location, "--role", role, *args])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def answers(env: Env, role: str, *, fresh: bool = False) -> dict[str, dict[str, Any]]:
    """Every answer ``role`` gets that could carry a hazard's risk: per hazard with emplacement
    records, ``{label: answer}`` (JSON values, HTML as visible text, tiles decoded), the
    hazard's own entries of the answers about every hazard included; and ``"*"`` the answers
    about them all. Kept per role unless ``fresh`` (a new application: no cache)."""
    if not fresh and role in env.seen:
        return dict(env.seen[role])
    h = env.headers[role]
    per: dict[str, dict[str, Any]] = {hid: {} for hid in env.records}
    store = open_store(env.location)
    hazards = {r.id: r for r in store.list("hazards")}
    store.close()
    year = datetime.now(UTC).year
    series = cli_json(
        env.location,
        role,
        "risk",
        "hazard",
        "--all",
        "--json",
        "--series",
        f"{year - 4}-01-01",
        f"{year + 1}-12-31",
        "30",
    )
    today = cli_json(env.location, role, "risk", "hazard", "--all", "--json")
    with TestClient(create_app(env.location)) as c:
        everything: dict[str, Any] = {
            "map/config": c.get("/api/v1/map/config", headers=h).json(),
            "map/risk": c.get("/api/v1/map/risk", headers=h).json(),
            "ogc/items": c.get("/ogc/collections/hazards/items?limit=1000", headers=h).json(),
            "ogc/items.html": html_text(
                c.get("/ogc/collections/hazards/items?limit=1000&f=html", headers=h).text
            ),
            "ogc/device_types": c.get(
                "/ogc/collections/device_types/items?limit=1000", headers=h
            ).json(),
            "cli/risk-series": series,
            "cli/risk-today": today,
        }
        learned = c.get("/ogc/collections/risk_updates/items", headers=h).status_code
        assert learned == (404 if role in BELOW else 200)
        for hid, mine in per.items():
            mine["map/hazard"] = c.get(f"/api/v1/map/hazards/{hid}", headers=h).json()
            mine["map/risk"] = everything["map/risk"]["hazards"][hid]
            mine["ogc/item"] = c.get(f"/ogc/collections/hazards/items/{hid}", headers=h).json()
            mine["ogc/item.html"] = html_text(
                c.get(f"/ogc/collections/hazards/items/{hid}?f=html", headers=h).text
            )
            for label, doc in (("cli/risk-series", series), ("cli/risk-today", today)):
                mine[label] = next(x for x in doc["hazards"] if x["id"] == hid)
            pt = hazards[hid].geometry.representative_point()
            for z in (10, 14):
                x, y = tile_of(pt.x, pt.y, z)
                r = c.get(f"/tiles/hazards/{z}/{x}/{y}.mvt", headers=h)
                assert r.status_code == 200, (hid, z)
                feats = mapbox_vector_tile.decode(r.content)["hazards"]["features"]
                mine[f"tile z{z}"] = [
                    f["properties"] for f in feats if f["properties"]["id"] == hid
                ]
    out = _scrub({**per, "*": everything})
    if not fresh:
        env.seen[role] = out
    return dict(out)


def _scrub(o: Any) -> Any:
    """Without the time of the answer (OGC's ``timeStamp``), which changes from call to call."""
    if isinstance(o, dict):
        return {k: _scrub(v) for k, v in o.items() if k != "timeStamp"}
    if isinstance(o, list):
        return [_scrub(v) for v in o]
    return o


def rate_candidates(env: Env, everything: dict[str, Any]) -> set[float]:
    """Every rate an attacker might use: the public catalogue means, every number in (0, 1)
    of the answers, and (stricter than any attacker) the learned rates themselves."""
    rates = {v for v in numbers(everything) if 0 < v < 1}
    for f in everything["ogc/device_types"]["features"]:
        p = f["properties"]
        for a, b in (("sd_fail_alpha", "sd_fail_beta"), ("residual_alpha", "residual_beta")):
            if p.get(a) is not None and p.get(b) is not None:
                rates.add(p[a] / (p[a] + p[b]))
    means = {a / (a + b) for a, b in env.posteriors}
    rates |= means
    # with both mechanisms p_res = p_sd x q: every product of two known means
    known = means | {0.1, 0.01, 0.001}
    rates |= {x * y for x in known for y in known}
    return rates


def quantities(recs: list[Record], found: dict[str, int] | None = None) -> set[float]:
    """Every figure that would count as the hazard's quantity recovered: each record's best,
    lowest and highest number, their sums and the sum of the PERT means, less the devices
    already found on an open hazard (``found`` per record: they come off an analyst's
    quantity)."""
    out: set[float] = set()
    means = 0.0
    total = 0.0
    for e in recs:
        p = e.properties
        k = float((found or {}).get(e.id, 0))
        b = float(p["quantity"])
        a = float(p.get("quantity_min") if p.get("quantity_min") is not None else b)
        c = float(p.get("quantity_max") if p.get("quantity_max") is not None else b)
        a, b, c = (max(x - k, 0.0) for x in (a, b, c))
        out |= {a, b, c}
        means += (a + 4 * b + c) / 6
        total += b
    out |= {total, means}
    return {q for q in out if q > 0}


def found_per_record(env: Env) -> dict[str, int]:
    store = open_store(env.location)
    try:
        out: dict[str, int] = {}
        for f in store.list("finds"):
            eid = f.properties.get("emplacement_id")
            if eid:
                out[eid] = out.get(eid, 0) + 1
        return out
    finally:
        store.close()


def n_from(p: float, rate: float) -> float:
    return math.log1p(-p) / math.log1p(-rate)


# --- the tests --------------------------------------------------------------------------------


def test_the_formula_recovers_quantities_from_what_analysts_see(env: Env) -> None:
    """The control: the attack works on exact figures (an analyst's), so the tests below can
    fail."""
    got = answers(env, "analyst")
    rates = rate_candidates(env, got["*"])
    found = found_per_record(env)
    recovered = 0
    for hid, recs in env.records.items():
        est = got[hid]["map/hazard"]["risk"]["estimate"]
        if not est or not 0 < est["p_any_live"] < 1:
            continue
        qs = quantities(recs, found)
        if any(abs(n_from(est["p_any_live"], r) - q) <= 0.001 * q for r in rates for q in qs):
            recovered += 1
    assert recovered >= 3


@pytest.mark.parametrize("role", BELOW)
def test_no_point_probability_reaches_roles_below_analyst(env: Env, role: str) -> None:
    got = answers(env, role)
    for hid, mine in got.items():
        if hid == "*":
            continue
        ps = {v for v in numbers(mine) if 0 < v < 1}
        assert ps <= set(EDGES), (hid, sorted(ps - set(EDGES)))
        est = mine["map/hazard"]["risk"]["estimate"]
        if est is not None:
            assert set(est) == {"date", "p_any_live_band", "p_any_live_low", "p_any_live_high"}
    ps = {v for v in numbers(got["*"]["map/risk"]) if 0 < v < 1}
    assert ps <= set(EDGES)


@pytest.mark.parametrize("role", BELOW)
def test_the_band_never_pins_a_quantity(env: Env, role: str) -> None:
    """Every quantity the band a hazard shows is consistent with, for every rate, spans a
    factor of at least 3: the formula at the band's edges brackets the quantity, it does not
    find it."""
    got = answers(env, role)
    rates = rate_candidates(env, got["*"])
    banded = 0
    for hid in env.records:
        est = got[hid]["map/hazard"]["risk"]["estimate"]
        if est is None:
            continue
        banded += 1
        lo, hi = est["p_any_live_low"], est["p_any_live_high"]
        assert (lo, hi) in {(a, b) for a, b, _ in P_BANDS}
        for r in rates:
            n_lo = n_from(lo, r)
            n_hi = math.inf if hi >= 1 else n_from(hi, r)
            assert n_lo == 0 or n_hi / n_lo >= 3, (hid, lo, hi, r)
    assert banded


def _step_ends(q: int) -> tuple[int, int]:
    """The lowest and the highest quantity of ``q``'s coarse step (1.6 times or more apart)."""
    steps = coarse_steps(10 * max(q, 1))
    top = coarse_quantity(q)
    bottom = steps[steps.index(top) - 1] + 1
    assert coarse_quantity(bottom) == top and top / bottom >= 1.6, (q, bottom, top)
    return bottom, top


def _set_quantities(env: Env, end: int) -> None:
    """Every record's quantity at one end of its step (0: lowest, 1: highest), no range."""
    store = open_store(env.location)
    for recs in env.records.values():
        for e in recs:
            p = e.properties
            q = _step_ends(max(int(p["quantity"]), int(p.get("quantity_max") or 0)))[end]
            cur = store.get("emplacements", e.id)
            props = {
                k: v for k, v in cur.properties.items() if k not in ("quantity_min", "quantity_max")
            }
            store.update(
                "emplacements",
                e.id,
                properties={**props, "quantity": q},
                actor="t",
                reason="another quantity of the same step",
            )
    store.close()


def test_answers_are_the_same_for_every_quantity_of_a_step(fresh_env: Env) -> None:
    """The public answers are the same with every quantity as recorded, at the lowest and at
    the highest quantity of its step; an analyst's are not."""
    env = fresh_env
    recorded = answers(env, "public", fresh=True)
    _set_quantities(env, 0)
    low = {role: answers(env, role, fresh=True) for role in (*BELOW, "analyst")}
    _set_quantities(env, 1)
    high = {role: answers(env, role, fresh=True) for role in (*BELOW, "analyst")}
    for key in recorded:
        assert recorded[key] == low["public"][key] == high["public"][key], key
    for role in BELOW:
        for key in low[role]:
            assert low[role][key] == high[role][key], (role, key)
    changed = [
        hid
        for hid in env.records
        if low["analyst"][hid]["map/hazard"]["risk"] != high["analyst"][hid]["map/hazard"]["risk"]
    ]
    assert changed  # the control: the analyst's figures did move


def _text(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


@pytest.mark.parametrize("role", BELOW)
def test_no_learned_rate_reaches_roles_below_analyst(env: Env, role: str) -> None:
    got = _text(answers(env, role))
    assert "Beta(" not in got
    assert "learned" not in got.lower()
    for a, b in env.posteriors:
        assert f"{a:g}, {b:g}" not in got
    for recs in env.records.values():
        for e in recs:
            assert e.id not in got  # emplacement records are analyst-only
    assert ": quantity " not in got and "PERT(" not in got


def test_an_analyst_sees_the_learned_rates(env: Env) -> None:
    got = answers(env, "analyst")
    text = _text(got)
    assert "(learned from clearance)" in text
    for a, b in env.posteriors:
        assert f"Beta({a:g}, {b:g})" in text
    some = next(hid for hid in env.records if got[hid]["map/hazard"]["risk"]["estimate"])
    est = got[some]["map/hazard"]["risk"]["estimate"]
    assert {"p_any_live", "expected_live", "p_any_live_p95"} <= set(est)
    assert got[some]["map/hazard"]["risk"]["emplacement_records"]


@pytest.mark.parametrize("role", BELOW)
def test_cli_faces_with_exact_figures_refuse_roles_below_analyst(env: Env, role: str) -> None:
    loc = env.location
    for args in (
        ["risk", "estimate", "--device-type", "apii-limit", "--quantity", "1000", "--days", "200"],
        ["risk", "learn"],
        ["prioritize", "--top", "3"],
    ):
        r = run(cli, ["--db", loc, "--role", role, *args, "--json"])
        assert r.exit_code == 5, (args, r.output)
        assert "analyst" in r.output
    table = run(cli, ["--db", loc, "--role", role, "risk", "hazard", "--all"])
    assert table.exit_code == 0, table.output
    assert "expected live" not in table.output and "%" in table.output
    r = run(cli, ["--db", loc, "risk", "estimate", "--device-type", "apii-limit",
                  "--quantity", "1000", "--days", "200", "--json"])  # fmt: skip
    assert r.exit_code == 0 and "learned from clearance" in r.stdout


def test_coarse_scale_and_bands() -> None:
    assert [coarse_quantity(n) for n in (0, 1, 5, 6, 10, 11, 20, 21, 50, 51, 1000, 1001)] == [
        0, 5, 5, 10, 10, 20, 20, 50, 50, 100, 1000, 2000,
    ]  # fmt: skip
    steps = coarse_steps(10**6)
    # each step holds quantities a factor of 1.6 or more apart: none is known within ±10 %
    for lo, hi in zip(steps[1:], steps[2:], strict=False):
        assert hi / (lo + 1) >= 1.6 > FACTOR
    assert steps[1] / 1 >= 5
    with pytest.raises(ValueError):
        coarse_quantity(-1)
    from demine.risk.public import p_band

    assert p_band(0.0)["band"] == "0–1 %" and p_band(1.0)["band"] == "90–100 %"
    assert p_band(0.5)["low"] == 0.5 and p_band(0.4999)["high"] == 0.5
    for lo, hi, _ in P_BANDS:  # every band spans a factor of 3 or more in quantity
        assert lo == 0 or hi == 1 or math.log1p(-hi) / math.log1p(-lo) >= 3


def _keys(o: Any) -> set[str]:
    if isinstance(o, dict):
        return set(o) | {k for v in o.values() for k in _keys(v)}
    if isinstance(o, list):
        return {k for v in o for k in _keys(v)}
    return set()


@pytest.mark.parametrize("role", BELOW)
def test_no_predictive_count_reaches_roles_below_analyst(env: Env, role: str) -> None:
    """The predictive count of live devices (live_count_p05/p95) would give quantities back:
    no face of a role below analyst carries it, as a field or in a text; an analyst gets it."""
    got = answers(env, role)
    assert not {k for k in _keys(got) if "live_count" in k}
    assert "predictive" not in _text(got)
    table = run(cli, ["--db", env.location, "--role", role, "risk", "hazard", "--all"])
    assert table.exit_code == 0 and "predictive" not in table.output
    ana = answers(env, "analyst")
    some = next(hid for hid in env.records if ana[hid]["map/hazard"]["risk"]["estimate"])
    for face in (
        ana[some]["map/hazard"]["risk"]["estimate"],
        ana[some]["map/risk"],
        ana[some]["cli/risk-today"]["estimates"][0],
    ):
        assert {"live_count_p05", "live_count_p95"} <= set(face)
    assert "predictive" in _text(ana)
