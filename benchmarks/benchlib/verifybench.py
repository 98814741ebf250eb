"""The ``verify`` section: how long ``gamyeon verify`` takes next to the anonymize pass it checks,
and whether it tells the three cases apart.

On the 960x540 demo clip (750 frames; 150 with ``--quick``) it times, as subprocesses like every
other figure of the harness:

- ``gamyeon anonymize CLIP -o OUT -q`` (default policy: what ``anonymize --verify`` checks), and
- ``gamyeon verify CLIP OUT -q`` (default sampling, annotations found beside OUT),

and reports verify / anonymize (target: at most 1). It then verifies the untouched input (a byte
copy: must be flagged), gamyeon's output (must pass) and a light Gaussian blur, kernel 11, of the
faces gamyeon found (must be flagged by the identity attack).

``weak_blur`` is shared with ``benchmarks/verify_evaldata.py``.
"""

from __future__ import annotations

import json
import logging
import shutil
import statistics
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchlib import clips, procs
from benchlib.report import fmt, table

log = logging.getLogger(__name__)

BLUR_KERNEL = 11
GAMYEON = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "gamyeon"


def weak_blur(src: Path, regions: Path, dst: Path, rate: Fraction) -> int:
    """``src`` with a Gaussian blur (kernel 11) on every face box of ``regions`` (gamyeon's
    annotations of its own output), written as H.264 at ``rate``; returns the frame count.

    Frames are matched by index, which is how verify pairs them too."""
    from gamyeon.annotations import read_jsonl
    from gamyeon.media.decode import DecodedFrame, VideoReader, to_rgb
    from gamyeon.media.encode import write_clip
    from gamyeon.stages import rotate_view
    from gamyeon.types import Box

    def frames() -> Any:
        lines = read_jsonl(regions)
        with VideoReader(src) as reader:
            for item in reader:
                if not isinstance(item, DecodedFrame):
                    continue
                line = next(lines)
                if item.frame is None:
                    raise SystemExit(f"{src}: frame {item.index} does not decode")
                image = np.ascontiguousarray(rotate_view(to_rgb(item.frame), reader.info.rotation))
                height, width = image.shape[:2]
                for region in line["regions"]:
                    x1, y1, x2, y2 = Box(*region["box"]).pixel_bounds(width, height)
                    if x2 > x1 and y2 > y1:
                        k = BLUR_KERNEL
                        image[y1:y2, x1:x2] = cv2.GaussianBlur(np.ascontiguousarray(image[y1:y2, x1:x2]), (k, k), 0)
                yield image

    return write_clip(dst, frames(), rate)


def verify_figures(report_json: Path) -> dict[str, Any]:
    """The headline figures of a verify JSON report."""
    data = json.loads(report_json.read_text(encoding="utf-8"))
    return {
        "passed": data["passed"],
        "faces": data["leak"]["faces"],
        "leaks": data["leak"]["leaks"],
        "leak_rate": data["leak"]["rate"],
        "leaky_frames": data["leak"]["leaky_frames"],
        "frames_scanned": data["leak"]["frames_scanned"],
        "identity_tested": data["identity"]["tested"],
        "reidentifiable": data["identity"]["reidentifiable"],
        "match_rate": data["identity"]["rate"],
        "min_distance": data["identity"]["min_distance"],
    }


def run_verify(
    gamyeon: Path, original: Path, anonymized: Path, out: Path, name: str, env: dict[str, str], *extra: str
) -> tuple[procs.Measured, dict[str, Any] | None]:
    """Run ``gamyeon verify`` as a measured subprocess; exit 0 or 1 are results, others errors."""
    html, data = out / f"{name}.verify.html", out / f"{name}.verify.json"
    data.unlink(missing_ok=True)
    command = [
        str(gamyeon),
        "verify",
        str(original),
        str(anonymized),
        "--report",
        str(html),
        "--json",
        str(data),
        "-q",
        *extra,
    ]
    m = procs.run_measured(command, out / "logs" / f"verify.{name}.log", env=env)
    if m.returncode not in (0, 1) or not data.exists():
        log.warning("verify %s failed (exit %d): %s", name, m.returncode, procs.log_tail(m.log_path))
        return m, None
    return m, verify_figures(data)


