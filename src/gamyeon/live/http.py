"""A small HTTP server for a live run: the status of every camera (``/status.json``), an overview
page (``/``) and the cameras' HLS playlists and segments (``/hls/<camera>/index.m3u8``).

The standard library's threading HTTP server is enough here: it serves a JSON document and
files FFmpeg's HLS muxer has already written, to a handful of operators' players, one thread per
connection. It listens on 127.0.0.1 unless told otherwise; to serve many viewers, put a web
server or CDN in front (HLS is plain files). Only pseudonymized output is ever in these folders.
"""

from __future__ import annotations

import html
import json
import logging
import re
import threading
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from gamyeon.errors import UsageError
from gamyeon.live.status import StatusBoard

log = logging.getLogger(__name__)

#: what may be asked for under /hls/<camera>/: the playlist and its segments, nothing else
HLS_FILE = re.compile(r"^/hls/([A-Za-z0-9][A-Za-z0-9_.-]*)/((?:index\.m3u8)|(?:segment-\d+\.ts))$")
TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t"}


def parse_address(value: str) -> tuple[str, int]:
    """``PORT`` or ``HOST:PORT`` (host 127.0.0.1 unless given)."""
    host, _, port = value.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise UsageError(f"--http: expected PORT or HOST:PORT, got {value!r}") from None
    if not 0 <= number <= 65535:
        raise UsageError(f"--http: port out of range: {number}")
    return host.strip("[]") or "127.0.0.1", number


class LiveHttp:
    """The server, on a thread of its own."""

    def __init__(self, address: tuple[str, int], board: StatusBoard, hls: Mapping[str, Path]) -> None:
        self.board = board
        self.hls = dict(hls)
        handler = _handler(self)
        try:
            self._server = ThreadingHTTPServer(address, handler)
        except OSError as err:
            raise UsageError(f"--http: cannot listen on {address[0]}:{address[1]}: {err.strerror or err}") from None
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="gamyeon-live-http", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()
        log.info("status and HLS at %s/ (status.json, hls/<camera>/index.m3u8)", self.url)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def page(self) -> str:
        """The overview: one row per camera with its state, rate, delay and counts."""
        snap = self.board.snapshot()
        rows = []
        for name, cam in snap["cameras"].items():
            delay = cam.get("delay_s", {})
            link = f'<a href="/hls/{html.escape(name)}/index.m3u8">HLS</a>' if name in self.hls else ""
            rows.append(
                "<tr>"
                + "".join(
                    f"<td>{html.escape(str(v))}</td>"
                    for v in (
                        name,
                        cam.get("state"),
                        cam.get("fps_in"),
                        cam.get("fps_out"),
                        delay.get("mean"),
                        delay.get("p95"),
                        sum(cam.get("fail_closed", {}).values()),
                        sum(cam.get("dropped", {}).values()),
                        cam.get("reconnects"),
                        cam.get("segments"),
                    )
                )
                + f"<td>{link}</td></tr>"
            )
        head = "".join(
            f"<th>{h}</th>"
            for h in (
                "camera",
                "state",
                "fps in",
                "fps out",
                "delay s (mean)",
                "delay s (p95)",
                "fail-closed",
                "dropped",
                "reconnects",
                "segments",
                "",
            )
        )
        return (
            '<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">'
            "<title>gamyeon live</title></head><body><h1>gamyeon live</h1>"
            f"<p>updated {html.escape(snap['updated'])}, load average {html.escape(str(snap['load_average']))}; "
            '<a href="/status.json">status.json</a></p>'
            f"<table border=1 cellpadding=4><tr>{head}</tr>{''.join(rows)}</table></body></html>"
        )


def _handler(app: LiveHttp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "gamyeon-live"

        def do_GET(self) -> None:  # the name http.server calls
            path = self.path.split("?", 1)[0]
            if path == "/status.json":
                self._send(HTTPStatus.OK, "application/json", json.dumps(app.board.snapshot(), indent=2).encode())
            elif path in {"/", "/index.html"}:
                self._send(HTTPStatus.OK, "text/html; charset=utf-8", app.page().encode())
            elif (match := HLS_FILE.match(path)) and match.group(1) in app.hls:
                self._file(app.hls[match.group(1)] / match.group(2))
            else:
                self._send(HTTPStatus.NOT_FOUND, "text/plain", b"not found\n")

        def _file(self, path: Path) -> None:
            try:
                body = path.read_bytes()
            except OSError:
                self._send(HTTPStatus.NOT_FOUND, "text/plain", b"not found\n")
                return
            self._send(HTTPStatus.OK, TYPES[path.suffix], body, cache=path.suffix == ".ts")

        def _send(self, status: HTTPStatus, kind: str, body: bytes, cache: bool = False) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "max-age=60" if cache else "no-cache")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http %s - %s", self.address_string(), format % args)

    return Handler
