"""A GeoJSON FeatureCollection's text read in two parts cut by bytes (issue 16: each of the
two processes of a large import parses only its own half of the file:
:mod:`demine.services.import_split`), for :func:`demine.io.geojson.read_geojson`'s ``part``;
and a GeoJSON text read whole."""

from __future__ import annotations

import io
import os
import pathlib
import re
from collections.abc import Iterator
from contextlib import contextmanager


def load_text(data: bytes | str | pathlib.Path) -> bytes:
    """A GeoJSON text as bytes: a file's, or the text given."""
    if isinstance(data, pathlib.Path):
        return data.read_bytes()
    if isinstance(data, str):
        return data.encode("utf-8")
    return bytes(data)


# a part cut by bytes (cut_part) that does not read as it should: the split import gives way to
# the usual one, which reads the whole file and says what is wrong with it, if anything
CUT_FAULT = "this part of the file does not read as a part of a FeatureCollection"
_FEATURES_KEY = re.compile(rb'"features"\s*:\s*\[')
# between two features: the end of one, a comma, the start of a Feature whose first member
# is its "type" (as GDAL, QGIS, geopandas and demine write them). Inside a JSON string the
# quotes would be escaped, so this never matches there.
_BETWEEN = re.compile(rb'\}\s*,\s*(\{\s*"type"\s*:\s*"Feature"\s*[,}])')


HEAD_MAX = 1 << 20  # the "features" key looked for in the file's first MiB
WINDOW = 1 << 20  # the place to cut looked for in a MiB of text from where it is due


def cut_part(
    data: bytes | str | pathlib.Path, part: tuple[int, int, int]
) -> tuple[bytearray, int] | None:
    """The text of ``part`` of a FeatureCollection cut by bytes, read alone, and the file's
    size; or None (cut it by count: the whole file parsed). Only a part of two, ``(0, x, k)``
    or ``(x, k, k)``: the file is cut once, the same for both parts, after the first feature
    that ends at x/k of the text after the "features" key or later (within :data:`WINDOW`).
    The first part's text is the file's up to the cut, then ``]}``; the second's the file's
    up to the features' ``[``, then from the cut on. Each part's text must hold the
    "features" key once (then so does the file), and read_geojson checks that it parses,
    ends the root object with "features" and is a FeatureCollection: then it holds exactly
    its features; any other text is not a part's."""
    a, b, k = part
    if not ((a == 0 and 0 < b < k) or (0 < a < k and b == k)):
        return None
    with _opened(data) as (f, size):
        first = f.read(min(size, HEAD_MAX))
        head = _FEATURES_KEY.search(first)
        if head is None:
            return None
        at = head.end() + (size - head.end()) * (b if a == 0 else a) // k
        f.seek(at)
        m = _BETWEEN.search(f.read(WINDOW))
        if m is None:
            return None
        if a == 0:  # the file's text up to the end of the feature before the cut, then "]}"
            end = at + m.start() + 1
            out = bytearray(end + 2)
            f.seek(0)
            f.readinto(memoryview(out)[:end])
            out[end:] = b"]}"
        else:  # up to the features' "[", then from the feature after the cut on
            start = at + m.start(1)
            out = bytearray(head.end() + size - start)
            out[: head.end()] = first[: head.end()]
            f.seek(start)
            f.readinto(memoryview(out)[head.end() :])
    return out, size


@contextmanager
def _opened(data: bytes | str | pathlib.Path) -> Iterator[tuple[io.BufferedIOBase, int]]:
    """A binary file of ``data`` (the file itself, or its text in memory) and its size."""
    if isinstance(data, pathlib.Path):
        with data.open("rb") as f:  # a large readinto goes straight into the part's buffer
            yield f, os.fstat(f.fileno()).st_size
        return
    raw = load_text(data)
    yield io.BytesIO(raw), len(raw)
