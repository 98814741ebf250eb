"""The review web app (Starlette): the page, its static files, and the JSON and picture routes.

Security model, in the order requests meet it:

* the server binds 127.0.0.1 unless told otherwise (``server``);
* ``Host`` must be the address the server was started on (a DNS-rebinding page cannot talk to it);
* every request carries the session's random token: the page's URL has it, and the page sends it
  in the ``X-Gamyeon-Token`` header (pictures, which the browser fetches itself, carry it in
  the query). No cookie is set, so another site's page cannot borrow a session;
* writes (``POST``) take the token from the header only, and a request whose ``Origin`` is not
  this server is refused: a cross-site form or script cannot write;
* only the files of the outputs named at start are ever read; routes take output numbers, frame
  numbers and track ids that are checked against them, never paths (static files come from a
  fixed list in the package).

Responses carry a strict Content-Security-Policy (scripts and styles from this server only), and
the revealed picture of a region is sent ``no-store`` so the browser does not keep it.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import logging
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gamyeon.errors import GamyeonError
from gamyeon.ledger.store import Ledger
from gamyeon.review.decide import Decisions
from gamyeon.review.files import OutputFiles
from gamyeon.review.flags import verify_flags
from gamyeon.review.follow import follow
from gamyeon.review.frames import FrameSource
from gamyeon.review.records import find_origin
from gamyeon.review.render import RenderResult, rerender
from gamyeon.review.reveal import reveal_region
from gamyeon.review.store import ReviewStore, StaleRevision

log = logging.getLogger(__name__)

TOKEN_HEADER = "x-gamyeon-token"
STATIC = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
MAX_BODY = 1 << 20
_TRACK = re.compile(r"^[0-9a-f]{1,64}$")


@dataclass(frozen=True, slots=True)
class Settings:
    """How the app was started: what it serves and where its records and re-renders go."""

    token: str
    #: ``host:port`` values the ``Host`` header may have
    hosts: frozenset[str]
    #: the page's own origin(s), ``http://host:port``
    origins: frozenset[str]
    ledger: str | None = None
    key_file: Path | None = None
    #: a moved original per output (``--source``; one output only)
    source: Path | None = None


@dataclass(slots=True)
class Reviewed:
    """One output in the session: its store, its frames, its dataset, and a re-render in progress."""

    files: OutputFiles
    store: ReviewStore
    frames: FrameSource
    dataset_id: str | None
    render_state: dict[str, Any] = field(default_factory=lambda: {"state": "idle"})
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, files: OutputFiles, ledger: str | None) -> Reviewed:
        store = ReviewStore(files)
        with Ledger(ledger) as book:
            origin = find_origin(book.records(), store.output_sha256)
            dataset = origin.dataset_id if origin is not None else None
            book.append(
                "review.open",
                {
                    "output": {"path": str(files.video.resolve()), "sha256": store.output_sha256},
                    "review": str(files.review.resolve()),
                    "revision": store.review.revision,
                },
                dataset,
            )
        if origin is None:
            log.warning("review: no processing record of %s in the ledger; re-render needs one", files.name)
        frames = FrameSource(files.video, list(store.facts.pts), store.facts.rotation)
        return cls(files, store, frames, dataset)

    def reopen(self) -> None:
        """After a re-render: the output, its sidecar and its frames are new."""
        old = self.frames
        self.store = ReviewStore(self.files)
        self.frames = FrameSource(self.files.video, list(self.store.facts.pts), self.store.facts.rotation)
        old.close()


class Guard:
    """ASGI middleware: the Host check, the token, and the Origin check of writes."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        problem = self.check(request)
        if problem is not None:
            status, message = problem
            await JSONResponse({"error": message}, status_code=status)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def check(self, request: Request) -> tuple[int, str] | None:
        s = self.settings
        if request.headers.get("host", "") not in s.hosts:
            return 421, "wrong Host: open the address gamyeon review printed"
        header = request.headers.get(TOKEN_HEADER, "")
        given = header if request.method != "GET" else header or request.query_params.get("token", "")
        if not hmac.compare_digest(given.encode(), s.token.encode()):
            return 403, "missing or wrong session token: open the address gamyeon review printed"
        if request.method not in ("GET", "HEAD"):
            origin = request.headers.get("origin")
            if origin is None or origin not in s.origins:
                return 403, "writes are accepted only from the review page itself"
        return None


def _static(name: str) -> bytes:
    return resources.files("gamyeon.review").joinpath("static", name).read_bytes()


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers={"Cache-Control": "no-store"})


