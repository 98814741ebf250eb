"""Show on the shared dev set that ``gamyeon verify`` tells leaks from protection.

For every dev video, for the dev face images as one folder, and for clips panned over dev photos
with several people (the dev videos' faces are too small to identify), three outputs are verified
against the original with the installed CLI:

- the untouched original (a byte copy): should be flagged wherever the detectors see faces;
- gamyeon's default output (``gamyeon anonymize IN -o OUT``): should pass;
- a light Gaussian blur (kernel 11) of the faces gamyeon found: should be flagged by the identity
  attack where several people's faces are large enough to identify.

Each row shows the identity attack: its calibration (can dlib tell these people apart in the
originals?) and rank-1 identification of the plain and parrot attacks against chance, with the
p-value. The ``gallery`` part runs ``verify --gallery DEV/identities`` (the labelled photos) for the
default policy and for ``--operator blur``. The ``keys`` part (not run by default) anonymizes the
first panned clip ``--runs`` times per policy of ``--keys-policies``, each with a fresh key, and
verifies each output (the parrot attacker draws a fresh key of his own every time): the masks'
grids and noise, and the attacker's, are random, so one run is one draw, and this part shows the
parrot attacker's rank-1 per run and in total against chance.

Everything is written to a temporary folder (``--work``), never into the repository: the dev set
is for evaluation only. Run from the repository root:

    .venv/bin/python benchmarks/verify_evaldata.py [--work DIR] [--sample auto|all|N]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from benchlib.report import fmt, table
from benchlib.verifybench import (
    ATTACK_HEADERS,
    BLUR_KERNEL,
    GAMYEON,
    attack_cells,
    rank1_cell,
    verify_figures,
    weak_blur,
)

log = logging.getLogger("verify-evaldata")

DEV = Path("/work/shared/evaldata/dev")
#: dev photos panned into clips: three faces of 62-88 px; eight faces of 47-73 px among 51
STILLS_FOR_CLIPS = ("dlib__2008_001322.jpg", "wider_val__0_Parade_Parade_0_873.jpg")
CLIP_FRAMES = 90
CLIP_RATE = Fraction(30)


def _run(argv: list[str], env: dict[str, str]) -> int:
    log.info("$ %s", " ".join(argv))
    return subprocess.run(argv, env=env, check=False, capture_output=True, text=True).returncode


def _verify(
    original: Path, anonymized: Path, work: Path, name: str, sample: str, env: dict[str, str], *extra: str
) -> dict[str, Any]:
    data = work / f"{name}.verify.json"
    code = _run(
        [
            str(GAMYEON),
            "verify",
            str(original),
            str(anonymized),
            "--sample",
            sample,
            "--report",
            str(work / f"{name}.verify.html"),
            "--json",
            str(data),
            "-q",
            *extra,
        ],
        env,
    )
    if code not in (0, 1):
        return {"error": f"exit {code}"}
    return {**verify_figures(data), "exit": code}


def _blur_images(originals: Path, anonymized: Path, dst: Path) -> None:
    """The dev stills with kernel-11 blur on the face boxes gamyeon found in each."""
    from gamyeon.annotations import read_jsonl
    from gamyeon.types import Box

    dst.mkdir(parents=True, exist_ok=True)
    for src in sorted(originals.iterdir()):
        image = cv2.imread(str(src), cv2.IMREAD_COLOR)
        height, width = image.shape[:2]
        regions = anonymized / (src.name + ".regions.jsonl")
        for line in read_jsonl(regions):
            for region in line["regions"]:
                x1, y1, x2, y2 = Box(*region["box"]).pixel_bounds(width, height)
                if x2 > x1 and y2 > y1:
                    k = BLUR_KERNEL
                    image[y1:y2, x1:x2] = cv2.GaussianBlur(np.ascontiguousarray(image[y1:y2, x1:x2]), (k, k), 0)
        cv2.imwrite(str(dst / src.name), image, [cv2.IMWRITE_JPEG_QUALITY, 95])


def _three_cases(
    name: str,
    video: Path,
    work: Path,
    sample: str,
    env: dict[str, str],
    add: Callable[[str, str, dict[str, Any]], None],
) -> None:
    """Verify the untouched copy, gamyeon's default output and the light blur of ``video``."""
    from gamyeon.media.decode import VideoReader

    stem = video.stem
    untouched = work / f"{stem}.untouched{video.suffix}"
    shutil.copyfile(video, untouched)
    add(name, "untouched", _verify(video, untouched, work, f"{stem}.untouched", sample, env))
    anon = work / f"{stem}.gamyeon.mp4"
    fps = ["--fps", "25"] if video.suffix == ".h264" else []
    if _run([str(GAMYEON), "anonymize", str(video), "-o", str(anon), "-q", *fps], env) != 0:
        add(name, "gamyeon default", {"error": "anonymize failed"})
        return
    add(name, "gamyeon default", _verify(video, anon, work, f"{stem}.gamyeon", sample, env))
    with VideoReader(anon) as reader:
        rate = reader.info.rate
    blurred = work / f"{stem}.blur{BLUR_KERNEL}.mp4"
    weak_blur(video, Path(f"{anon}.regions.jsonl"), blurred, rate)
    add(name, f"blur k={BLUR_KERNEL}", _verify(video, blurred, work, f"{stem}.blur", sample, env))


