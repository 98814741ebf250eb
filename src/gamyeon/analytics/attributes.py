"""Per-track attributes: the extension point for classifiers such as mask wearing.

No mask-wearing classifier ships here: the PyPI packages that carry weights (face-mask-detector,
detect-mask) hold a TensorFlow 2.2 HDF5 model or a fastai pickle trained on faces with pasted-on
masks of unstated origin, neither of which loads on this project's runtime nor comes with the
provenance its models must have. A classifier also has to see the unmasked face, so it belongs
upstream, where the original frame still exists: it writes a per-region ``attributes`` object into
the sidecar (``{"mask_worn": 0.93}``), and an ``AttributeHook`` here sums it up per track.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from gamyeon.analytics.records import AttributeValue, FrameRecord, Observation


class AttributeHook(Protocol):
    """Collects one attribute per track while frames go by; ``value`` is what the track's
    summary reports (None: nothing seen for it)."""

    name: str

    def observe(self, frame: FrameRecord, observation: Observation) -> None: ...

    def value(self, track: str) -> AttributeValue | None: ...


#: makes a fresh hook per source (hooks keep state per track)
HookFactory = Callable[[], AttributeHook]


class MeanAttribute:
    """The mean of a numeric per-region attribute of the sidecar over a track's observations
    (e.g. the share of frames a classifier saw a mask)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._sums: dict[str, tuple[float, int]] = {}

    def observe(self, frame: FrameRecord, observation: Observation) -> None:
        for key, value in observation.attributes:
            if key == self.name and isinstance(value, int | float):
                total, count = self._sums.get(observation.track, (0.0, 0))
                self._sums[observation.track] = (total + float(value), count + 1)

    def value(self, track: str) -> AttributeValue | None:
        total, count = self._sums.get(track, (0.0, 0))
        return round(total / count, 4) if count else None


def mean_of(name: str) -> HookFactory:
    """A factory of ``MeanAttribute(name)`` hooks, for ``Settings.hooks``."""
    return lambda: MeanAttribute(name)
