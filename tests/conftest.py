"""Shared fixtures. In strict mode (DEMINE_STRICT=1, as CI runs) a skipped test fails the run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
STRICT = os.environ.get("DEMINE_STRICT") == "1"
_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if STRICT and _skipped and exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter: object) -> None:
    if STRICT and _skipped:
        tr = terminalreporter
        tr.write_line(  # type: ignore[attr-defined]
            f"STRICT MODE: {len(_skipped)} skipped test(s) fail the run: " + ", ".join(_skipped),
            red=True,
        )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[object]:
    from demine.services.setup import init_store
    from demine.store.gpkg import GeoPackageStore

    s = GeoPackageStore(tmp_path / "test.gpkg")
    init_store(s)
    yield s
    s.close()
