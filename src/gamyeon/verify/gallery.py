"""``verify --gallery DIR``: a release test of the masking POLICY on a controller's own
identity-labelled photos.

Footage alone rarely holds enough people, seen often enough, to show that an attacker does no
better than chance (two identities can never reach a 1 % significance). A gallery of labelled
photos can: verify anonymizes every photo with the same policy as the output (in-process, see
``remask.py``), locates the face on the original (dlib's
HOG detector upsampled once, the largest face; MTCNN when HOG finds none) and runs the closed-set
leave-one-out attacks of ``shared/eval/reid_attack.py`` (``attack.gallery_attack``): originals
against the other originals (calibration), masked against the other originals (plain), and masked
against the other masked photos (parrot).

Layout: one folder per person (``DIR/alice/1.jpg``), or flat files with ``identities.json``
beside them: ``{"identity": {"file.jpg": "alice", ...}}``.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

import numpy as np

from gamyeon.errors import InputNotFoundError, UsageError
from gamyeon.infra.files import is_image
from gamyeon.media.images import load_image, upright_view
from gamyeon.options import Options
from gamyeon.types import Array, Box
from gamyeon.verify.attack import IdentityAttack, gallery_attack
from gamyeon.verify.remask import anonymize_folder, write_png
from gamyeon.verify.scan import Verifier

log = logging.getLogger(__name__)

LABELS = "identities.json"


def read_gallery(folder: Path) -> list[tuple[Path, str]]:
    """``(photo, identity)`` pairs of ``folder``; a one-line ``GamyeonError`` when unusable."""
    if not folder.is_dir():
        raise InputNotFoundError(f"--gallery: not a folder: {folder}")
    labels = folder / LABELS
    photos: list[tuple[Path, str]] = []
    if labels.is_file():
        try:
            table = json.loads(labels.read_text(encoding="utf-8"))["identity"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise UsageError(f'--gallery: {labels} must hold {{"identity": {{file: id}}}} ({err})') from None
        if not isinstance(table, dict):
            raise UsageError(f'--gallery: {labels} must hold {{"identity": {{file: id}}}}')
        for name, identity in sorted(table.items()):
            path = folder / str(name)
            if not path.is_file():
                raise InputNotFoundError(f"--gallery: {path} is listed in {labels} but missing")
            photos.append((path, str(identity)))
    else:
        for person in sorted(p for p in folder.iterdir() if p.is_dir()):
            photos += [(f, person.name) for f in sorted(person.iterdir()) if f.is_file() and is_image(f)]
    if len({identity for _, identity in photos}) < 2:
        raise UsageError(f"--gallery: {folder} needs photos of two or more people (one folder per person, or {LABELS})")
    return photos


def _picture(path: Path) -> Array:
    image = load_image(path)
    return np.ascontiguousarray(upright_view(image.pixels, image.orientation))


def _largest_face(verifier: Verifier, picture: Array) -> Box | None:
    """The largest face dlib's HOG finds (upsampled once, as ``reid_attack.py``), else MTCNN's."""
    boxes = [box for box, _ in verifier.faces.hog(picture, upsample=1)]
    if not boxes:
        boxes = [box for box, _ in verifier.faces.cnn(picture)]
    return max(boxes, key=lambda b: b.area) if boxes else None


def gallery_test(verifier: Verifier, folder: Path, options: Options | None, alpha: float) -> IdentityAttack:
    """The three leave-one-out attacks on ``folder``'s photos anonymized with ``options``."""
    photos = read_gallery(folder)
    pictures = [_picture(photo) for photo, _ in photos]
    with tempfile.TemporaryDirectory(prefix="gamyeon-verify-gallery-") as tmp:
        source = Path(tmp) / "in"
        source.mkdir()
        for i, picture in enumerate(pictures):
            write_png(picture, source / f"{i:04d}.png")
        masked_dir = anonymize_folder(source, options, Path(tmp))
        masked_paths = [masked_dir / f"{i:04d}.png" for i in range(len(pictures))]
        labels: list[str] = []
        originals: list[Array] = []
        masked: list[Array] = []
        for (photo, identity), picture, anon in zip(photos, pictures, masked_paths, strict=True):
            box = _largest_face(verifier, picture)
            if box is None:
                log.info("gallery: no face found in %s, left out", photo)
                continue
            output = _picture(anon)
            if output.shape != picture.shape:
                raise UsageError(f"--gallery: anonymizing {photo} changed its size")
            labels.append(identity)
            originals.append(verifier.embedder.descriptors(picture, [box])[0])
            masked.append(verifier.embedder.descriptors(output, [box])[0])
    log.info("gallery: %d photo(s) of %d people with a face", len(labels), len(set(labels)))
    if not labels:
        raise UsageError(f"--gallery: no face found in any photo of {folder}")
    return gallery_attack(labels, np.stack(originals), np.stack(masked), alpha)
