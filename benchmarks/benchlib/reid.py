"""The ``reid`` section: can a face-recognition attacker still say *who* is in a masked photo?

Two measurements, for the default policy and for ``--operator fill``, ``blur`` and ``pixelate``:

1. ``reid_attack.py`` (the black-box scorer in ``--eval-scripts``) on the dev identity photos:
   closed-set rank-1 of each masked photo against the other originals ("plain"), against the
   other photos masked the same way ("parrot": the attacker knows the operator), and chance.
   With 14 photos of 5 people one photo is 7 points: the binomial standard error at chance is
   reported beside each figure.
2. The same attack on an *augmented* set built here, in the bench's output folder (never in the
   repository): every dev identity photo rescaled, cropped, mirrored and re-lit ``AUGMENTED``
   times with a fixed seed, masked by one ``gamyeon anonymize FOLDER`` run, and scored with the
   same dlib descriptor. Gallery and probe then may share a source photo, which no real
   attacker's gallery does, so rank-1 is reported two ways: *other sources* (the gallery holds
   only photos taken from other originals: the honest figure, ~5x more probes but still only 14
   source photos, so the spread between photos is not reduced) and *any source* (an augmented
   copy of the probe's own photo is in the gallery: the attacker has the very photo from
   elsewhere -- a harder test).

dlib and face_recognition_models (the verify extra) must be installed in the benchmark's Python.
"""

from __future__ import annotations

import json
import logging
import math
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchlib.report import fmt, table

log = logging.getLogger(__name__)

#: the policy before the head outline, the shifted grid and the block noise (faces: centred 1.3
#: scale; every mosaic's grid at the mask's corner, no noise), as a policy file: the "before" row
LEGACY_POLICY = """[kinds.face]
mask_scale = 1.3
[kinds.face.outline]
top = 0
sides = 0
bottom = 0
[kinds.face.params]
shift = false
noise = 0.0
[kinds.head.params]
shift = false
noise = 0.0
[kinds.person.params]
blocks = 8
shift = false
"""
LEGACY = "before (1.3 box, fixed grid)"
#: the policies compared: name -> extra ``gamyeon anonymize`` arguments ({legacy}: LEGACY_POLICY's path)
VARIANTS: dict[str, tuple[str, ...]] = {
    LEGACY: ("--policy", "{legacy}"),
    "default": (),
    "fill": ("--operator", "fill"),
    "blur": ("--operator", "blur"),
    "pixelate": ("--operator", "pixelate"),
}
#: augmented copies per dev identity photo
AUGMENTED = 4
SEED = 20261203


@dataclass(frozen=True, slots=True)
class Rank1:
    probes: int
    plain: float
    parrot: float
    chance: float

    @property
    def se(self) -> float:
        """Binomial standard error of a rank-1 rate at chance over ``probes`` probes."""
        return math.sqrt(self.chance * (1.0 - self.chance) / self.probes) if self.probes else math.nan

    def as_dict(self) -> dict[str, float | int]:
        return {
            "probes": self.probes,
            "plain": self.plain,
            "parrot": self.parrot,
            "chance": self.chance,
            "se": self.se,
        }


class Attacker:
    """dlib HOG to find the face on the original, the 5-point ResNet descriptor at that place
    (as ``reid_attack.py`` does)."""

    def __init__(self) -> None:
        import dlib
        import face_recognition_models as frm

        self.detector = dlib.get_frontal_face_detector()
        self.shape = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
        self.encoder = dlib.face_recognition_model_v1(frm.face_recognition_model_location())

    def face(self, image: np.ndarray[Any, Any]) -> Any | None:
        found = self.detector(image, 1)
        return max(found, key=lambda r: r.width() * r.height()) if found else None

    def descriptor(self, image: np.ndarray[Any, Any], rect: Any) -> np.ndarray[Any, Any]:
        return np.asarray(self.encoder.compute_face_descriptor(image, self.shape(image, rect)))


def load_rgb(path: Path) -> np.ndarray[Any, Any]:
    from PIL import Image

    with Image.open(path) as image:
        return np.ascontiguousarray(np.asarray(image.convert("RGB")))


