"""Random input at the command handler: no exception escapes, every command ends with exactly one
terminal status (rejected, finished or error), and the final status of every capture carries an
accounting that adds up to the frames it captured."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from camera_ingest.app import JOURNAL_ENV
from tests.camera_ingest.helpers import TERMINAL, build_app, config_dict, make_folder

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)

FIELD_VALUES = {
    "action": st.sampled_from(["capture", "start", "stop", "snapshot", "explode", ""]) | json_values,
    "camera_id": st.sampled_from(["cam0", "cam1", "ghost", "../etc", "/dev/video0", ""]) | json_values,
    "request_id": st.text(alphabet="abcxyz-_.:! ", min_size=0, max_size=70) | json_values,
    "duration_s": st.floats(-5, 1) | st.sampled_from([0.05, 0.1, 1e9, float("inf")]) | json_values,
    "frames": st.integers(-3, 6) | st.sampled_from([10**7, 3]) | json_values,
    "fps": st.floats(-1, 300) | st.sampled_from([30.0, 120.0, 0.0]) | json_values,
    "interval_s": st.floats(-1, 2) | st.sampled_from([0.01, 0.05, 1e6]) | json_values,
    "schema": st.sampled_from(["smartcam.capture/1", "smartcam.capture/2"]) | json_values,
    "path": st.just("/etc/passwd"),
}

commands = st.fixed_dictionaries(
    {"action": FIELD_VALUES["action"], "camera_id": FIELD_VALUES["camera_id"]},
    optional={k: v for k, v in FIELD_VALUES.items() if k not in ("action", "camera_id")},
)

# Mostly well-formed commands, so many examples really capture (and race stop/start/busy).
plausible = st.one_of(
    st.fixed_dictionaries(
        {"action": st.just("capture"), "camera_id": st.sampled_from(["cam0", "cam1"])},
        optional={"fps": st.floats(1, 300), "request_id": st.sampled_from(["a", "b", "c"])},
    ).flatmap(lambda c: st.one_of(
        st.integers(1, 6).map(lambda n: {**c, "frames": n}),
        st.floats(0.01, 0.3).map(lambda d: {**c, "duration_s": d}),
    )),
    st.fixed_dictionaries(
        {"action": st.sampled_from(["start", "stop", "snapshot"]), "camera_id": st.sampled_from(["cam0", "cam1"])},
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


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("property")
    return make_folder(base / "images", count=3, size=(32, 24)), base / "frames"


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(st.tuples(st.sampled_from(["iot", "fleet", "local"]), payloads), min_size=1, max_size=5))
def test_random_commands_never_escape_and_always_end(media, batch):
    folder, frame_root = media
    configuration = config_dict(folder)
    configuration["cameras"][0]["source"]["fps"] = 240
    configuration["cameras"].append({"id": "cam1", "source": {"type": "folder", "path": str(folder), "fps": 240}})
    configuration["limits"] = {"maxDurationS": 0.2, "maxFrames": 4, "maxFps": 240, "defaultFps": 120}
    # Each example is a device of its own: its own journal in its own work folder.
    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory(dir=frame_root.parent) as work:
        patch.setenv(JOURNAL_ENV, str(Path(work) / "journal.sqlite3"))
        app, ipc = build_app(configuration, frame_root)
        app.start()
        try:
            for where, payload in batch:
                topic = {
                    "iot": "smartcam/test-thing/capture", "fleet": "smartcam/fleet/capture",
                    "local": "smartcam/capture/commands",
                }[where]
                app.on_command(topic, payload)  # raises nothing, or the test fails here
        finally:
            app.stop()  # continuous captures end with "finished: component stopping"
    assert app.dispatcher.wait_idle(60)
    statuses = ipc.statuses()
    terminal = [s for s in statuses if s.state in TERMINAL]
    assert len(terminal) == len(batch), [(s.state, s.request_id, s.reason) for s in statuses]
    accepted = Counter(s.request_id for s in statuses if s.state == "accepted")
    event(f"accepted commands: {min(sum(accepted.values()), 2)}")
    ended = Counter(s.request_id for s in terminal if s.state != "rejected")
    assert accepted == ended  # every accepted command ended exactly once
    # A capture's final status (accountWithinS 0: at once) says what became of each frame it captured.
    captures = [s for s in terminal if s.frames_captured is not None]
    sessions = app.telemetry.counters["sessionsFinished"] + app.telemetry.counters["sessionsError"]
    assert len(captures) == sessions
    for final in captures:
        assert final.accounting is not None and final.accounting.total() == final.frames_captured
    assert len(ipc.iot_statuses()) == len(statuses)
