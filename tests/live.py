"""Shared by the browser tests: a real uvicorn server on a free loopback port, and Chromium's
path and flags (the same the annual report's PDF printing uses)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from demine.services.report import CHROMIUM as _CHROMIUM
from demine.services.report import CHROMIUM_ARGS

CHROMIUM = Path(_CHROMIUM)
__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "free_port", "serve", "wait_for"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a thread; yields the base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def wait_for(page: Any, expression: str, timeout: float = 30_000) -> Any:
    """``page.wait_for_function`` without ``eval`` in the page: Playwright's polls by evaluating
    the expression with ``eval()``, which the pages' Content-Security-Policy forbids (no
    'unsafe-eval'). ``page.evaluate`` goes through the DevTools protocol instead. ``timeout``
    in milliseconds, like Playwright's."""
    deadline = time.monotonic() + timeout / 1000
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:.0f} ms for {expression}")
        time.sleep(0.05)
