"""Copy the PP-OCRv6 text *detection* model out of PyPI's ``rapidocr`` 3.10.0 into
``src/gamyeon/models/ppocrv6_det_small.onnx``, with its license texts.

Why a committed copy instead of depending on rapidocr: gamyeon needs only the detection network
(a DB text-region segmenter; it never recognises or stores text) and runs it with its own
post-processing on ONNX Runtime. rapidocr itself pulls in omegaconf, shapely, pyclipper, requests
and more, and would ship the recognition model that gamyeon must never run. The file is copied
byte for byte (no conversion); its sha256 is the one rapidocr publishes in
``rapidocr/default_models.yaml`` and ``MODEL_LICENSES.md``.

usage: python tools/extract_ppocr_det.py [--wheel-dir DIR]     (needs only pip)
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import tempfile
import zipfile
from pathlib import Path

from wheels import fetch_wheel

log = logging.getLogger("extract_ppocr_det")

PACKAGE = "rapidocr==3.10.0"
WHEEL = "rapidocr-3.10.0-py3-none-any.whl"
WHEEL_SHA256 = "2fc34e26cd0f48514804a94f8832283039c7334076bff60768b1fed9ad068050"
MODEL = "rapidocr/models/PP-OCRv6_det_small.onnx"
MODEL_SHA256 = "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f"
LICENSES = ("rapidocr-3.10.0.dist-info/licenses/LICENSE", "rapidocr-3.10.0.dist-info/licenses/MODEL_LICENSES.md")
MODELS = Path(__file__).resolve().parents[1] / "src" / "gamyeon" / "models"
OUT = MODELS / "ppocrv6_det_small.onnx"
LICENSE_OUT = MODELS / "LICENSE.ppocr.txt"


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel-dir", type=Path, default=None, help="folder holding (or to receive) the wheel")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = fetch_wheel(PACKAGE, WHEEL, WHEEL_SHA256, args.wheel_dir or Path(tmp))
        with zipfile.ZipFile(wheel) as zf:
            model = zf.read(MODEL)
            texts = [zf.read(name).decode("utf-8") for name in LICENSES]
    digest = hashlib.sha256(model).hexdigest()
    if digest != MODEL_SHA256:
        raise SystemExit(f"unexpected model sha256 {digest}, expected {MODEL_SHA256}")
    OUT.write_bytes(model)
    header = (
        "ppocrv6_det_small.onnx is rapidocr 3.10.0's PP-OCRv6_det_small.onnx, copied unchanged.\n"
        "Below: rapidocr's LICENSE (Apache-2.0) and its MODEL_LICENSES.md (attribution of the\n"
        "PaddleOCR model weights, (c) Baidu / PaddleOCR rights holders, Apache-2.0).\n\n"
    )
    LICENSE_OUT.write_text(header + "\n\n".join(texts), encoding="utf-8")
    log.info("wrote %s sha256=%s and %s", OUT, digest, LICENSE_OUT)


if __name__ == "__main__":
    main()
