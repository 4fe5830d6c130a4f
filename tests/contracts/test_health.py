"""smartcam.contracts.health: a component's Health."""

from __future__ import annotations

import pytest

from smartcam.contracts import Health, parse
from tests.contracts.messages import health, refusal, round_trip


@pytest.mark.parametrize("state", ["ok", "degraded", "errored"])
def test_a_health_round_trips_in_each_state(state):
    assert round_trip(Health, health(state=state, detail="why", counters={"framesRead": 3})).state == state


def test_no_counters_are_an_empty_map():
    assert parse(Health, health()).counters == {}
    assert parse(Health, health()).to_message()["schema"] == "smartcam.health/1"


def test_up_to_64_counters_of_names_up_to_64_characters():
    many = {f"counter{i}": i for i in range(64)}
    assert parse(Health, health(counters=many)).counters == many
    assert "counters: Dictionary should have at most 64 items" in refusal(Health, health(counters={**many, "x": 1}))
    assert parse(Health, health(counters={"n" * 64: 1})).counters == {"n" * 64: 1}
    assert "at most 64 characters" in refusal(Health, health(counters={"n" * 65: 1}))


def test_a_counter_is_a_count():
    assert "greater than or equal to 0" in refusal(Health, health(counters={"a": -1}))
    assert "must be a whole number" in refusal(Health, health(counters={"a": 1.5}))
