"""The shared telemetry: counters in one naming style, health, and rate-limited status (mocked IPC)."""

from __future__ import annotations

import pytest

from smartcam.contracts import Health
from smartcam.telemetry import MAX_COUNTERS, Counters, Telemetry, camel
from tests.support.fake_nucleus import FakeNucleus

STATUS = "smartcam/thing-1/status/smartcam.Demo"
HEALTH = "smartcam/health/smartcam.Demo"


@pytest.mark.parametrize("name", ["frames_received", "FramesReceived", "frames-received", "", "x" * 65, "2fast"])
def test_a_counter_name_in_another_style_is_refused(name):
    with pytest.raises(ValueError, match="camelCase"):
        Counters().add(name)


def test_counters_only_increase_and_raise_to_a_total_kept_elsewhere():
    counters = Counters()
    counters.add("framesReceived")
    counters.add("framesReceived", 2)
    counters.raise_to("framesDropped", 5)
    counters.raise_to("framesDropped", 3)  # never down
    assert counters.snapshot() == {"framesDropped": 5, "framesReceived": 3}
    assert counters["framesReceived"] == 3 and counters["neverCounted"] == 0
    with pytest.raises(ValueError):
        counters.add("framesReceived", -1)


def test_no_more_counters_than_a_health_message_holds():
    counters = Counters()
    for n in range(MAX_COUNTERS):
        counters.add(f"counter{n}")
    with pytest.raises(ValueError, match="more than"):
        counters.add("oneTooMany")
    counters.add("counter0")  # a known one still counts
    assert counters["counter0"] == 2


def test_camel_builds_names_from_states():
    assert camel("sessions", "finished") == "sessionsFinished"
    assert camel("status", "error") == "statusError"


def test_health_carries_the_counters_and_is_published_locally():
    nucleus = FakeNucleus({})
    telemetry = Telemetry(nucleus.ipc, "smartcam.Demo", "thing-1")
    telemetry.count("framesReceived", 4)
    health = telemetry.health("degraded", "x" * 2000)
    assert health.counters == {"framesReceived": 4} and health.state == "degraded"
    assert len(health.detail) == 1024 and health.detail.endswith("...")
    assert telemetry.publish_health(health)
    assert nucleus.parsed(Health, HEALTH) == [health]
    nucleus.client.publish_to_topic.side_effect = RuntimeError("IPC gone")
    assert telemetry.publish_health(health) is False


def test_status_is_rate_limited_per_kind_and_says_how_many_were_suppressed():
    nucleus = FakeNucleus({})
    now = [100.0]
    telemetry = Telemetry(nucleus.ipc, "smartcam.Demo", "thing-1", clock=lambda: now[0])
    telemetry.status.min_interval_s = 5.0
    telemetry.problem("badFrame", "frame 1: truncated")
    telemetry.problem("badFrame", "frame 2: truncated")
    telemetry.problem("badFrame", "frame 3: truncated")
    telemetry.problem("frameExpired", "frame 4: recycled")
    now[0] += 5.0
    telemetry.problem("badFrame", "frame 5: truncated")
    sent = [Health.model_validate(m) for m in nucleus.on_iot(STATUS)]
    assert [(h.detail, h.counters) for h in sent] == [
        ("badFrame: frame 1: truncated", {}),
        ("frameExpired: frame 4: recycled", {}),
        ("badFrame: frame 5: truncated", {"suppressed": 2}),
    ]
    assert telemetry.counters.snapshot() == {"badFrame": 4, "frameExpired": 1}
    with pytest.raises(ValueError):
        telemetry.status.report("bad_frame", "old style")
