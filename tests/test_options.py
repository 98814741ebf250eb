"""Options: the settings a batch's resume digest is made of."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from gamyeon.batch.tasks import settings_digest
from gamyeon.options import NOT_IN_OUTPUT, Options


def test_every_field_is_in_the_output_settings_or_declared_outside_them() -> None:
    names = {f.name for f in dataclasses.fields(Options)}
    assert names >= NOT_IN_OUTPUT, "NOT_IN_OUTPUT names a field Options does not have"
    assert set(Options().output_settings()) == names - NOT_IN_OUTPUT


@pytest.mark.parametrize(
    "change",
    [
        {"kinds": ("face",)},
        {"small_faces": "never"},
        {"face_precision": "fp32"},
        {"text_precision": "int8"},
        {"silhouette_model": Path("/models/seg.onnx")},
        {"exports": ("coco",)},
        {"keep_audio": True},
    ],
)
def test_a_setting_that_changes_the_output_changes_the_digest(change: dict[str, object]) -> None:
    assert settings_digest(dataclasses.replace(Options(), **change)) != settings_digest(Options())


@pytest.mark.parametrize("change", [{"quiet": True}, {"key_file": Path("/keys/a.key")}, {"vault": Path("/v")}])
def test_where_files_go_and_which_key_leave_the_digest_alone(change: dict[str, object]) -> None:
    assert settings_digest(dataclasses.replace(Options(), **change)) == settings_digest(Options())
