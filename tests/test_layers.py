"""The layering of the package (pyproject.toml [tool.importlinter], docs/development.md "Layout
and layers"), checked by import-linter on the code itself and shown to catch an upward import
planted in a copy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports on ``root``'s src/demine with ``root``'s pyproject.toml contracts."""
    exe = Path(sys.executable).with_name("lint-imports")
    if not exe.exists():
        pytest.fail(f"{exe} is missing: pip install -e '.[dev]' (import-linter)")
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run(
        [str(exe), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_contracts_kept() -> None:
    r = _lint_imports(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Contracts: 3 kept, 0 broken." in r.stdout, r.stdout
    # the analysed code is this tree's, not an installed copy
    assert f"{len(list((ROOT / 'src' / 'demine').rglob('*.py')))} files" in r.stdout


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "src" / "demine",
        tmp_path / "src" / "demine",
        ignore=shutil.ignore_patterns("__pycache__", "web", "data"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.mark.parametrize(
    ("module", "planted", "contract", "named"),
    [
        # the domain imports a face: both the layers and the domain contracts break
        ("model/kinds.py", "import demine.api", "faces -> services", "demine.model.kinds"),
        ("geo/checks.py", "import demine.store.base", "the domain", "demine.geo.checks"),
        # a service imports a face
        (
            "services/stats/__init__.py",
            "from demine.cli import common",
            "faces ->",
            "demine.services.stats",
        ),
        # a cycle inside one layer: the store contract's helpers import a backend
        ("store/common.py", "import demine.store.gpkg", "no import cycles", "in demine.store."),
    ],
)
def test_upward_import_fails(
    tmp_path: Path, module: str, planted: str, contract: str, named: str
) -> None:
    root = _copy(tmp_path)
    target = root / "src" / "demine" / module
    text = target.read_text()
    # after the module docstring and `from __future__`, where an import may go
    lines = text.splitlines(keepends=True)
    at = max(i for i, line in enumerate(lines) if line.startswith(("import ", "from "))) + 1
    target.write_text("".join(lines[:at]) + planted + "\n" + "".join(lines[at:]))
    r = _lint_imports(root)
    assert r.returncode != 0, r.stdout
    broken = r.stdout.split("Broken contracts", 1)[1]
    assert contract in broken, r.stdout
    assert named in broken, r.stdout
