"""The fresh-machine preflight (.ci/system-packages, run first by `make test` and .ci/run):
missing system tools stop the run at once with ONE line naming the Debian packages and the one
command that installs them. These tests never install anything: the PATH they give holds
no apt-get and no sudo."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / ".ci" / "system-packages"
# what the script itself runs (bash builtins aside), so that a PATH of only these works
BASE_TOOLS = ("bash", "dirname", "id", "make")
# the tools the tests need that the script looks for on PATH
NEEDED_TOOLS = ("ogrinfo", "ogr2ogr", "pdftotext")


def _bin_dir(tmp_path: Path, tools: tuple[str, ...]) -> Path:
    d = tmp_path / "bin"
    d.mkdir()
    for tool in tools:
        found = shutil.which(tool)
        if found is None:
            pytest.fail(f"{tool} is missing here: install it (.ci/system-packages names it)")
        (d / tool).symlink_to(found)
    return d


def _env(bin_dir: Path, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEMINE_", "PYTHON"))}
    chromium = tmp_path / "chromium"
    chromium.write_text("#!/bin/sh\n")
    chromium.chmod(0o755)
    # the PostgreSQL checks look at /usr/lib/postgresql; a given server stands for it
    env.update(PATH=str(bin_dir), DEMINE_CHROMIUM=str(chromium), DEMINE_TEST_PG="postgresql://x")
    return env


@pytest.mark.parametrize("args", [["--check"], []], ids=["check", "no-apt-get"])
def test_missing_tools_one_line(tmp_path: Path, args: list[str]) -> None:
    # ogr2ogr without ogrinfo is still gdal-bin missing; no pdftotext is poppler-utils
    bin_dir = _bin_dir(tmp_path, (*BASE_TOOLS, "ogr2ogr"))
    r = subprocess.run(
        [str(bin_dir / "bash"), str(SCRIPT), *args],
        env=_env(bin_dir, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1, r
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    line = lines[0]
    assert line.startswith("demine: missing system packages: gdal-bin poppler-utils;"), line
    assert "apt-get install -y --no-install-recommends gdal-bin poppler-utils" in line
    assert "make" not in line.split(";")[0] and "chromium" not in line
    assert "postgresql" not in line


def test_all_present_is_silent(tmp_path: Path) -> None:
    bin_dir = _bin_dir(tmp_path, (*BASE_TOOLS, *NEEDED_TOOLS))
    r = subprocess.run(
        [str(bin_dir / "bash"), str(SCRIPT), "--check"],
        env=_env(bin_dir, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_make_test_stops_before_anything_else(tmp_path: Path) -> None:
    """`make test` runs the check first: with a tool missing it stops there, before it has
    built a virtual environment or started a server or a test."""
    bin_dir = _bin_dir(tmp_path, (*BASE_TOOLS, "ogrinfo", "ogr2ogr"))
    venv = tmp_path / "venv"
    r = subprocess.run(
        [str(bin_dir / "make"), "-C", str(ROOT), "--no-print-directory", "test", f"VENV={venv}"],
        env=_env(bin_dir, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0
    ours = [x for x in r.stderr.splitlines() if x.startswith("demine:")]
    assert ours == [
        "demine: missing system packages: poppler-utils; install them with: "
        + ("" if os.getuid() == 0 else "sudo ")
        + "apt-get update && "
        + ("" if os.getuid() == 0 else "sudo ")
        + "apt-get install -y --no-install-recommends poppler-utils"
    ], r.stderr
    assert r.stdout == "" and not venv.exists()
