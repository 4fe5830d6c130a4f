"""Random capture commands interleaved with random configuration updates, all delivered through the
fake nucleus: no exception escapes a handler, every command ends with exactly one terminal status
(rejected, finished or error), every update is applied or refused with the last good configuration
kept, a capture can always be stopped, and the final status of every capture carries an accounting
that adds up to the frames it captured. One run sends at least MIN_COMMANDS commands and
MIN_UPDATES updates; the test fails if fewer went out (e.g. after max_examples was lowered)."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camera_ingest.app import JOURNAL_ENV, CameraIngestApp
from camera_ingest.settings import CameraIngestConfig
from smartcam import topics
from tests.camera_ingest.helpers import TERMINAL, THING, IngestNucleus, build_app, config_dict, make_folder
from tests.support.config_fuzz import ConfigFuzz, HandlerErrors, Update, updates, well_formed_settings
from tests.support.fake_nucleus import wait_until

EXAMPLES = 95
COMMANDS_PER_EXAMPLE = 11
UPDATES_PER_EXAMPLE = 11
MIN_COMMANDS = MIN_UPDATES = 1000
CAMERA_IDS = ("cam0", "cam1", "cam2")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)

FIELD_VALUES = {
    "action": st.sampled_from(["capture", "start", "stop", "snapshot", "explode", ""]) | json_values,
    "camera_id": st.sampled_from([*CAMERA_IDS, "ghost", "../etc", "/dev/video0", ""]) | json_values,
    "request_id": st.text(alphabet="abcxyz-_.:! ", min_size=0, max_size=70) | json_values,
    "duration_s": st.floats(-5, 1) | st.sampled_from([0.05, 0.1, 1e9, float("inf")]) | json_values,
    "frames": st.integers(-3, 6) | st.sampled_from([10**7, 3]) | json_values,
    "fps": st.floats(-1, 300) | st.sampled_from([30.0, 120.0, 0.0]) | json_values,
    "interval_s": st.floats(-1, 2) | st.sampled_from([0.01, 0.05, 1e6]) | json_values,
    "schema": st.sampled_from(["smartcam.capture/1", "smartcam.capture/2"]) | json_values,
    "motion_gate": st.booleans() | json_values,
    "path": st.just("/etc/passwd"),
}

commands = st.fixed_dictionaries(
    {"action": FIELD_VALUES["action"], "camera_id": FIELD_VALUES["camera_id"]},
    optional={k: v for k, v in FIELD_VALUES.items() if k not in ("action", "camera_id")},
)

# Mostly well-formed commands, so many examples really capture (and race stop/start/busy).
plausible = st.one_of(
    st.fixed_dictionaries(
        {"action": st.just("capture"), "camera_id": st.sampled_from(CAMERA_IDS)},
        optional={"fps": st.floats(1, 300), "request_id": st.sampled_from(["a", "b", "c"]),
                  "motion_gate": st.booleans()},
    ).flatmap(lambda c: st.one_of(
        st.integers(1, 6).map(lambda n: {**c, "frames": n}),
        st.floats(0.01, 0.3).map(lambda d: {**c, "duration_s": d}),
    )),
    st.fixed_dictionaries(
        {"action": st.sampled_from(["start", "stop", "snapshot"]), "camera_id": st.sampled_from(CAMERA_IDS)},
        optional={"request_id": st.sampled_from(["a", "b", "c"])},
    ),
)

payloads = st.one_of(
    plausible,
    plausible.map(lambda c: json.dumps(c).encode()),
    commands,
    commands.map(lambda c: json.dumps(c, allow_nan=True).encode()),
    commands.map(lambda c: json.dumps(c, allow_nan=True)),
    st.binary(max_size=200),
    st.text(max_size=200),
    json_values,
)

COMMAND_TOPICS = {
    "iot": topics.iot_capture_commands(THING), "fleet": topics.FLEET_CAPTURE_COMMANDS,
    "local": topics.LOCAL_CAPTURE_COMMANDS,
}
addressed_commands = st.tuples(st.sampled_from(sorted(COMMAND_TOPICS)), payloads)


# configuration ----------------------------------------------------------------------------------
def ingest_configuration(folder: Path, **settings: Any) -> dict[str, Any]:
    """What every example starts from: two fast folder cameras, so captures end (or stop) quickly."""
    configuration = config_dict(folder, **settings)
    configuration["cameras"] = [folder_camera(camera_id, folder) for camera_id in CAMERA_IDS[:2]]
    configuration.setdefault("limits", {}).update({"maxDurationS": 0.2, "maxFrames": 4, "maxFps": 240,
                                                   "defaultFps": 120})
    return configuration


def folder_camera(camera_id: str, folder: Path, fps: float = 240) -> dict[str, Any]:
    return {"id": camera_id, "source": {"type": "folder", "path": str(folder), "fps": fps}}


def media_cameras(media: Path) -> st.SearchStrategy[dict[str, Any]]:
    """Cameras made of a source (folders with images, without, missing; a missing video file; a V4L2
    device that is not there) and extras at their bounds. Rates stay >= 10 fps: a source paces its
    frames with a sleep that a stop does not cut short."""
    images, empty, missing = (str(media / name) for name in ("images", "empty", "missing"))
    sources = [
        {"type": "folder", "path": images, "fps": 240}, {"type": "folder", "path": images, "fps": 24.5},
        {"type": "folder", "path": images}, {"type": "folder", "path": empty, "fps": 20},
        {"type": "folder", "path": missing, "fps": 20}, {"type": "file", "path": str(media / "missing.avi")},
        {"type": "v4l2", "device": 255},
    ]
    extras: list[dict[str, Any]] = [
        {}, {"jpegQuality": 1}, {"jpegQuality": 100, "loop": False}, {"width": 8, "height": 8},
        {"width": 96, "height": 72, "jpegQuality": 50, "loop": True},
        {"motion": {"enabled": False}}, {"motion": {"sensitivity": 0.99, "keepAliveS": 0.01, "minArea": 1e-6}},
        {"motion": {"masks": [[[0, 0], [1, 0], [0, 1]]], "keepAliveS": None, "analysisWidth": 32,
                    "backgroundS": 3600, "lightingArea": 1}},
    ]
    return st.sampled_from([{"id": camera_id, "source": source, **extra}
                            for camera_id in CAMERA_IDS for source in sources for extra in extras])


INGEST_SETTINGS = {
    "ring": [{}, {"frames": 1}, {"frames": 100, "megabytes": 16}, {"megabytes": 1e-4},
             {"frames": 3, "megabytes": 0.05}],
    "limits": [
        {"maxFps": 0.01, "defaultFps": 0.01},
        {"maxFps": 240, "defaultFps": 240, "maxDurationS": 0.01, "maxFrames": 1},
        {"maxFps": 240, "defaultFps": 120, "maxDurationS": 0.2, "maxFrames": 4},
        {"maxFps": 30, "defaultFps": 5, "maxDurationS": 86_400, "maxFrames": 1_000_000, "maxIntervalS": 86_400},
        {"maxFps": 1, "defaultFps": 0.5, "maxIntervalS": 0.01},
    ],
    "reconnect": [{"attempts": 0}, {"attempts": 100, "initialBackoffS": 60, "maxBackoffS": 600},
                  {"attempts": 2, "initialBackoffS": 0.001, "maxBackoffS": 0.002}],
    "progressIntervalS": [0.01, 1, 3600],
    "healthIntervalS": [0.05, 30, 3600],
    "accessControl": [{"aws.greengrass.ipc.pubsub": {}}],
    # No pipeline sends receipts here: a final status waits at most this long for them.
    "accountWithinS": [0, 0.01],
}


def well_formed_updates(media: Path) -> st.SearchStrategy[Update]:
    """Valid configurations: 1..3 cameras and every other setting left out or at a value near its bounds."""
    cameras = st.lists(media_cameras(media), min_size=1, max_size=3, unique_by=lambda c: c["id"])
    return st.tuples(cameras, well_formed_settings(INGEST_SETTINGS)).map(
        lambda parts: Update({"cameras": parts[0], "accountWithinS": 0, **parts[1]}, True, "well-formed"))


def against_the_rules(configuration: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Well-typed settings that break a rule of the model (one per camera id, both sides of a size...)."""
    first = configuration["cameras"][0]
    return {
        "repeated camera id": {**configuration, "cameras": [first, first]},
        "no camera": {**configuration, "cameras": []},
        "33 cameras": {**configuration, "cameras": [{**first, "id": f"c{i}"} for i in range(33)]},
        "width without height": {**configuration, "cameras": [{**first, "width": 64, "height": None}]},
        "defaultFps over maxFps": {**configuration, "limits": {"maxFps": 10, "defaultFps": 11}},
        "a device that is not a camera": {**configuration, "cameras": [
            {"id": "cam0", "source": {"type": "v4l2", "device": "/dev/sda"}}]},
        "a stream that is not a stream": {**configuration, "cameras": [
            {"id": "cam0", "source": {"type": "stream", "url": "file:///etc/passwd"}}]},
        "a camera id with a path": {**configuration, "cameras": [{**first, "id": "../etc"}]},
        "zero fps": {**configuration, "cameras": [{**first, "source": {"type": "folder", "path": "x", "fps": 0}}]},
        "a mask that crosses itself": {**configuration, "cameras": [
            {**first, "motion": {"masks": [[[0, 0], [1, 1], [1, 0], [0, 1]]]}}]},
    }


