"""Look under one mask: a reviewer reveals one region of one frame, with the key, for a purpose.

It is ``gamyeon reveal`` restricted to one region, through the vault's own functions: the key
must be the vault's, the vault must authenticate and belong to exactly this output, and
``vault.reveal.reveal`` restores the one track into a lossless file in a private temporary
folder. The region is cut from that frame and the file shredded at once; the ``reveal`` record
(purpose, authority, reviewer, track, frame, key fingerprint) is written before the picture is
handed back, so no revealed pixel leaves without its record. Nothing is cached: the picture goes
to the page once, marked ``no-store``.

Restoring a track re-encodes the whole output (``reveal`` works on whole files); on long outputs
a reveal takes as long as ``gamyeon reveal`` does.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from gamyeon.errors import GamyeonError, UsageError
from gamyeon.infra.files import shred
from gamyeon.keys import parse_key
from gamyeon.ledger.records import file_facts
from gamyeon.ledger.store import Ledger
from gamyeon.media.decode import DecodedFrame, VideoReader, to_rgb
from gamyeon.media.geometry import rotate_view
from gamyeon.review.files import OutputFiles
from gamyeon.review.sidecar import Sidecar
from gamyeon.types import Array
from gamyeon.vault.reveal import open_vault, reveal


def _frame(video: Path, index: int) -> Array:
    with VideoReader(video) as reader:
        rotation = reader.info.rotation
        for entry in reader:
            if isinstance(entry, DecodedFrame) and entry.index == index:
                if entry.frame is None:
                    break
                return np.ascontiguousarray(rotate_view(to_rgb(entry.frame), rotation))
    raise GamyeonError(f"frame {index} of the revealed file could not be decoded")


def reveal_region(
    files: OutputFiles,
    live: Sidecar,
    *,
    key_text: str,
    passphrase: str | None,
    track: str,
    frame: int,
    purpose: str,
    authority: str,
    reviewer: str,
    ledger: str | None,
    dataset_id: str | None,
) -> bytes:
    """The original pixels of ``track``'s region on ``frame`` (PNG), recorded in the ledger."""
    if not key_text.strip():
        raise UsageError("a reveal needs the key (the key file the output was sealed with)")
    if not purpose.strip() or not authority.strip():
        raise UsageError("a reveal needs its purpose and authority")
    if not reviewer.strip():
        raise UsageError("a reveal needs the reviewer's name")
    if not files.vault.is_file():
        raise UsageError(f"{files.name} has no vault ({files.vault.name}): its originals were not sealed")
    if not 0 <= frame < len(live.frames):
        raise UsageError(f"no frame {frame}")
    notes = [r for r in live.frames[frame].regions if r.track == track]
    if not notes:
        raise UsageError(f"track {track} has no region on frame {frame}")
    key = parse_key(key_text, Path("the key given"), passphrase or "")
    x1, y1, x2, y2 = (int(v) for v in notes[0].mask)
    with Ledger(ledger) as book, open_vault(files.vault, key) as vault:
        folder = Path(tempfile.mkdtemp(prefix="gamyeon-reveal-"))
        out = folder / "revealed.mkv"
        try:
            result = reveal(
                files.video, vault, key, [track], out, suffix=".mkv", lossless=True, progress=lambda _n: None
            )
            picture = _frame(out, frame)
        finally:
            if out.exists():
                shred(out)
            with contextlib.suppress(OSError):
                folder.rmdir()
        crop = picture[max(0, y1) : y2, max(0, x1) : x2]
        buf = io.BytesIO()
        Image.fromarray(crop).save(buf, format="PNG")
        book.append(
            "reveal",
            {
                "via": "review",
                "tracks": result.tracks,
                "frame": frame,
                "box": [x1, y1, x2, y2],
                "purpose": purpose,
                "authority": authority,
                "recipient": reviewer,
                "reviewer": reviewer,
                "anonymized": file_facts(files.video, sha256=result.anonymized_sha256),
                "vault": {"path": str(files.vault.resolve()), "vault_id": result.vault_id},
                "output": None,
                "regions_revealed": 1,
                "key_fingerprint": key.fingerprint,
            },
            dataset_id or result.dataset_id,
        )
    return buf.getvalue()
