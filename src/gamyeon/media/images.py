"""Still images with Pillow: read as RGB in the stored pixel layout, write back in the same layout.

Detection must see the image upright, but the output keeps the stored layout (so its pixels line
up with the input's) and the EXIF Orientation tag, which is the only EXIF kept by default: without
it the image would display rotated. ``--keep-metadata`` keeps the rest of EXIF and the ICC profile
but never the GPS IFD; XMP is dropped because it can carry location too.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from gamyeon.errors import CorruptInputError, InputNotFoundError, InputUnreadableError, OutputError, UsageError
from gamyeon.types import Array

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
ORIENTATION_TAG = 0x0112
GPS_IFD_TAG = 0x8825
EXIF_IFD_TAG = 0x8769
INTEROP_IFD_TAG = 0xA005  # inside the Exif IFD; only says which EXIF rule set is used
#: TIFF tags that describe the source's pixel data (size, strips, tiles, compression, thumbnail
#: offsets). A TIFF's EXIF is its own IFD0, so copying these would make the writer describe the
#: new pixels with the old layout: a scrambled picture.
LAYOUT_TAGS = frozenset(
    {
        0x00FE,
        0x0100,
        0x0101,
        0x0102,
        0x0103,
        0x0106,
        0x010A,
        0x0111,
        0x0115,
        0x0116,
        0x0117,
        0x011C,
        0x013D,
        0x0142,
        0x0143,
        0x0144,
        0x0145,
        0x0152,
        0x0153,
        0x0201,
        0x0202,
        0x0212,
    }
)
MAX_PIXELS = 400_000_000  # ~20000 x 20000; Pillow's bomb check stops far below that otherwise

Image.MAX_IMAGE_PIXELS = MAX_PIXELS


@dataclass(slots=True)
class LoadedImage:
    pixels: Array  # H x W x 3 uint8 RGB, stored layout (not rotated)
    orientation: int  # EXIF orientation 1..8
    exif: Image.Exif
    icc_profile: bytes | None
    format: str | None


def load_image(path: Path) -> LoadedImage:
    if not path.exists():
        raise InputNotFoundError(f"input not found: {path}")
    if not os.access(path, os.R_OK):
        raise InputUnreadableError(f"cannot read input (permission denied): {path}")
    if path.stat().st_size == 0:
        raise CorruptInputError(f"input is empty (0 bytes): {path}")
    try:
        with Image.open(path) as img:
            img.load()
            exif = img.getexif()
            icc = img.info.get("icc_profile")
            rgb = img.convert("RGB")
            fmt = img.format
    except UnidentifiedImageError:
        raise CorruptInputError(f"not a readable image: {path}") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise CorruptInputError(f"cannot decode image {path}: {err}") from None
    orientation = int(exif.get(ORIENTATION_TAG, 1) or 1)
    if orientation not in range(1, 9):
        orientation = 1
    return LoadedImage(np.array(rgb), orientation, exif, icc if isinstance(icc, bytes) else None, fmt)


def upright_view(pixels: Array, orientation: int) -> Array:
    """A view of ``pixels`` as displayed under EXIF ``orientation`` (no copy).

    Writing into the view writes the stored pixels, so operators can work upright while the
    output keeps the stored layout.
    """
    views: dict[int, Callable[[Array], Array]] = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: np.rot90(a, 1)[::-1],
        8: lambda a: np.rot90(a, 1),
    }
    return views[orientation](pixels)


def save_image(pixels: Array, path: Path, suffix: str, source: LoadedImage, keep_metadata: bool) -> None:
    """Write ``pixels`` to ``path`` in the format implied by ``suffix``."""
    img = Image.fromarray(pixels, mode="RGB")
    exif = Image.Exif()
    if keep_metadata:
        for tag, value in source.exif.items():
            if tag == EXIF_IFD_TAG:
                # A pointer: its value is an offset into the source file, which Pillow cannot
                # follow from a new Exif (AttributeError on every camera JPEG). Copy the contents.
                exif.get_ifd(EXIF_IFD_TAG).update(
                    (k, v) for k, v in source.exif.get_ifd(EXIF_IFD_TAG).items() if k != INTEROP_IFD_TAG
                )
            elif tag != GPS_IFD_TAG and tag not in LAYOUT_TAGS:
                exif[tag] = value
    if source.orientation != 1:
        exif[ORIENTATION_TAG] = source.orientation
    kwargs: dict[str, object] = {}
    if len(exif):
        kwargs["exif"] = exif.tobytes()
    if keep_metadata and source.icc_profile:
        kwargs["icc_profile"] = source.icc_profile
    fmt = {
        ".jpg": "JPEG",
        ".jpeg": "JPEG",
        ".png": "PNG",
        ".webp": "WEBP",
        ".bmp": "BMP",
        ".tif": "TIFF",
        ".tiff": "TIFF",
    }.get(suffix)
    if fmt is None:
        raise UsageError(f"unsupported image output extension {suffix!r}; expected one of {sorted(IMAGE_SUFFIXES)}")
    if fmt == "JPEG":
        kwargs.update(quality=95, subsampling=0)
    elif fmt == "WEBP":
        kwargs.update(quality=95)
    elif fmt == "BMP":
        kwargs.pop("exif", None)
    try:
        img.save(path, format=fmt, **kwargs)
    except OSError as err:
        raise OutputError(f"cannot write image {path}: {err}") from None
