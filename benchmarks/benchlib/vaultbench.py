"""The ``vault`` section: what sealing costs (time and bytes) and how long a reveal takes.

On the 960x540 demo clip (``gamyeon demo``'s pictures, 750 frames; 150 with ``--quick``; one large
face, the worst case for vault size; once more with ``--shape ellipse``, whose vault holds only the
ellipses) and on the dev videos when present (small CCTV faces), it runs as subprocesses:

- ``gamyeon anonymize CLIP -o OUT --kinds faces -q`` and the same with ``--seal KEY``,
- ``gamyeon reveal OUT --track ID ... -o R.mp4`` (default codec) and ``-o R.mkv --lossless``,

and reports the seal time over the plain time, the vault size next to the video size (the target
on the demo clip is at most 3x), and the reveal times. Whole-process CPU seconds of a run with
and without ``--seal`` differ by less than their noise, so the CPU cost of sealing itself is
measured in-process as well: the sealed run's regions (its annotations) are sealed again from
the decoded clip by a ``VaultWriter``, counting the thread's CPU seconds spent in it. The ledger
of these runs goes to a scratch file in the output folder.
"""

from __future__ import annotations

import json
import logging
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchlib import clips, procs
from benchlib.report import fmt, table

log = logging.getLogger(__name__)

GAMYEON = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "gamyeon"
DEV_VIDEOS = ("car_traffic_small.mp4", "pets09_s2l1_vtest.avi")


def _anonymize(clip: Path, out: Path, env: dict[str, str], logs: Path, *extra: str) -> procs.Measured | None:
    for stale in (out, Path(f"{out}.regions.jsonl"), Path(f"{out}.vault")):
        stale.unlink(missing_ok=True)
    m = procs.run_measured(
        [str(GAMYEON), "anonymize", str(clip), "-o", str(out), "--kinds", "faces", "-q", *extra], logs, env=env
    )
    if m.returncode != 0:
        log.warning("anonymize %s failed: %s", clip.name, procs.log_tail(m.log_path))
        return None
    return m


def _biggest_track(video: Path, env: dict[str, str]) -> str | None:
    listing = subprocess.run(
        [str(GAMYEON), "reveal", str(video), "--list", "--json", "-q"], env=env, capture_output=True, text=True
    )
    tracks = [json.loads(line) for line in listing.stdout.splitlines() if line.strip()]
    return max(tracks, key=lambda t: t["frames"])["track"] if tracks else None


def seal_cpu(clip: Path, notes: Path, key_file: Path, scratch: Path, *, ellipse: bool = False) -> dict[str, Any]:
    """Seal the regions of ``notes`` (an annotations sidecar) from the decoded ``clip`` again, as
    the masking stage does (with ``ellipse``: as masked with ellipses), and count the CPU seconds
    of this thread spent sealing (the coding runs on it: ``vault.codec`` uses one thread)."""
    from gamyeon.keys import read_key
    from gamyeon.media.decode import DecodedFrame, VideoReader, to_rgb
    from gamyeon.media.geometry import rotate_view
    from gamyeon.media.planes import supported
    from gamyeon.operators import Shape
    from gamyeon.types import Box, Region, Source
    from gamyeon.vault.writer import VaultWriter

    shape = Shape.ELLIPSE if ellipse else Shape.BOX

    by_frame: dict[int, list[Region]] = {}
    names: dict[str, int] = {}
    for line in notes.read_text().splitlines():
        rec = json.loads(line)
        if rec.get("fail_closed"):
            continue
        regions = []
        for r in rec["regions"]:
            track = None if r["track"] is None else names.setdefault(r["track"], len(names))
            regions.append(Region(r["kind"], Box(*r["box"]), Box(*r["mask"]), r["score"], track, Source(r["source"])))
        by_frame[int(rec["frame"])] = regions
    ids = {v: k for k, v in names.items()}
    vault = scratch / f"{clip.stem}.cost.vault"
    writer = VaultWriter(
        vault, read_key(key_file), dataset_id="bench", source=clip.name, track_ids=lambda _kind, t: ids[t]
    )
    spent = 0.0
    with VideoReader(clip) as reader:
        rotation = reader.info.rotation
        for entry in reader:
            if not isinstance(entry, DecodedFrame) or entry.frame is None or not by_frame.get(entry.index):
                continue
            frame, regions = entry.frame, by_frame[entry.index]
            start = time.thread_time()
            if supported(frame):
                writer.seal_planes(entry.index, entry.pts, frame, regions, rotation=rotation, shapes=lambda _k: shape)
            else:
                view = rotate_view(to_rgb(frame), rotation)
                writer.seal(entry.index, entry.pts, view, regions, shapes=lambda _k: shape)
            spent += time.thread_time() - start
    start = time.thread_time()
    writer.finish(output_sha256="0" * 64, time_base=None)
    spent += time.thread_time() - start
    facts = {"seal_cpu_s": round(spent, 3), "regions": writer.regions, "segments": writer.blocks}
    vault.unlink()
    return facts