def _pan(photo: npt.NDArray[Any], frames: int) -> Iterator[npt.NDArray[np.uint8]]:
    """A slow pan and zoom (1.0x to 1.25x) over ``photo`` at its own size, like the demo clip."""
    height, width = photo.shape[0] // 2 * 2, photo.shape[1] // 2 * 2  # H.264 4:2:0 needs even sizes
    for i in range(frames):
        t = i / max(1, frames - 1)
        zoom = 1.0 + 0.25 * t
        m = np.array([[zoom, 0, -0.1 * width * t], [0, zoom, -0.05 * height * t]], dtype=np.float32)
        yield np.asarray(cv2.warpAffine(photo, m, (width, height), flags=cv2.INTER_LINEAR, borderValue=(128, 128, 128)))


def _parrot_rank1(report: Path, variant: str) -> tuple[int, int, float]:
    """``(hits, probes, chance)`` of the parrot attack's rank-1 ``variant`` in a verify JSON report
    (reported whether or not the file has enough identities for the gate)."""
    import json

    attack = json.loads(report.read_text(encoding="utf-8"))["identity"].get("attack") or {}
    fig = attack.get("attacks", {}).get("parrot", {}).get(variant, {}).get("rank1")
    return (fig["hits"], fig["probes"], fig["chance"]) if fig else (0, 0, 0.0)


def _total(figures: list[tuple[int, int, float]]) -> str:
    """``hits/probes = rate (chance c)`` summed over runs."""
    hits, probes = sum(f[0] for f in figures), sum(f[1] for f in figures)
    chance = float(np.mean([f[2] for f in figures])) if figures else 0.0
    return f"{hits}/{probes} = {hits / max(1, probes):.2f} (chance {chance:.2f})"


def _keys(still: Path, runs: int, policies: list[str], work: Path, sample: str, env: dict[str, str]) -> str:
    """The output of the clip panned over ``still`` for each of ``policies`` ("default" or a
    policy TOML), made and attacked ``runs`` times with fresh keys (``GAMYEON_KEY_DIR`` gets a new
    key per anonymize run; verify's parrot attacker draws his own), the policies interleaved: the
    parrot attacker's rank-1 by mean descriptor and by best frame, per run and in total. The
    masks' grids and noise are random, so one run is one draw; the total shows how far the
    attacker gets on average against chance."""
    from gamyeon.media.encode import write_clip

    clip = work / f"{still.stem}.keys.mp4"
    write_clip(clip, _pan(cv2.cvtColor(cv2.imread(str(still)), cv2.COLOR_BGR2RGB), CLIP_FRAMES), CLIP_RATE)
    rows: list[list[object]] = []
    totals: dict[str, list[tuple[int, int, float]]] = {}
    for run in range(runs):
        for n, policy in enumerate(policies):
            extra = () if policy == "default" else ("--policy", policy)
            name = f"{still.stem}.keys{run}.p{n}"
            anon = work / f"{name}.mp4"
            if _run([str(GAMYEON), "anonymize", str(clip), "-o", str(anon), "-q", *extra], env) != 0:
                rows.append([policy, run + 1, None, None, "anonymize failed"])
                continue
            fig = _verify(clip, anon, work, name, sample, env, *extra)
            if "error" in fig:
                rows.append([policy, run + 1, None, None, fig["error"]])
                continue
            mean, best = (_parrot_rank1(work / f"{name}.verify.json", v) for v in ("mean", "best"))
            totals.setdefault(policy, []).extend([mean, best])
            verdict = "pass" if fig["passed"] else "FLAGGED"
            rows.append([policy, run + 1, f"{mean[0]}/{mean[1]}", f"{best[0]}/{best[1]}", verdict])
    for policy, figures in totals.items():
        rows.append([policy, "total", _total(figures[0::2]), _total(figures[1::2]), ""])
    title = f"parrot attack on a clip panned over {still.name}, {runs} runs per policy with fresh keys\n\n"
    return title + table(["policy", "run", "parrot rank-1, mean", "parrot rank-1, best", "verdict"], rows)


