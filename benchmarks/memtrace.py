"""Trace memory over a long run: is anything growing with the video's length?

    .venv/bin/python benchmarks/memtrace.py [--minutes 10] [--size 1920x1080] [--kinds faces]

Anonymizes a long synthetic clip (the demo segment looped, ``benchlib.clips.long_clip``) in this
process and samples, every ``--every`` seconds: RSS, glibc's heap (``mallinfo2``: arena size, bytes
in use, free bytes and mmapped bytes) and the number of Python objects the garbage collector
tracks. A leak of Python objects shows as a growing object count, a native leak as growing
bytes in use, fragmentation as growing free bytes; RSS alone cannot tell them apart.
``benchmarks/run.py --only memory`` measures the peak of a separate process instead.

The slope is a least-squares fit of RSS over the frames done, during the run and after the
first 10 % (warm-up: ONNX Runtime's arena and the encoder's buffers grow during the first
seconds), in MiB per minute of video.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import clips

import gamyeon
from gamyeon.policy import parse_kinds

log = logging.getLogger("memtrace")
ROOT = Path(__file__).resolve().parent.parent


class MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks")
    ] + [("keepcost", ctypes.c_size_t)]


def _mallinfo() -> dict[str, int] | None:
    """glibc's heap statistics in MiB (None on other C libraries)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = MallInfo2
    except (OSError, AttributeError):
        return None
    m = libc.mallinfo2()
    return {"heap": m.arena >> 20, "in_use": m.uordblks >> 20, "free": m.fordblks >> 20, "mmapped": m.hblkhd >> 20}


def _rss_mib() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0, help="length of the clip (default 10)")
    p.add_argument("--size", default="1920x1080", help="frame size WxH (default 1920x1080)")
    p.add_argument("--kinds", default="faces", help="what to protect, as gamyeon's --kinds (default faces)")
    p.add_argument("--every", type=float, default=30.0, help="seconds between samples (default 30)")
    p.add_argument("--out", type=Path, default=ROOT / "bench-output", help="folder for the clip and the JSON")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    width, height = (int(v) for v in args.size.lower().split("x"))
    path, frames = clips.long_clip(args.out / "clips", args.minutes, width, height)
    samples: list[dict[str, Any]] = []
    done = {"frames": 0}
    stop = threading.Event()

    def sample() -> None:
        row: dict[str, Any] = {"seconds": round(time.perf_counter() - started, 1), "frames": done["frames"]}
        row.update(rss=_rss_mib(), objects=len(gc.get_objects()), malloc=_mallinfo())
        samples.append(row)
        log.info("%s", row)

    def sampler() -> None:
        while not stop.wait(args.every):
            sample()

    # count frames through the annotations sidecar (its temporary name until the run ends): it
    # grows by one line per finished frame
    def progress_of(output: Path) -> None:
        while not stop.wait(1.0):
            for hidden in output.parent.glob(f".{output.name}.regions.*"):
                with hidden.open("rb") as fh:
                    done["frames"] = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))

    os.environ.setdefault("GAMYEON_KEY_DIR", str(args.out / "keys"))
    with tempfile.TemporaryDirectory(dir=args.out) as tmp:
        out = Path(tmp) / "out.mp4"
        started = time.perf_counter()
        for thread in (threading.Thread(target=sampler), threading.Thread(target=progress_of, args=(out,))):
            thread.daemon = True
            thread.start()
        options = gamyeon.Options(kinds=parse_kinds(args.kinds), quiet=True)
        gamyeon.anonymize([path], out, options)
        stop.set()
    during = list(samples)  # the run's own samples; memory is released once it ends
    done["frames"] = frames
    sample()
    tail = [s for s in during if s["frames"] >= 0.1 * frames]
    slope = None
    if len(tail) >= 3:
        per_frame = np.polyfit([s["frames"] for s in tail], [s["rss"] for s in tail], 1)[0]
        slope = float(per_frame * 60 * float(clips.LONG_RATE))
    result = {
        "clip": str(path),
        "frames": frames,
        "kinds": args.kinds,
        "git": os.popen(f"git -C {ROOT} rev-parse --short HEAD").read().strip(),
        "samples": samples,
        "rss_slope_mib_per_video_minute": None if slope is None else round(slope, 3),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    report = args.out / "memtrace.json"
    report.write_text(json.dumps(result, indent=1))
    first, last = (tail[0], tail[-1]) if tail else (samples[0], samples[-1])  # the last sample is after the run
    log.info(
        "RSS %d -> %d MiB from frame %d to %d; slope %s MiB per minute of video; objects %d -> %d; %s",
        first["rss"],
        last["rss"],
        first["frames"],
        last["frames"],
        "n/a" if slope is None else f"{slope:.2f}",
        first["objects"],
        last["objects"],
        report,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
