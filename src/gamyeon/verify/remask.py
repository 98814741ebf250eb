"""The parrot attacker's own masked pictures: gamyeon run in-process on copies of the originals.

The parrot attacker knows the operator: he anonymizes his own gallery with the same policy and
compares masked faces with masked faces. His gallery is anonymized in a run of his own, so with
his own key: where the policy perturbs masks with a secret seed (pixelate's grid offset and
noise), his masks of a face differ from the controller's, as they would in reality. Comparing
the output's masked faces with other frames of the SAME output instead would measure only that a
track keeps one mask from frame to frame (which the annotations' track ids disclose anyway).

Pictures are written as PNG under neutral names (the masks must not depend on file names; lossless
files keep JPEG re-compression out of what is measured) and anonymized in one call of the public
``gamyeon.anonymize`` into a temporary folder, with a throw-away key and ledger, so nothing of the
test lands in the controller's records.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2

from gamyeon.errors import UsageError
from gamyeon.options import Options, Processing
from gamyeon.types import Array


def write_png(picture: Array, path: Path) -> None:
    """``picture`` (RGB) as a PNG."""
    if not cv2.imwrite(str(path), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)):
        raise UsageError(f"cannot write {path}")


def anonymize_folder(source: Path, options: Options | None, work: Path, key: Path | None = None) -> Path:
    """Anonymize every picture of ``source`` with ``options`` (None: gamyeon's defaults) and the
    attacker's ``key`` (None: a fresh one; never the controller's) into a new folder under
    ``work``; returns that folder (same file names)."""
    from gamyeon.api import anonymize
    from gamyeon.keys import MasterKey, write_key

    output = work / "masked"
    if key is None:
        key = work / "attacker.key"
        write_key(MasterKey.generate(), key)
    run = dataclasses.replace(
        options or Options(),
        quiet=True,
        key_file=key,
        annotations=None,
        exports=(),
        seal_key=None,
        vault=None,
        processing=Processing(ledger=str(work / "ledger.sqlite")),
    )
    anonymize([source], output, run)
    return output
