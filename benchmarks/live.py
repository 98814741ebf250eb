"""Live benchmark: ``gamyeon live`` on N cameras of a given size and rate, as a user runs it.

    .venv/bin/python benchmarks/live.py [--size 1280x720] [--fps 15] [--cameras 1] [--seconds 30]
                                        [--rtsp] [--kinds faces] [--out bench-output/live] [-- EXTRA...]

Builds a clip from the demo's photo (``gamyeon.demo.demo_frames``: a face from ~40 to ~200 px
moving across the picture), then runs ``gamyeon live`` in a subprocess on ``--cameras`` copies of
it, each played at its own pace (``--realtime --loop``) or, with ``--rtsp``, served by GStreamer's
RTSP server (``tests/live/rtsp_server.py``, Debian's python3-gi) and republished to it. Reports per
camera the frames in and out, the fail-closed and dropped frames, the delay (arrival to output)
and detection time from gamyeon's own status, and for the whole process the CPU-seconds per frame
(``getrusage`` of the child, start-up included; and in the steady state, from the process CPU
time and frames out in the status file between a third of the run and its end) and the load
average before and after: on a shared machine the delay depends on the load, CPU-seconds per
frame much less.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build_clip(path: Path, width: int, height: int, fps: int, seconds: float) -> None:
    from gamyeon.demo import demo_frames
    from gamyeon.media.encode import write_clip

    frames = max(2, round(fps * seconds))
    write_clip(path, demo_frames(frames, width, height), Fraction(fps), crf=20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--cameras", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=30.0, help="how long gamyeon live runs")
    parser.add_argument("--clip-seconds", type=float, default=10.0, help="length of the looped clip")
    parser.add_argument("--rtsp", action="store_true", help="through GStreamer's RTSP server, in and out")
    parser.add_argument("--kinds", default="faces")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-output" / "live")
    parser.add_argument("extra", nargs="*", help="more gamyeon live options (after --)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    clip = args.out / f"clip-{width}x{height}-{args.fps}.mp4"
    if not clip.exists():
        build_clip(clip, width, height, args.fps, args.clip_seconds)
    status = args.out / "status.json"
    status.unlink(missing_ok=True)
    record = args.out / "rec"
    server = None
    cameras = args.out / "cameras.toml"
    lines = [f'[defaults]\nrecord = "{record}"\n']
    if args.rtsp:
        sys.path.insert(0, str(ROOT / "tests"))
        from live_helpers import RtspServer  # type: ignore[import-not-found]  # tests/ is put on sys.path above

        server = RtspServer(clip, args.out / "server")
        server.start()
        lines.append(f'publish = "{server.publish}"\n')
        source = server.source
    else:
        lines.append("realtime = true\nloop = true\n")
        source = str(clip)
    for i in range(1, args.cameras + 1):
        lines.append(f'\n[[camera]]\nname = "cam{i}"\nsource = "{source}"\n')
    cameras.write_text("".join(lines))
    cmd = [
        sys.executable,
        "-m",
        "gamyeon.cli",
        "live",
        "--cameras",
        str(cameras),
        "--duration",
        str(args.seconds),
        "--kinds",
        args.kinds,
        "--status-file",
        str(status),
        "--status-every",
        "1",
        *args.extra,
    ]
    # keys and records of benchmark runs stay in OUT, not in the user's key store and ledger
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "GAMYEON_KEY_DIR": str(args.out / "keys"),
        "GAMYEON_LEDGER": str(args.out / "ledger.sqlite"),
    }
    load_before = os.getloadavg()
    started = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    samples: list[tuple[float, float, int]] = []  # (seconds, process CPU, frames out) from the status file
    try:
        child = subprocess.Popen(cmd, env=env)
        while child.poll() is None:
            time.sleep(1.0)
            try:
                snap = json.loads(status.read_text())
            except (OSError, ValueError):
                continue
            out = sum(c.get("frames_out", 0) for c in snap["cameras"].values())
            samples.append((time.monotonic() - started, float(snap["process_cpu_s"]), out))
        done: subprocess.CompletedProcess[bytes] = subprocess.CompletedProcess(cmd, child.returncode)
    finally:
        if server is not None:
            server.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.monotonic() - started
    load_after = os.getloadavg()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    snap = json.loads(status.read_text())
    frames_out = sum(c["frames_out"] for c in snap["cameras"].values())
    # steady state: CPU per frame between the first sample after a third of the run and the last
    # before its end, so start-up (imports, models) and the final flush are left out
    steady = [s for s in samples if args.seconds / 3 <= s[0] <= args.seconds]
    per_frame = None
    if len(steady) >= 2 and steady[-1][2] > steady[0][2]:
        per_frame = (steady[-1][1] - steady[0][1]) / (steady[-1][2] - steady[0][2])
    result = {
        "command": " ".join(cmd),
        "exit": done.returncode,
        "size": args.size,
        "fps": args.fps,
        "cameras": args.cameras,
        "rtsp": args.rtsp,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "cpu_s_per_frame": round(cpu / frames_out, 4) if frames_out else None,
        "cpu_s_per_frame_steady": None if per_frame is None else round(per_frame, 4),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "per_camera": {
            name: {
                "frames_in": c["frames_in"],
                "frames_out": c["frames_out"],
                "fail_closed": c["fail_closed"],
                "dropped": c["dropped"],
                "delay_s": c["delay_all_s"],
                "detection_s": c["detection_all_s"],
                "lookahead_frames": c["stream"].get("lookahead_frames"),
            }
            for name, c in snap["cameras"].items()
        },
    }
    print(json.dumps(result, indent=2))
    (args.out / f"result-{args.size}-{args.fps}-{args.cameras}{'-rtsp' if args.rtsp else ''}.json").write_text(
        json.dumps(result, indent=2)
    )
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
