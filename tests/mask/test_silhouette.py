"""Silhouette masks for persons (issue #5): the bundled segmentation network on a real photo, the
mask rules (dilation, head area, fail closed) as properties, policy and CLI parsing, and
``gamyeon anonymize --person-mode silhouette`` end to end.

Models are real: the bundled MediaPipe network, and tiny ONNX models built here with
``onnx.helper`` whose output depends on their input (red pixels are "person"), that return
nothing, NaN, or fail inside ONNX Runtime -- no mocks.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conftest import make_video
from gamyeon.cli import build_parser, main, options_from_args
from gamyeon.detect.persons import head_box
from gamyeon.detect.silhouette import SelfieSegmenter, default_model_path, load_segmenter
from gamyeon.errors import ModelError, PolicyError
from gamyeon.mask.apply import apply_regions
from gamyeon.mask.silhouette import DILATE_SIDE, MIN_HEIGHT, dilate, head_area, silhouette_mask
from gamyeon.operators import Fill, Pixelate, Shape
from gamyeon.policy import KindPolicy, Policy, load_policy, parse_kinds
from gamyeon.types import Box, Region, Source

onnx = pytest.importorskip("onnx")
skimage_data = pytest.importorskip("skimage.data")
helper = onnx.helper
TP = onnx.TensorProto
SIDE = 32


# ---------------------------------------------------------------- tiny segmentation models


def build(path: Path, kind: str) -> Path:
    """A selfie-segmentation-layout model ``[1, 32, 32, 3]`` -> ``[1, 32, 32, 1]``.

    ``red``: probability ~1 where the red channel is high and green is low (a red person on any
    other background), ~0 elsewhere; ``zeros``: nobody anywhere; ``nan``: NaN everywhere;
    ``broken``: a Gather with an index out of range, which ONNX Runtime only finds while running.
    """
    nodes = [helper.make_node("Split", ["input_1"], ["r", "g", "b"], axis=3)]
    inits = []
    if kind == "red":
        nodes += [
            helper.make_node("Sub", ["r", "g"], ["redness"]),
            helper.make_node("Sub", ["redness", "half"], ["centred"]),
            helper.make_node("Mul", ["centred", "gain"], ["logit"]),
            helper.make_node("Sigmoid", ["logit"], ["activation_10"]),
        ]
        inits += [helper.make_tensor("half", TP.FLOAT, [], [0.5]), helper.make_tensor("gain", TP.FLOAT, [], [40.0])]
    elif kind == "zeros":
        nodes.append(helper.make_node("Mul", ["r", "zero"], ["activation_10"]))
        inits.append(helper.make_tensor("zero", TP.FLOAT, [], [0.0]))
    elif kind == "nan":
        nodes += [helper.make_node("Sub", ["r", "r"], ["z"]), helper.make_node("Div", ["z", "z"], ["activation_10"])]
    elif kind == "broken":
        nodes.append(helper.make_node("Gather", ["r", "rows"], ["activation_10"], axis=1))
        inits.append(helper.make_tensor("rows", TP.INT64, [SIDE], [*range(SIDE - 1), 99]))
    else:
        raise ValueError(kind)
    graph = helper.make_graph(
        nodes,
        f"tiny_{kind}_segmenter",
        [helper.make_tensor_value_info("input_1", TP.FLOAT, [1, SIDE, SIDE, 3])],
        [helper.make_tensor_value_info("activation_10", TP.FLOAT, [1, SIDE, SIDE, 1])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SelfieSegmenter]:
    folder = tmp_path_factory.mktemp("segmenters")
    return {kind: SelfieSegmenter(build(folder / f"{kind}.onnx", kind)) for kind in ("red", "zeros", "nan", "broken")}


@pytest.fixture(scope="module")
def bundled() -> SelfieSegmenter:
    return load_segmenter()


# ---------------------------------------------------------------- the bundled network


def share(mask: npt.NDArray[np.bool_], area: Box, origin: tuple[int, int]) -> float:
    ox, oy = origin
    return float(mask[int(area.y1) - oy : int(area.y2) - oy, int(area.x1) - ox : int(area.x2) - ox].mean())


def test_bundled_model_is_shipped_and_cached() -> None:
    assert default_model_path().is_file()
    assert load_segmenter() is load_segmenter()


def test_segmenter_finds_the_astronaut(bundled: SelfieSegmenter) -> None:
    """``astronaut.png``: Eileen Collins in front of a grey backdrop, a flag on the left and a
    shuttle model on the right. Her box (x 20-360, the whole height) is 63 % person."""
    image = np.asarray(skimage_data.astronaut())
    before = image.copy()
    mask = bundled.segment(image, Box(20, 0, 360, 512))
    assert mask.shape == (512, 340) and mask.dtype == np.bool_
    assert np.array_equal(image, before)  # the picture is not touched
    origin = (20, 0)
    assert share(mask, Box(180, 50, 270, 140), origin) > 0.97  # face
    assert share(mask, Box(80, 280, 270, 480), origin) > 0.97  # suit
    assert share(mask, Box(160, 20, 290, 60), origin) > 0.6  # hair, against the backdrop
    assert share(mask, Box(70, 0, 150, 130), origin) < 0.03  # backdrop left of her head
    assert share(mask, Box(300, 20, 355, 150), origin) < 0.03  # backdrop right of her head
    assert 0.5 < mask.mean() < 0.75


def test_segmenter_on_a_small_person_crop(bundled: SelfieSegmenter) -> None:
    """The same picture at CCTV size, 64 x 64 (her box 43 x 64 px): the crop is magnified four
    times to the network's 256 px, and she is still found and the backdrop is not."""
    image = cv2.resize(np.asarray(skimage_data.astronaut()), (64, 64), interpolation=cv2.INTER_AREA)
    mask = bundled.segment(image, Box(2.5, 0, 45, 64))
    assert mask.shape == (64, 43)
    assert share(mask, Box(23, 7, 33, 17), (2, 0)) > 0.95  # face
    assert share(mask, Box(10, 35, 33, 60), (2, 0)) > 0.95  # suit
    assert share(mask, Box(9, 0, 18, 16), (2, 0)) < 0.05  # backdrop left of her head


