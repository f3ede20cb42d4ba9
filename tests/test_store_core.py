"""The store core: one body for every SQL backend (no block repeated between the dialects),
the write rules held whatever the backend, and the field filter (``where``) of the contract."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import shapely

from demine.errors import PermissionDenied, ValidationError
from demine.ids import uuid7
from demine.model.schema import Record
from demine.model.write_rules import check_change

STORE = Path(__file__).resolve().parents[1] / "src" / "demine" / "store"
WINDOW = 6


# --- no block repeated between the backends ------------------------------------------------


def _signature_lines(text: str) -> set[int]:
    """Line numbers (1-based) of every function's decorators and signature (``def`` up to the
    line before its body): those are the contract's, and may repeat."""
    out: set[int] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            out.update(range(first, node.body[0].lineno))
    return out


def _lines(text: str) -> list[tuple[int, str]]:
    """(line number, normalised text) of the lines that count: whitespace collapsed; blank
    lines, comments and signatures left out."""
    sig = _signature_lines(text)
    out = []
    for i, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"\s+", " ", raw).strip()
        if not line or line.startswith("#") or i in sig:
            continue
        out.append((i, line))
    return out


def shared_blocks(a: str, b: str, n: int = WINDOW) -> list[tuple[int, int, str]]:
    """Every window of ``n`` counted lines found in both texts: (line in a, line in b, text)."""
    la, lb = _lines(a), _lines(b)
    seen: dict[tuple[str, ...], int] = {}
    for i in range(len(lb) - n + 1):
        seen.setdefault(tuple(t for _, t in lb[i : i + n]), lb[i][0])
    out = []
    for i in range(len(la) - n + 1):
        key = tuple(t for _, t in la[i : i + n])
        if key in seen:
            out.append((la[i][0], seen[key], " / ".join(key)))
    return out


def test_the_dialects_repeat_no_block_of_six_lines() -> None:
    gpkg = (STORE / "gpkg.py").read_text()
    pg = (STORE / "postgis.py").read_text()
    shared = shared_blocks(gpkg, pg)
    assert not shared, (
        "blocks repeated between gpkg.py and postgis.py (move them to the core, store/core/):\n"
        + ("\n".join(f"  gpkg.py:{x} postgis.py:{y}: {t[:160]}" for x, y, t in shared[:10]))
    )


def test_the_duplicate_check_finds_a_repeated_block() -> None:
    """The check above can fail: a body repeated in two files (re-indented, with a comment
    and blank lines in between) is found; a shared signature alone is not."""
    body = """
def f(self, kind: str,
      record_id: str) -> int:
    '''Doc.'''
    a = 1
    b = 2  # same
    c = a + b
    d = c * 2
    e = d - 1
    return e
"""
    moved = body.replace("    c = a + b", "    # a comment\n\n    c = a + b")
    other = "class X:\n" + "\n".join("    " + ln for ln in moved.splitlines()) + "\n"
    found = shared_blocks(body, other)
    assert found and "a = 1 / b = 2 # same / c = a + b" in found[0][2]
    sig_only = "def f(self, kind: str,\n      record_id: str) -> int:\n    return 1\n"
    assert (
        shared_blocks(
            sig_only * 1, "def f(self, kind: str,\n record_id: str) -> int:\n    return 2\n"
        )
        == []
    )


