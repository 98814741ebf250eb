"""Zones: named polygons from a TOML or GeoJSON file, in image pixels or in metres on the ground.

TOML::

    units = "image"            # or "metres" (needs --homography)
    [[zone]]
    name = "entrance"
    polygon = [[40, 200], [180, 200], [180, 350], [40, 350]]

GeoJSON: a FeatureCollection of Polygon or MultiPolygon features, each with ``properties.name``;
``units`` as a top-level member (GeoJSON's own coordinates are longitude/latitude, which CCTV
frames have none of: here they are pixels or metres). Geometry is shapely's: invalid polygons
(self-intersecting, fewer than three corners) are refused with shapely's explanation. A point on
a zone's border counts as inside.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from gamyeon.analytics.plane import Points, read_table
from gamyeon.errors import UsageError

IMAGE = "image"
METRES = "metres"
UNITS = (IMAGE, METRES)


@dataclass(frozen=True, slots=True)
class Zone:
    name: str
    geometry: BaseGeometry

    def contains(self, points: Points) -> npt.NDArray[np.bool_]:
        """Which of ``points`` (N x 2) lie in the zone or on its border."""
        if len(points) == 0:
            return np.zeros(0, dtype=bool)
        return np.asarray(shapely.intersects_xy(self.geometry, points[:, 0], points[:, 1]), dtype=bool)

    def shifted(self, dx: float, dy: float) -> Zone:
        """The zone moved by ``(dx, dy)``."""
        return Zone(self.name, shapely.transform(self.geometry, lambda xy: xy + np.array([dx, dy])))

    @property
    def outline(self) -> list[list[tuple[float, float]]]:
        """The exterior rings, for plots."""
        geom = self.geometry
        polys = list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom] if isinstance(geom, Polygon) else []
        return [[(float(x), float(y)) for x, y in p.exterior.coords] for p in polys]


@dataclass(frozen=True, slots=True)
class Zones:
    """The zones of one file and the units their coordinates are in."""

    zones: tuple[Zone, ...] = ()
    units: str = IMAGE

    def __post_init__(self) -> None:
        names = [z.name for z in self.zones]
        if len(set(names)) != len(names):
            raise UsageError(f"zones: each zone needs its own name, got {names}")
        if self.units not in UNITS:
            raise UsageError(f"zones: units must be one of {list(UNITS)}, got {self.units!r}")

    @property
    def names(self) -> list[str]:
        return [z.name for z in self.zones]


def _polygon(name: str, value: Any) -> BaseGeometry:
    try:
        geom = Polygon(value) if not isinstance(value, BaseGeometry) else value
    except (TypeError, ValueError, AttributeError, shapely.errors.ShapelyError) as err:
        raise UsageError(f"zone {name!r}: not a polygon of [x, y] corners ({err})") from None
    if not isinstance(geom, Polygon | MultiPolygon) or geom.is_empty:
        raise UsageError(f"zone {name!r}: expected a Polygon or MultiPolygon, got {geom.geom_type}")
    if not geom.is_valid:
        raise UsageError(f"zone {name!r}: invalid polygon ({explain_validity(geom)})")
    shapely.prepare(geom)
    return geom


def _from_toml(data: dict[str, Any]) -> Zones:
    entries = data.get("zone")
    if not isinstance(entries, list) or not entries:
        raise UsageError("zones file: expected one or more [[zone]] tables with name and polygon")
    zones = []
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or "polygon" not in entry:
            raise UsageError(f"zones file: zone {i} needs a name and a polygon")
        zones.append(Zone(entry["name"], _polygon(entry["name"], entry["polygon"])))
    return Zones(tuple(zones), str(data.get("units", IMAGE)))


def _from_geojson(data: dict[str, Any]) -> Zones:
    features = data.get("features") if data.get("type") == "FeatureCollection" else [data]
    if not isinstance(features, list) or not features:
        raise UsageError("zones file: expected a GeoJSON FeatureCollection with Polygon features")
    zones = []
    for i, feature in enumerate(features, start=1):
        props = feature.get("properties") if isinstance(feature, dict) else None
        name = props.get("name") if isinstance(props, dict) else None
        if not isinstance(name, str) or not isinstance(feature, dict) or not isinstance(feature.get("geometry"), dict):
            raise UsageError(f"zones file: feature {i} needs a geometry and properties.name")
        try:
            geom = shape(feature["geometry"])
        except (TypeError, ValueError, AttributeError, KeyError, IndexError, shapely.errors.ShapelyError) as err:
            raise UsageError(f"zone {name!r}: unreadable GeoJSON geometry ({err})") from None
        zones.append(Zone(name, _polygon(name, geom)))
    return Zones(tuple(zones), str(data.get("units", IMAGE)))


def load_zones(path: Path | None) -> Zones:
    """The zones of ``--zones FILE`` (``.toml``, or ``.json``/``.geojson``); none without a file."""
    if path is None:
        return Zones()
    data = read_table(path, "zones")
    return _from_geojson(data) if path.suffix.lower() in {".json", ".geojson"} else _from_toml(data)