def exact_reveal(clip: Path, vault: Path, track: str, revealed: Path) -> dict[str, int]:
    """Frames of ``track`` whose sealed pixels (its box, or the ellipse in it) in the lossless
    ``revealed`` file equal the decoded ``clip`` pixel for pixel, and how many the track has.
    Pixels that another region also masks are left out: the reveal keeps them masked by design."""
    from gamyeon.media.decode import DecodedFrame, VideoReader, to_rgb
    from gamyeon.media.geometry import rotate_view
    from gamyeon.vault.format import VaultFile

    boxes: dict[int, Any] = {}
    others: dict[int, list[Any]] = {}
    with VaultFile(vault) as opened:
        for r in opened.regions():
            if r.track == track:
                boxes[r.frame] = r
            else:
                others.setdefault(r.frame, []).append(r)
    equal = 0
    with VideoReader(clip) as original, VideoReader(revealed) as restored:
        turns = original.info.rotation
        pairs = zip(
            (e for e in original if isinstance(e, DecodedFrame)),
            (e for e in restored if isinstance(e, DecodedFrame)),
            strict=False,
        )
        for a, back in pairs:
            if a.index not in boxes or a.frame is None or back.frame is None:
                continue
            x1, y1, x2, y2 = boxes[a.index].box
            inside = boxes[a.index].inside()
            keep = np.ones((y2 - y1, x2 - x1), bool) if inside is None else inside.copy()
            for other in others.get(a.index, []):
                o1, p1, o2, p2 = other.box
                c1, r1, c2, r2 = max(o1, x1), max(p1, y1), min(o2, x2), min(p2, y2)
                if c2 <= c1 or r2 <= r1:
                    continue
                covered = other.inside()  # None: their whole box is masked
                theirs = True if covered is None else covered[r1 - p1 : r2 - p1, c1 - o1 : c2 - o1]
                keep[r1 - y1 : r2 - y1, c1 - x1 : c2 - x1] &= ~np.asarray(theirs)
            want = rotate_view(to_rgb(a.frame), turns)[y1:y2, x1:x2][keep]
            equal += bool(np.array_equal(rotate_view(to_rgb(back.frame), turns)[y1:y2, x1:x2][keep], want))
    return {"frames": len(boxes), "exact": equal}


def _measure(
    name: str, clip: Path, frames: int, b: Any, key: Path, out: Path, extra: tuple[str, ...] = ()
) -> dict[str, Any] | None:
    plain, sealed = out / f"{name}.plain.mp4", out / f"{name}.sealed.mp4"
    times: dict[str, list[float]] = {"plain": [], "sealed": []}
    cpu: dict[str, list[float]] = {"plain": [], "sealed": []}
    for rep in range(b.repeat):
        mp = _anonymize(clip, plain, b.env, out / "logs" / f"{name}.plain.{rep}.log", *extra)
        ms = _anonymize(clip, sealed, b.env, out / "logs" / f"{name}.sealed.{rep}.log", "--seal", str(key), *extra)
        if mp is None or ms is None:
            return None
        times["plain"].append(mp.wall_s)
        times["sealed"].append(ms.wall_s)
        cpu["plain"].append(mp.cpu_s)
        cpu["sealed"].append(ms.cpu_s)
    vault = Path(f"{sealed}.vault")
    cost = seal_cpu(clip, Path(f"{sealed}.regions.jsonl"), key, out, ellipse="ellipse" in extra)
    track = _biggest_track(sealed, b.env)
    reveal: dict[str, float | None] = {"default": None, "lossless": None}
    reveal_cpu: dict[str, float | None] = {"default": None, "lossless": None}
    exact: dict[str, int] | None = None
    if track is not None:
        for mode, target, flags in (
            ("default", out / f"{name}.rev.mp4", []),
            ("lossless", out / f"{name}.rev.mkv", ["--lossless"]),
        ):
            target.unlink(missing_ok=True)
            why = ["--purpose", "benchmark", "--authority", "none"]
            command = [
                str(GAMYEON),
                "reveal",
                str(sealed),
                "--key",
                str(key),
                "--track",
                track,
                *why,
                "-o",
                str(target),
                "-q",
            ]
            command += flags
            m = procs.run_measured(command, out / "logs" / f"{name}.reveal.{mode}.log", env=b.env)
            reveal[mode] = m.wall_s if m.returncode == 0 else None
            reveal_cpu[mode] = m.cpu_s if m.returncode == 0 else None
            if mode == "lossless" and m.returncode == 0:
                exact = exact_reveal(clip, vault, track, target)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "frames": frames,
        "median_s": {k: round(v, 3) for k, v in med.items()},
        "median_cpu_s": {k: round(statistics.median(v), 3) for k, v in cpu.items()},
        "seal_over_plain": round(med["sealed"] / med["plain"], 3),
        **cost,
        "video_bytes": sealed.stat().st_size,
        "vault_bytes": vault.stat().st_size,
        "vault_over_video": round(vault.stat().st_size / sealed.stat().st_size, 3),
        "reveal_s": {k: None if v is None else round(v, 3) for k, v in reveal.items()},
        "reveal_cpu_s": {k: None if v is None else round(v, 3) for k, v in reveal_cpu.items()},
        "lossless_exact": exact,
    }


