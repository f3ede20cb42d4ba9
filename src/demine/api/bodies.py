"""Request bodies read within a limit, shared by the routes that take raw bodies.

A body over its route's limit is refused with 413 before it is read when its declared length
says so, and as soon as the bytes read pass the limit otherwise (a chunked body declares
none): nothing past the limit is held in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from fastapi import Request

from demine.errors import ContentTooLarge, Fault, ValidationError

__all__ = ["parse_json", "read_bounded"]


async def read_bounded(
    request: Request,
    limit: int,
    what: str,
    *,
    too_large: Callable[[], Exception] | None = None,
) -> bytes:
    """The body, refused (413, naming the limit) past ``limit`` bytes, read no further.

    ``too_large`` makes the route's own refusal (its message and setting); by default the
    message names ``what`` and the setting ``max_body_bytes``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise (
            too_large()
            if too_large
            else ContentTooLarge(
                f"{what} of {int(declared):,} bytes is over the limit of {limit:,}",
                "max_body_bytes",
                limit,
            )
        )
    chunks: list[bytes] = []
    n = 0
    async for chunk in request.stream():
        n += len(chunk)
        if n > limit:
            raise (
                too_large()
                if too_large
                else ContentTooLarge(
                    f"{what} is over the limit of {limit:,} bytes", "max_body_bytes", limit
                )
            )
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw: bytes) -> Any:
    """The body's JSON value; a body that is not JSON is a 422 naming the field ``body``."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ValidationError("the body is not JSON", [Fault(str(e), field="body")]) from None
