"""Events reach the writer at least once: each event's latest message waits in the durable outbox until
the writer's receipt covers its sequence, and is sent again when a new writer run announces itself or
after a back-off timeout."""

from __future__ import annotations

from smartcam import topics
from smartcam.contracts import TrackEvent
from tests.event_tracker.component import Tracker, open_event


def resent(tracker: Tracker) -> list[tuple[str, int]]:
    return [(e.event_id, e.sequence) for e in tracker.events()]


def test_a_receipt_settles_the_latest_message_only_when_it_covers_its_sequence(started):
    tracker = started(updateIntervalS=1)
    open_event(tracker, seconds=1.5, end=False)  # start (0) at 0.2 s, update (1) at 1.2 s
    start, update = tracker.events()
    assert (start.sequence, update.sequence) == (0, 1)
    assert tracker.app.delivery.awaiting() == 1  # one event: its latest message
    assert tracker.app.delivery.outbox.get(start.event_id) == update

    tracker.receipt([start])  # the writer stored sequence 0: the outbox holds 1
    assert tracker.app.delivery.awaiting() == 1
    tracker.receipt([update])
    assert tracker.app.delivery.awaiting() == 0
    assert tracker.app.telemetry.counters["eventsReceipted"] == 1


def test_a_new_writer_run_gets_every_event_without_receipt_at_once(started):
    tracker = started()
    open_event(tracker)
    open_event(tracker, start=20.0, end=False, box=(0.6, 0.3, 0.7, 0.7))  # a second person, later
    _, first_end, second_start = tracker.events()
    assert first_end.kind == "end" and second_start.kind == "start"
    tracker.receipt([second_start])  # the writer has the second event; then it restarts
    before = len(tracker.events())
    tracker.writer_starts()
    assert resent(tracker)[before:] == [(first_end.event_id, first_end.sequence)]
    assert tracker.app.telemetry.counters["eventsResent"] == 1
    tracker.receipt([first_end])
    tracker.writer_starts()  # nothing left to send
    assert len(tracker.events()) == before + 1


def test_without_receipt_an_event_is_sent_again_after_a_timeout_backing_off(started):
    tracker = started()
    open_event(tracker)
    tracker.writer_starts()  # the writer is running, and was sent everything at once (a second send)
    sent = len(tracker.events())
    for wait, expected in ((19.9, 0), (0.2, 1), (39.8, 1), (0.2, 2)):  # then after 20 s, then 40 s
        tracker.clock.now += wait
        tracker.app.tick()
        assert len(tracker.events()) - sent == expected, wait


def test_no_timeout_resend_while_the_writer_has_not_been_heard(started):
    tracker = started()
    open_event(tracker)
    sent = len(tracker.events())
    tracker.clock.now += 1000
    tracker.app.tick()
    assert len(tracker.events()) == sent  # a writer that is not running gets everything when it announces itself


def test_a_lost_receipt_settles_and_is_counted(started):
    tracker = started()
    open_event(tracker)
    last = tracker.events()[-1]
    tracker.receipt([last], outcome="lost")
    assert tracker.app.delivery.awaiting() == 0 and tracker.app.telemetry.counters["eventsLost"] == 1


def test_a_message_that_cannot_be_published_waits_in_the_outbox_and_goes_out_later(started):
    tracker = started()
    tracker.nucleus.client.publish_to_topic.side_effect = ConnectionError("nucleus busy")
    open_event(tracker)
    assert tracker.app.telemetry.counters["publishErrors"] == 2  # start and end
    assert tracker.events() == [] and tracker.app.delivery.awaiting() == 1
    tracker.nucleus.client.publish_to_topic.side_effect = tracker.nucleus._publish
    tracker.writer_starts()
    [end] = tracker.nucleus.parsed(TrackEvent, topics.EVENTS)
    assert end.kind == "end"