def _exact(found: dict[str, int] | None) -> str:
    return "-" if found is None else f"{found['exact']} / {found['frames']}"


def section_vault(b: Any) -> None:
    out = b.out / "vault"
    (out / "logs").mkdir(parents=True, exist_ok=True)
    env = dict(b.env)
    env["GAMYEON_LEDGER"] = str(out / "ledger.sqlite")
    b.env = env
    key = out / "bench.key"
    if not key.exists():
        subprocess.run([str(GAMYEON), "keys", "new", str(key), "-q"], check=True, env=env, capture_output=True)
    frames = 150 if b.quick else 750
    demo = clips.synthetic_clip(b.out / "clips", frames, 960, 540)
    inputs: list[tuple[str, Path, int, tuple[str, ...]]] = [
        ("demo 960x540", demo, frames, ()),
        ("demo-ellipse 960x540 --shape ellipse", demo, frames, ("--shape", "ellipse")),
    ]
    dev = b.dev / "videos"
    for name in DEV_VIDEOS:
        if (dev / name).exists() and not b.quick:
            inputs.append((name, dev / name, 0, ()))
    rows, raw = [], {}
    for label, clip, n, extra in inputs:
        fig = _measure(label.split()[0], clip, n, b, key, out, extra)
        raw[label] = fig
        if fig is None:
            rows.append([label, None, None, None, None, None, None, None, None, "error", None, None])
            continue
        rows.append(
            [
                label,
                fmt(fig["median_s"]["plain"], 1),
                fmt(fig["median_s"]["sealed"], 1),
                fmt(fig["seal_over_plain"], 2),
                f"{fmt(fig['median_cpu_s']['plain'], 1)} / {fmt(fig['median_cpu_s']['sealed'], 1)}",
                f"{fmt(fig['seal_cpu_s'], 1)} ({fig['segments']} / {fig['regions']})",
                f"{fig['video_bytes'] / 2**20:.1f}",
                f"{fig['vault_bytes'] / 2**20:.1f}",
                fmt(fig["vault_over_video"], 2),
                f"{fmt(fig['reveal_s']['default'], 1)} / {fmt(fig['reveal_s']['lossless'], 1)}",
                f"{fmt(fig['reveal_cpu_s']['default'], 1)} / {fmt(fig['reveal_cpu_s']['lossless'], 1)}",
                _exact(fig["lossless_exact"]),
            ]
        )
    b.results["vault"] = raw
    b.emit("## Vault (anonymize --seal, reveal one track)\n")
    b.emit(
        table(
            [
                "input",
                "plain s",
                "sealed s",
                "sealed / plain",
                "CPU s (plain / sealed)",
                "seal CPU s (segments / regions)",
                "video MiB",
                "vault MiB",
                "vault / video",
                "reveal s (h264 / lossless)",
                "reveal CPU s (h264 / lossless)",
                "exact frames (lossless)",
            ],
            rows,
        )
    )
    b.emit(
        f"\nMedian of {b.repeat} run(s) of `anonymize --kinds faces` with and without `--seal`, "
        "wall-clock with start-up, and the CPU seconds of those processes. "
        "Seal CPU: the same regions sealed again in-process from the decoded clip, CPU seconds of the sealing "
        "alone (copying the samples, coding, encrypting, writing). "
        "The vault holds each track's original pixels in segments of up to 64 frames, each coded as one lossless "
        "stream (4:2:0 samples with x264 at qp 0; RGB with FFV1) and encrypted with AES-256-GCM under its "
        "track's key; the target on the demo clip is a vault at most 3x the video. "
        "The demo clip runs twice: with the default box-shaped masks, and with `--shape ellipse`, of which only "
        "the ellipses are sealed. "
        "The reveal restores the track with the most frames; exact frames: those of its frames whose sealed pixels "
        "(the box, or the ellipse in it) in the `--lossless` output equal the decoded input pixel for pixel "
        "(where no other region masks them).\n"
    )
