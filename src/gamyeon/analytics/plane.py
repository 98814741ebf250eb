"""The plane distances and metre zones are measured in: image pixels, or the ground in metres
through a homography the user gives from four image points and where they lie on the ground.

A person's position is the bottom centre of the box (``Observation.ground``): the point on the
ground plane, which a homography maps to metres; the box centre would be a metre or so above the
ground and land at the wrong place on the plane.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from gamyeon.errors import InputNotFoundError, UsageError

Points = npt.NDArray[np.float64]

PIXELS = "px"
METRES = "m"


@dataclass(frozen=True, slots=True)
class Plane:
    """Image pixels (``matrix`` None) or the ground in metres (``matrix``: image -> metres)."""

    matrix: tuple[tuple[float, ...], ...] | None = None

    @property
    def units(self) -> str:
        return PIXELS if self.matrix is None else METRES

    @classmethod
    def from_points(cls, image: Any, ground: Any) -> Plane:
        """The homography that takes four image points (pixels) to four ground points (metres),
        with OpenCV's ``getPerspectiveTransform``; refused when three points are collinear."""
        src, dst = _four(image, "image"), _four(ground, "ground")
        for name, pts in (("image", src), ("ground", dst)):
            for i in range(4):
                a, b, c = (pts[j] for j in range(4) if j != i)
                if abs(float(np.cross(b - a, c - a))) < 1e-9 * max(1.0, float(np.abs(pts).max()) ** 2):
                    raise UsageError(f"homography: three of the four {name} points lie on one line")
        matrix = cv2.getPerspectiveTransform(src.astype(np.float32), dst.astype(np.float32))
        return cls(tuple(tuple(float(v) for v in row) for row in matrix))

    def project(self, points: Points) -> Points:
        """``points`` (N x 2, image pixels) in this plane."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if self.matrix is None or len(pts) == 0:
            return pts
        out = cv2.perspectiveTransform(pts.reshape(-1, 1, 2), np.array(self.matrix, dtype=np.float64))
        return np.asarray(out, dtype=np.float64).reshape(-1, 2)

    def unproject(self, points: Points) -> Points:
        """``points`` (N x 2) of this plane back in image pixels."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if self.matrix is None or len(pts) == 0:
            return pts
        inverse = np.linalg.inv(np.array(self.matrix, dtype=np.float64))
        out = cv2.perspectiveTransform(pts.reshape(-1, 1, 2), inverse)
        return np.asarray(out, dtype=np.float64).reshape(-1, 2)


def _four(value: Any, name: str) -> Points:
    try:
        pts = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise UsageError(f"homography: '{name}' must be four [x, y] points") from None
    if pts.shape != (4, 2) or not np.isfinite(pts).all():
        raise UsageError(f"homography: '{name}' must be four [x, y] points, got shape {pts.shape}")
    return pts


def load_plane(path: Path | None) -> Plane:
    """The plane of ``--homography FILE`` (TOML or JSON with ``image`` and ``ground``: four points
    each), or image pixels when no file is given."""
    if path is None:
        return Plane()
    data = read_table(path, "homography")
    if "image" not in data or "ground" not in data:
        raise UsageError(f"homography file {path}: needs 'image' (4 pixel points) and 'ground' (4 points in metres)")
    return Plane.from_points(data["image"], data["ground"])


def read_table(path: Path, what: str) -> dict[str, Any]:
    """A TOML or JSON file as a table (by extension: ``.json``/``.geojson`` are JSON)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputNotFoundError(f"{what} file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"cannot read {what} file {path}: {err}") from None
    try:
        data = json.loads(text) if path.suffix.lower() in {".json", ".geojson"} else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as err:
        raise UsageError(
            f"{what} file {path} is not valid {path.suffix.lstrip('.').upper() or 'TOML'}: {err}"
        ) from None
    if not isinstance(data, dict):
        raise UsageError(f"{what} file {path}: expected a table/object at the top")
    return data
