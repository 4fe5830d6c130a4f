"""The page's state: frames offered at most maxFps per camera and only when a page asks, each event as
of its latest message, bounded everything, and whatever a peer sends counted, never raised."""

from __future__ import annotations

from smartcam import topics
from tests.operator_view.helpers import T0, detections, event, health, write_frame


def test_a_camera_s_offered_frame_moves_on_at_most_max_fps_times_a_second_and_only_when_asked(state, ring, clock):
    first = write_frame(ring)
    state.on_detections(topics.DETECTIONS, detections(first).to_message())
    assert [d.frame.frame_id for d in state.live()] == [first.frame_id]
    second = write_frame(ring, at=T0 + 0.1)
    state.on_detections(topics.DETECTIONS, detections(second).to_message())
    clock.now += 0.49  # max_fps 2: not yet
    assert state.live()[0].frame.frame_id == first.frame_id
    clock.now += 0.01
    assert state.live()[0].frame.frame_id == second.frame_id
    third = write_frame(ring, at=T0 + 0.2)
    state.on_detections(topics.DETECTIONS, detections(third).to_message())
    clock.now += 10  # no page asked meanwhile: nothing moved
    assert state.offered("cam0").frame.frame_id == second.frame_id  # type: ignore[union-attr]


def test_a_frame_captured_before_the_latest_does_not_replace_it(state, ring, clock):
    late = write_frame(ring, at=T0 + 5)
    early = write_frame(ring, at=T0)
    state.on_detections(topics.DETECTIONS, detections(late).to_message())
    state.on_detections(topics.DETECTIONS, detections(early).to_message())
    clock.now += 1
    assert state.live()[0].frame.frame_id == late.frame_id


def test_cameras_are_listed_by_id(state, tmp_path):
    from smartcam.frames import FrameRing

    for camera in ("b-cam", "a-cam"):
        state.on_detections(topics.DETECTIONS,
                            detections(write_frame(FrameRing(tmp_path / "f", camera, 2))).to_message())
    assert [d.frame.camera_id for d in state.live()] == ["a-cam", "b-cam"]


def test_an_event_is_kept_as_of_its_latest_message_and_the_most_recently_changed_come_first(state):
    state.on_event(topics.EVENTS, event("cam0.1.1", 0, "start").to_message())
    state.on_event(topics.EVENTS, event("cam0.1.2", 0, "start").to_message())
    state.on_event(topics.EVENTS, event("cam0.1.1", 2, "end").to_message())
    state.on_event(topics.EVENTS, event("cam0.1.1", 1, "update").to_message())  # late: older than what is kept
    assert [(e.event_id, e.sequence) for e in state.events()] == [("cam0.1.1", 2), ("cam0.1.2", 0)]


def test_only_the_recent_events_are_kept(state):
    for number in range(8):  # recent_events 5
        state.on_event(topics.EVENTS, event(f"cam0.1.{number}").to_message())
    assert [e.event_id for e in state.events()] == [f"cam0.1.{n}" for n in (7, 6, 5, 4, 3)]
    assert state.event("cam0.1.0") is None and state.event("cam0.1.7") is not None


def test_health_is_the_latest_per_component_by_name(state):
    state.on_health(topics.health("b"), health("smartcam.SsdInference", "ok").to_message())
    state.on_health(topics.health("a"), health("smartcam.CameraIngest", "ok").to_message())
    state.on_health(topics.health("a"), health("smartcam.CameraIngest", "errored").to_message())
    assert [(h.component, h.state) for h in state.health()] == [("smartcam.CameraIngest", "errored"),
                                                                ("smartcam.SsdInference", "ok")]


def test_what_is_not_a_contract_is_counted_and_dropped(state):
    state.on_detections(topics.DETECTIONS, b"not json")
    state.on_detections(topics.DETECTIONS, {"schema": "smartcam.detections/1"})
    state.on_event(topics.EVENTS, b"\xff" * 10)
    state.on_health(topics.health("x"), [])
    state.on_health(topics.health("x"), b"{" * 100_000)
    assert state.refused == {"detections": 2, "events": 1, "health": 2}
    assert state.live() == [] and state.events() == [] and state.health() == []


def test_cameras_and_components_are_bounded(state, tmp_path, monkeypatch):
    from operator_view import view_state
    from smartcam.frames import FrameRing

    monkeypatch.setattr(view_state, "MAX_CAMERAS", 2)
    monkeypatch.setattr(view_state, "MAX_COMPONENTS", 2)
    for camera in ("c1", "c2", "c3"):
        frame = write_frame(FrameRing(tmp_path / "f", camera, 2))
        state.on_detections(topics.DETECTIONS, detections(frame).to_message())
    for component in ("x.A", "x.B", "x.C"):
        state.on_health(topics.health(component), health(component).to_message())
    assert [d.frame.camera_id for d in state.live()] == ["c1", "c2"]
    assert [h.component for h in state.health()] == ["x.A", "x.B"]
    assert state.refused == {"cameras": 1, "components": 1}