def augment(image: np.ndarray[Any, Any], rect: Any, rng: np.random.Generator) -> np.ndarray[Any, Any]:
    """One random variant: scaled 0.45-1x, cropped keeping a face width around the face, mirrored
    half the time, gain 0.8-1.2 and offset +-15 grey levels."""
    import cv2

    scale = rng.uniform(0.45, 1.0)
    height, width = image.shape[:2]
    image = cv2.resize(
        image, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA
    )
    height, width = image.shape[:2]
    left, top = rect.left() * scale, rect.top() * scale
    right, bottom = rect.right() * scale, rect.bottom() * scale
    margin = (right - left) * 1.0
    x1 = int(rng.uniform(0, max(0.0, left - margin)))
    y1 = int(rng.uniform(0, max(0.0, top - margin)))
    x2 = width - int(rng.uniform(0, max(0.0, width - right - margin)))
    y2 = height - int(rng.uniform(0, max(0.0, height - bottom - margin)))
    image = image[y1:y2, x1:x2]
    if rng.random() < 0.5:
        image = image[:, ::-1]
    gain, offset = rng.uniform(0.8, 1.2), rng.uniform(-15.0, 15.0)
    return np.ascontiguousarray(np.clip(image.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8))


def build_augmented(ident_dir: Path, dest: Path, per_photo: int, seed: int = SEED) -> dict[str, dict[str, str]]:
    """Write ``per_photo`` augmented PNGs of every labelled photo of ``ident_dir`` into ``dest``;
    returns {file: {"identity", "source"}} (also written to ``dest``/labels.json)."""
    from PIL import Image

    ids: dict[str, str] = json.loads((ident_dir / "identities.json").read_text(encoding="utf-8"))["identity"]
    attacker = Attacker()
    dest.mkdir(parents=True, exist_ok=True)
    labels: dict[str, dict[str, str]] = {}
    for index, name in enumerate(sorted(ids)):
        image = load_rgb(ident_dir / name)
        rect = attacker.face(image)
        if rect is None:
            continue
        rng = np.random.default_rng([seed, index])
        for k in range(per_photo):
            out = f"{Path(name).stem}.aug{k}.png"
            Image.fromarray(augment(image, rect, rng)).save(dest / out)
            labels[out] = {"identity": ids[name], "source": name}
    (dest / "labels.json").write_text(json.dumps(labels, indent=1), encoding="utf-8")
    return labels


def rank1(
    probes: np.ndarray[Any, Any], gallery: np.ndarray[Any, Any], ids: list[str], sources: list[str] | None
) -> tuple[float, float]:
    """(rank-1, chance) leaving out each probe itself and, with ``sources``, every gallery photo
    made from the probe's source photo."""
    label = np.asarray(ids)
    hits, chance, n = 0, 0.0, 0
    for i in range(len(ids)):
        keep = [j for j in range(len(ids)) if j != i and (sources is None or sources[j] != sources[i])]
        if not keep:
            continue
        dist = np.linalg.norm(gallery[keep] - probes[i], axis=1)
        hits += int(label[keep][int(np.argmin(dist))] == label[i])
        chance += float(np.mean(label[keep] == label[i]))
        n += 1
    return (hits / n, chance / n) if n else (math.nan, math.nan)


def score_augmented(folder: Path, masked: Path, labels: dict[str, dict[str, str]]) -> dict[str, Rank1]:
    """Rank-1 of the masked copies in ``masked`` (same names as ``folder``) against the
    originals (plain) and against each other (parrot), for other sources and any source."""
    attacker = Attacker()
    names, originals, anonymized = [], [], []
    for name in sorted(labels):
        image = load_rgb(folder / name)
        rect = attacker.face(image)
        out_path = masked / name
        if rect is None or not out_path.exists():
            continue
        out = load_rgb(out_path)
        if out.shape != image.shape:
            raise RuntimeError(f"{name}: the masked copy changed size")
        names.append(name)
        originals.append(attacker.descriptor(image, rect))
        anonymized.append(attacker.descriptor(out, rect))
    orig, anon = np.asarray(originals), np.asarray(anonymized)
    ids = [labels[n]["identity"] for n in names]
    sources = [labels[n]["source"] for n in names]
    result = {}
    for key, src in (("other_sources", sources), ("any_source", None)):
        plain, chance = rank1(anon, orig, ids, src)
        parrot, _ = rank1(anon, anon, ids, src)
        result[key] = Rank1(len(names), plain, parrot, chance)
    return result