def section_verify(b: Any) -> None:
    """Verify time next to the anonymize time on the demo clip, and the three-case check."""
    frames = 150 if b.quick else 750
    clip = clips.synthetic_clip(b.out / "clips", frames, 960, 540)
    out = b.out / "verify"
    out.mkdir(parents=True, exist_ok=True)
    anon = out / "anonymized.mp4"
    times: dict[str, list[float]] = {"anonymize": [], "verify": []}
    figures: dict[str, Any] = {}
    for rep in range(b.repeat):
        for path in (anon, Path(f"{anon}.regions.jsonl")):
            path.unlink(missing_ok=True)
        m = procs.run_measured(
            [str(GAMYEON), "anonymize", str(clip), "-o", str(anon), "-q"],
            out / "logs" / f"anonymize.{rep}.log",
            env=b.env,
        )
        if m.returncode != 0:
            b.emit(f"## Verify\n\nanonymize failed: {procs.log_tail(m.log_path)}\n")
            return
        times["anonymize"].append(m.wall_s)
        mv, fig = run_verify(GAMYEON, clip, anon, out, f"default.{rep}", b.env)
        if fig is None:
            b.emit(f"## Verify\n\nverify failed: {procs.log_tail(mv.log_path)}\n")
            return
        times["verify"].append(mv.wall_s)
        figures["gamyeon default"] = {**fig, "exit": mv.returncode}
        log.info("verify: anonymize %.1f s, verify %.1f s", m.wall_s, mv.wall_s)
    untouched = out / "untouched.mp4"
    shutil.copyfile(clip, untouched)
    blurred = out / "weak_blur_k11.mp4"
    weak_blur(clip, Path(f"{anon}.regions.jsonl"), blurred, clips.DEMO_RATE)
    for name, path in (("untouched input", untouched), ("light blur k=11", blurred)):
        mv, fig = run_verify(GAMYEON, clip, path, out, name.split()[0], b.env)
        figures[name] = None if fig is None else {**fig, "exit": mv.returncode}
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["verify"] / med["anonymize"]
    b.results["verify"] = {
        "clip": str(clip),
        "frames": frames,
        "seconds": {k: [round(x, 3) for x in v] for k, v in times.items()},
        "median_s": {k: round(v, 3) for k, v in med.items()},
        "verify_over_anonymize": round(ratio, 3),
        "within_target": ratio <= 1.0,
        "cases": figures,
    }
    b.emit("## Verify (960x540 demo clip, default anonymize policy, default verify sampling)\n")
    b.emit(
        table(
            ["clip", "frames", "anonymize s", "verify s", "verify / anonymize", "target ≤ 1"],
            [
                [
                    clip.name,
                    frames,
                    fmt(med["anonymize"], 1),
                    fmt(med["verify"], 1),
                    fmt(ratio, 2),
                    "**PASS**" if ratio <= 1.0 else "**FAIL**",
                ]
            ],
        )
    )
    rows = []
    for name, fig in figures.items():
        if fig is None:
            rows.append([name, None, None, None, None, "error"])
            continue
        rows.append(
            [
                name,
                f"{fig['leaks']}/{fig['faces']} ({fig['leak_rate']:.2f})",
                f"{fig['leaky_frames']}/{fig['frames_scanned']}",
                f"{fig['reidentifiable']}/{fig['identity_tested']} ({fig['match_rate']:.2f})",
                fmt(fig["min_distance"], 3),
                f"{'pass' if fig['passed'] else 'FLAGGED'} (exit {fig['exit']})",
            ]
        )
    b.emit("")
    b.emit(
        table(
            [
                "output verified",
                "leaks / faces",
                "leaky / examined frames",
                "re-identifiable / tested",
                "min distance",
                "verdict",
            ],
            rows,
        )
    )
    b.emit(
        f"\nMedian of {b.repeat} run(s), wall-clock including start-up and model loading. Verify decodes every "
        "frame of both videos and examines 16 evenly spaced frames plus up to 8 next to track starts/ends "
        "(from the annotations). Expected: untouched flagged, gamyeon's output passes, the light blur flagged "
        "by the identity attack (re-identifiable > 0).\n"
    )
