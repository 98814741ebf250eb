"""Metadata policy: stripped by default; when kept, location is still always removed.

Location keys differ by container and vendor (QuickTime ``location``/ISO6709, Android
``location``, EXIF GPS IFD), so anything whose key mentions GPS or location is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping

_LOCATION_WORDS = ("gps", "location", "iso6709", "geo", "latitude", "longitude", "xyz")


def is_location_key(key: str) -> bool:
    low = key.lower()
    return any(word in low for word in _LOCATION_WORDS)


def without_location(metadata: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in metadata.items() if not is_location_key(k)}