def run_reid_attack(
    python: Path, script: Path, ident_dir: Path, tool: str, work: Path, env: dict[str, str]
) -> Rank1 | None:
    """``reid_attack.py`` on ``ident_dir`` with the shell template ``tool``; None if it failed."""
    out = work / "result.json"
    out.unlink(missing_ok=True)
    argv = [str(python), str(script), str(ident_dir), tool, "--work", str(work), "--json", str(out)]
    log.info("eval: %s", shlex.join(argv))
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    (work / "reid_attack.log").write_text(f"$ {shlex.join(argv)}\n{proc.stdout}\n{proc.stderr}", encoding="utf-8")
    if proc.returncode != 0 or not out.exists():
        log.warning("reid_attack failed (exit %d): %s", proc.returncode, proc.stdout[-300:] + proc.stderr[-300:])
        return None
    data = json.loads(out.read_text(encoding="utf-8"))
    return Rank1(
        int(data["photos"]),
        float(data["rank1_anonymized_vs_originals"]),
        float(data["rank1_parrot"]),
        float(data["chance"]),
    )


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name).strip("-")


def _row(name: str, r: Rank1 | None) -> list[object]:
    if r is None:
        return [name, "failed", "", "", "", ""]
    return [name, r.probes, fmt(r.plain, 3), fmt(r.parrot, 3), fmt(r.chance, 3), fmt(r.se, 3)]


def section(b: Any, python: Path, gamyeon: Path) -> None:
    """Plain and parrot rank-1 per policy on the dev identities, then on the augmented set."""
    ident = b.dev / "identities"
    script = b.eval_scripts / "reid_attack.py"
    figures: dict[str, Any] = {
        "variants": {name: list(args) for name, args in VARIANTS.items()},
        "legacy_policy": LEGACY_POLICY,
    }
    b.results["reid"] = figures
    b.emit("\n## Re-identification: plain and parrot attacks\n")
    if not (ident / "identities.json").exists() or not script.exists():
        b.emit(f"Skipped: {ident} or {script} not found.\n")
        figures["skipped"] = True
        return
    out = b.out / "reid"
    out.mkdir(parents=True, exist_ok=True)
    legacy = out / "legacy-policy.toml"
    legacy.write_text(LEGACY_POLICY, encoding="utf-8")
    variants = {name: tuple(str(legacy) if a == "{legacy}" else a for a in args) for name, args in VARIANTS.items()}
    head = ["policy", "photos", "rank-1 vs originals", "parrot rank-1", "chance", "SE at chance"]
    dev: dict[str, Rank1 | None] = {}
    for name, extra in variants.items():
        work = out / "dev" / slug(name)
        work.mkdir(parents=True, exist_ok=True)
        tool = " ".join([shlex.quote(str(gamyeon)), "anonymize", "{in}", "-o", "{out}", "-q", *map(shlex.quote, extra)])
        dev[name] = run_reid_attack(python, script, ident, tool, work, b.env)
    figures["dev"] = {k: (v.as_dict() if v else None) for k, v in dev.items()}
    b.emit(
        "Dev identity photos, `reid_attack.py IDENT 'gamyeon anonymize {in} -o {out} -q [--operator OP]'`: "
        "dlib ResNet descriptors at the original face's place; *parrot*: the gallery is masked the "
        "same way. SE: binomial standard error at chance (one photo moves a rate by 1/photos).\n"
    )
    b.emit(table(head, [_row(k, v) for k, v in dev.items()]))

    per_photo = 2 if b.quick else AUGMENTED
    folder = out / "augmented" / "in"
    labels = build_augmented(ident, folder, per_photo)
    augmented: dict[str, dict[str, Rank1] | None] = {}
    for name, extra in variants.items():
        masked = out / "augmented" / slug(name)
        masked.mkdir(parents=True, exist_ok=True)
        argv = [str(gamyeon), "anonymize", str(folder), "-o", str(masked), "-q", *extra]
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, env=b.env)
        if proc.returncode != 0:
            log.warning("%s failed (exit %d): %s", shlex.join(argv), proc.returncode, proc.stderr[-300:])
            augmented[name] = None
            continue
        augmented[name] = score_augmented(folder, masked, labels)
    figures["augmented"] = {
        "per_photo": per_photo,
        "seed": SEED,
        **{k: ({kk: vv.as_dict() for kk, vv in v.items()} if v else None) for k, v in augmented.items()},
    }
    b.emit(
        f"\nAugmented dev identities ({per_photo} rescaled/cropped/mirrored/re-lit copies per photo, "
        f"seed {SEED}, one `gamyeon anonymize FOLDER -o OUT -q [--operator OP]` run). "
        "*Other sources*: the gallery excludes copies of the probe's own photo (the honest figure; "
        "still 14 source photos); *any source*: it includes them (the attacker holds the same photo).\n"
    )
    for key, title in (("other_sources", "other sources"), ("any_source", "any source")):
        rows = [_row(k, v[key] if v else None) for k, v in augmented.items()]
        b.emit(f"\n{title}:\n\n" + table(head, rows))
