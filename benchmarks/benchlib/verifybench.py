"""The ``verify`` section: how long ``gamyeon verify`` takes next to the anonymize pass it checks,
and whether it tells the three cases apart.

On the 960x540 demo clip (750 frames; 150 with ``--quick``) it times, as subprocesses like every
other figure of the harness:

- ``gamyeon anonymize CLIP -o OUT -q`` (default policy: what ``anonymize --verify`` checks), and
- ``gamyeon verify CLIP OUT -q`` (default sampling, annotations found beside OUT),

and reports verify / anonymize (target: at most 1). It then verifies the untouched input (a byte
copy: must be flagged), gamyeon's output (must pass) and a light Gaussian blur, kernel 11, of the
faces gamyeon found, with the identity attack's figures (one person: not measurable here; see
``benchmarks/verify_evaldata.py`` for clips of several people and the ``--gallery`` test).

``weak_blur``, ``verify_figures`` and the table cells are shared with ``benchmarks/verify_evaldata.py``.
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
    from gamyeon.media.geometry import rotate_view
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


def _strongest(attack: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The rank-1 figure of ``name`` (plain, parrot, originals) in the variant with the smallest
    p-value among the gate's (or calibration's) variants."""
    tests = [t.split("/")[1] for t in attack.get("gate_tests", []) + attack.get("calibration_tests", [])]
    variants = attack.get("attacks", {}).get(name, {})
    figs = [v["rank1"] for k, v in variants.items() if k in tests and v["rank1"]["probes"]]
    return min(figs, key=lambda f: f["p_value"]) if figs else None


def attack_figures(attack: dict[str, Any] | None) -> dict[str, Any]:
    """Status, identities and the strongest rank-1 figure per attack of one identity attack."""
    if attack is None:
        return {"status": None}
    out: dict[str, Any] = {
        "status": attack["status"],
        "reason": attack["reason"],
        "identities": attack["identities"],
        "leak": attack["leak"],
        "gate_alpha": attack["gate_alpha_per_test"],
    }
    for name in ("originals", "plain", "parrot"):
        out[name] = _strongest(attack, name)
    distances = attack.get("distances") or {}
    out["masked_vs_own_original_median"] = (distances.get("masked_vs_own_original") or {}).get("median")
    out["original_vs_other_identities_median"] = (distances.get("original_vs_other_identities") or {}).get("median")
    return out


def verify_figures(report_json: Path) -> dict[str, Any]:
    """The headline figures of a verify JSON report."""
    data = json.loads(report_json.read_text(encoding="utf-8"))
    identity = data["identity"]
    return {
        "passed": data["passed"],
        "faces": data["leak"]["faces"],
        "leaks": data["leak"]["leaks"],
        "leak_rate": data["leak"]["rate"],
        "leaky_frames": data["leak"]["leaky_frames"],
        "frames_scanned": data["leak"]["frames_scanned"],
        "identity_tested": identity["tested"],
        "reidentifiable": identity["reidentifiable"],
        "match_rate": identity["rate"],
        "min_distance": identity["min_distance"],
        "attack": attack_figures(identity.get("attack")),
        "gallery": attack_figures(identity.get("gallery")),
        "seconds": data["seconds"],
    }


def rank1_cell(fig: dict[str, Any] | None) -> str | None:
    """``hits/probes = rate (chance c, p)`` of a rank-1 figure."""
    if fig is None:
        return None
    return f"{fig['hits']}/{fig['probes']} = {fig['rate']:.2f} (chance {fig['chance']:.2f}, p {fig['p_value']:.2g})"


def attack_cells(attack: dict[str, Any]) -> list[object]:
    """Table cells: calibration status, originals, plain and parrot rank-1."""
    status = attack.get("status")
    if status is None:
        return [None, None, None, None]
    label = f"{status} ({attack['identities']} identities)"
    if status != "measured":
        return [label, rank1_cell(attack.get("originals")), None, None]
    return [label, rank1_cell(attack["originals"]), rank1_cell(attack["plain"]), rank1_cell(attack["parrot"])]


ATTACK_HEADERS = ["identity attack", "originals rank-1", "plain rank-1 (masked vs originals)", "parrot rank-1"]


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
    rows: list[list[object]] = []
    for name, fig in figures.items():
        if fig is None:
            rows.append([name, None, None, None, None, None, None, "error"])
            continue
        rows.append(
            [
                name,
                f"{fig['leaks']}/{fig['faces']} ({fig['leak_rate']:.2f})",
                f"{fig['leaky_frames']}/{fig['frames_scanned']}",
                *attack_cells(fig["attack"]),
                f"{fig['reidentifiable']}/{fig['identity_tested']}",
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
                *ATTACK_HEADERS,
                "distance < 0.6 to own original (information)",
                "verdict",
            ],
            rows,
        )
    )
    b.emit(
        f"\nMedian of {b.repeat} run(s), wall-clock including start-up and model loading. Verify decodes every "
        "frame of both videos and examines 16 evenly spaced frames, up to 8 next to track starts/ends and up to "
        "8 per face track for the identity attack (from the annotations). The demo clip shows one person: the "
        "identity attack is 'not measurable: one identity' there (identification needs others to tell a face "
        "from); `benchmarks/verify_evaldata.py` measures it on clips with several people and on labelled photos "
        "(--gallery). Expected here: untouched flagged (leak scan), gamyeon's output passes.\n"
    )
