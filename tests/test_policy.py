"""Policy loading (TOML), validation errors that name the bad value, CLI overrides, --kinds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gamyeon.errors import GamyeonError, PolicyError
from gamyeon.operators import Blur, Fill, Operator, Pixelate, Shape
from gamyeon.policy import KindPolicy, Policy, load_policy, parse_kinds, policy_from_mapping


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_relative_pixelation_of_faces() -> None:
    kp = Policy().for_kind("face")
    assert isinstance(kp.operator, Pixelate)
    assert kp.shape is Shape.BOX
    assert 1.0 <= kp.mask_scale <= 4.0 and 0.0 < kp.threshold < 1.0


@pytest.mark.parametrize(
    ("text", "operator", "params", "shape", "mask_scale", "threshold"),
    [
        (
            '[kinds.face]\noperator = "blur"\nshape = "ellipse"\nmask_scale = 1.6\nthreshold = 0.45\n'
            "[kinds.face.params]\nratio = 0.75\nmin_kernel = 51\n",
            Blur,
            {"ratio": 0.75, "min_kernel": 51},
            Shape.ELLIPSE,
            1.6,
            0.45,
        ),
        (
            '[kinds.face]\noperator = "fill"\n[kinds.face.params]\ncolor = [255, 128, 0]\n',
            Fill,
            {"color": [255, 128, 0]},
            Shape.BOX,
            None,
            None,
        ),
        (
            "[kinds.face]\nmask_scale = 2\n[kinds.face.params]\nblocks = 4\n",  # operator defaults to pixelate
            Pixelate,
            {"blocks": 4, "min_block": 4, "shift": True, "noise": 64.0},  # the rest kept from the defaults
            Shape.BOX,
            2.0,
            None,
        ),
        ("", Pixelate, {"blocks": 6, "min_block": 4, "shift": True, "noise": 64.0}, Shape.BOX, None, None),
    ],
)
def test_load_policy_from_toml(
    tmp_path: Path,
    text: str,
    operator: type[Operator],
    params: dict[str, object],
    shape: Shape,
    mask_scale: float | None,
    threshold: float | None,
) -> None:
    """``None`` in the table means "not in the file": the built-in default applies."""
    default = Policy().for_kind("face")
    kp = load_policy(write(tmp_path, text)).for_kind("face")
    assert type(kp.operator) is operator
    assert kp.operator.params() == params
    assert kp.shape is shape
    assert kp.mask_scale == pytest.approx(default.mask_scale if mask_scale is None else mask_scale)
    assert kp.threshold == pytest.approx(default.threshold if threshold is None else threshold)
    assert kp.describe()["operator"] == operator.name


def test_load_accepts_str_path(tmp_path: Path) -> None:
    path = write(tmp_path, '[kinds.face]\nshape = "ellipse"\n')
    assert load_policy(str(path)).for_kind("face").shape is Shape.ELLIPSE


@pytest.mark.parametrize(
    ("text", "error", "names"),
    [
        ('[kinds.face]\noperator = "sharpen"\n', PolicyError, "'sharpen'"),
        ("[kinds.face]\noperator = 3\n", PolicyError, "got 3"),
        ('[kinds.face]\noperator = "blur"\n[kinds.face.params]\nblocks = 6\n', PolicyError, "blocks"),
        ("[kinds.face.params]\nsigma = 2\n", PolicyError, "sigma"),
        ('[kinds.face]\nshape = "circle"\n', PolicyError, "'circle'"),
        ("[kinds.face]\nmask_scale = 5.0\n", PolicyError, "got 5.0"),
        ("[kinds.face]\nmask_scale = 0.5\n", PolicyError, "got 0.5"),
        ("[kinds.face]\nthreshold = 1.5\n", PolicyError, "got 1.5"),
        ("[kinds.face]\nthreshold = 0\n", PolicyError, "got 0.0"),
        ('[kinds.face]\nmask_scale = "big"\n', PolicyError, "mask_scale"),
        ("[kinds.face]\ncolour = 1\n", PolicyError, "colour"),
        ("[kinds]\nface = 3\n", PolicyError, "kinds.face"),
        ("[kind.face]\noperator = 'fill'\n", PolicyError, "kind"),
        ('[kinds.face]\noperator = "pixelate"\n[kinds.face.params]\nblocks = 0\n', PolicyError, "got 0"),
        ('[kinds.face]\noperator = "pixelate"\n[kinds.face.params]\nblocks = "six"\n', PolicyError, "pixelate"),
        ('[kinds.face]\noperator = "fill"\n[kinds.face.params]\ncolor = [0, 0, 300]\n', PolicyError, "300"),
        ('[kinds.face]\noperator = "blur"\n[kinds.face.params]\nratio = -1.0\n', PolicyError, "got -1.0"),
        ("[kinds.face.params]\nnoise = -3\n", PolicyError, "pixelate.noise: expected a number in 0..128, got -3"),
        (
            '[kinds.face.params]\nnoise = "lots"\n',
            PolicyError,
            "pixelate.noise: expected a number in 0..128, got 'lots'",
        ),
        ("[kinds.face.params]\nshift = 1\n", PolicyError, "pixelate.shift: expected true or false, got 1"),
        ("[kinds.face.outline]\ntop = 3.0\n", PolicyError, "kinds.face.outline.top: expected 0..2.0, got 3.0"),
        (
            '[kinds.face.outline]\nsides = "wide"\n',
            PolicyError,
            "kinds.face.outline.sides: expected a number, got 'wide'",
        ),
        ("[kinds.face.outline]\nleft = 0.2\n", PolicyError, "kinds.face.outline: unknown key(s) ['left']"),
        ("[kinds.face]\noutline = 0.5\n", PolicyError, "kinds.face.outline: expected a table, got float"),
        ("[kinds.face\noperator = ", PolicyError, "not valid TOML"),
        ('[kinds.face]\noperator = "fill"\noperator = "blur"\n', PolicyError, "not valid TOML"),
    ],
)
def test_invalid_policy_files(tmp_path: Path, text: str, error: type[Exception], names: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(error, match=re.escape(names)) as info:
        load_policy(path)
    assert isinstance(info.value, GamyeonError) and isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)  # the CLI prints it as one line


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "= nope")
    with pytest.raises(PolicyError, match=re.escape(str(path))):
        load_policy(path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(PolicyError, match=re.escape(str(path))):
        load_policy(path)


def test_unreadable_file_is_a_policy_error(tmp_path: Path) -> None:
    path = tmp_path / "binary.toml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(PolicyError, match=re.escape(str(path))):
        load_policy(path)


def test_directory_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=re.escape(str(tmp_path))):
        load_policy(tmp_path)


@pytest.mark.parametrize(
    ("overrides", "check"),
    [
        ({"operator": "fill"}, lambda kp: isinstance(kp.operator, Fill)),
        (
            {"operator": "blur", "shape": "ellipse"},
            lambda kp: isinstance(kp.operator, Blur) and kp.shape is Shape.ELLIPSE,
        ),
        ({"mask_scale": 2.5}, lambda kp: kp.mask_scale == 2.5),
        ({"threshold": 0.6}, lambda kp: kp.threshold == 0.6),
        ({}, lambda kp: kp == Policy().for_kind("face")),
    ],
)
def test_with_overrides(overrides: dict[str, object], check: object) -> None:
    kp = Policy().with_overrides(**overrides).for_kind("face")  # type: ignore[arg-type]
    assert check(kp)  # type: ignore[operator]


def test_override_with_the_same_operator_keeps_file_params(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, '[kinds.face]\noperator = "pixelate"\n[kinds.face.params]\nblocks = 3\n'))
    kp = policy.with_overrides(operator="pixelate", threshold=0.5).for_kind("face")
    assert kp.operator == Pixelate(blocks=3, noise=64.0)  # the noise kept from the default face policy
    assert kp.threshold == 0.5
    # a different operator starts from that operator's defaults
    assert policy.with_overrides(operator="blur").for_kind("face").operator == Blur()


def test_overrides_do_not_change_the_original() -> None:
    policy = Policy()
    before = policy.for_kind("face")
    policy.with_overrides(operator="fill", mask_scale=3.0)
    assert policy.for_kind("face") is before
    assert isinstance(before.operator, Pixelate) and before.mask_scale != 3.0


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"operator": "smudge"}, "'smudge'"),
        ({"shape": "triangle"}, "'triangle'"),
        ({"mask_scale": 9.0}, "9.0"),
        ({"threshold": 1.0}, "1.0"),
    ],
)
def test_invalid_overrides(overrides: dict[str, object], names: str) -> None:
    with pytest.raises(PolicyError, match=re.escape(names)):
        Policy().with_overrides(**overrides)  # type: ignore[arg-type]


def test_kind_policy_validates_directly() -> None:
    with pytest.raises(PolicyError, match=re.escape("got 4.5")):
        KindPolicy(operator=Fill(), mask_scale=4.5)


def test_for_unknown_kind_lists_known_kinds() -> None:
    with pytest.raises(PolicyError, match=r"'car'.*face.*head.*person.*plate.*text"):
        Policy().for_kind("car")


def test_policy_from_mapping_rejects_unknown_top_level_keys() -> None:
    with pytest.raises(PolicyError, match="faces"):
        policy_from_mapping({"faces": {}})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ("face", "head", "plate")),
        ("faces", ("face",)),
        (" faces , faces ", ("face",)),
        ("faces,", ("face",)),
        ("faces,persons,plates,text", ("face", "person", "plate", "text")),
        ("plates,heads", ("plate", "head")),
    ],
)
def test_parse_kinds(value: str | None, expected: tuple[str, ...]) -> None:
    assert parse_kinds(value) == expected


@pytest.mark.parametrize(
    ("value", "names"), [("cars", "'cars'"), ("faces,cars", "'cars'"), ("", "nothing"), (" , ", "nothing")]
)
def test_parse_kinds_rejects_unknown(value: str, names: str) -> None:
    with pytest.raises(PolicyError, match=re.escape(names)):
        parse_kinds(value)


def test_outline_from_toml_keeps_unnamed_sides(tmp_path: Path) -> None:
    default = Policy().for_kind("face").outline
    kp = load_policy(write(tmp_path, "[kinds.face.outline]\ntop = 0.8\n")).for_kind("face")
    assert kp.outline.top == 0.8
    assert (kp.outline.sides, kp.outline.bottom) == (default.sides, default.bottom)
    assert kp.describe()["outline"] == {
        "top": 0.8,
        "sides": default.sides,
        "bottom": default.bottom,
        "from_px": default.from_px,
        "full_px": default.full_px,
    }
    # a kind without an outline gets one from the file; zero turns the face's off
    head = load_policy(write(tmp_path, "[kinds.head.outline]\nsides = 0.1\n")).for_kind("head")
    assert head.outline.sides == 0.1 and head.outline.top == 0.0
    off = load_policy(write(tmp_path, "[kinds.face.outline]\ntop = 0\nsides = 0\nbottom = 0\n"))
    assert off.for_kind("face").outline.is_empty


def test_seeded_pixelate_params_from_toml(tmp_path: Path) -> None:
    kp = load_policy(write(tmp_path, "[kinds.face.params]\nshift = false\nnoise = 0\n")).for_kind("face")
    assert isinstance(kp.operator, Pixelate) and not kp.operator.seeded
