"""gamyeon (가면, "mask"): pseudonymize CCTV, dashcam, body-cam and drone footage for AI training."""

from __future__ import annotations

from gamyeon.about import __version__
from gamyeon.api import anonymize
from gamyeon.options import Options
from gamyeon.policy import KindPolicy, Policy, load_policy
from gamyeon.types import Box, Region, Source, Summary
from gamyeon.verify import VerifyOptions, VerifyResult, verify

__all__ = [
    "Box",
    "KindPolicy",
    "Options",
    "Policy",
    "Region",
    "Source",
    "Summary",
    "VerifyOptions",
    "VerifyResult",
    "__version__",
    "anonymize",
    "load_policy",
    "verify",
]