def _error(err: Exception, status: int = 400) -> JSONResponse:
    return _json({"error": str(err)}, status)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise GamyeonError("request too large")
    try:
        data = json.loads(raw or b"{}")
    except json.JSONDecodeError:
        raise GamyeonError("the request is not JSON") from None
    if not isinstance(data, dict):
        raise GamyeonError("the request must be a JSON object")
    return data


def build_app(outputs: list[Reviewed], settings: Settings) -> ASGIApp:
    """The ASGI app for ``outputs`` (opened with ``Reviewed.open``)."""

    def output(request: Request) -> Reviewed:
        n = int(request.path_params["n"])
        if not 0 <= n < len(outputs):
            raise LookupError(f"no output {n}")
        return outputs[n]

    def guarded(
        fn: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def wrapped(request: Request) -> Response:
            try:
                return await fn(request)
            except StaleRevision as err:
                return _error(err, 409)
            except LookupError as err:
                return _error(err, 404)
            except (GamyeonError, ValueError) as err:
                return _error(err, 400)

        return wrapped

    async def index(request: Request) -> Response:
        html = _static("index.html").decode("utf-8").replace("{{TOKEN}}", settings.token)
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return _json({"error": "not found"}, 404)
        return Response(_static(name), media_type=STATIC[name], headers={"Cache-Control": "no-store"})

    async def list_outputs(request: Request) -> Response:
        return _json([{"id": i, "name": o.files.name} for i, o in enumerate(outputs)])

    def describe(o: Reviewed) -> dict[str, Any]:
        store, review = o.store, o.store.review
        times = store.base.times
        return {
            "name": o.files.name,
            "frames": store.facts.frames,
            "width": store.facts.width,
            "height": store.facts.height,
            "rate": store.facts.rate,
            "times": times,
            "tracks": [t.as_dict(times) for t in store.base.tracks.values()],
            "fail_closed": [f.frame for f in store.base.frames if f.fail_closed],
            "verify": verify_flags(o.files.verify_json, o.files.video),
            "review": {**review.as_dict(), "approved": review.approved},
            "vault": o.files.vault.is_file(),
            "dataset_id": o.dataset_id,
            "render": o.render_state,
        }

    @guarded
    async def info(request: Request) -> Response:
        o = output(request)
        return _json(await run_in_threadpool(lambda: describe(o)))

    @guarded
    async def frame(request: Request) -> Response:
        o = output(request)
        index = int(request.path_params["i"])
        if not 0 <= index < o.store.facts.frames:
            raise LookupError(f"no frame {index}")
        data = await run_in_threadpool(o.frames.jpeg, index)
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=60"})

    @guarded
    async def thumb(request: Request) -> Response:
        o = output(request)
        track = request.path_params["track"]
        summary = o.store.base.tracks.get(track) if _TRACK.match(track) else None
        if summary is None:
            raise LookupError(f"no track {track}")
        data = await run_in_threadpool(o.frames.thumbnail, summary.best_frame, summary.best_box)
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=60"})

    @guarded
    async def regions(request: Request) -> Response:
        o = output(request)
        body = await _body(request)
        start, end = int(body.get("start", 0)), int(body.get("end", 0))
        ops = body.get("ops") or []
        store = o.store
        review = store.review
        if ops:
            review = store.apply(review, ops, str(body.get("reviewer") or "preview"))
        decisions = Decisions(review.items, review.width, review.height)
        frames = store.base.frames[max(0, start) : min(len(store.base.frames), end + 1)]
        return _json(
            {
                "revision": store.review.revision,
                "frames": [
                    {
                        "frame": f.frame,
                        "fail_closed": f.fail_closed,
                        "regions": [p.as_dict() for p in decisions.frame(f)],
                    }
                    for f in frames
                ],
            }
        )

    @guarded
    async def save(request: Request) -> Response:
        o = output(request)
        body = await _body(request)
        reviewer = str(body.get("reviewer") or "")
        ops = body.get("ops")
        if not isinstance(ops, list):
            raise GamyeonError("nothing to save")
        review, changes = await run_in_threadpool(o.store.save, ops, reviewer, int(body.get("revision", -1)))
        with Ledger(settings.ledger) as book:
            book.append(
                "review.save",
                {
                    "output": {"path": str(o.files.video.resolve()), "sha256": o.store.output_sha256},
                    "reviewer": reviewer,
                    "changes": changes,
                    "revision": review.revision,
                    "items": len(review.items),
                },
                o.dataset_id,
            )
        return _json({"review": {**review.as_dict(), "approved": review.approved}})

    @guarded
    async def signoff(request: Request) -> Response:
        o = output(request)
        body = await _body(request)
        reviewer, verdict, note = (
            str(body.get("reviewer") or ""),
            str(body.get("verdict") or ""),
            str(body.get("note") or ""),
        )
        review = await run_in_threadpool(o.store.signoff, reviewer, verdict, note, int(body.get("revision", -1)))
        with Ledger(settings.ledger) as book:
            book.append(
                "review.signoff",
                {
                    "output": {"path": str(o.files.video.resolve()), "sha256": o.store.output_sha256},
                    "reviewer": reviewer,
                    "verdict": verdict,
                    "note": note,
                    "revision": review.revision,
                },
                o.dataset_id,
            )
        return _json({"review": {**review.as_dict(), "approved": review.approved}})

    def run_render(o: Reviewed, reviewer: str) -> None:
        try:
            result: RenderResult = rerender(
                o.store, reviewer, source=settings.source, key_file=settings.key_file, ledger=settings.ledger
            )
            o.reopen()
            o.render_state = {"state": "done", "result": dataclasses.asdict(result)}
        except GamyeonError as err:
            o.render_state = {"state": "failed", "error": str(err)}
        except Exception as err:  # reported to the page; the outputs are untouched (atomic)
            log.exception("review: re-render of %s failed", o.files.name)
            o.render_state = {"state": "failed", "error": f"{type(err).__name__}: {err}"}

    @guarded
    async def render(request: Request) -> Response:
        o = output(request)
        if request.method == "GET":
            return _json(o.render_state)
        body = await _body(request)
        reviewer = str(body.get("reviewer") or "").strip()
        if not reviewer:
            raise GamyeonError("give the reviewer's name")
        with o.lock:
            if o.render_state.get("state") == "running":
                raise GamyeonError("a re-render of this output is already running")
            o.render_state = {"state": "running"}
        threading.Thread(target=run_render, args=(o, reviewer), daemon=True, name="gamyeon-rerender").start()
        return _json(o.render_state, 202)

    @guarded
    async def reveal(request: Request) -> Response:
        o = output(request)
        body = await _body(request)
        track = str(body.get("track") or "")
        if not _TRACK.match(track):
            raise GamyeonError("name the track to reveal")
        png = await run_in_threadpool(
            lambda: reveal_region(
                o.files,
                o.store.live,
                key_text=str(body.get("key") or ""),
                passphrase=body.get("passphrase") or None,
                track=track,
                frame=int(body.get("frame", -1)),
                purpose=str(body.get("purpose") or ""),
                authority=str(body.get("authority") or ""),
                reviewer=str(body.get("reviewer") or ""),
                ledger=settings.ledger,
                dataset_id=o.dataset_id,
            )
        )
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

    @guarded
    async def track(request: Request) -> Response:
        o = output(request)
        body = await _body(request)
        box = body.get("box")
        if not isinstance(box, list) or len(box) != 4 or not all(isinstance(v, int | float) for v in box):
            raise GamyeonError("a box is [x1, y1, x2, y2]")
        index = int(body.get("frame", -1))
        if not 0 <= index < o.store.facts.frames:
            raise LookupError(f"no frame {index}")
        facts = o.store.facts
        keys = await run_in_threadpool(
            follow, o.frames, index, [float(v) for v in box], int(body.get("span", 0)), facts.width, facts.height
        )
        return _json({"keyframes": keys})

    routes = [
        Route("/", index),
        Route("/static/{name}", static),
        Route("/api/outputs", list_outputs),
        Route("/api/o/{n:int}", info),
        Route("/api/o/{n:int}/frame/{i:int}.jpg", frame),
        Route("/api/o/{n:int}/thumb/{track}.jpg", thumb),
        Route("/api/o/{n:int}/regions", regions, methods=["POST"]),
        Route("/api/o/{n:int}/save", save, methods=["POST"]),
        Route("/api/o/{n:int}/signoff", signoff, methods=["POST"]),
        Route("/api/o/{n:int}/render", render, methods=["GET", "POST"]),
        Route("/api/o/{n:int}/reveal", reveal, methods=["POST"]),
        Route("/api/o/{n:int}/track", track, methods=["POST"]),
    ]
    app = Starlette(routes=routes)

    async def headers(scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                extra = [
                    (b"content-security-policy", CSP.encode()),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await Guard(app, settings)(scope, receive, with_headers)

    return headers
