"""gamyeon (가면, "mask"): pseudonymize CCTV, dashcam, body-cam and drone footage for AI training.

The public API is imported on first use (``gamyeon.infra.lazy``), so that importing any one module
of the package does not load the detectors, the verifier and their native libraries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gamyeon.about import __version__
from gamyeon.infra.lazy import exports

if TYPE_CHECKING:
    from gamyeon.api import anonymize
    from gamyeon.options import Options
    from gamyeon.policy import KindPolicy, Policy, load_policy
    from gamyeon.types import Box, Region, Source, Summary
    from gamyeon.verify import VerifyOptions, VerifyResult, verify
else:
    # ``verify`` names both a subpackage and the public function. Importing the subpackage binds
    # it as an attribute here, which would hide the function from ``__getattr__`` whenever one of
    # its submodules was imported first; so it is imported now (its ``__init__`` is lazy too, hence
    # cheap) and that binding dropped, for ``__getattr__`` to serve the function.
    from gamyeon import verify as _verify_package

    del verify, _verify_package
    __getattr__, __dir__ = exports(
        __name__,
        {
            "anonymize": "gamyeon.api",
            "Options": "gamyeon.options",
            "KindPolicy": "gamyeon.policy",
            "Policy": "gamyeon.policy",
            "load_policy": "gamyeon.policy",
            "Box": "gamyeon.types",
            "Region": "gamyeon.types",
            "Source": "gamyeon.types",
            "Summary": "gamyeon.types",
            "VerifyOptions": "gamyeon.verify",
            "VerifyResult": "gamyeon.verify",
            "verify": "gamyeon.verify",
        },
    )

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
