"""Identity tracks of persons (gamyeon.track.identity) on constructed detections and pictures.

Each scenario is one the masking tracker (``KindTracker``, every detection on a track at once)
gets wrong for identity, which the test also checks, so that it keeps showing the difference."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np

from gamyeon.track.identity import (
    HIGH_SCORE,
    IdentityTracker,
    appearance,
    appearance_distance,
    motion_distance,
)
from gamyeon.track.tracker import KindTracker
from gamyeon.types import Array, Box, Detection

FPS = 10.0
PERIOD = 2  # persons are detected every 2nd frame at 10 fps
SIZE = (480, 360)
RED, BLUE = (200, 30, 30), (30, 40, 200)

#: one detection frame: (frame index, detections, colour of each detection's person)
Frame = tuple[int, list[Detection], list[tuple[int, int, int]]]


def person(x: float, y: float, score: float = 0.9, w: float = 20.0, h: float = 50.0) -> Detection:
    return Detection("person", Box(x, y, x + w, y + h), score)


def picture(dets: Sequence[Detection], colours: Sequence[tuple[int, int, int]]) -> Array:
    """A grey street with each person drawn in their colour (a darker lower half: trousers)."""
    image = np.full((SIZE[1], SIZE[0], 3), 110, dtype=np.uint8)
    for det, colour in zip(dets, colours, strict=True):
        b = det.box
        x1, y1, x2, y2 = int(b.x1), int(b.y1), int(b.x2), int(b.y2)
        image[y1 : (y1 + y2) // 2, x1:x2] = colour
        image[(y1 + y2) // 2 : y2, x1:x2] = tuple(c // 2 for c in colour)
    return image


def run_identity(frames: Sequence[Frame]) -> list[dict[int, int]]:
    """Per detection frame: detection index -> identity track."""
    tracker = IdentityTracker(itertools.count(1), FPS, PERIOD)
    out, previous = [], None
    for index, dets, colours in frames:
        period = index - previous if previous is not None else PERIOD
        previous = index
        out.append(dict(tracker.update(dets, index, period, picture(dets, colours))))
    return out


def run_masking(frames: Sequence[Frame]) -> list[dict[int, int]]:
    """The same frames through the masking tracker (as ``FrameWork`` configures it for persons
    at 10 fps: a gap of 6 frames)."""
    tracker = KindTracker("person", itertools.count(1), 6)
    out, previous = [], None
    for index, dets, _ in frames:
        period = index - previous if previous is not None else PERIOD
        previous = index
        out.append({i: t.track for i, t in enumerate(tracker.update(dets, index, period))})
    return out


def ids_of(results: Sequence[dict[int, int]], which: Callable[[int, int], bool]) -> set[int]:
    """The track ids given to the detections ``which(frame number, detection index)`` selects."""
    return {track for n, result in enumerate(results) for i, track in result.items() if which(n, i)}


def walk(n: int, x0: float, vx: float, y: float = 150.0) -> list[Detection]:
    return [person(x0 + vx * PERIOD * i, y) for i in range(n)]


def test_a_body_part_seen_beside_a_person_starts_no_identity_of_its_own() -> None:
    """A second, confident detection of part of a walker (legs, from another detector pass)
    on every third frame: the masking tracker gives it tracks of its own, identity does not."""
    body = walk(30, 40.0, 3.0)
    frames: list[Frame] = []
    for i, b in enumerate(body):
        dets, colours = [b], [RED]
        if i % 3 == 2:
            legs = Box(b.box.x1 - 4, b.box.y1 + 25, b.box.x2 + 4, b.box.y2 + 2)
            dets.append(Detection("person", legs, 0.8))
            colours.append(RED)
        frames.append((i * PERIOD, dets, colours))
    identity = run_identity(frames)
    assert ids_of(identity, lambda n, i: True) == ids_of(identity, lambda n, i: i == 0)
    assert len(ids_of(identity, lambda n, i: i == 0)) == 1
    assert all(0 in r for r in identity), "the walker is on its identity track on every frame"
    masking = run_masking(frames)
    assert len(ids_of(masking, lambda n, i: True)) > 1


def test_two_people_crossing_keep_their_ids() -> None:
    """Red walks right, blue walks left along the same line; while they overlap the detector
    reports one box around both (red in front), after that each of them again."""
    frames: list[Frame] = []
    pictures: list[Array] = []
    for i in range(40):
        a, b = person(100 + 5.0 * i, 150.0), person(295 - 5.0 * i, 156.0)
        if abs(a.box.x1 - b.box.x1) < a.box.width:
            frames.append((i * PERIOD, [Detection("person", a.box.union(b.box), 0.9)], [RED]))
        else:
            frames.append((i * PERIOD, [a, b], [RED, BLUE]))
        pictures.append(picture([b, a], [BLUE, RED]))
    tracker = IdentityTracker(itertools.count(1), FPS, PERIOD)
    identity = [
        dict(tracker.update(dets, index, PERIOD, image))
        for (index, dets, _), image in zip(frames, pictures, strict=True)
    ]
    apart = [n for n, (_, dets, _) in enumerate(frames) if len(dets) == 2]
    assert apart[0] == 0 and apart[-1] == len(frames) - 1 and len(apart) < len(frames)  # they did overlap
    red = {identity[n][0] for n in apart if 0 in identity[n]}
    blue = {identity[n][1] for n in apart if 1 in identity[n]}
    assert len(red) == 1 and len(blue) == 1 and red != blue
    assert all(len(identity[n]) == 2 for n in apart)


def test_a_person_unseen_for_a_second_and_a_half_keeps_the_id() -> None:
    """A walker hidden (no detection at all) for 1.4 s, then found again further along: the
    masking tracker, which forgets a person after its own gap (6 frames here), starts anew."""
    frames: list[Frame] = []
    for i, b in enumerate(walk(40, 20.0, 2.0)):
        hidden = 10 <= i < 17
        frames.append((i * PERIOD, [] if hidden else [b], [] if hidden else [BLUE]))
    identity = run_identity(frames)
    assert len(ids_of(identity, lambda n, i: True)) == 1
    assert all(0 in r for n, r in enumerate(identity) if not 10 <= n < 17)
    assert len(ids_of(run_masking(frames), lambda n, i: True)) > 1


def test_weak_detections_continue_a_track_but_start_none() -> None:
    frames: list[Frame] = [(i * PERIOD, [b], [RED]) for i, b in enumerate(walk(6, 40.0, 3.0))]
    # the walker grows faint (partly hidden): weak detections continue its track
    faint = [person(40.0 + 3.0 * PERIOD * i, 150.0, score=HIGH_SCORE / 2) for i in range(6, 12)]
    frames += [(i * PERIOD, [d], [RED]) for i, d in zip(range(6, 12), faint, strict=True)]
    # a weak detection far from anyone (clutter) never gets an identity
    frames.append((12 * PERIOD, [person(400.0, 40.0, score=HIGH_SCORE / 2)], [BLUE]))
    identity = run_identity(frames)
    assert len(ids_of(identity, lambda n, i: n < 12)) == 1
    assert all(0 in r for r in identity[:12])
    assert identity[12] == {}
    assert 0 in run_masking(frames)[12]  # masking protects it all the same


def test_ids_come_from_the_shared_counter() -> None:
    counter = itertools.count(1)
    masking = KindTracker("person", counter, 6)
    identity = IdentityTracker(counter, FPS, PERIOD)
    a = masking.update([person(10, 10)], 0, PERIOD)[0].track
    b = identity.update([person(10, 10)], 0, PERIOD)[0][1]
    assert a != b


def test_appearance_tells_colours_apart_and_ignores_position() -> None:
    one, other = person(50, 50), person(200, 50)
    image = picture([one, other], [RED, BLUE])
    same = picture([other, one], [RED, RED])
    d = appearance_distance(np.array([appearance(image, one.box)]), np.array([appearance(image, other.box)]))
    assert d[0, 0] > 0.7  # hue and saturation differ entirely; brightness is alike
    d = appearance_distance(np.array([appearance(image, one.box)]), np.array([appearance(same, other.box)]))
    assert d[0, 0] < 0.05
    empty = appearance(image, Box(-50, -50, -10, -10))  # off the picture: uniform, still comparable
    assert np.isfinite(appearance_distance(np.array([empty]), np.array([appearance(image, one.box)]))).all()


def test_motion_distance_counts_sideways_offsets_in_widths() -> None:
    a = np.array([[100.0, 100.0, 120.0, 150.0]])
    beside = np.array([[120.0, 100.0, 140.0, 150.0]])  # one body width to the side
    below = np.array([[100.0, 150.0, 120.0, 200.0]])  # one body height down
    assert motion_distance(a, a)[0, 0] == 0.0
    assert motion_distance(beside, a)[0, 0] == np.float32(1.0)
    assert motion_distance(below, a)[0, 0] == np.float32(1.0)
