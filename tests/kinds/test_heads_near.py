"""The head fallback tests each person only against the faces near its head (``_Frame.near``):
on crowds of persons and faces, with faces on, beside and behind heads, it decides exactly as
testing every face on the frame, the way it was decided before the prefilter (kept here)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gamyeon.detect.persons import detections_agree, face_owns_head, head_box
from gamyeon.kinds.detectors import FACE, PERSON
from gamyeon.kinds.heads import head_of_person
from gamyeon.kinds.spec import FrameEstimates
from gamyeon.pipeline.frame import _Frame
from gamyeon.policy import Policy
from gamyeon.track.temporal import Estimate, TemporalConfig, TrackStore
from gamyeon.types import Box


def every_face(person: Estimate, frame: FrameEstimates) -> tuple[Box, float] | None:
    """``head_of_person`` testing every face of the frame (no spatial prefilter)."""
    head = head_box(person.box)
    if any(face_owns_head(face, mask, head) for face, mask in frame.masks(FACE)):
        return None
    if frame.store.chained(person.track, frame.period(PERSON), detections_agree):
        return None
    return head, person.spread * max(head.width, head.height) + person.drift


persons = st.tuples(st.floats(0, 900), st.floats(0, 500), st.floats(8, 120))  # x, y, height
#: a face relative to a person's head estimate: offset in head widths, size in head widths
faces = st.tuples(st.floats(-2.0, 2.0), st.floats(-2.0, 2.0), st.floats(0.05, 1.5))


@settings(max_examples=60, deadline=None)
@given(st.lists(persons, min_size=1, max_size=60), st.lists(st.tuples(st.integers(0, 59), faces), max_size=80))
def test_near_faces_decide_the_head_fallback_as_every_face_does(
    crowd: list[tuple[float, float, float]], placed: list[tuple[int, tuple[float, float, float]]]
) -> None:
    store = TrackStore(TemporalConfig())
    track = 0
    for frame in (0, 2):  # two observations: a moving crowd, some tracks chained
        for x, y, h in crowd:
            track += 1
            store.add(PERSON, track, frame, Box(x, y, x + 0.4 * h, y + h), 0.9)
    for which, (dx, dy, size) in placed:
        x, y, h = crowd[which % len(crowd)]
        head = head_box(Box(x, y, x + 0.4 * h, y + h))
        side = max(1.0, size * head.width)
        cx, cy = head.center[0] + dx * head.width, head.center[1] + dy * head.width
        track += 1
        store.add(FACE, track, 1, Box(cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2), 0.8)
    estimates = store.estimates(1)
    frame = _Frame(estimates, Policy(), store, {PERSON: 2, FACE: 1})
    decided = [e for e in estimates if e.kind == PERSON]
    assert decided
    for person in decided:
        assert head_of_person(person, frame) == every_face(person, frame)


def test_a_persons_own_face_removes_its_head_and_a_neighbours_face_does_not() -> None:
    store = TrackStore(TemporalConfig())
    store.add(PERSON, 1, 1, Box(100, 100, 140, 200), 0.9)
    store.add(PERSON, 2, 1, Box(300, 100, 340, 200), 0.9)
    own = head_box(Box(100, 100, 140, 200))
    store.add(FACE, 3, 1, Box(own.x1, own.y1, own.x2, own.y1 + own.width), 0.8)
    store.add(FACE, 4, 1, Box(350, 100, 366, 116), 0.8)  # beside person 2's head
    estimates = store.estimates(1)
    frame = _Frame(estimates, Policy(), store, {PERSON: 1, FACE: 1})
    decided = {e.track: head_of_person(e, frame) for e in estimates if e.kind == PERSON}
    assert decided[1] is None and decided[2] is not None
    assert all(decided[t] == every_face(e, frame) for t, e in ((e.track, e) for e in estimates if e.kind == PERSON))
