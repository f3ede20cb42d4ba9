"""The issue's acceptance point: 20 concurrent clients x 500 mixed writes through the OGC API
on a PostGIS store, served by a real uvicorn: no lost update and no 5xx.

Every client is a thread with its own ``httpx.Client``; the server is uvicorn in a subprocess
(2 worker processes, each with its own connections), so the store's own serialisation
(advisory lock + revision check in one transaction) is what keeps the writes apart.

The mix, per client (500 writes each):

* ~40% increment one shared emplacement's ``quantity`` (a counter): GET -> ETag and quantity ->
  PATCH quantity+1 with If-Match; on 412/409 read again and retry until it succeeds;
* ~30% POST a new find or EO report (most with a client UUID; some of those sent twice, the
  retry must answer 200 with the same record, no new revision);
* ~15% PUT (with If-Match) or PATCH (without) one of the client's own records;
* ~15% DELETE one of the client's own records (sometimes with If-Match).

Checked: no response >= 500 and no connection error at all; every answer is the one expected
(apart from 412/409 on the counter); the counter ends at the number of successful increments,
each success got its own revision and the history holds exactly 1 + increments revisions;
every created record exists with its last written content unless its client deleted it, a
deleted one is gone with a ``delete`` revision, a retried POST made one record.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import shapely

from demine.errors import NotFound
from demine.ids import uuid7
from demine.model.schema import Record
from demine.services.access import hash_token, new_token
from demine.services.setup import init_store
from demine.store.open import open_store

CLIENTS = 20
WRITES = 500  # per client: the 20 x 500
WORKERS = 2
DEVICE = "ap-blast-persistent"

_APP = (
    "import os\n"
    "from demine.api.app import create_app\n"
    "app = create_app(os.environ['DEMINE_CONC_DB'], max_limit=1000, rate_limit_per_minute=0)\n"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Live:
    ogc: str
    db: str
    tokens: dict[str, str]  # role -> token
    hazards: list[str]
    counter: str  # the shared emplacement's id

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def _fill(url: str) -> tuple[dict[str, str], list[str], str]:
    s = open_store(url)
    try:
        init_store(s)
        tokens = {}
        for role in ("analyst", "reviewer"):
            s.add_user(f"u_{role}", role)
            token, _ = new_token()
            s.add_token(f"u_{role}", hash_token(token))
            tokens[role] = token
        hazards = []
        for i in range(4):
            x, y = 36.0 + i * 0.1, 48.0
            ring = [(x, y), (x + 0.01, y), (x + 0.01, y + 0.01), (x, y + 0.01), (x, y)]
            rec = Record(
                kind="hazards",
                id=uuid7(),
                properties={"name": f"conc {i}", "hazard_type": "SHA", "status": "open"},
                geometry=shapely.MultiPolygon([shapely.Polygon(ring)]),
            )
            s.upsert("hazards", [rec], actor="test")
            hazards.append(rec.id)
        counter = Record(
            kind="emplacements",
            id=uuid7(),
            properties={
                "hazard_id": hazards[0],
                "device_type": DEVICE,
                "quantity": 0,
                "laid_at": "2023-05-01T00:00:00Z",
            },
            geometry=shapely.Point(36.005, 48.005),
        )
        s.upsert("emplacements", [counter], actor="test")
        assert s.get("emplacements", counter.id).properties["quantity"] == 0
    finally:
        s.close()
    return tokens, hazards, counter.id


@pytest.fixture
def live(pg_url: str, tmp_path: Path) -> Iterator[Live]:
    tokens, hazards, counter = _fill(pg_url)
    (tmp_path / "conc_app.py").write_text(_APP)
    port = _free_port()
    env = {**os.environ, "DEMINE_CONC_DB": pg_url}
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "conc_app:app",
        "--app-dir",
        str(tmp_path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(WORKERS),
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(cmd, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield Live(url + "/ogc", pg_url, tokens, hazards, counter)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


# --- one client --------------------------------------------------------------------------------


@dataclass
class Own:
    kind: str
    etag: str
    feature: dict[str, Any]  # the last content written (type, id, geometry, properties)


@dataclass
class Tally:
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    increments: int = 0
    increment_tries: int = 0
    increment_etags: list[str] = field(default_factory=list)  # the ETag of each success
    created: dict[str, Own] = field(default_factory=dict)  # live records of this client
    deleted: dict[str, str] = field(default_factory=dict)  # id -> kind
    retried: set[str] = field(default_factory=set)  # ids POSTed twice
    unexpected: list[str] = field(default_factory=list)
    transport: list[str] = field(default_factory=list)
    ops: Counter[str] = field(default_factory=Counter)


class Client:
    def __init__(self, live: Live, n: int, tally: Tally) -> None:
        self.live = live
        self.n = n
        self.t = tally
        self.rng = random.Random(1000 + n)
        # even clients write their own records as a reviewer, odd ones as an analyst (both
        # write records directly; a field team's write is a submission: tests/test_intake.py);
        # the counter (an emplacement, analysts only) is always written as the analyst
        self.role = "reviewer" if n % 2 == 0 else "analyst"
        self.http = httpx.Client(timeout=120)
        self.seq = 0

    def req(self, method: str, url: str, **kw: Any) -> httpx.Response | None:
        try:
            r = self.http.request(method, url, **kw)
        except httpx.TransportError as e:
            self.t.transport.append(f"{method} {url}: {e!r}")
            return None
        self.t.statuses[(method, r.status_code)] += 1
        return r

    def expect(self, r: httpx.Response | None, codes: tuple[int, ...], what: str) -> bool:
        if r is None:
            return False
        if r.status_code not in codes:
            self.t.unexpected.append(
                f"client {self.n} {what}: {r.request.method} {r.request.url} -> "
                f"{r.status_code} {r.text[:500]}"
            )
            return False
        return True

    # -- the shared counter

    def increment(self) -> None:
        url = f"{self.live.ogc}/collections/emplacements/items/{self.live.counter}"
        h = self.live.auth("analyst")
        while True:
            self.t.increment_tries += 1
            g = self.req("GET", url, headers=h)
            if not self.expect(g, (200,), "read the counter"):
                return
            assert g is not None
            q = g.json()["properties"]["quantity"]
            p = self.req(
                "PATCH",
                url,
                json={"properties": {"quantity": q + 1}},
                headers={
                    **h,
                    "If-Match": g.headers["ETag"],
                    "Content-Type": "application/merge-patch+json",
                },
            )
            if p is None:
                return
            if p.status_code in (409, 412):
                continue
            if self.expect(p, (200,), "increment the counter"):
                assert p is not None
                self.t.increments += 1
                self.t.increment_etags.append(p.headers["ETag"])
            return

    # -- own records

    def _new_feature(self, kind: str, rid: str | None) -> dict[str, Any]:
        self.seq += 1
        lon = round(self.rng.uniform(30.0, 38.0), 6)
        lat = round(self.rng.uniform(46.5, 50.5), 6)
        note = f"client {self.n} write {self.seq}"
        if kind == "finds":
            props: dict[str, Any] = {
                "device_type": DEVICE,
                "state": self.rng.choice(["live", "unknown", "deactivated_intact"]),
                "found_at": "2024-06-01T10:00:00Z",
                "hazard_id": self.rng.choice(self.live.hazards),
                "depth_cm": float(self.rng.randint(0, 40)),
                "notes": note,
            }
        else:
            props = {
                "reported_at": "2024-06-02T11:00:00Z",
                "description": note,
                "reporter_name": f"reporter {self.n}",
                "reporter_contact": "+380000000000",
                "status": "new",
                "public": self.rng.random() < 0.5,
                "notes": note,
            }
        f: dict[str, Any] = {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": props,
        }
        if rid is not None:
            f["id"] = rid
        return f

    def post(self) -> None:
        kind = self.rng.choice(["finds", "eo_reports"])
        url = f"{self.live.ogc}/collections/{kind}/items"
        h = {**self.live.auth(self.role), "Content-Type": "application/geo+json"}
        roll = self.rng.random()
        rid = str(uuid7()) if roll < 0.8 else None  # most with a client UUID
        f = self._new_feature(kind, rid)
        r = self.req("POST", url, json=f, headers=h)
        if not self.expect(r, (201,), f"create a {kind} feature"):
            return
        assert r is not None
        got = r.json()["id"]
        if rid is not None and got != rid:
            self.t.unexpected.append(f"client {self.n}: POST with id {rid} made {got}")
        self.t.created[got] = Own(kind, r.headers["ETag"], {**f, "id": got})
        if rid is not None and roll < 0.3:  # the client lost the answer and sends it again
            again = self.req("POST", url, json=f, headers=h)
            if self.expect(again, (200,), f"retry the POST of {rid}"):
                assert again is not None
                self.t.retried.add(rid)
                if again.headers["ETag"] != r.headers["ETag"] or again.json()["id"] != rid:
                    self.t.unexpected.append(
                        f"client {self.n}: retried POST {rid} -> {again.headers['ETag']}, "
                        f"first {r.headers['ETag']}"
                    )

    def change(self) -> None:
        if not self.t.created:
            return self.post()
        rid = self.rng.choice(sorted(self.t.created))
        own = self.t.created[rid]
        url = f"{self.live.ogc}/collections/{own.kind}/items/{rid}"
        self.seq += 1
        note = f"client {self.n} change {self.seq}"
        if self.rng.random() < 0.5:  # PUT the whole feature, with If-Match
            f = {**own.feature, "properties": {**own.feature["properties"], "notes": note}}
            r = self.req(
                "PUT",
                url,
                json=f,
                headers={
                    **self.live.auth(self.role),
                    "If-Match": own.etag,
                    "Content-Type": "application/geo+json",
                },
            )
        else:  # PATCH one property, no If-Match
            f = {**own.feature, "properties": {**own.feature["properties"], "notes": note}}
            r = self.req(
                "PATCH",
                url,
                json={"properties": {"notes": note}},
                headers={
                    **self.live.auth(self.role),
                    "Content-Type": "application/merge-patch+json",
                },
            )
        if self.expect(r, (200,), f"change own {own.kind} {rid}"):
            assert r is not None
            own.etag = r.headers["ETag"]
            own.feature = f
        return None

    def delete(self) -> None:
        if not self.t.created:
            return self.post()
        rid = self.rng.choice(sorted(self.t.created))
        own = self.t.created[rid]
        url = f"{self.live.ogc}/collections/{own.kind}/items/{rid}"
        h = self.live.auth(self.role)
        if self.rng.random() < 0.5:
            h = {**h, "If-Match": own.etag}
        r = self.req("DELETE", url, headers=h)
        if self.expect(r, (204,), f"delete own {own.kind} {rid}"):
            del self.t.created[rid]
            self.t.deleted[rid] = own.kind
            if self.rng.random() < 0.1:  # a late retry of the creation must not revive it
                late = self.req(
                    "POST",
                    f"{self.live.ogc}/collections/{own.kind}/items",
                    json=own.feature,
                    headers={**h, "Content-Type": "application/geo+json"},
                )
                self.expect(late, (409,), f"re-POST deleted {rid}")
        return None

    def run(self, start: threading.Barrier) -> None:
        start.wait()
        try:
            for _ in range(WRITES):
                x = self.rng.random()
                if x < 0.40:
                    self.t.ops["increment"] += 1
                    self.increment()
                elif x < 0.70:
                    self.t.ops["post"] += 1
                    self.post()
                elif x < 0.85:
                    self.t.ops["change"] += 1
                    self.change()
                else:
                    self.t.ops["delete"] += 1
                    self.delete()
        except Exception as e:  # a crash in a client is a failure, not a silent thread death
            self.t.unexpected.append(f"client {self.n} crashed: {e!r}")
        finally:
            self.http.close()


# --- the test ------------------------------------------------------------------------------------


def test_20_clients_x_500_mixed_writes_no_lost_update_no_5xx(live: Live) -> None:
    tallies = [Tally() for _ in range(CLIENTS)]
    start = threading.Barrier(CLIENTS)
    clients = [Client(live, n, tallies[n]) for n in range(CLIENTS)]
    threads = [threading.Thread(target=c.run, args=(start,)) for c in clients]
    t0 = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.monotonic() - t0

    statuses: Counter[tuple[str, int]] = Counter()
    ops: Counter[str] = Counter()
    for t in tallies:
        statuses.update(t.statuses)
        ops.update(t.ops)
    by_code: Counter[int] = Counter()
    for (_, code), n in statuses.items():
        by_code[code] += n
    increments = sum(t.increments for t in tallies)
    tries = sum(t.increment_tries for t in tallies)
    print(
        f"\n{CLIENTS} clients x {WRITES} writes in {elapsed:.1f} s; "
        f"{sum(statuses.values())} requests; ops {dict(ops)}; "
        f"{increments} increments in {tries} tries"
    )
    print("statuses:", dict(sorted(by_code.items())))
    print("by method:", dict(sorted(statuses.items())))

    # no 5xx, no connection error, nothing unexpected
    transport = [e for t in tallies for e in t.transport]
    assert not transport, transport[:10]
    server_errors = {k: v for k, v in statuses.items() if k[1] >= 500}
    unexpected = [e for t in tallies for e in t.unexpected]
    assert not server_errors, (server_errors, unexpected[:10])
    assert not unexpected, (len(unexpected), unexpected[:10])
    assert sum(ops.values()) == CLIENTS * WRITES

    s = open_store(live.db)
    try:
        # no lost update: the counter is the number of successful increments, every success got
        # a revision of its own, and the history holds the create and one revision per success
        counter = s.get("emplacements", live.counter)
        assert counter.properties["quantity"] == increments
        assert counter.revision == 1 + increments
        tags = [e for t in tallies for e in t.increment_etags]
        assert sorted(int(e.strip('"').rsplit("-", 2)[1]) for e in tags) == list(
            range(2, increments + 2)
        )
        hist = s.history(live.counter)
        assert len(hist) == 1 + increments
        assert [h.revision for h in hist] == list(range(1, increments + 2))
        assert [h.op for h in hist] == ["create"] + ["update"] * increments

        # every created record exists with its last content unless its client deleted it
        live_ids: dict[str, Own] = {}
        for t in tallies:
            live_ids.update(t.created)
        for rid, own in live_ids.items():
            rec = s.get(own.kind, rid)
            assert rec.revision == int(own.etag.strip('"').rsplit("-", 2)[1]), rid
            assert rec.properties["notes"] == own.feature["properties"]["notes"], rid
        for t in tallies:
            for rid, kind in t.deleted.items():
                with pytest.raises(NotFound):
                    s.get(kind, rid)
                assert s.history(rid)[-1].op == "delete"
            for rid in t.retried:  # a retried POST made one record, with one create
                ops_ = [h.op for h in s.history(rid)]
                assert ops_.count("create") == 1, (rid, ops_)
        # and nothing else: no duplicate from any POST
        stored = {r.id for k in ("finds", "eo_reports") for r in s.list(k)}
        assert stored == set(live_ids)
    finally:
        s.close()
