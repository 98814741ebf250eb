"""Zones, dwell, loitering and contacts computed on constructed tracks, with exact expectations and
hypothesis properties (dwell within the track's span, symmetric contacts, no contact beyond the
distance, invariance under translation, the identity homography equals pixels)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon

from gamyeon.analytics.engine import Analyzer, Settings, SourceResult, analyze
from gamyeon.analytics.episodes import Episodes
from gamyeon.analytics.plane import Plane, load_plane
from gamyeon.analytics.records import FrameRecord, Observation
from gamyeon.analytics.sidecar import NotARegionsRecord, frame_record
from gamyeon.analytics.tracing import contacts_of
from gamyeon.analytics.zones import METRES, Zone, Zones, load_zones
from gamyeon.errors import UsageError

#: frame rate of the constructed tracks
FPS = 10

#: positions per track: frame index -> ground point (x, y)
Tracks = Mapping[str, Mapping[int, tuple[float, float]]]


def box_at(x: float, y: float) -> tuple[float, float, float, float]:
    """A 10 x 30 person box standing on (x, y)."""
    return (x - 5.0, y - 30.0, x + 5.0, y)


def frames_of(
    tracks: Tracks, frames: int | None = None, source: str = "cam", reverse: bool = False
) -> Iterator[FrameRecord]:
    last = max((f for t in tracks.values() for f in t), default=-1)
    for f in range((last + 1) if frames is None else frames):
        obs = [
            Observation(track=name, kind="person", box=box_at(*pos[f]), score=0.9, source="detected")
            for name, pos in tracks.items()
            if f in pos
        ]
        yield FrameRecord(source, f, f / FPS, tuple(reversed(obs) if reverse else obs))


def rect(name: str, x1: float, y1: float, x2: float, y2: float) -> Zone:
    return Zone(name, Polygon([(x1, y1), (x2, y1), (x2, y2), (x1, y2)]))


def walk(
    start: int, stop: int, at: Sequence[tuple[float, float]] | None = None, x0: float = 0.0
) -> dict[int, tuple[float, float]]:
    """A track on frames ``start..stop-1``: at the given points, or walking right 1 px per frame."""
    return {f: (at[f - start] if at is not None else (x0 + f, 50.0)) for f in range(start, stop)}


# ------------------------------------------------------------------ exact cases


def test_a_walk_through_a_zone_is_one_visit_in_and_out() -> None:
    zones = Zones((rect("door", 20.5, 0, 40.5, 100),))
    result = analyze(frames_of({"a": walk(0, 60)}), "cam", Settings(zones=zones))
    (visit,) = result.visits
    assert (visit.track, visit.zone, visit.entered, visit.left) == ("a", "door", True, True)
    assert visit.start == pytest.approx(2.1) and visit.end == pytest.approx(4.0)  # x = 21 .. 40
    occupancy = [row[0] for row in result.occupancy]
    assert occupancy == [1 if 21 <= f <= 40 else 0 for f in range(60)]


def test_appearing_and_vanishing_inside_are_not_crossings() -> None:
    zones = Zones((rect("room", 0, 0, 100, 100),))
    result = analyze(frames_of({"a": walk(5, 30)}), "cam", Settings(zones=zones))
    (visit,) = result.visits
    assert (visit.entered, visit.left) == (False, False)
    assert visit.duration == pytest.approx(2.4)


def test_short_absences_are_bridged_and_long_ones_split_the_visit() -> None:
    zones = Zones((rect("z", 0, 0, 100, 100),))
    inside, outside = (50.0, 50.0), (500.0, 50.0)
    short = [inside] * 10 + [outside] * 5 + [inside] * 10  # 0.5 s out
    long = [inside] * 10 + [outside] * 15 + [inside] * 10  # 1.5 s out
    one = analyze(frames_of({"a": walk(0, 25, short)}), "cam", Settings(zones=zones, gap=1.0))
    two = analyze(frames_of({"a": walk(0, 35, long)}), "cam", Settings(zones=zones, gap=1.0))
    assert [(v.start, v.end) for v in one.visits] == [(0.0, 2.4)]
    assert [(round(v.start, 3), round(v.end, 3), v.entered, v.left) for v in two.visits] == [
        (0.0, 0.9, False, True),
        (2.5, 3.4, True, False),
    ]


def test_loitering_alert_is_raised_live_then_closed() -> None:
    zones = Zones((rect("porch", 0, 0, 100, 100),))
    stay = walk(0, 150, [(50.0, 50.0)] * 120 + [(500.0, 50.0)] * 30)  # 12 s inside, then away
    analyzer = Analyzer("cam", Settings(zones=zones, loiter=10.0))
    raised: list[tuple[int, bool, float]] = []
    for frame in frames_of({"x": stay, "passer": walk(0, 150, x0=-200)}):
        raised += [(frame.frame, e.visit.ongoing, e.visit.duration) for e in analyzer.feed(frame)]
    last, result = analyzer.finish()
    assert not last
    # the alert comes on the frame the stay reaches 10 s, while it goes on; the close after the gap
    assert raised[0] == (100, True, pytest.approx(10.0))
    assert raised[1][1] is False and raised[1][2] == pytest.approx(11.9)
    assert len(raised) == 2
    (event, closing) = result.events
    assert event.as_dict()["end"] is None and closing.as_dict()["end"] == pytest.approx(11.9)
    assert {e.visit.track for e in result.events} == {"x"}


def test_a_visit_still_open_at_the_end_of_the_source_is_closed_with_its_alert() -> None:
    zones = Zones((rect("porch", 0, 0, 100, 100),))
    _, result = _fed(frames_of({"x": walk(0, 40, [(50.0, 50.0)] * 40)}), Settings(zones=zones, loiter=3.0))
    assert [(e.visit.ongoing, round(e.visit.duration, 3)) for e in result.events] == [(True, 3.0), (False, 3.9)]


def _fed(frames: Iterator[FrameRecord], s: Settings) -> tuple[Analyzer, SourceResult]:
    analyzer = Analyzer("cam", s)
    for frame in frames:
        analyzer.feed(frame)
    return analyzer, analyzer.finish()[1]


def test_contact_within_distance_for_long_enough() -> None:
    # b stands at x=30; a walks right 1 px per frame from x=0: within 5.5 px for x = 25 .. 35
    tracks = {"a": walk(0, 60), "b": walk(0, 60, [(30.0, 50.0)] * 60)}
    result = analyze(frames_of(tracks), "cam", Settings(contact_distance=5.5, contact_seconds=0.5))
    (contact,) = result.contacts
    assert (contact.a, contact.b, contact.units) == ("a", "b", "px")
    assert contact.start == pytest.approx(2.5) and contact.end == pytest.approx(3.5)
    assert contact.min_distance == 0.0
    too_short = analyze(frames_of(tracks), "cam", Settings(contact_distance=5.5, contact_seconds=1.5))
    assert too_short.contacts == ()


def test_contacts_in_metres_through_the_homography() -> None:
    # 10 px per metre: image square (0,0)-(100,100) is the ground square (0,0)-(10,10)
    plane = Plane.from_points([[0, 0], [100, 0], [100, 100], [0, 100]], [[0, 0], [10, 0], [10, 10], [0, 10]])
    tracks = {"a": walk(0, 20, [(10.0, 50.0)] * 20), "b": walk(0, 20, [(25.0, 50.0)] * 20)}  # 1.5 m apart
    near = analyze(frames_of(tracks), "cam", Settings(plane=plane, contact_distance=2.0))
    far = analyze(frames_of(tracks), "cam", Settings(plane=plane, contact_distance=1.0))
    assert [(c.units, round(c.min_distance, 6)) for c in near.contacts] == [("m", 1.5)]
    assert far.contacts == ()
    assert np.allclose(near.positions[:2], [[10.0, 50.0], [25.0, 50.0]])  # the heatmap's: image pixels


def test_face_and_body_of_one_person_are_not_a_contact() -> None:
    frame = FrameRecord(
        "cam",
        0,
        0.0,
        (
            Observation("p", "person", box_at(50, 50), 0.9, "detected"),
            Observation("f", "face", box_at(50, 50), 0.9, "detected"),
        ),
    )
    assert analyze([frame], "cam", Settings(contact_distance=10.0, contact_seconds=0.0)).contacts == ()


def test_trace_lists_the_other_pseudonyms_and_refuses_an_unknown_track() -> None:
    tracks = {"a": walk(0, 60), "b": walk(0, 60, [(30.0, 50.0)] * 60), "c": walk(0, 60, [(300.0, 50.0)] * 60)}
    result = analyze(frames_of(tracks), "cam", Settings(contact_distance=5.5, contact_seconds=0.5))
    assert [c.track for c in contacts_of([result], "b")] == ["a"]
    assert [c.track for c in contacts_of([result], "a")] == ["b"]
    assert contacts_of([result], "c") == []
    with pytest.raises(UsageError, match="not among"):
        contacts_of([result], "nobody")


def test_frames_going_back_in_time_are_refused() -> None:
    analyzer = Analyzer("cam", Settings())
    analyzer.feed(FrameRecord("cam", 1, 1.0, ()))
    with pytest.raises(UsageError, match="back in time"):
        analyzer.feed(FrameRecord("cam", 0, 0.5, ()))


def test_episodes_never_extend_beyond_what_was_observed() -> None:
    ep: Episodes[str] = Episodes(gap=0.5)
    assert ep.mark("k", 1.0) is None and ep.mark("k", 1.4) is None
    assert ep.sweep(1.8) == []
    (span,) = ep.sweep(2.0)
    assert (span.start, span.end) == (1.0, 1.4)


# ------------------------------------------------------------------ zones and homography files


def test_zones_from_toml_and_geojson(tmp_path: Path) -> None:
    toml = tmp_path / "z.toml"
    toml.write_text('units = "image"\n[[zone]]\nname = "door"\npolygon = [[0, 0], [10, 0], [10, 10], [0, 10]]\n')
    geo = tmp_path / "z.geojson"
    geo.write_text(
        '{"type": "FeatureCollection", "units": "metres", "features": [{"type": "Feature", '
        '"properties": {"name": "yard"}, "geometry": {"type": "Polygon", '
        '"coordinates": [[[0, 0], [4, 0], [4, 3], [0, 3], [0, 0]]]}}]}'
    )
    assert load_zones(toml).names == ["door"] and load_zones(toml).units == "image"
    yard = load_zones(geo)
    assert (yard.names, yard.units) == (["yard"], METRES)
    assert yard.zones[0].contains(np.array([[1.0, 1.0], [5.0, 1.0], [4.0, 3.0]])).tolist() == [True, False, True]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('[[zone]]\nname = "x"\npolygon = [[0, 0], [10, 10], [10, 0], [0, 10]]\n', "invalid polygon"),
        ('[[zone]]\nname = "x"\npolygon = [[0, 0], [10, 10]]\n', "not a polygon"),
        ("[[zone]]\npolygon = [[0, 0], [10, 0], [0, 10]]\n", "needs a name"),
        ("units = 'feet'\n[[zone]]\nname = 'x'\npolygon = [[0, 0], [10, 0], [0, 10]]\n", "units"),
        ("[[zone]\n", "not valid TOML"),
    ],
)
def test_bad_zone_files_are_one_clear_error(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "z.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=match):
        load_zones(path)


def test_metre_zones_need_a_homography() -> None:
    with pytest.raises(UsageError, match="homography"):
        Settings(zones=Zones((rect("z", 0, 0, 1, 1),), METRES))


def test_homography_file_and_collinear_points(tmp_path: Path) -> None:
    good = tmp_path / "h.toml"
    good.write_text("image = [[0, 0], [100, 0], [100, 50], [0, 50]]\nground = [[0, 0], [5, 0], [5, 2.5], [0, 2.5]]\n")
    plane = load_plane(good)
    assert np.allclose(plane.project(np.array([[50.0, 25.0], [100.0, 0.0]])), [[2.5, 1.25], [5.0, 0.0]])
    assert np.allclose(plane.unproject(np.array([[2.5, 1.25], [1.0, 2.0]])), [[50.0, 25.0], [20.0, 40.0]])
    line = tmp_path / "line.json"
    line.write_text('{"image": [[0, 0], [1, 1], [2, 2], [0, 5]], "ground": [[0, 0], [1, 0], [1, 1], [0, 1]]}')
    with pytest.raises(UsageError, match="one line"):
        load_plane(line)


# ------------------------------------------------------------------ properties

#: contact distances of the form k + 0.5: never equal to the distance between two integer points
#: (sqrt of an integer), so rounding in a transform cannot move a pair across the threshold
HALF = st.integers(min_value=1, max_value=40).map(lambda k: k + 0.5)


@st.composite
def scenes(draw: st.DrawFn) -> dict[str, dict[int, tuple[float, float]]]:
    """Up to 4 tracks on up to 40 frames, each on a contiguous range, walking in integer steps."""
    frames = draw(st.integers(min_value=1, max_value=40))
    tracks: dict[str, dict[int, tuple[float, float]]] = {}
    for i in range(draw(st.integers(min_value=1, max_value=4))):
        start = draw(st.integers(min_value=0, max_value=frames - 1))
        stop = draw(st.integers(min_value=start + 1, max_value=frames))
        x, y = draw(st.integers(0, 60)), draw(st.integers(0, 60))
        pos = {}
        for f in range(start, stop):
            x += draw(st.integers(-3, 3))
            y += draw(st.integers(-3, 3))
            pos[f] = (float(x), float(y))
        tracks[f"t{i}"] = pos
    return tracks


@st.composite
def zone_sets(draw: st.DrawFn) -> Zones:
    """One or two rectangles with half-integer corners (integer points are never on a border)."""
    zones = []
    for i in range(draw(st.integers(1, 2))):
        x1, y1 = draw(st.integers(-5, 50)) + 0.5, draw(st.integers(-5, 50)) + 0.5
        w, h = draw(st.integers(1, 40)), draw(st.integers(1, 40))
        zones.append(rect(f"z{i}", x1, y1, x1 + w, y1 + h))
    return Zones(tuple(zones))


def _visits(r: SourceResult) -> list[tuple[str, str, float, float, bool, bool]]:
    return sorted((v.track, v.zone, round(v.start, 9), round(v.end, 9), v.entered, v.left) for v in r.visits)


def _contacts(r: SourceResult) -> list[tuple[str, str, float, float, float]]:
    return sorted((c.a, c.b, round(c.start, 9), round(c.end, 9), round(c.min_distance, 6)) for c in r.contacts)


PROPERTY = settings(max_examples=60, deadline=None)


@PROPERTY
@given(scenes(), zone_sets(), st.sampled_from([0.0, 0.25, 1.0]))
def test_dwell_never_exceeds_the_tracks_span(tracks: Tracks, zones: Zones, gap: float) -> None:
    result = analyze(frames_of(tracks), "cam", Settings(zones=zones, gap=gap))
    spans = {t.track: t for t in result.tracks}
    for zone in zones.names:
        for track, span in spans.items():
            visits = [v for v in result.visits if v.track == track and v.zone == zone]
            assert sum(v.duration for v in visits) <= span.duration + 1e-9
            assert all(span.first <= v.start <= v.end <= span.last for v in visits)
            ordered = sorted(visits, key=lambda v: v.start)
            assert all(a.end < b.start for a, b in pairwise(ordered))  # never overlap
    # occupancy counts exactly the tracks inside on each frame
    for f, row in enumerate(result.occupancy):
        for i, zone in enumerate(zones.zones):
            pts = np.array([pos[f] for pos in tracks.values() if f in pos]).reshape(-1, 2)
            assert row[i] == int(zone.contains(pts).sum())


@PROPERTY
@given(scenes(), HALF, st.sampled_from([0.0, 0.3]), st.sampled_from([0.0, 0.5]))
def test_contacts_are_symmetric(tracks: Tracks, distance: float, seconds: float, gap: float) -> None:
    s = Settings(contact_distance=distance, contact_seconds=seconds, gap=gap)
    forward = analyze(frames_of(tracks), "cam", s)
    backward = analyze(frames_of(tracks, reverse=True), "cam", s)
    assert _contacts(forward) == _contacts(backward)
    for c in forward.contacts:
        assert c.a < c.b
        mine = [(x.start, x.end) for x in contacts_of([forward], c.a) if x.track == c.b]
        theirs = [(x.start, x.end) for x in contacts_of([forward], c.b) if x.track == c.a]
        assert mine == theirs and (c.start, c.end) in mine
        assert c.min_distance <= distance and c.duration >= seconds


@PROPERTY
@given(scenes(), HALF)
def test_a_pair_never_closer_than_the_distance_has_no_contact(tracks: Tracks, distance: float) -> None:
    result = analyze(frames_of(tracks), "cam", Settings(contact_distance=distance, contact_seconds=0.0))
    found = {(c.a, c.b) for c in result.contacts}
    names = sorted(tracks)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            common = set(tracks[a]) & set(tracks[b])
            closest = min((math.dist(tracks[a][f], tracks[b][f]) for f in common), default=math.inf)
            assert ((a, b) in found) == (closest <= distance)


@PROPERTY
@given(scenes(), zone_sets(), HALF, st.integers(-1000, 1000), st.integers(-1000, 1000))
def test_translating_everything_with_the_zones_changes_nothing(
    tracks: Tracks, zones: Zones, distance: float, dx: int, dy: int
) -> None:
    moved_tracks = {t: {f: (x + dx, y + dy) for f, (x, y) in pos.items()} for t, pos in tracks.items()}
    moved_zones = Zones(tuple(z.shifted(dx, dy) for z in zones.zones))
    s = Settings(zones=zones, contact_distance=distance, loiter=0.5)
    before = analyze(frames_of(tracks), "cam", s)
    after = analyze(frames_of(moved_tracks), "cam", Settings(zones=moved_zones, contact_distance=distance, loiter=0.5))
    assert _visits(before) == _visits(after)
    assert _contacts(before) == _contacts(after)
    assert before.occupancy == after.occupancy
    assert [e.as_dict() for e in before.events] == [e.as_dict() for e in after.events]


@PROPERTY
@given(scenes(), zone_sets(), HALF, st.integers(1, 500), st.integers(1, 500))
def test_the_identity_homography_gives_the_pixel_results(
    tracks: Tracks, zones: Zones, distance: float, w: int, h: int
) -> None:
    corners = [[0, 0], [w, 0], [w, h], [0, h]]
    identity = Plane.from_points(corners, corners)
    pixels = analyze(frames_of(tracks), "cam", Settings(zones=zones, contact_distance=distance))
    metres = analyze(
        frames_of(tracks),
        "cam",
        Settings(zones=Zones(zones.zones, METRES), plane=identity, contact_distance=distance),
    )
    assert _visits(pixels) == _visits(metres)
    assert _contacts(pixels) == _contacts(metres)
    assert np.allclose(pixels.positions, metres.positions)


def test_a_live_source_feeds_regions_records_frame_by_frame() -> None:
    """A live source hands over the sidecar's per-frame objects one at a time; the alert comes on
    the frame the stay reaches the threshold, not at the end."""
    analyzer = Analyzer("live", Settings(zones=Zones((rect("porch", 0, 0, 100, 100),)), loiter=1.0))
    raised = []
    for i in range(30):
        line = {
            "frame": i,
            "time": i / 10,
            "regions": [
                {"kind": "person", "track": "p", "box": [45, 20, 55, 50], "score": 0.9, "source": "detected"},
                {"kind": "plate", "track": "q", "box": [45, 20, 55, 50], "score": 0.9, "source": "detected"},
            ],
        }
        raised += [(i, e.visit.track) for e in analyzer.feed(frame_record(line, "live", ("person",)))]
    assert raised == [(10, "p")]
    with pytest.raises(NotARegionsRecord, match="timestamp"):
        frame_record({"frame": 0, "time": None, "regions": []}, "live", ("person",))
