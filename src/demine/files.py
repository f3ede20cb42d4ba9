"""Files demine writes are readable by their owner only (mode 0600), whatever the umask.

The store, exports, certificates and reports hold the record of where the danger is and may
hold victims' personal data: nobody else on the machine should read them. Each file is opened
with ``os.open(..., 0o600)`` and set to 0600 with ``fchmod`` *before* any data is written (an
existing file is brought down to 0600 too). What a third-party library writes itself (GDAL's
GeoPackage, a browser's PDF) is written inside a fresh 0700 directory next to the target, set
to 0600 and then moved into place.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

PRIVATE = 0o600


def _open_fd(path: str | os.PathLike[str], *, truncate: bool) -> int:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if truncate else 0)
    fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), PRIVATE)
    try:
        if hasattr(os, "fchmod"):  # (not on Windows before 3.13, where modes mean little)
            os.fchmod(fd, PRIVATE)  # an existing file keeps its mode through O_CREAT: set it
    except BaseException:
        os.close(fd)
        raise
    return fd


def create_private(path: str | os.PathLike[str]) -> None:
    """Create ``path`` (empty) with mode 0600, or bring an existing file down to 0600."""
    os.close(_open_fd(path, truncate=False))


def open_private(path: str | os.PathLike[str], mode: str = "wb", **kw: Any) -> IO[Any]:
    """``open(path, mode)`` for writing ("w", "wb"), the file at mode 0600 before any byte."""
    if not mode.startswith("w"):
        raise ValueError(f"open_private writes: mode {mode!r}")
    return os.fdopen(_open_fd(path, truncate=True), mode, **kw)


def write_private(path: str | os.PathLike[str], data: bytes | str) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` at mode 0600."""
    if isinstance(data, str):
        with open_private(path, "w", encoding="utf-8") as fh:
            fh.write(data)
    else:
        with open_private(path, "wb") as fh:
            fh.write(data)


@contextmanager
def private_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A path for a library to write a file to (it creates it however it likes); on success
    the file is set to 0600 and moved to ``path``. It is written in a 0700 directory, so no
    one else can read it on the way."""
    target = Path(path)
    tmpdir = Path(tempfile.mkdtemp(prefix=".demine-", dir=target.parent))
    try:
        tmp = tmpdir / target.name
        yield tmp
        os.chmod(tmp, PRIVATE)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
