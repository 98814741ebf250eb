"""``gamyeon live SOURCE... [--publish URL] [--hls DIR] [--record DIR]``: camera streams
pseudonymized as they arrive.

The masking, detection, export, seal and processing record options are ``anonymize``'s, declared
by the same ``gamyeon.cliargs`` groups; the encoder's are live's own (a faster preset and a
keyframe every second by default). Ctrl-C or SIGTERM stops every camera cleanly: the frames
waiting are decided, the current segment is finished under its final name with its sidecars
and records, outputs are closed. A second Ctrl-C stops at once (no partial file is left under a
final name either way).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Protocol

from gamyeon import cliargs
from gamyeon.errors import UsageError
from gamyeon.keys import new_stored_key, read_key
from gamyeon.live.cameras import Defaults, camera, read_cameras
from gamyeon.live.config import LATE_ACTIONS, RTSP_TRANSPORTS, Camera, Encoding, LiveSettings, Timing
from gamyeon.live.http import LiveHttp, parse_address
from gamyeon.live.status import StatusBoard
from gamyeon.options import Options

log = logging.getLogger("gamyeon")


def add_parsers(sub: cliargs.Subcommands) -> dict[str, Callable[[argparse.Namespace], int]]:
    """Add ``live``; returns its handler."""
    p = sub.add_parser(
        "live",
        help="pseudonymize camera streams live (RTSP, SRT, UDP, HLS, V4L2), failing closed in real time",
        description="Pseudonymize live camera streams: publish the masked stream to an RTSP server, serve it as HLS "
        "and/or record it in segments, each a normal gamyeon output. A frame that cannot be decided within "
        "--max-delay leaves fully masked (or is dropped), never as it came.",
    )
    p.add_argument(
        "sources",
        nargs="*",
        metavar="SOURCE",
        help="rtsp://, srt://, udp://, http(s):// (HLS) stream, a V4L2 device (/dev/video0), or a file with --realtime",
    )
    p.add_argument("--cameras", type=Path, metavar="FILE", help="camera list (TOML, see docs/live.md)")
    p.add_argument("--name", help="name of the one SOURCE's camera (default: cam1, cam2, ... in order)")
    out = p.add_argument_group("outputs (at least one; with several cameras, {camera} in --publish is its name)")
    out.add_argument("--publish", metavar="URL", help="publish to this RTSP server (ANNOUNCE/RECORD)")
    out.add_argument(
        "--hls", type=Path, metavar="DIR", help="write HLS (DIR/<camera>/index.m3u8); serve it with --http"
    )
    out.add_argument("--record", type=Path, metavar="DIR", help="record segments into DIR/<camera>/")
    out.add_argument("--segment-minutes", type=float, default=5.0, help="length of a recorded segment (default: 5)")
    out.add_argument("--hls-seconds", type=float, default=1.0, help="HLS segment length (default: 1)")
    src = p.add_argument_group("sources")
    src.add_argument("--realtime", action="store_true", help="play a file SOURCE at its own pace (tests and demos)")
    src.add_argument("--loop", action="store_true", help="play a file SOURCE again from the start at its end")
    src.add_argument("--rtsp-transport", choices=RTSP_TRANSPORTS, default="tcp", help="RTSP source transport")
    src.add_argument(
        "--input-format", metavar="FMT", help="FFmpeg demuxer of the source (default: probed; v4l2 for /dev/video*)"
    )
    src.add_argument(
        "--input-option",
        action="append",
        metavar="KEY=VALUE",
        default=[],
        help="an FFmpeg option for the source, e.g. video_size=1280x720 (repeatable)",
    )
    src.add_argument("--fps", type=cliargs.frame_rate, help="the camera's frame rate when the stream does not say")
    src.add_argument(
        "--timeout", type=float, default=5.0, help="seconds without data before a source counts as lost (default: 5)"
    )
    timing = p.add_argument_group("real time")
    timing.add_argument(
        "--max-delay",
        type=float,
        default=1.0,
        help="seconds from a frame's arrival to its output; the look-ahead is what fits after the processing "
        "reserve (default: 1.0)",
    )
    timing.add_argument(
        "--late",
        choices=LATE_ACTIONS,
        default="mask",
        help="a frame that misses its deadline leaves fully masked or is dropped (default: mask)",
    )
    timing.add_argument(
        "--reserve",
        type=float,
        help="seconds of --max-delay kept for detection, masking and encoding (default: a third, at most 0.4)",
    )
    enc = p.add_argument_group("live encoder (H.264, shared by every output)")
    enc.add_argument("--crf", type=int, default=23, help="constant quality, lower is better (default: 23)")
    enc.add_argument("--preset", default="veryfast", help="x264 preset (default: veryfast)")
    enc.add_argument("--gop-seconds", type=float, default=1.0, help="a keyframe at least this often (default: 1)")
    run = p.add_argument_group("running")
    run.add_argument("--http", metavar="[HOST:]PORT", help="serve /status.json, an overview page and the HLS output")
    run.add_argument("--status-file", type=Path, metavar="PATH", help="keep every camera's status in this JSON file")
    run.add_argument(
        "--status-every",
        type=float,
        default=10.0,
        help="seconds between status log lines and file updates (default: 10)",
    )
    run.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long (default: until stopped)")
    run.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run each camera as a Ray actor: 'auto' (this machine's cluster), HOST:PORT of the head, or 'local'",
    )
    cliargs.add_kinds_arg(p)
    cliargs.add_policy_args(p)
    cliargs.add_detection_args(p, gate=False)
    cliargs.add_export_args(p)
    cliargs.add_seal_arg(p, "; needs --record: one vault beside each segment (SEGMENT.vault)")
    cliargs.add_detector_args(p)
    cliargs.add_processing_args(p)
    cliargs.add_verbosity(p)
    # what options_from_args reads besides: live encodes every frame it decides (no GOP copy)
    p.set_defaults(codec=None, keep_audio=False, keep_metadata=False, copy_empty="never", change_gate="never")
    return {"live": run_live}


class Runner(Protocol):
    """What runs the cameras: this process's threads, or Ray actors."""

    def start(self) -> None: ...

    def wait(self) -> None: ...

    def failures(self) -> list[str]:
        """One line per camera that ended with an error."""
        ...


