"""The video text pass as the pipeline runs it, against the float network's full pass.

On each dev video (and any files given), every frame the default schedule runs the text pass on
(``Plan.text_every``) is detected twice: by the reference, a full pass of the float network
(``PpOcrDet.lines`` on the whole frame at the video scale), and by the candidate,
``TextDetector.detect_frame`` with the network ``--precision`` selects (``auto``: the one video
uses on this machine) and ``--frame-side``. Reported per video: the process CPU seconds of each,
and agreement: the fraction of the reference's plate and text boxes covered at least 70 % (area)
by the candidate's boxes of the same kind, and the other way round (``text_reuse.covered``).

    .venv/bin/python benchmarks/text_precision.py [--precision int8] [--frame-side 960] \\
        [--evaldata DIR] [--max-frames N] [VIDEO ...]

Both share one process (order alternates per frame) so that the machine's load hits them alike;
CPU seconds are ``time.process_time`` around each call.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import av

from gamyeon.detect.text import PLATE, PRECISIONS, TEXT, PpOcrDet, TextDetector, model_path
from gamyeon.track.schedule import Plan
from gamyeon.types import Detection

sys.path.insert(0, str(Path(__file__).resolve().parent))
from text_reuse import covered

log = logging.getLogger("text_precision")


def measure(path: Path, precision: str, frame_side: int, max_frames: int) -> dict[str, object]:
    reference_model = PpOcrDet(model_path(None, "fp32", video=True))
    candidate_path = model_path(None, precision, video=True)
    reference = TextDetector(reference_model, (PLATE, TEXT))
    candidate = TextDetector(PpOcrDet(candidate_path), (PLATE, TEXT), frame_side=frame_side)
    cpu = {"reference": 0.0, "candidate": 0.0}
    names = ("reference", "candidate")
    counts = {f"{k}_{d}": 0 for k in (PLATE, TEXT) for n in names for d in (n, f"{n}_covered")}
    frames = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or 25)
        every = Plan.for_video(stream.width, stream.height, rate, None, "auto").text_every
        for index, frame in enumerate(container.decode(stream)):
            if index >= max_frames:
                break
            if index % every:
                continue
            image = frame.to_ndarray(format="rgb24")
            height, width = image.shape[:2]
            factor = min(1.0, reference.frame_side / max(width, height))
            order = names if frames % 2 else names[::-1]
            found: dict[str, list[Detection]] = {}
            for name in order:
                start = time.process_time()
                if name == "reference":
                    lines = reference_model.lines(image, factor, reference.threshold)
                    found[name] = reference.classify(lines, width, height)
                else:
                    found[name] = candidate.detect_frame(image)
                cpu[name] += time.process_time() - start
            for kind in (PLATE, TEXT):
                for mine, other in (names, names[::-1]):
                    boxes = [d for d in found[mine] if d.kind == kind]
                    counts[f"{kind}_{mine}"] += len(boxes)
                    counts[f"{kind}_{mine}_covered"] += sum(covered(d, found[other]) for d in boxes)
            frames += 1
    result: dict[str, object] = {
        "video": path.name,
        "candidate": candidate_path.name,
        "frame_side": frame_side,
        "text_every": every,
        "passes": frames,
        "cpu_s_reference": round(cpu["reference"], 2),
        "cpu_s_candidate": round(cpu["candidate"], 2),
    }
    for kind in (PLATE, TEXT):
        for mine, other in (names, names[::-1]):
            n = counts[f"{kind}_{mine}"]
            result[f"{kind}_boxes_{mine}"] = n
            result[f"{kind}_{mine}_covered_by_{other}"] = round(counts[f"{kind}_{mine}_covered"] / n, 4) if n else None
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", nargs="*", type=Path)
    parser.add_argument("--precision", choices=PRECISIONS, default="auto")
    parser.add_argument("--frame-side", type=int, default=960)
    parser.add_argument("--evaldata", type=Path, default=Path("/work/shared/evaldata"))
    parser.add_argument("--max-frames", type=int, default=10**9)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    videos = list(args.videos)
    folder = args.evaldata / "dev" / "videos"
    if not videos:
        if not folder.is_dir():
            log.warning("%s not found and no videos given: nothing to measure", folder)
            return 0
        videos = sorted(p for p in folder.iterdir() if p.is_file())
    for path in videos:
        result = measure(path, args.precision, args.frame_side, args.max_frames)
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