def test_wrong_layout_is_a_model_error(tmp_path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "nchw",
        [helper.make_tensor_value_info("x", TP.FLOAT, [1, 3, SIDE, SIDE])],
        [helper.make_tensor_value_info("y", TP.FLOAT, [1, 3, SIDE, SIDE])],
    )
    path = tmp_path / "nchw.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), str(path))
    with pytest.raises(ModelError, match="selfie-segmentation layout"):
        SelfieSegmenter(path)
    with pytest.raises(ModelError, match="not found"):
        SelfieSegmenter(tmp_path / "missing.onnx")


# ---------------------------------------------------------------- mask rules


def person_region(box: Box, mask: Box | None = None) -> Region:
    return Region("person", box, mask or box.scaled(1.1), 0.9, 1, Source.DETECTED)


def street(width: int = 160, height: int = 160) -> npt.NDArray[np.uint8]:
    """A grey street with a red 'person' (30 x 90 px) at x 60-90, y 40-130."""
    frame = np.full((height, width, 3), 120, dtype=np.uint8)
    frame[40:130, 60:90] = (230, 20, 20)
    return frame


def test_silhouette_is_the_dilated_segmentation_plus_the_head(tiny: dict[str, SelfieSegmenter]) -> None:
    frame = street()
    region = person_region(Box(50, 35, 100, 135))  # a loose box around the red person
    inside = silhouette_mask(frame, region, tiny["red"])
    x1, y1, x2, y2 = region.mask.pixel_bounds(160, 160)
    assert inside.shape == (y2 - y1, x2 - x1)
    red = np.zeros((160, 160), dtype=bool)
    red[40:130, 60:90] = True
    got = np.zeros((160, 160), dtype=bool)
    got[y1:y2, x1:x2] = inside
    assert got[red].all()  # every person pixel
    # grown by ~8 % of the 100 px height around the person: 5-12 px beside it is covered...
    assert got[80, 60 - 5] and got[80, 89 + 5]
    # ...further out the street stays, except the head area
    assert not got[100, 60 - 12] and not got[100, 89 + 12] and not got[100, x1] and not got[100, x2 - 1]
    head = head_area(region.box, region.mask)  # clipped to the mask box, a little above the person box
    assert head.y1 < 35 < 57 < head.y2 and head.x1 < 60 < 90 < head.x2
    assert got[max(math.ceil(head.y1), y1) : math.floor(head.y2), math.ceil(head.x1) : math.floor(head.x2)].all()
    assert 0.45 < inside.mean() < 0.8  # a silhouette, not the box


