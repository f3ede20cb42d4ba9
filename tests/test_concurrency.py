"""Two writer processes at once: no lost update, no 'database is locked' surfaced."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import shapely

from demine.ids import uuid7
from demine.model.schema import Record
from demine.services.register import history, show

WRITER = r"""
import sys
import shapely
from demine.ids import uuid7
from demine.model.schema import Record
from demine.errors import Conflict
from demine.store.open import open_store

path, shared, name, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
s = open_store(path)
for i in range(n):
    # read-modify-write of one shared record, optimistic: retried when the other got in first
    for _ in range(1000):
        cur = s.get("emplacements", shared)
        try:
            s.update("emplacements", shared,
                     properties={**cur.properties, "quantity": cur.properties["quantity"] + 1},
                     if_revision=cur.revision, actor=name)
            break
        except Conflict:
            continue
    else:
        raise SystemExit("gave up")
    # and a batch of new records of its own
    recs = [Record("finds", uuid7(), {"device_type": "uxo", "state": "live",
                                      "found_at": "2025-01-01T00:00:00Z"},
                   shapely.Point(37.0 + i * 1e-4, 48.0)) for _ in range(5)]
    s.upsert("finds", recs, actor=name)
print("ok", name)
"""


def test_two_writer_processes(store: Any, tmp_path: Path) -> None:
    shared = Record(
        "emplacements",
        uuid7(),
        {"device_type": "apii-limit", "quantity": 0, "laid_at": "2025-01-01T00:00:00Z"},
        shapely.Point(37.5, 48.5),
    )
    store.upsert("emplacements", [shared], actor="setup")
    store.close()
    n = 100
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), store.location, shared.id, f"writer{w}", str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in (1, 2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err.lower() and "locked" not in out.lower()
    cur = show(store, shared.id)
    assert cur.properties["quantity"] == 2 * n  # no lost update
    revs = history(store, shared.id)
    assert len(revs) == 2 * n + 1
    assert {h.actor for h in revs[1:]} == {"writer1", "writer2"}
    assert store.count("finds") == 2 * n * 5