def _gallery(identities: Path, work: Path, env: dict[str, str]) -> str:
    """``verify --gallery`` on the labelled dev photos, for the default policy and for blur."""
    photo = next(p for p in sorted(identities.iterdir()) if p.suffix.lower() in (".jpg", ".png"))
    anon = work / f"gallery.anchor{photo.suffix}"
    if _run([str(GAMYEON), "anonymize", str(photo), "-o", str(anon), "-q"], env) != 0:
        return "gallery: anonymize failed"
    rows: list[list[object]] = []
    for label, extra in (("default policy", ()), ("--operator blur", ("--operator", "blur"))):
        name = "gallery." + label.strip("-").split()[0]
        fig = _verify(photo, anon, work, name, "auto", env, "--gallery", str(identities), *extra)
        if "error" in fig:
            rows.append([label, None, None, None, None, None, fig["error"]])
            continue
        g = fig["gallery"]
        rows.append(
            [
                label,
                f"{g['status']} ({g['identities']} identities)",
                rank1_cell(g["originals"]),
                rank1_cell(g["plain"]),
                rank1_cell(g["parrot"]),
                fmt(fig["seconds"], 1),
                "FLAGGED" if g["leak"] else "pass",
            ]
        )
    headers = ["--gallery policy", "calibration", "originals rank-1", "plain rank-1", "parrot rank-1", "s", "verdict"]
    return f"verify --gallery {identities} (leave-one-out, like shared/eval/reid_attack.py)\n\n" + table(headers, rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", type=Path, help="scratch folder (default: a new temporary folder)")
    p.add_argument("--sample", default="auto", help="verify --sample for the videos (default: auto)")
    p.add_argument("--dev", type=Path, default=DEV)
    p.add_argument(
        "--clip-stills",
        default=",".join(STILLS_FOR_CLIPS),
        help=f"dev photos (images/faces) to pan into clips (default: {','.join(STILLS_FOR_CLIPS)})",
    )
    p.add_argument(
        "--parts",
        default="videos,stills,clip,gallery",
        help="what to run: videos, stills, clip, gallery, keys (default: videos,stills,clip,gallery)",
    )
    p.add_argument("--runs", type=int, default=10, help="runs of the keys part (default: 10)")
    p.add_argument(
        "--keys-policies",
        default="default",
        help="comma-separated policies for the keys part: 'default' or policy TOML files (default: default)",
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if not args.dev.is_dir():
        log.error("%s not found", args.dev)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="gamyeon-verify-evaldata-"))
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GAMYEON_KEY_DIR=str(work / "keys"))
    rows: list[list[object]] = []

    def add(name: str, case: str, fig: dict[str, Any]) -> None:
        if "error" in fig:
            rows.append([name, case, None, None, None, None, None, None, None, None, fig["error"]])
            return
        rows.append(
            [
                name,
                case,
                f"{fig['leaks']}/{fig['faces']}",
                f"{fig['leaky_frames']}/{fig['frames_scanned']}",
                *attack_cells(fig["attack"]),
                f"{fig['reidentifiable']}/{fig['identity_tested']}",
                fmt(fig["seconds"], 1),
                "pass" if fig["passed"] else "FLAGGED",
            ]
        )

    parts = set(args.parts.split(","))
    for video in sorted((args.dev / "videos").iterdir()) if "videos" in parts else []:
        _three_cases(video.stem, video, work, args.sample, env, add)

    stills = args.dev / "images" / "faces"
    if stills.is_dir() and "stills" in parts:
        copy = work / "stills.untouched"
        shutil.copytree(stills, copy, dirs_exist_ok=True)
        add("dev face stills (8)", "untouched", _verify(stills, copy, work, "stills.untouched", "auto", env))
        anon_dir = work / "stills.gamyeon"
        if _run([str(GAMYEON), "anonymize", str(stills), "-o", str(anon_dir), "-q"], env) == 0:
            add(
                "dev face stills (8)", "gamyeon default", _verify(stills, anon_dir, work, "stills.gamyeon", "auto", env)
            )
            blurred_dir = work / "stills.blur"
            _blur_images(stills, anon_dir, blurred_dir)
            add(
                "dev face stills (8)",
                f"blur k={BLUR_KERNEL}",
                _verify(stills, blurred_dir, work, "stills.blur", "auto", env),
            )
    for still in [stills / name for name in args.clip_stills.split(",")] if "clip" in parts else []:
        if not still.is_file():
            continue
        # the dev videos' faces are too small to identify; clips panned over dev photos with
        # several faces of 47-90 px show the identity attack on video with real third-party faces
        clip = work / f"{still.stem}.pan.mp4"
        from gamyeon.media.encode import write_clip

        write_clip(clip, _pan(cv2.cvtColor(cv2.imread(str(still)), cv2.COLOR_BGR2RGB), CLIP_FRAMES), CLIP_RATE)
        name = f"clip panned over {still.name} ({CLIP_FRAMES} frames)"
        _three_cases(name, clip, work, args.sample, env, add)
    headers = [
        "input",
        "output verified",
        "leaks / faces",
        "leaky / examined frames",
        *ATTACK_HEADERS,
        "distance < 0.6 to own original (information)",
        "verify s",
        "verdict",
    ]
    sys.stdout.write(table(headers, rows) + "\n")
    if "keys" in parts:
        first = stills / args.clip_stills.split(",")[0]
        policies = [x.strip() for x in args.keys_policies.split(",") if x.strip()]
        sys.stdout.write("\n" + _keys(first, args.runs, policies, work, args.sample, env) + "\n")
    identities = args.dev / "identities"
    if "gallery" in parts and identities.is_dir():
        sys.stdout.write("\n" + _gallery(identities, work, env) + "\n")
    log.info("reports in %s", work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