@pytest.mark.parametrize("kind", ["zeros", "nan", "broken"])
def test_fails_closed_to_the_whole_box(tiny: dict[str, SelfieSegmenter], kind: str) -> None:
    """No person found, NaN, or ONNX Runtime raising while running: the whole mask box."""
    frame = street()
    region = person_region(Box(50, 35, 100, 135))
    if kind == "broken":
        with pytest.raises(Exception, match="out of"):  # the model really fails in ONNX Runtime
            tiny[kind].segment(frame, region.mask)
    assert silhouette_mask(frame, region, tiny[kind]).all()


def test_small_persons_get_the_whole_box(tiny: dict[str, SelfieSegmenter]) -> None:
    frame = street()
    small = person_region(Box(60, 40, 75, 40 + MIN_HEIGHT - 1))
    assert silhouette_mask(frame, small, tiny["red"]).all()


def test_persons_are_segmented_before_anything_is_masked(tiny: dict[str, SelfieSegmenter]) -> None:
    """apply_regions segments persons on the untouched frame: a region masked first (here a blue
    fill across the person's chest) must not punch a hole in the person's silhouette."""
    frame = street()
    policy = Policy(
        kinds={
            **Policy().kinds,
            "face": KindPolicy(Fill((0, 0, 255))),
            "person": KindPolicy(Fill((0, 255, 0)), Shape.SILHOUETTE),
        }
    )
    patch = Box(40, 70, 110, 100)
    face = Region("face", patch, patch, 0.9, 2, Source.DETECTED)
    person = person_region(Box(50, 35, 100, 135))
    apply_regions(frame, [face, person], policy, tiny["red"])
    assert (frame[40:130, 60:90] == (0, 255, 0)).all()  # the whole person, chest included
    assert (frame[100, 40] == 120).all()  # the street inside the person's box is kept
    assert (frame[70:100, 45] == (0, 0, 255)).all()  # the face fill away from the person


# ---------------------------------------------------------------- properties

colors = st.tuples(*(st.integers(0, 255),) * 3)


