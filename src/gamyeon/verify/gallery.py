"""``verify --gallery DIR``: a release test of the masking POLICY on a controller's own
identity-labelled photos.

Footage alone rarely holds enough people, seen often enough, to show that an attacker does no
better than chance (two identities can never reach a 1 % significance). A gallery of labelled
photos can: verify anonymizes every photo with the same policy as the output (in-process, through
the public ``gamyeon.anonymize``, into a temporary folder with a throw-away key and ledger, so
nothing of the test lands in the controller's records), locates the face on the original (dlib's
HOG detector upsampled once, the largest face; MTCNN when HOG finds none) and runs the closed-set
leave-one-out attacks of ``shared/eval/reid_attack.py`` (``attack.gallery_attack``): originals
against the other originals (calibration), masked against the other originals (plain), and masked
against the other masked photos (parrot).

Layout: one folder per person (``DIR/alice/1.jpg``), or flat files with ``identities.json``
beside them: ``{"identity": {"file.jpg": "alice", ...}}``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
from pathlib import Path

import cv2
import numpy as np

from gamyeon.errors import InputNotFoundError, UsageError
from gamyeon.files import is_image
from gamyeon.ledger.records import Processing
from gamyeon.media.images import load_image, upright_view
from gamyeon.options import Options
from gamyeon.types import Array, Box
from gamyeon.verify.attack import IdentityAttack, gallery_attack
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


def anonymize_photos(pictures: list[Array], options: Options | None, work: Path) -> list[Path]:
    """Anonymize ``pictures`` (upright RGB) with ``options`` (None: the defaults) into ``work``,
    in-process.

    Each picture is written as a PNG under a neutral name first (``0001.png``...): the masks must
    not depend on file names (two people's folders may hold the same name), and lossless files keep
    JPEG re-compression out of what is measured (``reid_attack.py`` writes PNG outputs too)."""
    from gamyeon.api import anonymize
    from gamyeon.keys import MasterKey, write_key

    source, output = work / "in", work / "out"
    source.mkdir()
    copies = []
    for i, picture in enumerate(pictures):
        copy = source / f"{i:04d}.png"
        if not cv2.imwrite(str(copy), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)):
            raise UsageError(f"--gallery: cannot write {copy}")
        copies.append(copy)
    key = work / "gallery.key"
    write_key(MasterKey.generate(), key)
    base = options or Options()
    run = dataclasses.replace(
        base,
        quiet=True,
        key_file=key,
        annotations=None,
        exports=(),
        seal_key=None,
        vault=None,
        processing=Processing(ledger=str(work / "ledger.sqlite")),
    )
    anonymize([source], output, run)
    return [output / copy.name for copy in copies]


def gallery_test(verifier: Verifier, folder: Path, options: Options | None, alpha: float) -> IdentityAttack:
    """The three leave-one-out attacks on ``folder``'s photos anonymized with ``options``."""
    photos = read_gallery(folder)
    pictures = [_picture(photo) for photo, _ in photos]
    with tempfile.TemporaryDirectory(prefix="gamyeon-verify-gallery-") as tmp:
        masked_paths = anonymize_photos(pictures, options, Path(tmp))
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
