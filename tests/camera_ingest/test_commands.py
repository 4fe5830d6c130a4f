"""Command validation: the shared contract first, then this device's configured limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from camera_ingest.commands import Rejected, validate
from camera_ingest.settings import CameraIngestConfig
from tests.camera_ingest.helpers import config_dict


@pytest.fixture
def config(tmp_path: Path) -> CameraIngestConfig:
    raw = config_dict(tmp_path / "images")
    raw.pop("accessControl")
    raw["cameras"].append({"id": "cam1", "source": {"type": "v4l2", "device": "/dev/video1"}})
    raw["limits"] = {"maxDurationS": 60, "maxFrames": 100, "maxFps": 30, "defaultFps": 5, "maxIntervalS": 600}
    return CameraIngestConfig.model_validate(raw)


BAD = [
    (b"not json at all", "not valid JSON"),
    (b"\xff\xfe\x00", "not UTF-8"),
    (b"[1, 2, 3]", "must be a JSON object"),
    ("42", "must be a JSON object"),
    (None, "must be a JSON object"),
    ({}, "action"),
    ({"action": "explode", "camera_id": "cam0"}, "action"),
    ({"action": "capture", "camera_id": "cam0"}, "exactly one of duration_s or frames"),
    ({"action": "capture", "camera_id": "cam0", "frames": 2, "duration_s": 1}, "exactly one"),
    ({"action": "capture", "camera_id": "cam0", "frames": "ten"}, "frames"),
    ({"action": "capture", "camera_id": "cam0", "frames": -1}, "frames"),
    ({"action": "capture", "camera_id": "cam0", "frames": 0}, "frames"),
    ({"action": "capture", "camera_id": "cam0", "frames": 2.5}, "frames"),
    ({"action": "capture", "camera_id": "cam0", "duration_s": -3}, "duration_s"),
    ({"action": "capture", "camera_id": "cam0", "frames": 1, "fps": 0}, "fps"),
    ({"action": "capture", "camera_id": "cam0", "frames": 1, "fps": 1e9}, "fps"),
    ('{"action":"capture","camera_id":"cam0","frames":1,"fps":NaN}', "NaN"),
    ({"action": "capture", "camera_id": "cam0", "frames": 1, "path": "/etc/passwd"}, "path"),
    ({"action": "capture", "camera_id": "cam0", "frames": 1, "url": "rtsp://evil"}, "url"),
    ({"action": "capture", "camera_id": "/dev/video0", "frames": 1}, "camera_id"),
    ({"action": "capture", "camera_id": "../etc", "frames": 1}, "camera_id"),
    ({"action": "stop", "camera_id": "cam0", "frames": 3}, "stop takes no"),
    ({"action": "snapshot", "camera_id": "cam0", "fps": 3}, "snapshot takes no"),
    ({"action": "start", "camera_id": "cam0", "frames": 3}, "start takes"),
    ({"action": "capture", "camera_id": "cam0", "frames": 1, "request_id": "has space"}, "request_id"),
    # Within the contract but beyond this device's configuration:
    ({"action": "capture", "camera_id": "nope", "frames": 1}, "unknown camera 'nope'"),
    ({"action": "capture", "camera_id": "cam0", "frames": 101}, "over the limit of 100 (maxFrames)"),
    ({"action": "capture", "camera_id": "cam0", "duration_s": 61}, "(maxDurationS)"),
    ({"action": "capture", "camera_id": "cam0", "frames": 10, "fps": 31}, "(maxFps)"),
    ({"action": "capture", "camera_id": "cam0", "frames": 10, "interval_s": 0.01}, "(maxFps)"),
    ({"action": "capture", "camera_id": "cam0", "frames": 10, "interval_s": 601}, "interval_s"),
    ({"action": "capture", "camera_id": "cam0", "frames": 100, "fps": 1}, "take 99 s"),
    ({"action": "capture", "camera_id": "cam0", "duration_s": 50, "fps": 30}, "about 1500 frames"),
    ({"action": "capture", "camera_id": "cam0", "frames": 2, "fps": 2, "interval_s": 1}, "not both"),
    ({"action": "start", "camera_id": "cam0", "fps": 60}, "(maxFps)"),
]


@pytest.mark.parametrize(("payload", "reason"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_commands_are_rejected_with_the_reason(payload, reason, config):
    with pytest.raises(Rejected) as info:
        validate(payload, config)
    assert reason in info.value.reason


def test_rejection_carries_the_request_id_when_it_is_readable(config):
    with pytest.raises(Rejected) as info:
        validate(json.dumps({"action": "capture", "camera_id": "cam0", "frames": -1, "request_id": "r-7"}), config)
    assert info.value.request_id == "r-7"
    assert info.value.camera_id == "cam0"
    with pytest.raises(Rejected) as info:
        validate({"action": "capture", "camera_id": "../x", "frames": 1, "request_id": "bad id!"}, config)
    assert info.value.request_id is None and info.value.camera_id is None


def test_valid_commands_become_bounded_requests(config):
    by_frames = validate({"action": "capture", "camera_id": "cam0", "frames": 10, "fps": 2, "request_id": "a"}, config)
    assert (by_frames.action, by_frames.frames, by_frames.period_s, by_frames.request_id) == ("capture", 10, 0.5, "a")
    by_time = validate(b'{"action":"capture","camera_id":"cam1","duration_s":2}', config)
    assert by_time.duration_s == 2 and by_time.period_s == pytest.approx(1 / 5)  # defaultFps
    assert by_time.camera.source.type == "v4l2"
    assert by_time.request_id.startswith("req-")
    interval = validate({"action": "start", "camera_id": "cam0", "interval_s": 10}, config)
    assert interval.period_s == 10 and interval.frames is None and interval.duration_s is None
    snap = validate({"action": "snapshot", "camera_id": "cam0"}, config)
    assert snap.frames == 1
    stop = validate({"schema": "smartcam.capture/1", "action": "stop", "camera_id": "cam0"}, config)
    assert stop.action == "stop"
    at_limit = validate({"action": "capture", "camera_id": "cam0", "frames": 100, "fps": 30}, config)
    assert at_limit.frames == 100


@pytest.mark.parametrize(("field", "value"), [("frames", "10"), ("frames", True), ("fps", "5"), ("duration_s", "1")])
def test_a_string_or_a_bool_is_never_read_as_a_number(field, value, config):
    payload = {"action": "capture", "camera_id": "cam0", "frames": 1, field: value}
    with pytest.raises(Rejected) as info:
        validate(payload, config)
    assert f"{field}: must be a" in info.value.reason and "not a string or true/false" in info.value.reason


@pytest.mark.parametrize("as_bytes", [False, True])
def test_deeply_nested_json_gets_a_reason_not_an_internal_error(as_bytes, config):
    text = '{"action":' * 50_000 + "1" + "}" * 50_000
    with pytest.raises(Rejected) as info:
        validate(text.encode() if as_bytes else text, config)
    assert "nested too deeply" in info.value.reason or "over the 131072-byte limit" in info.value.reason
    deep_but_small = "[" * 60_000 + "]" * 60_000
    with pytest.raises(Rejected) as info:
        validate(deep_but_small.encode() if as_bytes else deep_but_small, config)
    assert info.value.reason == "message is nested too deeply"


@pytest.mark.parametrize(("where", "value", "reason"), [
    (("ring", "frames"), "10", "ring/frames: must be a whole number"),
    (("ring", "frames"), True, "ring/frames: must be a whole number"),
    (("limits", "maxFps"), "5", "limits/maxFps: must be a number"),
    (("healthIntervalS",), False, "healthIntervalS: must be a number"),
    (("accountWithinS",), "120", "accountWithinS: must be a number"),
    (("accountWithinS",), True, "accountWithinS: must be a number"),
    (("accountWithinS",), None, "accountWithinS: must be a number"),
])
def test_settings_refuse_strings_and_bools_for_numbers(where, value, reason, tmp_path):
    from smartcam.config import ConfigError, validate_config

    raw = config_dict(tmp_path / "images")
    validate_config(CameraIngestConfig, raw)  # valid as it is; JSON forms (strings for paths) still read
    target = raw
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    with pytest.raises(ConfigError) as info:
        validate_config(CameraIngestConfig, raw)
    assert reason in str(info.value) and "Input should" not in str(info.value)


@pytest.mark.parametrize("value", [-1, -0.001, 86_400.5, float("nan"), float("inf")])
def test_account_within_s_outside_its_range_is_refused(value, tmp_path):
    from smartcam.config import ConfigError, validate_config

    with pytest.raises(ConfigError, match="accountWithinS"):
        validate_config(CameraIngestConfig, config_dict(tmp_path / "images", accountWithinS=value))


@pytest.mark.parametrize("value", [0, 0.5, 120, 86_400])
def test_account_within_s_takes_seconds_from_zero_to_a_day(value, tmp_path):
    from smartcam.config import validate_config

    config = validate_config(CameraIngestConfig, config_dict(tmp_path / "images", accountWithinS=value))
    assert config.account_within_s == value
    assert CameraIngestConfig().account_within_s == 120  # the default


def test_a_deeply_nested_configuration_gets_a_reason(tmp_path):
    from smartcam.config import ConfigError, validate_config

    nested: dict = {"deep": 1}
    for _ in range(100_000):
        nested = {"deep": nested}
    raw = config_dict(tmp_path / "images", ring=nested)
    with pytest.raises(ConfigError, match="nested too deeply"):
        validate_config(CameraIngestConfig, raw)
    shallow_enough_for_json_dumps: dict = {"deep": 1}
    for _ in range(500):
        shallow_enough_for_json_dumps = {"deep": shallow_enough_for_json_dumps}
    with pytest.raises(ConfigError, match=r"ring/deep|nested too deeply"):
        validate_config(CameraIngestConfig, config_dict(tmp_path / "images", ring=shallow_enough_for_json_dumps))
