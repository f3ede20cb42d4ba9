"""A plain static file server with HTTP Range requests (what a CDN or any static host gives), for
tests/test_web_pack.py: ``python tests/static_server.py ROOT PORT``. No demine code: it serves
files. Python's own ``http.server`` answers a Range request with the whole file (200), which a
PMTiles reader refuses; this one answers 206 with the bytes asked for."""

from __future__ import annotations

import os
import re
import sys
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class Handler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def end_headers(self) -> None:
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()

    def do_GET(self) -> None:  # noqa: N802
        m = RANGE.match(self.headers.get("Range", ""))
        path = self.translate_path(self.path)
        if not m or not os.path.isfile(path):
            super().do_GET()
            return
        size = os.path.getsize(path)
        a, b = m.groups()
        start, end = (size - int(b), size - 1) if not a else (int(a), int(b) if b else size - 1)
        end = min(end, size - 1)
        if start > end or start >= size:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.end_headers()
            return
        with open(path, "rb") as fh:
            fh.seek(start)
            data = fh.read(end - start + 1)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main() -> None:
    root, port = sys.argv[1], int(sys.argv[2])
    Handler.extensions_map = {
        **Handler.extensions_map,
        ".mjs": "text/javascript",
        ".js": "text/javascript",
    }
    server = ThreadingHTTPServer(("127.0.0.1", port), partial(Handler, directory=root))
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
