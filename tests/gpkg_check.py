"""GDAL's GeoPackage validator (gdal-utils' ``validate_gpkg``), run on a closed file, for tests
that show a file demine wrote (or migrated) is a valid GeoPackage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def assert_gdal_valid(path: str | Path) -> None:
    """The validator exits 0 and reports nothing: no error, no warning."""
    res = subprocess.run(
        [sys.executable, "-m", "osgeo_utils.samples.validate_gpkg", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, f"{path}: {res.stdout}{res.stderr}"
    assert res.stdout.strip() == "", f"{path}: {res.stdout}"
    assert "error" not in res.stderr.lower(), f"{path}: {res.stderr}"