def run_live(args: argparse.Namespace) -> int:
    options = dataclasses.replace(cliargs.options_from_args(args), seal_key=args.seal)
    defaults = Defaults(
        publish=args.publish,
        hls=None if args.hls is None else args.hls.resolve(),
        record=None if args.record is None else args.record.resolve(),
        segment_minutes=args.segment_minutes,
        hls_seconds=args.hls_seconds,
        rtsp_transport=args.rtsp_transport,
        realtime=args.realtime,
        loop=args.loop,
        input_format=args.input_format,
        input_options=tuple(_option(o) for o in args.input_option),
        fps=args.fps,
        timeout=args.timeout,
    )
    cameras = _cameras(args, defaults)
    for cam in cameras:
        cam.source.check()
        if options.seal_key is not None and cam.outputs.record is None:
            raise UsageError(f"--seal keeps originals beside recorded segments: camera {cam.name} needs --record")
    timing = Timing(max_delay=args.max_delay, late=args.late, reserve=args.reserve)
    encoding = Encoding(crf=args.crf, preset=args.preset, gop_seconds=args.gop_seconds)
    if args.status_every <= 0:
        raise UsageError(f"--status-every: expected a positive number of seconds, got {args.status_every}")
    if args.duration is not None and args.duration <= 0:
        raise UsageError(f"--duration: expected a positive number of seconds, got {args.duration}")
    address = None if args.http is None else parse_address(args.http)
    dataset_id = uuid.uuid4().hex
    settings = LiveSettings(options, _key_file(options, dataset_id), dataset_id, timing, encoding)
    board = StatusBoard(args.status_every, args.status_file)
    stop = threading.Event()
    runner = _runner(args.ray, cameras, settings, stop, board)
    server = None
    if address is not None:
        server = LiveHttp(address, board, {c.name: c.outputs.hls for c in cameras if c.outputs.hls is not None})
    log.info("dataset %s: %d camera(s), max delay %.2f s", dataset_id, len(cameras), settings.timing.max_delay)
    with _stop_on_signals(stop):
        timer = threading.Timer(args.duration, stop.set) if args.duration else None
        board.start()
        if server is not None:
            server.start()
        if timer is not None:
            timer.daemon = True
            timer.start()
        try:
            runner.start()
            runner.wait()
        finally:
            stop.set()
            if timer is not None:
                timer.cancel()
            board.stop()
            if server is not None:
                server.stop()
    failures = runner.failures()
    for failure in failures:
        log.error("error: %s", failure)
    return 1 if failures else 0