@st.composite
def scenes(draw: st.DrawFn) -> tuple[npt.NDArray[np.uint8], Region]:
    """A noisy frame (16-128 px) with a red person, and a person region: around the red person
    (jittered, possibly cut by the frame edge) or anywhere around the frame, with a mask box grown
    by any scale and margin."""
    width, height = draw(st.integers(16, 128)), draw(st.integers(16, 128))
    frame = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(0, 256, (height, width, 3), np.uint8)
    frame[..., 0] //= 2  # noise is never "red": the red person is the only one
    pw, ph = draw(st.integers(4, 30)), draw(st.integers(8, 110))
    px, py = draw(st.integers(-pw // 2, width - pw // 2)), draw(st.integers(-ph // 2, height - ph // 2))
    frame[max(py, 0) : max(py + ph, 0), max(px, 0) : max(px + pw, 0)] = (240, 10, 10)
    if draw(st.booleans()):
        jitter, wide = st.floats(-0.2, 0.2), draw(st.floats(1.2, 3.0))
        x1, y1 = px + pw * (draw(jitter) - (wide - 1.0) / 2.0), py + ph * draw(jitter)
        box = Box(x1, y1, x1 + pw * wide, y1 + ph * (1.0 + draw(jitter)))
    else:
        x1, y1 = draw(st.floats(-40, width)), draw(st.floats(-40, height))
        box = Box(x1, y1, x1 + draw(st.floats(0, 120)), y1 + draw(st.floats(0, 160)))
    mask = box.padded(draw(st.floats(0, 12)), draw(st.floats(0, 12))).scaled(draw(st.floats(1.0, 1.6)))
    return frame, Region("person", box.clipped(width, height), mask, 0.9, 1, Source.DETECTED)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scene=scenes(), which=st.sampled_from(["red", "red", "bundled", "zeros", "nan", "broken"]), color=colors)
def test_silhouette_masking_stays_in_the_box_and_covers_the_head(
    tiny: dict[str, SelfieSegmenter],
    bundled: SelfieSegmenter,
    scene: tuple[npt.NDArray[np.uint8], Region],
    which: str,
    color: tuple[int, int, int],
) -> None:
    frame, region = scene
    segmenter = bundled if which == "bundled" else tiny[which]
    before = frame.copy()
    policy = Policy(kinds={**Policy().kinds, "person": KindPolicy(Fill(color), Shape.SILHOUETTE)})
    apply_regions(frame, [region], policy, segmenter)
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = region.mask.pixel_bounds(width, height)
    outside = np.ones((height, width), dtype=bool)
    outside[y1:y2, x1:x2] = False
    assert np.array_equal(frame[outside], before[outside])  # nothing outside the mask box changes
    changed = (frame != before).any(axis=2)
    assert (frame[changed] == color).all()  # what changed is the operator's doing
    painted = (frame[y1:y2, x1:x2] == color).all(axis=2)
    event(f"{which}: {'whole box' if painted.all() else 'less than the box'}")
    if region.box.height > 0 and region.box.width > 0:
        hx1, hy1, hx2, hy2 = head_box(region.box).pixel_bounds(width, height)
        hx1, hy1, hx2, hy2 = max(hx1, x1), max(hy1, y1), min(hx2, x2), min(hy2, y2)
        assert (frame[hy1:hy2, hx1:hx2] == color).all()  # the head is always covered


@settings(max_examples=40, deadline=None)
@given(
    height=st.integers(1, 700),
    width=st.integers(1, 400),
    share=st.floats(0.0, 0.2),
    radius=st.floats(0.0, 60.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_dilation_keeps_every_pixel_of_the_exact_one(
    height: int, width: int, share: float, radius: float, seed: int
) -> None:
    """Large masks are dilated at a lower resolution (speed): never fewer pixels than the exact
    elliptic dilation, and not many more (a few % near the outline)."""
    mask = np.random.default_rng(seed).random((height, width)) < share * 0.01  # sparse specks
    got = dilate(mask, radius)
    r = max(1, math.ceil(radius))
    exact = cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2)) > 0
    assert got.shape == mask.shape and got.dtype == np.bool_
    assert not (exact & ~got).any()
    if max(height, width) <= DILATE_SIDE:
        assert np.array_equal(got, exact)


@settings(max_examples=150, deadline=None)
@given(
    width=st.integers(1, 48),
    height=st.integers(1, 48),
    box=st.tuples(st.floats(-30, 60), st.floats(-30, 60), st.floats(0, 60), st.floats(0, 60)),
    seed=st.integers(0, 2**32 - 1),
)
def test_apply_inside_changes_only_the_marked_pixels(
    width: int, height: int, box: tuple[float, float, float, float], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    frame = rng.integers(0, 256, (height, width, 3), np.uint8)
    before = frame.copy()
    region = Box(box[0], box[1], box[0] + box[2], box[1] + box[3])
    x1, y1, x2, y2 = region.pixel_bounds(width, height)
    inside = rng.random((y2 - y1, x2 - x1)) < 0.5
    Pixelate(blocks=2, min_block=1).apply_inside(frame, region, inside)
    allowed = np.zeros((height, width), dtype=bool)
    allowed[y1:y2, x1:x2] = inside
    assert np.array_equal(frame[~allowed], before[~allowed])
    Fill((1, 2, 3)).apply_inside(frame, region, inside)
    assert (frame[allowed] == (1, 2, 3)).all()


def test_apply_inside_rejects_a_mask_of_another_size() -> None:
    frame = np.zeros((20, 20, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="10 x 10 boolean mask"):
        Fill().apply_inside(frame, Box(0, 0, 10, 10), np.ones((10, 9), dtype=bool))


# ---------------------------------------------------------------- policy and CLI


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [("faces", ("face", "person")), ("faces,heads", ("face", "person")), (None, ("face", "person", "plate"))],
)
def test_silhouette_mode_selects_the_body_kinds(kinds: str | None, expected: tuple[str, ...]) -> None:
    assert parse_kinds(kinds, "silhouette") == expected == parse_kinds(kinds, "body")


def test_person_mode_sets_the_person_shape() -> None:
    policy = Policy()
    silhouette = policy.with_person_mode("silhouette")
    assert silhouette.for_kind("person").shape is Shape.SILHOUETTE
    assert silhouette.for_kind("face").shape is Shape.BOX  # other kinds keep theirs
    assert silhouette.uses_silhouette(("face", "person")) and not silhouette.uses_silhouette(("face", "head"))
    assert silhouette.with_person_mode("body").for_kind("person").shape is Shape.BOX  # body = the box
    assert silhouette.with_person_mode("head") == silhouette
    assert policy.with_person_mode(None) == policy and policy.with_person_mode("body") == policy
    assert policy.describe()["person"]["shape"] == "box"  # type: ignore[index]
    assert silhouette.describe()["person"]["shape"] == "silhouette"  # type: ignore[index]


def test_policy_file_silhouette_for_persons_only(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('[kinds.person]\nshape = "silhouette"\noperator = "fill"\n', encoding="utf-8")
    assert load_policy(path).for_kind("person").shape is Shape.SILHOUETTE
    path.write_text('[kinds.face]\nshape = "silhouette"\n', encoding="utf-8")
    with pytest.raises(PolicyError, match=r"kinds\.face: shape 'silhouette' is for persons only"):
        load_policy(path)
    with pytest.raises(PolicyError, match="persons only"):
        Policy().with_overrides(shape="silhouette")


def test_cli_person_mode_silhouette() -> None:
    parser = build_parser()
    options = options_from_args(
        parser.parse_args(["anonymize", "in.mp4", "-o", "out.mp4", "--person-mode", "silhouette"])
    )
    assert options.kinds == ("face", "person", "plate")
    assert options.policy.for_kind("person").shape is Shape.SILHOUETTE
    args = parser.parse_args(
        ["anonymize", "in.mp4", "-o", "o.mp4", "--person-mode", "silhouette", "--shape", "ellipse"]
    )
    policy = options_from_args(args).policy
    assert policy.for_kind("person").shape is Shape.SILHOUETTE and policy.for_kind("face").shape is Shape.ELLIPSE


def test_cli_help_and_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["anonymize", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "silhouette" in text and "--silhouette-model" in text and "grown by 8% of their height" in text
    with pytest.raises(SystemExit) as exit_info:
        main(["anonymize", "x.mp4", "-o", "y.mp4", "--shape", "silhouette"])
    assert exit_info.value.code == 2  # silhouettes are a person mode, not a shape for every kind
    assert "invalid choice: 'silhouette'" in capsys.readouterr().err


# ---------------------------------------------------------------- end to end


def cameraman(index: int, width: int, height: int) -> np.ndarray:
    """The cameraman (~200 px tall) walking right on a grey street."""
    frame = np.full((height, width, 3), 140, dtype=np.uint8)
    man = cv2.cvtColor(cv2.resize(skimage_data.camera(), (200, 200), interpolation=cv2.INTER_AREA), cv2.COLOR_GRAY2RGB)
    x = 20 + 4 * index
    frame[40:240, x : x + 200] = man
    return frame


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("silhouette") / "walk.mkv"
    make_video(path, codec="ffv1", size=(480, 272), frames=4, picture=cameraman)
    return path


def decoded(path: Path) -> list[npt.NDArray[np.uint8]]:
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def kept(original: npt.NDArray[np.uint8], output: npt.NDArray[np.uint8], box: Box) -> float:
    """Share of ``box`` whose pixels the output kept (up to the codec's rounding)."""
    x1, y1, x2, y2 = box.pixel_bounds(original.shape[1], original.shape[0])
    diff = np.abs(output[y1:y2, x1:x2].astype(np.int16) - original[y1:y2, x1:x2]).max(axis=2)
    return float((diff < 10).mean())


def test_anonymize_person_mode_silhouette_end_to_end(clip: Path, tmp_path: Path) -> None:
    """Body box vs silhouette on the same clip: the silhouette masks a subset of the box, always
    the head, and keeps a good part of the box's background (sky, grass, the tripod)."""
    outputs, masks = {}, {}
    for mode in ("body", "silhouette"):
        out = tmp_path / f"{mode}.mkv"
        args = ["anonymize", str(clip), "-o", str(out), "--person-mode", mode, "--kinds", "persons"]
        assert main([*args, "--operator", "fill", "--codec", "ffv1", "-q"]) == 0
        outputs[mode] = decoded(out)
        notes = [json.loads(line) for line in Path(f"{out}.regions.jsonl").read_text().splitlines()]
        assert len(notes) == 4 and not any(n["fail_closed"] for n in notes)
        assert all([r["kind"] for r in n["regions"]] == ["person"] for n in notes), notes
        masks[mode] = [Box(*n["regions"][0]["mask"]) for n in notes]
    assert masks["body"] == masks["silhouette"]  # same detections, same regions and annotations
    triples = zip(decoded(clip), outputs["body"], outputs["silhouette"], strict=True)
    for index, (original, body, silhouette) in enumerate(triples):
        black_body = (body.max(axis=2) < 30) & (original.max(axis=2) > 60)
        black_sil = (silhouette.max(axis=2) < 30) & (original.max(axis=2) > 60)
        assert black_sil.sum() < 0.8 * black_body.sum()  # some of the box is kept...
        assert not (black_sil & ~black_body).any()  # ...and nothing outside it is masked
        x = 20 + 4 * index
        head = (slice(65, 112), slice(x + 72, x + 104))  # his head in this rendering
        assert (silhouette[head].max(axis=2) < 30).mean() > 0.95, index
        box = masks["body"][index]
        assert kept(original, body, box) < 0.1 and kept(original, silhouette, box) > 0.2, index  # 0.05 / 0.26-0.30


def test_own_model_that_finds_nobody_masks_whole_boxes(clip: Path, tmp_path: Path) -> None:
    """``--silhouette-model``: a model that finds no person anywhere fails closed to the box on
    every frame -- the output is the body-mode output, pixel for pixel -- and is recorded."""
    zeros = build(tmp_path / "zeros.onnx", "zeros")
    outputs = {}
    modes = {
        "body": ["--person-mode", "body"],
        "zeros": ["--person-mode", "silhouette", "--silhouette-model", str(zeros)],
    }
    for name, mode in modes.items():
        out = tmp_path / f"{name}.mkv"
        args = ["anonymize", str(clip), "-o", str(out), "--kinds", "persons", *mode]
        assert main([*args, "--operator", "fill", "--codec", "ffv1", "-q"]) == 0
        outputs[name] = decoded(out)
    assert all(np.array_equal(a, b) for a, b in zip(outputs["body"], outputs["zeros"], strict=True))


def test_own_model_of_another_layout_is_refused(clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "nchw",
        [helper.make_tensor_value_info("x", TP.FLOAT, [1, 3, SIDE, SIDE])],
        [helper.make_tensor_value_info("y", TP.FLOAT, [1, 3, SIDE, SIDE])],
    )
    model = tmp_path / "nchw.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), str(model))
    out = tmp_path / "o.mkv"
    args = ["anonymize", str(clip), "-o", str(out), "--person-mode", "silhouette", "--silhouette-model", str(model)]
    assert main([*args, "-q"]) == 1
    err = capsys.readouterr().err
    assert "selfie-segmentation layout" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
