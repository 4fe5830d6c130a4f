"""How the page is used, for OperatorView's own metrics: every request counted (refused ones too), each
JPEG made counted with its encode time, a failure inside the server counted as an error, and the pages
open told apart by the id each page sends on its polls."""

from __future__ import annotations

import pytest

from operator_view import page_usage
from operator_view.page_usage import FRAME_ENCODE_STAGE, OPEN_WINDOW_S, PAGE_ID_HEADER
from smartcam import topics
from tests.operator_view.helpers import detections, polled, request, write_frame

PAGE_A, PAGE_B = "0" * 32, "f" * 32
TOKEN = "a-token-of-32-url-safe-characters_"


def test_pages_open_are_the_ids_seen_within_the_window(usage, clock):
    usage.seen(PAGE_A)
    clock.now += OPEN_WINDOW_S / 2
    usage.seen(PAGE_B)
    usage.seen(PAGE_B)
    assert usage.pages_open() == 2
    clock.now += OPEN_WINDOW_S / 2 + 0.1
    assert usage.pages_open() == 1  # page A stopped polling
    clock.now += OPEN_WINDOW_S
    assert usage.pages_open() == 0


@pytest.mark.parametrize("page_id", [None, "", "A" * 32, "0" * 31, "0" * 33, "../" + "0" * 29])
def test_a_page_id_not_of_the_page_s_form_opens_no_page(usage, page_id):
    usage.seen(page_id)
    assert usage.pages_open() == 0


def test_the_pages_kept_are_bounded(usage, monkeypatch):
    monkeypatch.setattr(page_usage, "MAX_PAGES", 3)
    for n in range(5):
        usage.seen(f"{n:032x}")
    assert usage.pages_open() == 3


def test_the_server_counts_every_request_and_the_pages_that_poll(serve, usage):
    port = serve().port
    polled(port, PAGE_A, "/api/live", "/api/state")
    polled(port, PAGE_B, "/api/state")
    assert request(port, "/api/state", method="POST").status == 405
    assert request(port, "/api/state?x=1").status == 400
    assert usage.counters["pageRequests"] == 5 and usage.pages_open() == 2


def test_a_request_refused_for_its_token_is_counted_but_opens_no_page(serve, usage):
    port = serve(token=TOKEN).port
    assert request(port, "/api/state", headers={PAGE_ID_HEADER: PAGE_A}).status == 401
    assert usage.counters["pageRequests"] == 1 and usage.pages_open() == 0
    assert request(port, "/api/state", headers={PAGE_ID_HEADER: PAGE_A,
                                                "Authorization": f"Bearer {TOKEN}"}).status == 200
    assert usage.counters["pageRequests"] == 2 and usage.pages_open() == 1


def test_each_frame_made_for_the_page_is_counted_once_with_its_encode_time(serve, state, ring, usage):
    frame = write_frame(ring)
    state.on_detections(topics.DETECTIONS, detections(frame).to_message())
    port = serve().port
    for _ in range(2):  # the second is the JPEG already made
        assert request(port, f"/api/cameras/cam0/frames/{frame.frame_id}.jpg").status == 200
    assert request(port, "/api/cameras/cam0/frames/cam0-gone-1.jpg").status == 404
    assert usage.counters["framesServed"] == 1
    [(stage, milliseconds)] = usage.samples
    assert stage == FRAME_ENCODE_STAGE and milliseconds > 0


def test_a_failure_inside_the_server_is_an_error_and_a_refusal_is_not(serve, state, usage, monkeypatch):
    port = serve().port
    assert request(port, "/api/nothing").status == 404
    assert usage.counters["internalErrors"] == 0

    def broken() -> list:
        raise RuntimeError("a bug")

    monkeypatch.setattr(state, "health", broken)
    assert request(port, "/api/state").status == 500
    assert usage.counters["internalErrors"] == 1
