"""ONNX Runtime session creation shared by every model wrapper.

The CUDA execution provider is used when onnxruntime-gpu provides it; otherwise the CPU provider.
``$GAMYEON_PROVIDER`` (``auto``, ``cpu``, ``cuda``, ``coreml``) overrides the choice: a machine
with a GPU may keep it for other work, and asking for a GPU that ONNX Runtime cannot use must
fail loudly rather than run on the CPU at a tenth of the expected speed.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import onnxruntime as ort

from gamyeon.errors import ModelError
from gamyeon.types import Array

log = logging.getLogger(__name__)

PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "CoreMLExecutionProvider", "CPUExecutionProvider")
PROVIDER_ENV = "GAMYEON_PROVIDER"
PROVIDER_NAMES = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "coreml": "CoreMLExecutionProvider"}


def providers() -> list[str]:
    """The execution providers to open sessions with, best first (the CPU always last, so an
    operator a GPU provider lacks still runs)."""
    available = ort.get_available_providers()
    wanted = os.environ.get(PROVIDER_ENV, "").strip().lower() or "auto"
    if wanted == "auto":
        chosen = [p for p in PREFERRED_PROVIDERS if p in available]
        return chosen or ["CPUExecutionProvider"]
    name = PROVIDER_NAMES.get(wanted)
    if name is None:
        raise ModelError(f"{PROVIDER_ENV}={wanted}: expected auto, {', '.join(PROVIDER_NAMES)}")
    if name not in available:
        hint = " (install onnxruntime-gpu in place of onnxruntime)" if wanted == "cuda" else ""
        raise ModelError(f"{PROVIDER_ENV}={wanted}: this ONNX Runtime offers only {', '.join(available)}{hint}")
    return [name] if name == "CPUExecutionProvider" else [name, "CPUExecutionProvider"]


def on_accelerator() -> bool:
    """Whether sessions run on a GPU/NPU provider rather than the CPU."""
    return providers()[0] != "CPUExecutionProvider"


@functools.cache
def has_vnni() -> bool:
    """Whether this is an x86-64 CPU with VNNI (AVX512-VNNI or AVX-VNNI), from ``/proc/cpuinfo``.

    ONNX Runtime's int8 convolutions multiply uint8 by int8. With VNNI that is exact; with AVX2
    alone the intermediate 16-bit sums can saturate, so an int8 network may lose precision there.
    Where this cannot be told (no ``/proc/cpuinfo``: macOS, Windows), the answer is no.
    """
    try:
        return vnni_in(Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return False


def vnni_in(cpuinfo: str) -> bool:
    """Whether a ``/proc/cpuinfo`` text lists a VNNI flag (x86 only: ARM lists "Features")."""
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return bool({"avx512_vnni", "avx_vnni"} & set(line.partition(":")[2].split()))
    return False


#: ``--face-precision``, ``--text-precision``, ``--person-precision``: which bundled copy of a network
PRECISIONS = ("auto", "fp32", "int8")


def bundled_path(files: Mapping[str, str], precision: str) -> Path:
    """The bundled model file ``files`` names for ``precision`` (``fp32`` or ``int8``)."""
    return Path(str(resources.files("gamyeon.models").joinpath(files[precision])))


def precision_for(precision: str, video: bool) -> str:
    """``precision`` with ``auto`` resolved: int8 for video on an x86-64 CPU with VNNI and no GPU
    provider (where the int8 graphs were measured to pay), float for still images and elsewhere."""
    if precision != "auto":
        return precision
    return "int8" if video and has_vnni() and not on_accelerator() else "fp32"


def chosen_path(files: Mapping[str, str], own: Path | None, precision: str, video: bool) -> Path:
    """The network file for video (``video``) or still images: ``own`` (the user's ``--*-model``)
    when given, for both; else the bundled copy of ``files`` that ``precision`` selects there
    (``precision_for``)."""
    if own is not None:
        return own
    return bundled_path(files, precision_for(precision, video))


def session(path: Path, threads: int | None = None) -> ort.InferenceSession:
    """Open ``path`` with all graph optimisations and the best available provider."""
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # Spinning worker threads burn the cores the video decoder and encoder need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    env_threads = os.environ.get("GAMYEON_THREADS")
    if threads is None and env_threads:
        threads = int(env_threads)
    if threads:
        options.intra_op_num_threads = threads
    try:
        sess = ort.InferenceSession(str(path), options, providers=providers())
    except Exception as err:  # noqa: BLE001 - onnxruntime raises its own non-exported exception types
        raise ModelError(f"cannot load model {path}: {err}") from None
    log.debug("loaded %s on %s", path.name, sess.get_providers()[0])
    return sess


def nchw(images: Sequence[Array], scale: float = 1.0) -> Array:
    """Same-size H x W x 3 uint8 images as one C-contiguous float32 N x 3 x H x W blob, times
    ``scale``. Converting the transposed view in one pass is ~10x faster than converting first
    and making the transposed result contiguous (2.3 ms against 0.2 ms per 512 x 288 image)."""
    blob = np.stack(images).transpose(0, 3, 1, 2).astype(np.float32, order="C")
    if scale != 1.0:
        np.multiply(blob, np.float32(scale), out=blob)
    return blob