def test_no_backend_imports_another_backends_private_names() -> None:
    names = sorted(str(p.relative_to(STORE)) for p in STORE.rglob("*.py"))
    assert {"gpkg.py", "postgis.py", "core/__init__.py", "core/records.py"} <= set(names)
    for name in names:
        tree = ast.parse((STORE / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("demine.store"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{name} imports private {private} from {node.module}"
                if name != "open.py":
                    assert node.module not in ("demine.store.gpkg", "demine.store.postgis"), (
                        f"{name} imports the backend {node.module}"
                    )


def test_the_core_concerns_build_on_the_shared_base_alone() -> None:
    """store/core/ is split by concern: records, history, users and tokens each build on the
    shared base (dialect hooks, tables) and never on one another, so each reads on its own."""
    concerns = {"records", "history", "users", "attachments"}
    for name in sorted(concerns):
        tree = ast.parse((STORE / "core" / f"{name}.py").read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        core = {m.rsplit(".", 1)[1] for m in imported if (m or "").startswith("demine.store.core.")}
        assert core <= {"dialect", "tables"}, (
            f"core/{name}.py imports core/{core - {'dialect', 'tables'}}"
        )
    from demine.store.core import History, Records, RevisionedStore, UsersAndTokens

    assert RevisionedStore.__mro__[1:4] == (Records, History, UsersAndTokens)
    for a, b in [(Records, History), (Records, UsersAndTokens), (History, UsersAndTokens)]:
        both = {n for n in set(vars(a)) & set(vars(b)) if not n.startswith("__")}
        assert not both, f"{a.__name__} and {b.__name__} both define {both}"


def test_the_contract_module_holds_the_protocol_alone() -> None:
    tree = ast.parse((STORE / "base.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not {m for m in imported if m.startswith("demine.store")}, imported
    funcs = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert funcs == [], f"base.py should define no functions, has {funcs}"
    from demine.store.core import RevisionedStore
    from demine.store.gpkg import GeoPackageStore
    from demine.store.postgis import PostGISStore

    assert issubclass(GeoPackageStore, RevisionedStore)
    assert issubclass(PostGISStore, RevisionedStore)


# --- write rules, whatever the backend -------------------------------------------------------


def _hazard(**props: Any) -> Record:
    p = {"hazard_type": "SHA", "status": "open", "name": "H1"}
    p.update(props)
    return Record(
        "hazards", uuid7(), p, shapely.MultiPolygon([shapely.box(37.0, 48.0, 37.01, 48.01)])
    )


def test_a_risk_estimate_cannot_change_a_hazards_status(store: Any) -> None:
    h = _hazard()
    store.upsert("hazards", [h], actor="alice")
    closing = {**h.properties, "status": "closed", "closed_on": "2026-01-01"}
    with pytest.raises(PermissionDenied, match="status, closed_on: only land release"):
        store.update("hazards", h.id, properties=closing, actor="risk", origin="risk")
    again = Record("hazards", h.id, dict(closing), h.geometry)
    other = _hazard(name="H2")
    with pytest.raises(PermissionDenied, match="cannot change a hazard's status"):
        store.upsert("hazards", [other, again], actor="risk", origin="risk")
    # nothing half-stored: the batch's new hazard is not there either, and no revision was made
    assert store.get("hazards", h.id).properties["status"] == "open"
    assert [r.revision for r in store.history(h.id)] == [1]
    assert store.count("hazards") == 1
    # other fields a risk estimate may change; a person may change the status
    noted = store.update(
        "hazards",
        h.id,
        properties={**h.properties, "notes": "estimated"},
        actor="risk",
        origin="risk",
    )
    assert noted.properties["notes"] == "estimated"
    done = store.update("hazards", h.id, properties=closing, actor="alice", reason="released")
    assert done.properties["status"] == "closed" and done.revision == 3


def test_the_rule_is_the_stores_not_a_backends() -> None:
    check_change("hazards", {"status": "open"}, {"status": "closed"}, "user")
    check_change("finds", {"status": "open"}, {"status": "closed"}, "risk")
    check_change("hazards", {"status": "open", "name": "a"}, {"status": "open"}, "risk")
    with pytest.raises(PermissionDenied, match="closed_on"):
        check_change("hazards", {"closed_on": None}, {"closed_on": "2026-01-01"}, "risk")
    for name in ("gpkg.py", "postgis.py"):
        text = (STORE / name).read_text()
        assert "PermissionDenied" not in text and "status" not in text, name


# --- field filters ----------------------------------------------------------------------------


@pytest.fixture
def filled(store: Any) -> tuple[Any, list[Record], list[Record]]:
    hazards = [
        _hazard(name="A", status="open", reported_on="2025-01-02"),
        _hazard(name="B", status="closed", reported_on="2025-01-03"),
        _hazard(name="C", status="open"),
    ]
    hazards[1].source_id = "src-b"
    store.upsert("hazards", hazards, actor="t")
    emp = [
        Record(
            "emplacements",
            uuid7(),
            {"hazard_id": hazards[i % 2].id, "quantity": q, "anti_handling": q > 5},
            shapely.Point(37.0 + q / 1000, 48.0),
        )
        for i, q in enumerate([1, 3, 7, 9])
    ]
    store.upsert("emplacements", emp, actor="t")
    return store, hazards, emp


def _ids(recs: Any) -> list[str]:
    return sorted(r.id for r in recs)


def test_where_is_equality_and_in(filled: Any) -> None:
    store, hz, emp = filled
    a, b, c = hz
    assert _ids(store.list("hazards", where={"status": "open"})) == _ids([a, c])
    assert _ids(store.list("hazards", where={"status": ["closed", "nope"]})) == [b.id]
    assert _ids(store.list("hazards", where={"status": ("open", "closed")})) == _ids(hz)
    assert list(store.list("hazards", where={"status": []})) == []
    assert _ids(store.list("hazards", where={"reported_on": None})) == [c.id]
    assert _ids(store.list("hazards", where={"reported_on": "2025-01-03"})) == [b.id]
    assert _ids(store.list("hazards", where={"status": "open", "name": "C"})) == [c.id]
    assert _ids(store.list("hazards", where={"id": [a.id, c.id]})) == _ids([a, c])
    assert _ids(store.list("hazards", where={"source_id": "src-b"})) == [b.id]
    got = list(store.list("emplacements", where={"hazard_id": a.id}))
    assert _ids(got) == _ids([emp[0], emp[2]])
    assert all(r.properties["hazard_id"] == a.id for r in got)
    assert _ids(store.list("emplacements", where={"quantity": [3, 9]})) == _ids([emp[1], emp[3]])
    assert _ids(store.list("emplacements", where={"anti_handling": True})) == _ids(emp[2:])
    assert store.count("emplacements", where={"hazard_id": b.id}) == 2
    assert store.count("hazards", where={"status": "open"}) == 2
    assert store.count("hazards") == 3


def test_where_goes_with_bbox_and_paging(filled: Any) -> None:
    store, hz, emp = filled
    box = (37.0, 47.9, 37.005, 48.1)  # emplacements at 37.001 and 37.003 only
    near = list(store.list("emplacements", bbox=box, where={"hazard_id": hz[1].id}))
    assert _ids(near) == [emp[1].id]
    page = list(store.list("emplacements", where={"hazard_id": hz[0].id}, limit=1, offset=1))
    assert [r.id for r in page] == [emp[2].id]


def test_where_takes_a_long_list(filled: Any) -> None:
    """More values than a dialect binds at once (SQLite: 900 per IN) still filter right."""
    store, hz, _ = filled
    many = [str(uuid7()) for _ in range(2500)] + [hz[2].id]
    assert _ids(store.list("hazards", where={"id": many})) == [hz[2].id]


def test_where_names_an_unknown_field(filled: Any) -> None:
    store, _, _ = filled
    with pytest.raises(ValidationError, match="cannot filter hazards by 'colour'.*status"):
        list(store.list("hazards", where={"colour": "red"}))
    with pytest.raises(ValidationError, match="geom"):
        store.count("hazards", where={"geom": "x"})
    with pytest.raises(ValidationError, match="not a plain value"):
        list(store.list("hazards", where={"status": [{"a": 1}]}))
