"""``gamyeon verify``: measure what an anonymized output still leaks.

A residual scan with face detectors independent of the masking one, an identity attack with
dlib's face recognition, and a self-contained HTML + JSON report; see docs/verify.md. The public
names are imported on first use (``gamyeon.infra.lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gamyeon.infra.lazy import exports

if TYPE_CHECKING:
    from gamyeon.verify.api import verify
    from gamyeon.verify.result import FaceCheck, FileResult, FrameCheck, VerifyOptions, VerifyResult
else:
    __getattr__, __dir__ = exports(
        __name__,
        {
            "verify": "gamyeon.verify.api",
            **dict.fromkeys(
                ("FaceCheck", "FileResult", "FrameCheck", "VerifyOptions", "VerifyResult"), "gamyeon.verify.result"
            ),
        },
    )

__all__ = ["FaceCheck", "FileResult", "FrameCheck", "VerifyOptions", "VerifyResult", "verify"]
