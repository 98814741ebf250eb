"""``gamyeon verify``: measure what an anonymized output still leaks (issue #4).

A residual scan with face detectors independent of the masking one, an identity attack with
dlib's face recognition, and a self-contained HTML + JSON report; see README "Verify".
"""

from __future__ import annotations

from gamyeon.verify.api import verify
from gamyeon.verify.result import FaceCheck, FileResult, FrameCheck, VerifyOptions, VerifyResult

__all__ = ["FaceCheck", "FileResult", "FrameCheck", "VerifyOptions", "VerifyResult", "verify"]
