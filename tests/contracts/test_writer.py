"""smartcam.contracts.writer: DynamoWriter's WriterReport, its keys camelCase on the wire."""

from __future__ import annotations

import pytest

from smartcam.contracts import MAX_CONFIRMATIONS, EventSpoolDepth, SpoolDepth, WriterReport, parse
from tests.contracts.messages import AT, event_spool_depth, refusal, round_trip, spool_depth, writer_report


def test_a_report_round_trips_in_camel_case_with_its_nulls():
    parsed = round_trip(WriterReport, writer_report())
    message = parsed.to_message()
    assert message["schema"] == "smartcam.writer-report/3"
    assert message["lastError"] is None and message["events"]["oldestAgeS"] is None  # "no error", said explicitly
    assert message["confirmedOmitted"] == 0 and message["spool"]["maxItems"] == 1000
    assert message["events"]["snapshotBytes"] == 5000 and message["events"]["maxSnapshotBytes"] == 1_000_000
    assert set(message) == {"schema", "thing", "table", "at", "written", "confirmed", "confirmedOmitted", "spool",
                            "events", "counters", "lastError"}


def test_a_report_of_an_error():
    assert parse(WriterReport, writer_report(lastError="throttled")).to_message()["lastError"] == "throttled"


def test_the_python_names_are_not_the_wire_names():
    assert "oldest_age_s: unknown key" in refusal(SpoolDepth, {**spool_depth(), "oldest_age_s": 1.0})


@pytest.mark.parametrize("key", ["oldestAgeS", "maxItems", "maxBytes"])
def test_a_spool_depth_states_every_key(key):
    assert f"{key}: required" in refusal(SpoolDepth, {k: v for k, v in spool_depth().items() if k != key})


def test_an_age_is_0_or_more_and_finite():
    assert parse(SpoolDepth, spool_depth(oldestAgeS=0)).oldest_age_s == 0
    assert "oldestAgeS: must be greater than or equal to 0" in refusal(SpoolDepth, spool_depth(oldestAgeS=-0.1))
    assert "oldestAgeS: must be a finite number" in refusal(SpoolDepth, spool_depth(oldestAgeS=float("inf")))
    assert "oldestAgeS: must be greater than or equal to 0" in refusal(
        EventSpoolDepth, event_spool_depth(oldestAgeS=-0.1))
    assert "oldestAgeS: must be a finite number" in refusal(EventSpoolDepth, event_spool_depth(oldestAgeS=float("inf")))


def test_up_to_200_confirmations():
    assert MAX_CONFIRMATIONS == 200
    one = {"sk": "s", "at": AT}
    assert len(parse(WriterReport, writer_report(confirmed=[one] * 200)).confirmed) == 200
    too_many = writer_report(confirmed=[one] * 201)
    assert "confirmed: List should have at most 200 items" in refusal(WriterReport, too_many)


@pytest.mark.parametrize(("ok", "too_long"), [("thing", 128), ("table", 255)])
def test_thing_and_table_have_bounded_names(ok, too_long):
    assert getattr(parse(WriterReport, writer_report(**{ok: "t" * too_long})), ok) == "t" * too_long
    assert getattr(parse(WriterReport, writer_report(**{ok: "t"})), ok) == "t"
    assert f"{ok}: String should have at most {too_long} characters" in refusal(
        WriterReport, writer_report(**{ok: "t" * (too_long + 1)}))
    assert f"{ok}: String should have at least 1 character" in refusal(WriterReport, writer_report(**{ok: ""}))


def test_an_event_table_name_is_1_to_255_characters():
    assert parse(EventSpoolDepth, event_spool_depth(table="t" * 255)).table == "t" * 255
    assert parse(EventSpoolDepth, event_spool_depth(table="t")).table == "t"
    assert "table: String should have at most 255 characters" in refusal(
        EventSpoolDepth, event_spool_depth(table="t" * 256))
    assert "table: String should have at least 1 character" in refusal(EventSpoolDepth, event_spool_depth(table=""))


def test_a_sort_key_is_1_to_1024_characters():
    assert parse(WriterReport, writer_report(confirmed=[{"sk": "k" * 1024, "at": AT}])).confirmed[0].sk == "k" * 1024
    assert "confirmed.0.sk: String should have at most 1024 characters" in refusal(
        WriterReport, writer_report(confirmed=[{"sk": "k" * 1025, "at": AT}]))
    assert "confirmed.0.sk: String should have at least 1 character" in refusal(
        WriterReport, writer_report(confirmed=[{"sk": "", "at": AT}]))


def test_a_counter_name_is_at_most_64_characters():
    assert parse(WriterReport, writer_report(counters={"n" * 64: 1})).counters == {"n" * 64: 1}
    assert "at most 64 characters" in refusal(WriterReport, writer_report(counters={"n" * 65: 1}))
    assert "must be greater than or equal to 0" in refusal(WriterReport, writer_report(counters={"n": -1}))
