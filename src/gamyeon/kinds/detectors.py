"""The built-in detectors as ``DetectorSpec``s: CenterFace (faces), SSDLite or a YOLO file
(persons), PP-OCR DB (plates and text).

Their periods come from the video's ``schedule.Plan`` (see ``gamyeon.track.schedule`` for why persons
and text are detected about 4 times per second and faces about 10).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from gamyeon.detect.base import FrameDetector
from gamyeon.detect.centerface import model_path as centerface_path
from gamyeon.detect.persons import PersonDetector, PersonModel
from gamyeon.detect.ssdlite import SsdLitePerson
from gamyeon.detect.ssdlite import is_bundled as ssdlite_bundled
from gamyeon.detect.ssdlite import model_path as ssdlite_path
from gamyeon.detect.text import PpOcrDet, TextDetector
from gamyeon.detect.text import model_path as text_path
from gamyeon.detect.yolo import YoloPerson
from gamyeon.kinds.spec import DetectorSpec, FramePass
from gamyeon.types import Array, Detection

if TYPE_CHECKING:
    from gamyeon.options import Options
    from gamyeon.track.schedule import Plan

FACE = "face"
PERSON = "person"
TEXT = "text"


def _face_period(plan: Plan) -> int:
    return plan.detect_every


def _face_discovery(plan: Plan) -> int:
    return plan.discovery_every


def _face_paths(options: Options) -> Mapping[str, Path]:
    """The face models for still images (``face``) and for video (``face_video``)."""
    return {
        "face": centerface_path(options.face_model, options.face_precision, video=False),
        "face_video": centerface_path(options.face_model, options.face_precision, video=True),
    }


def _person_period(plan: Plan) -> int:
    return plan.person_every


def _person_discovery(plan: Plan) -> int:
    return plan.person_discovery_every


def _person_paths(options: Options) -> Mapping[str, Path]:
    """The person models for still images (``person``) and for video (``person_video``)."""
    if options.person_model is not None:
        return {"person": options.person_model}
    return {
        "person": ssdlite_path(options.person_precision, video=False),
        "person_video": ssdlite_path(options.person_precision, video=True),
    }


def _load_persons(kinds: tuple[str, ...], threshold: float, model: Path | None) -> PersonDetector:
    """A bundled SSDLite file, or the YOLO-format file ``--person-model`` names."""
    found: PersonModel = YoloPerson(model) if model is not None and not ssdlite_bundled(model) else SsdLitePerson(model)
    return PersonDetector(found, threshold=threshold)


def _run_persons(persons: PersonDetector, image: Array, frame: FramePass) -> list[Detection]:
    """The budgeted pass, finer tiles when discovery is due, and a close look at the live person
    tracks too small for the tiles."""
    small = [box for box in frame.live if persons.is_small(box, frame.width, frame.height)]
    return persons.detect_frame(image, discovery=frame.discovery, small=small)


def _text_period(plan: Plan) -> int:
    return plan.text_every


def _text_paths(options: Options) -> Mapping[str, Path]:
    """The text models for still images (``text``) and for video (``text_video``)."""
    return {
        "text": text_path(options.text_model, options.text_precision, video=False),
        "text_video": text_path(options.text_model, options.text_precision, video=True),
    }


def _load_text(kinds: tuple[str, ...], threshold: float, model: Path | None) -> TextDetector:
    """PP-OCR DB reporting the kinds asked for (plate-shaped lines as plates, the rest as text)."""
    return TextDetector(PpOcrDet(model), kinds, threshold=threshold)


def _run_text(text: TextDetector, image: Array, frame: FramePass) -> list[Detection]:
    return text.detect_frame(image, frame.video)


def _conforms(persons: PersonDetector, text: TextDetector) -> tuple[FrameDetector, FrameDetector]:
    """Static check (mypy) that both detectors implement the common interface."""
    return persons, text


FACES: DetectorSpec[None] = DetectorSpec(
    FACE, _face_period, _face_paths, discovery_period=_face_discovery, hurries=True
)
PERSONS = DetectorSpec(
    PERSON, _person_period, _person_paths, load=_load_persons, run=_run_persons, discovery_period=_person_discovery
)
TEXTS = DetectorSpec(TEXT, _text_period, _text_paths, load=_load_text, run=_run_text)