def _cameras(args: argparse.Namespace, defaults: Defaults) -> list[Camera]:
    """The cameras of ``--cameras`` and of the SOURCE arguments (named cam1, cam2, ... or ``--name``)."""
    cameras = read_cameras(args.cameras, defaults) if args.cameras is not None else []
    if not cameras and not args.sources:
        raise UsageError("give a SOURCE or a camera list (--cameras)")
    if args.name is not None and len(args.sources) != 1:
        raise UsageError("--name names the camera of one SOURCE")
    if len(args.sources) + len(cameras) > 1 and defaults.publish is not None and "{camera}" not in defaults.publish:
        raise UsageError("several cameras cannot publish to one URL: put {camera} in --publish")
    for i, source in enumerate(args.sources, start=1):
        name = args.name or f"cam{i}"
        cameras.append(camera({**defaults.entry(), "name": name, "source": source}))
    names = [c.name for c in cameras]
    if len(set(names)) != len(names):
        raise UsageError(f"camera names must be unique, got {names}")
    return cameras


def _option(value: str) -> tuple[str, str]:
    key, sep, val = value.partition("=")
    if not sep or not key:
        raise UsageError(f"--input-option: expected KEY=VALUE, got {value!r}")
    return key, val


def _key_file(options: Options, dataset_id: str) -> Path:
    """The master key file: ``--seal``'s (then ``--key`` must be the same key), ``--key``'s, or a
    new key in the key store. Workers read the key from its file; its bytes never travel."""
    if options.seal_key is not None:
        if (
            options.key_file is not None
            and read_key(options.key_file).fingerprint != read_key(options.seal_key).fingerprint
        ):
            raise UsageError("--key and --seal name different keys; give one key (--seal) for both")
        return options.seal_key.resolve()
    if options.key_file is not None:
        read_key(options.key_file)  # fails now, with one line, when it cannot be read
        return options.key_file.resolve()
    _, path = new_stored_key(dataset_id)
    log.info("pseudonym key for dataset %s stored apart from the outputs at %s", dataset_id, path)
    return path


def _runner(
    address: str | None, cameras: list[Camera], settings: LiveSettings, stop: threading.Event, board: StatusBoard
) -> Runner:
    if address is not None:
        from gamyeon.live.ray_actors import RayCameras

        return RayCameras(address, cameras, settings, stop, board)
    from gamyeon.live.supervisor import LocalCameras

    local = LocalCameras(cameras, settings, stop)
    for runner in local.runners:
        board.add(runner.camera.name, runner.counters.snapshot)
    return local


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C and SIGTERM set ``stop`` (the cameras close cleanly); a second one interrupts.
    Signals reach the main thread only: called from another (an embedding program), it leaves
    the handlers alone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt(f"signal {signum}")
        log.info("stopping: closing the current segments (again to stop at once)")
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
