"""The operator page's port on a local runtime: the recipe's when free, another when it is taken."""

from __future__ import annotations

import socket

import pytest

from local_device.operator_page import free_page_port, page_url, port_is_free, wait_for_page


def test_the_preferred_port_when_free_else_one_the_system_picks():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        assert not port_is_free(busy)
        other = free_page_port(busy)
        assert other != busy and port_is_free(other)
    assert free_page_port(busy) == busy  # released
    assert port_is_free(free_page_port(None))


def test_waiting_for_a_page_that_does_not_answer_times_out():
    port = free_page_port(None)
    with pytest.raises(TimeoutError, match=page_url(port)):
        wait_for_page(port, timeout=0.5)
