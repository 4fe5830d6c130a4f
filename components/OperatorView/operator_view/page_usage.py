"""How the page is used, for OperatorView's own metrics (published by :class:`smartcam.metrics.Metrics`).

- every request the server answers: telemetry counter ``pageRequests``;
- every JPEG made for the page: ``framesServed``, and its time as a ``frameEncode`` latency sample;
- a request that failed inside the server: ``internalErrors`` (an error counter, so in ``Errors``);
- the pages open: a page sends its own random id (header :data:`PAGE_ID_HEADER`) on every poll; the
  ids seen on authorized requests in the last :data:`OPEN_WINDOW_S` seconds are the pages open (at most
  :data:`MAX_PAGES` kept).
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from smartcam.telemetry import Counters

PAGE_ID_HEADER = "X-Page-Id"
PAGE_ID = re.compile(r"^[0-9a-f]{32}$")  # what app.js makes: 16 random bytes in hex
OPEN_WINDOW_S = 10.0  # the page polls its state every 2 s while visible
MAX_PAGES = 64
FRAME_ENCODE_STAGE = "frameEncode"


class PageUsage:
    def __init__(self, counters: Counters, observe: Callable[[str, float], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._counters = counters
        self._observe = observe
        self._clock = clock
        self._lock = threading.Lock()
        self._pages: OrderedDict[str, float] = OrderedDict()  # page id -> last seen, the latest last

    def request(self) -> None:
        self._counters.add("pageRequests")

    def seen(self, page_id: str | None) -> None:
        """An authorized request from the page ``page_id`` (None, or not of the page's form: no page)."""
        if page_id is None or not PAGE_ID.fullmatch(page_id):
            return
        with self._lock:
            self._pages[page_id] = self._clock()
            self._pages.move_to_end(page_id)
            while len(self._pages) > MAX_PAGES:
                self._pages.popitem(last=False)

    def frame_made(self, milliseconds: float) -> None:
        self._counters.add("framesServed")
        self._observe(FRAME_ENCODE_STAGE, milliseconds)

    def failed(self) -> None:
        self._counters.add("internalErrors")

    def pages_open(self) -> int:
        since = self._clock() - OPEN_WINDOW_S
        with self._lock:
            return sum(1 for seen in self._pages.values() if seen >= since)
