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
from pathlib import Path

from gamyeon.detect.text import PLATE, PRECISIONS, TEXT, PpOcrDet, TextDetector, model_path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from text_reuse import agree, full_pass, videos_to_measure

log = logging.getLogger("text_precision")


def measure(path: Path, precision: str, frame_side: int, max_frames: int) -> dict[str, object]:
    reference_model = PpOcrDet(model_path(None, "fp32", video=True))
    candidate_path = model_path(None, precision, video=True)
    reference = TextDetector(reference_model, (PLATE, TEXT))
    candidate = TextDetector(PpOcrDet(candidate_path), (PLATE, TEXT), frame_side=frame_side)
    run = agree(
        path, max_frames, {"reference": full_pass(reference, reference_model), "candidate": candidate.detect_frame}
    )
    result: dict[str, object] = {
        "video": path.name,
        "candidate": candidate_path.name,
        "frame_side": frame_side,
        "text_every": run.every,
        "passes": run.frames,
        "cpu_s_reference": round(run.cpu["reference"], 2),
        "cpu_s_candidate": round(run.cpu["candidate"], 2),
    }
    return result | run.fields(("reference", "candidate"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", nargs="*", type=Path)
    parser.add_argument("--precision", choices=PRECISIONS, default="auto")
    parser.add_argument("--frame-side", type=int, default=960)
    parser.add_argument("--evaldata", type=Path, default=Path("/work/shared/evaldata"))
    parser.add_argument("--max-frames", type=int, default=10**9)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for path in videos_to_measure(list(args.videos), args.evaldata):
        result = measure(path, args.precision, args.frame_side, args.max_frames)
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
