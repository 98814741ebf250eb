"""Which ONNX Runtime execution provider sessions use, and the override for it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image

from conftest import env_without_home_keys, face_picture
from gamyeon.detect import centerface, onnx, text
from gamyeon.errors import ModelError

GPU_BUILD = ["CUDAExecutionProvider", "CPUExecutionProvider"]


def test_auto_prefers_the_gpu_and_keeps_the_cpu_last(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(onnx.PROVIDER_ENV, raising=False)
    monkeypatch.setattr(onnx.ort, "get_available_providers", lambda: GPU_BUILD)
    assert onnx.providers() == GPU_BUILD
    assert onnx.on_accelerator()
    monkeypatch.setattr(onnx.ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert onnx.providers() == ["CPUExecutionProvider"]
    assert not onnx.on_accelerator()


def test_the_override_can_keep_a_gpu_machine_on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx.ort, "get_available_providers", lambda: GPU_BUILD)
    monkeypatch.setenv(onnx.PROVIDER_ENV, "CPU")
    assert onnx.providers() == ["CPUExecutionProvider"]
    monkeypatch.setenv(onnx.PROVIDER_ENV, "cuda")
    assert onnx.providers() == GPU_BUILD


def test_asking_for_a_provider_this_runtime_lacks_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx.ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    monkeypatch.setenv(onnx.PROVIDER_ENV, "cuda")
    with pytest.raises(ModelError, match="onnxruntime-gpu"):
        onnx.providers()
    monkeypatch.setenv(onnx.PROVIDER_ENV, "tpu")
    with pytest.raises(ModelError, match="expected auto"):
        onnx.providers()


def test_the_cli_reports_a_missing_gpu_in_one_line(tmp_path: Path) -> None:
    if "CUDAExecutionProvider" in onnx.ort.get_available_providers():
        pytest.skip("this ONNX Runtime has CUDA")
    picture = tmp_path / "in.png"
    Image.fromarray(face_picture(0, 320, 240)).save(picture)
    env = env_without_home_keys(tmp_path) | {onnx.PROVIDER_ENV: "cuda"}
    proc = subprocess.run(
        [sys.executable, "-m", "gamyeon.cli", "anonymize", str(picture), "-o", str(tmp_path / "out.png"), "-q"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "GAMYEON_PROVIDER=cuda" in proc.stderr
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("network", [centerface, text], ids=["centerface", "text"])
def test_auto_precision_is_int8_for_video_on_a_vnni_cpu_only(
    monkeypatch: pytest.MonkeyPatch, network: ModuleType
) -> None:
    default_model_path, model_path = network.default_model_path, network.model_path
    fp32, int8 = default_model_path("fp32"), default_model_path("int8")
    assert fp32.is_file() and int8.is_file() and fp32 != int8
    for precision in ("fp32", "int8"):
        for video in (True, False):
            assert model_path(None, precision, video) == default_model_path(precision)
    own = Path("/models/own.onnx")
    assert model_path(own, "auto", True) == model_path(own, "auto", False) == own
    assert model_path(None, "auto", video=False) == fp32
    monkeypatch.delenv(onnx.PROVIDER_ENV, raising=False)
    monkeypatch.setattr(onnx, "has_vnni", lambda: True)
    monkeypatch.setattr(onnx.ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert model_path(None, "auto", video=True) == int8
    # on a GPU provider the int8 graph would be slower: auto keeps the float network
    monkeypatch.setattr(onnx.ort, "get_available_providers", lambda: GPU_BUILD)
    assert model_path(None, "auto", video=True) == fp32
    # without VNNI the int8 kernels may saturate: auto keeps the float network
    monkeypatch.setattr(onnx.ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    monkeypatch.setattr(onnx, "has_vnni", lambda: False)
    assert model_path(None, "auto", video=True) == fp32
