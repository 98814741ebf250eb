"""Serving the review app with uvicorn: the address, the session token, and a server a test (or
the command) can start and stop."""

from __future__ import annotations

import ipaddress
import logging
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from gamyeon.errors import UsageError
from gamyeon.review.app import Reviewed, Settings, build_app
from gamyeon.review.files import OutputFiles

log = logging.getLogger(__name__)

LOCAL = "127.0.0.1"


def free_port(host: str = LOCAL) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _url_host(host: str) -> str:
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


def settings_for(
    host: str, port: int, *, ledger: str | None, key_file: Path | None, source: Path | None, token: str | None = None
) -> Settings:
    name = _url_host(host)
    hosts = {f"{name}:{port}"}
    if host == LOCAL:
        hosts.add(f"localhost:{port}")
    return Settings(
        token=token or secrets.token_urlsafe(24),
        hosts=frozenset(hosts),
        origins=frozenset(f"http://{h}" for h in hosts),
        ledger=ledger,
        key_file=key_file,
        source=source,
    )


@dataclass
class Running:
    """A review server running on a thread (``start``); ``url`` opens the page."""

    server: uvicorn.Server
    thread: threading.Thread
    url: str
    outputs: list[Reviewed]

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        for o in self.outputs:
            o.frames.close()


def open_outputs(files: list[OutputFiles], ledger: str | None) -> list[Reviewed]:
    return [Reviewed.open(f, ledger) for f in files]


def make_server(outputs: list[Reviewed], settings: Settings, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        build_app(outputs, settings), host=host, port=port, log_level="warning", access_log=False, lifespan="off"
    )
    return uvicorn.Server(config)


def url_of(settings: Settings, host: str, port: int) -> str:
    return f"http://{_url_host(host)}:{port}/?token={settings.token}"


def start(outputs: list[Reviewed], settings: Settings, host: str, port: int) -> Running:
    """Serve on a background thread; returns once the server accepts connections."""
    server = make_server(outputs, settings, host, port)
    thread = threading.Thread(target=server.run, daemon=True, name="gamyeon-review-server")
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise UsageError(f"the review server could not start on {host}:{port}")
        time.sleep(0.02)
    return Running(server, thread, url_of(settings, host, port), outputs)


def serve_forever(outputs: list[Reviewed], settings: Settings, host: str, port: int) -> None:
    """Serve until interrupted (Ctrl-C)."""
    make_server(outputs, settings, host, port).run()
