"""A real RTSP server for the live tests: GStreamer's ``GstRtspServer`` (Debian's
``gir1.2-gst-rtsp-server-1.0`` with ``python3-gi``), run as a subprocess with Debian's Python.

It serves ``--clip`` (any video GStreamer decodes), looped forever, as H.264 at ``/in`` and
accepts a published stream (ANNOUNCE/RECORD) at ``/out``, writing each publishing session to
``--record-dir/rec-N.h264`` (Annex B, one access unit per frame; N counts on across restarts).
Timing is logged as JSON lines to ``--log``: ``sent`` when a frame of the clip leaves the
clock-paced stage, just before encoding (``n``: its frame number since the session started, from
its timestamp) and ``recv`` when a published frame arrives (``i``: its position in the session's
file), each with the wall clock, so a test can measure the delay from the server's send to its
receive of the same frame. Prints ``ready PORT`` once listening.
"""

from __future__ import annotations

import argparse
import itertools
import json
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


class EventLog:
    """JSON lines appended from GStreamer's streaming threads."""

    def __init__(self, path: Path) -> None:
        self._fh = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, **event: object) -> None:
        with self._lock:
            self._fh.write(json.dumps(event) + "\n")
            self._fh.flush()


def decode_to_raw(clip: Path, raw: Path) -> tuple[int, int]:
    """Decode ``clip`` to raw I420 frames in ``raw``; returns (width, height)."""
    pipeline = Gst.parse_launch(
        f'filesrc location="{clip}" ! decodebin ! videoconvert ! video/x-raw,format=I420 ! '
        f'filesink name=sink location="{raw}"'
    )
    size: list[int] = []

    def on_caps(pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        event = info.get_event()
        if event.type == Gst.EventType.CAPS:
            s = event.parse_caps().get_structure(0)
            size[:] = [s.get_value("width"), s.get_value("height")]
        return Gst.PadProbeReturn.OK

    pipeline.get_by_name("sink").get_static_pad("sink").add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, on_caps)
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg is None or msg.type == Gst.MessageType.ERROR or not size:
        raise SystemExit(f"cannot decode {clip}")
    return size[0], size[1]


class PlayFactory(GstRtspServer.RTSPMediaFactory):
    """The clip, looped, paced by the clock (``identity sync``), encoded for each client."""

    def __init__(self, raw: Path, width: int, height: int, fps: int, log: EventLog) -> None:
        super().__init__()
        self.raw, self.width, self.height, self.fps, self.log = raw, width, height, fps, log
        self.sessions = itertools.count(1)

    def do_create_element(self, url: GstRtspServer.RTSPUrl) -> Gst.Element:
        frame_bytes = self.width * self.height * 3 // 2
        pipeline = Gst.parse_launch(
            f'( multifilesrc location="{self.raw}" loop=true blocksize={frame_bytes} ! '
            f"rawvideoparse width={self.width} height={self.height} format=i420 framerate={self.fps}/1 ! "
            "identity name=clock sync=true ! "
            f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={self.fps} ! "
            "h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )"
        )
        session = next(self.sessions)
        fps, log = self.fps, self.log

        def sent(pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
            buf = info.get_buffer()
            log.write(ev="sent", s=session, n=round(buf.pts * fps / Gst.SECOND), t=time.time())
            return Gst.PadProbeReturn.OK

        pipeline.get_by_name("clock").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, sent)
        return pipeline


class RecordFactory(GstRtspServer.RTSPMediaFactory):
    """Each publishing session's H.264 into its own file."""

    def __init__(self, folder: Path, log: EventLog) -> None:
        super().__init__()
        self.folder, self.log = folder, log
        # numbered on from the files already there: a restarted server adds, never overwrites
        self.sessions = itertools.count(len(list(folder.glob("rec-*.h264"))) + 1)
        self.set_transport_mode(GstRtspServer.RTSPTransportMode.RECORD)
        self.set_latency(0)

    def do_create_element(self, url: GstRtspServer.RTSPUrl) -> Gst.Element:
        session = next(self.sessions)
        path = self.folder / f"rec-{session}.h264"
        pipeline = Gst.parse_launch(
            "( rtph264depay name=depay0 ! h264parse ! video/x-h264,stream-format=byte-stream,alignment=au ! "
            f'filesink name=sink location="{path}" sync=false buffer-mode=unbuffered )'
        )
        counter = itertools.count()
        log = self.log

        def received(pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
            log.write(ev="recv", s=session, i=next(counter), t=time.time())
            return Gst.PadProbeReturn.OK

        pipeline.get_by_name("sink").get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, received)
        return pipeline


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clip", type=Path, required=True)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--record-dir", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args()
    Gst.init(None)
    args.record_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="rtsp-server-"))
    raw = work / "clip.i420"
    width, height = decode_to_raw(args.clip, raw)
    log = EventLog(args.log)
    server = GstRtspServer.RTSPServer()
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    mounts.add_factory("/in", PlayFactory(raw, width, height, args.fps, log))
    mounts.add_factory("/out", RecordFactory(args.record_dir, log))
    if server.attach(None) == 0:
        print(f"cannot listen on port {args.port}", file=sys.stderr)
        return 1
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print(f"ready {args.port}", flush=True)
    loop.run()
    raw.unlink()
    work.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