# delivery -------------------------------------------------------------------------------------------
def deliver(nucleus: IngestNucleus, where: str, payload: Any) -> None:
    """As the nucleus delivers: IoT Core payloads are bytes; on local pub/sub a JSON object arrives as a
    JSON message and anything else as a binary one."""
    topic = COMMAND_TOPICS[where]
    if where == "local" and isinstance(payload, dict):
        nucleus.send(topic, payload)
        return
    if isinstance(payload, str):
        data = payload.encode("utf-8", "surrogatepass")
    elif isinstance(payload, bytes):
        data = payload
    else:
        data = json.dumps(payload, allow_nan=True).encode()
    if where == "local":
        nucleus.send_binary(topic, data)
    else:
        nucleus.send_iot(topic, data)


# A failure is shrunk to a small example, which takes Hypothesis up to 5 minutes on its own.
@pytest.mark.timeout(900)
def test_random_commands_and_configuration_updates(tmp_path: Path) -> None:
    media = tmp_path / "media"
    folder = make_folder(media / "images", count=3, size=(32, 24))
    (media / "empty").mkdir()
    frame_root = tmp_path / "frames"
    sent: Counter[str] = Counter()

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        batch=st.lists(addressed_commands, min_size=COMMANDS_PER_EXAMPLE, max_size=COMMANDS_PER_EXAMPLE),
        changes=st.lists(updates(CameraIngestConfig, well_formed_updates(media), against_the_rules),
                         min_size=UPDATES_PER_EXAMPLE, max_size=UPDATES_PER_EXAMPLE),
        order=st.permutations(["command"] * COMMANDS_PER_EXAMPLE + ["update"] * UPDATES_PER_EXAMPLE),
    )
    def run(batch: list[tuple[str, Any]], changes: list[Update], order: list[str]) -> None:
        # Each example is a device of its own: its own journal in its own work folder.
        with (HandlerErrors() as errors, pytest.MonkeyPatch.context() as patch,
              tempfile.TemporaryDirectory(dir=tmp_path) as work):
            patch.setenv(JOURNAL_ENV, str(Path(work) / "journal.sqlite3"))
            app, nucleus = build_app(ingest_configuration(folder), frame_root)
            fuzz = ConfigFuzz(nucleus, nucleus.live)
            app.start()
            to_send, to_apply = iter(batch), iter(changes)
            try:
                for step in order:
                    if step == "command":
                        deliver(nucleus, *next(to_send))
                    else:
                        fuzz.send(next(to_apply))
                stops = stop_every_capture(app, nucleus)
                # A final status still waiting (accountWithinS 0.01) would go out after the next start.
                wait_until(lambda: app.ledger.waiting() == 0, 30, "every final status")
            finally:
                app.stop()  # continuous captures end with "finished: component stopping"
            assert app.dispatcher.wait_idle(60)
        errors.check(refused_updates=fuzz.refused)
        assert "ERRORED" not in nucleus.states()
        sent["accepted"] += assert_every_command_answered(nucleus, len(batch) + stops)
        sent["commands"] += len(batch)
        sent["updates"] += len(changes)
        sent["applied"] += fuzz.applied
        sent["refused"] += fuzz.refused

    run()
    assert sent["commands"] >= MIN_COMMANDS, sent
    assert sent["updates"] >= MIN_UPDATES, sent
    # Not vacuous: many commands were accepted (and captured), many updates went each way.
    assert sent["accepted"] >= sent["commands"] // 20, sent
    assert min(sent["applied"], sent["refused"]) >= sent["updates"] // 10, sent


