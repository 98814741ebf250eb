"""Heads derived from person tracks: the head fallback for persons whose face is not found."""

from __future__ import annotations

from gamyeon.detect.persons import detections_agree, face_owns_head, head_box
from gamyeon.kinds.detectors import FACE, PERSON
from gamyeon.kinds.spec import FrameEstimates
from gamyeon.track.temporal import Estimate
from gamyeon.types import Box


def head_of_person(person: Estimate, frame: FrameEstimates) -> tuple[Box, float] | None:
    """The head region of a person estimate (box, margin), or None when it is not needed.

    The head fallback is for persons whose face is *not* found, so there is none when

    * a face region on this frame is this person's face (``persons.face_owns_head``: of a
      plausible size for the head, its centre in the head estimate or its mask over most of
      it; a neighbour's face or a small face behind does not count);
    * the track is a chain of detections that never agree with each other
      (``TrackStore.chained`` with ``persons.detections_agree``): the tracker joined
      different things -- on close views, pieces of one body that different tiles reported
      -- and its speed, taken from those jumps, would sweep the head estimate across the
      picture. A single detection is kept (a person seen once is still protected).

    The uncertainty margin is that of a head, not of the whole body: the share of the box
    size that grows with the distance to the nearest detection applies to the head's size,
    and the motion part (pixels) is the person's -- exactly how a face track's margin is
    made. The body-sized margin grew a head estimate by up to half a body height on every
    side.
    """
    head = head_box(person.box)
    # only faces whose box or mask touches the head can own it (centre inside, or mask over it)
    if any(face_owns_head(face, mask, head) for face, mask in frame.near(FACE, head)):
        return None
    if frame.store.chained(person.track, frame.period(PERSON), detections_agree):
        return None
    margin = person.spread * max(head.width, head.height) + person.drift
    return head, margin
