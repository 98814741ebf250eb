"""The registry of region kinds: one spec per kind and per detector (``spec``), the answers the
pipeline, the scheduler and the policy need (``registry``), and the built-in kinds (``builtin``).

Adding a kind: declare a ``DetectorSpec`` for its detector (unless an existing one finds it) and
a ``KindSpec`` (with its ``--person-mode`` choices, ``Mode``, if it has any), and register both in
``builtin.KINDS``; ``--kinds``, ``--person-mode``, the default policy, the detectors a run loads
and schedules, its trackers and its regions follow.
"""

from gamyeon.kinds.builtin import KINDS
from gamyeon.kinds.registry import KindRegistry
from gamyeon.kinds.spec import DetectorSpec, FrameEstimates, FramePass, KindSpec, Mode, VideoToken

__all__ = ["KINDS", "DetectorSpec", "FrameEstimates", "FramePass", "KindRegistry", "KindSpec", "Mode", "VideoToken"]