def stop_every_capture(app: CameraIngestApp, nucleus: IngestNucleus) -> int:
    """A stop for every configured camera: afterwards no capture runs, not even one on a camera the
    configuration no longer has. Returns how many stop commands were sent."""
    configured = [camera.id for camera in nucleus.live.current.cameras]
    for camera_id in configured:
        nucleus.send_local_json({"action": "stop", "camera_id": camera_id, "request_id": f"final-stop-{camera_id}"})
    assert app.dispatcher.wait_idle(30), f"captures still running after every camera was stopped: " \
        f"{app.dispatcher.running()} (configured: {configured})"
    return len(configured)


def assert_every_command_answered(nucleus: IngestNucleus, commands_sent: int) -> int:
    """Returns how many commands were accepted."""
    statuses = nucleus.statuses()
    terminal = [s for s in statuses if s.state in TERMINAL]
    assert len(terminal) == commands_sent, "\n".join(f"{s.state} {s.request_id} {s.reason}" for s in statuses)
    accepted = Counter(s.request_id for s in statuses if s.state == "accepted")
    ended = Counter(s.request_id for s in terminal if s.state != "rejected")
    assert accepted == ended  # every accepted command ended exactly once
    # accountWithinS 0 (no pipeline receipts here): a capture's final status accounts for its frames at once.
    for final in (s for s in terminal if s.frames_captured is not None):
        assert final.accounting is not None and final.accounting.total() == final.frames_captured, final
        # Gated frames are counted beside the captured ones, and both together are the frames taken.
        taken = final.frames_captured + (final.frames_gated or 0)
        assert final.frames_requested is None or taken <= final.frames_requested, final
    assert len(nucleus.iot_statuses()) == len(statuses)
    return sum(accepted.values())
