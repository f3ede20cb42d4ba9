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
def gpkg_store(tmp_path: Path) -> Iterator[object]:
    """The embedded GeoPackage store (for what only a GeoPackage has: the file, GDAL)."""
    from demine.services.setup import init_store
    from demine.store.gpkg import GeoPackageStore

    s = GeoPackageStore(tmp_path / "test.gpkg")
    init_store(s)
    yield s
    s.close()


@pytest.fixture(params=["gpkg", "postgis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """The store contract suite: every test that takes `store` runs on both backends."""
    from demine.services.setup import init_store
    from demine.store.open import open_store

    if request.param == "gpkg":
        location = str(tmp_path / "test.gpkg")
    else:
        location = request.getfixturevalue("pg_url")
    s = open_store(location)
    init_store(s)
    yield s
    s.close()


PG_URL = os.environ.get("DEMINE_TEST_PG")


@pytest.fixture(params=["gpkg", "postgis"])
def two(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[object, object]]:
    """Two new stores of one backend (each test that takes it runs on both backends): one
    way of doing something into the first, another into the second, then compared."""
    from demine.services.setup import init_store
    from demine.store.open import open_store

    stores = []
    for name in ("first", "second"):
        if request.param == "gpkg":
            location = str(tmp_path / f"{name}.gpkg")
        else:
            location = request.getfixturevalue("pg_url") + f"_{name}"
        s = open_store(location)
        init_store(s)
        stores.append(s)
    yield stores[0], stores[1]
    for s in stores:
        s.close()  # type: ignore[attr-defined]
    if request.param == "postgis":
        import psycopg

        url = request.getfixturevalue("pg_url")
        schema = url.rsplit("demine_schema=", 1)[1]
        assert PG_URL
        with psycopg.connect(PG_URL.split("?")[0], autocommit=True) as conn:
            for name in ("first", "second"):
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}_{name}" CASCADE')


def pytest_report_header(config: object) -> str:
    if PG_URL:
        return f"PostGIS store tests: on {PG_URL}"
    return (
        "PostGIS store tests: NO SERVER (set DEMINE_TEST_PG=postgresql://... to run them; "
        ".ci/run starts one) - they are skipped, which fails the run in strict mode"
    )


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostGIS store URL with a schema of its own, dropped afterwards."""
    import uuid

    if not PG_URL:
        pytest.skip("no PostgreSQL + PostGIS server: set DEMINE_TEST_PG (.ci/run starts one)")
    schema = "t_" + uuid.uuid4().hex[:12]
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}demine_schema={schema}"
    import psycopg

    with psycopg.connect(PG_URL.split("?")[0], autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium (Debian's, driven by Playwright) for every browser test."""
    from live import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium); "
            "these browser tests must run, they are never skipped"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()
