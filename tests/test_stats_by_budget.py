"""``GET /api/v1/stats?by=LAYER`` bounds the work of one request (issue 16): the hazards' split
among the layer's areas not yet kept (the zonal table) is made in chunks, each kept as it is
made, the request's time budget looked at between two; past it the answer is a 503 with
Retry-After saying what is being made and how an administrator makes it all at once
(``demine stats --by LAYER``), and the next request goes on from there. The figures in the
end are those of the whole computation. Both backends."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from demine.api.app import create_app
from demine.services.stats import compute, cutting
from demine.services.stats.areas import Areas
from test_stats_derived import _random_store


def _zonal_rows(store: Any) -> int:
    return int(store.conn.execute("SELECT count(*) FROM demine_derived_zonal").fetchone()[0])


def _clear_zonal(store: Any) -> None:
    """Forget every split kept: the zonal table and the memo of the named splits."""

    def clear(c: Any) -> None:
        c.execute("DELETE FROM demine_derived_zonal")
        c.execute("DELETE FROM demine_derived_memo")

    store._transaction("__zonal__", clear)


def _plain(out: dict[str, Any]) -> str:
    out = dict(out)
    out.pop("generated_at", None)
    return json.dumps(out, sort_keys=True)


def test_split_by_a_layer_over_http_is_bounded_per_request(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _random_store(store, 6)
    _clear_zonal(store)
    want = _plain(compute(store, role="public", by="oblasts"))
    _clear_zonal(store)
    monkeypatch.setattr(cutting, "CHUNK", 3)
    slow = Areas.parts_many

    def parts_many(self: Areas, *a: Any) -> Any:
        time.sleep(0.3)  # each chunk takes longer than the request's budget
        return slow(self, *a)

    monkeypatch.setattr(Areas, "parts_many", parts_many)
    client = TestClient(create_app(store.location, request_budget_s=0.2))
    answers: list[int] = []
    rows = [0]
    for _ in range(40):
        r = client.get("/api/v1/stats", params={"by": "oblasts"})
        answers.append(r.status_code)
        if r.status_code == 200:
            break
        assert r.status_code == 503
        assert r.headers["Retry-After"] == "1"
        problem = r.json()
        assert "demine stats --by oblasts" in problem["detail"]
        assert "'oblasts'" in problem["detail"]
        rows.append(_zonal_rows(store))
        assert rows[-1] > rows[-2]  # each request made a chunk and kept it
    assert answers[0] == 503
    assert answers[-1] == 200
    assert _plain(r.json()) == want
    # the command line makes it all at once, with no budget
    _clear_zonal(store)
    assert _plain(compute(store, role="public", by="oblasts")) == want


def test_split_kept_answers_within_budget(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once the split is kept, the same request answers (its figures unchanged); without a
    layer nothing is split."""
    _random_store(store, 7)
    want = _plain(compute(store, role="public", by="oblasts"))  # fills the zonal table
    monkeypatch.setattr(cutting, "CHUNK", 1)
    client = TestClient(create_app(store.location, request_budget_s=5))
    r = client.get("/api/v1/stats", params={"by": "oblasts"})
    assert r.status_code == 200
    assert _plain(r.json()) == want
    assert client.get("/api/v1/stats").status_code == 200


def _zonal(store: Any) -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in store.conn.execute(
            "SELECT layer, layer_hash, hazard_id, computed_at, what, parts "
            "FROM demine_derived_zonal ORDER BY hazard_id, what"
        ).fetchall()
    ]


@pytest.mark.parametrize("workers", [1, 2])
def test_chunks_cut_in_worker_threads_give_the_same_splits(
    store: Any, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """On the command line the chunks are cut in worker threads while the store is read and
    written: the same figures and the same rows kept as the chunks cut one after another."""
    _random_store(store, 8)
    monkeypatch.setattr(cutting, "CHUNK", 2)
    _clear_zonal(store)
    monkeypatch.setattr(cutting, "THREADED", False)
    want = _plain(compute(store, role="public", by="oblasts"))
    want_rows = _zonal(store)
    assert want_rows
    _clear_zonal(store)
    monkeypatch.setattr(cutting, "THREADED", True)
    monkeypatch.setattr(cutting, "WORKERS", workers)
    threads: set[str] = set()
    made = cutting._made

    def watched(*a: Any) -> Any:
        import threading

        threads.add(threading.current_thread().name)
        return made(*a)

    monkeypatch.setattr(cutting, "_made", watched)
    assert _plain(compute(store, role="public", by="oblasts")) == want
    assert all(t.startswith("demine-split") for t in threads) and threads
    assert _zonal(store) == want_rows
