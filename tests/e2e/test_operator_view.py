"""OperatorView's page in a real browser: headless Chromium (Debian's) loads it from the component on
the local runtime while the pipeline runs OpenCV's pedestrian video (vtest.avi), and sees the camera's
frame change, events with their snapshots, every pipeline component's health and metric charts; and
OperatorView's own metrics count the page open and the frames it was served. The screenshot it takes
is the README's (docs/operator-view.png)."""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Page, Response

from local_device.browser import headless_chromium
from local_device.operator_page import wait_for_page
from local_greengrass.paths import RuntimePaths
from local_greengrass.standins.cloudwatch import read_metrics
from repo_layout import REPO_ROOT
from tests.camera_ingest.motion_frames import VTEST
from tests.e2e.helpers import PAGE_PORT, Pipeline, merges
from tests.support.fake_nucleus import wait_until

pytestmark = pytest.mark.integration

CAMERA = "street"
HEALTHY = ("smartcam.CameraIngest", "smartcam.SsdInference", "smartcam.DynamoWriter", "smartcam.EventTracker")
VIEW = "smartcam.OperatorView"
# The README's screenshot: taken on every run, kept where the run keeps its state; with SMARTCAM_SCREENSHOT set
# (e.g. docs/operator-view.png) it goes there instead, so a test run never changes a tracked file unasked.
SCREENSHOT = Path(os.environ.get("SMARTCAM_SCREENSHOT") or REPO_ROOT / ".local-greengrass" / "operator-view.png")
WAIT_MS = 60_000  # a bound on each wait, not a speed requirement


@pytest.fixture(scope="module")
def street(pipeline: Pipeline) -> Pipeline:
    """vtest.avi as camera `street`; health every 2 s and metrics every 2 s, so a short run shows them."""
    assert VTEST.is_file(), f"{VTEST} is missing: scripts/setup-system installs it (Debian's opencv-doc)"
    camera = {"id": CAMERA, "source": {"type": "file", "path": str(VTEST), "fps": 10}, "width": 768,
              "height": 576, "loop": True}
    # extra replaces a component's e2e settings: start from them
    extra = {name: dict(merges(pipeline.runtime.root, camera=camera).get(name, {})) for name in (*HEALTHY, VIEW)}
    for name in (*HEALTHY, VIEW):
        extra[name]["metrics"] = {"intervalS": 2}
    for name in ("smartcam.CameraIngest", "smartcam.SsdInference", "smartcam.EventTracker"):
        extra[name]["healthIntervalS"] = 2
    extra["smartcam.EventTracker"]["tracking"] = {"endAfterS": 3}
    pipeline.redeploy(camera=camera, extra=extra)
    return pipeline


# What may be gone by the time the browser asks: a frame the ring recycled, a snapshot EventTracker replaced.
VANISHING = re.compile(r"^/api/(cameras/[^/]+/frames/[^/]+|events/[^/]+/snapshots/[^/]+/(crop|full))\.jpg$")


@dataclass
class Seen:
    """What the browser reported: script errors and console errors (a refusal by the Content-Security-Policy
    is one), and the path of every request that failed."""

    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def on_response(self, response: Response) -> None:
        if response.status >= 400:
            self.failed.append(f"{response.status} {urlsplit(response.url).path}")


@pytest.fixture
def page(street: Pipeline) -> Iterator[tuple[Page, Seen]]:
    """The page open in headless Chromium, and what the browser reported."""
    url = wait_for_page(PAGE_PORT)
    with headless_chromium() as browser:
        opened = browser.new_page(viewport={"width": 1400, "height": 1000})
        seen = Seen()
        opened.on("console", seen.on_console)
        opened.on("pageerror", lambda error: seen.errors.append(str(error)))
        opened.on("response", seen.on_response)
        opened.goto(url)
        yield opened, seen


def test_the_page_shows_the_live_frame_events_with_snapshots_health_and_metrics(street, page):
    opened, seen = page
    request_id = street.operator.capture(CAMERA, 80, 5.0, street.new_request())
    frame = f'figure.camera[data-camera="{CAMERA}"]'
    opened.wait_for_selector(f"{frame}[data-frame]", timeout=WAIT_MS)
    first = opened.get_attribute(frame, "data-frame")
    opened.wait_for_function(
        "([selector, first]) => { const f = document.querySelector(selector); "
        "return f.dataset.frame !== first && Number(f.dataset.updates) >= 3; }", arg=[frame, first], timeout=WAIT_MS)
    # an event with its snapshot loaded (the crop, served from EventTracker's work folder)
    opened.wait_for_function(
        "() => [...document.querySelectorAll('#events li.event img.snapshot')]"
        ".some((img) => img.complete && img.naturalWidth > 0)", timeout=WAIT_MS)
    assert "person" in opened.inner_text("#events")
    for component in HEALTHY:
        opened.wait_for_selector(f'#health tr[data-component="{component}"]', timeout=WAIT_MS)
    opened.wait_for_function("() => document.querySelectorAll('#metrics figure.metric polyline').length > 0 && "
                             "[...document.querySelectorAll('#metrics polyline')].some("
                             "(line) => line.getAttribute('points').split(' ').length >= 3)", timeout=WAIT_MS)
    boxes = opened.inner_text(f"{frame} figcaption")  # this camera's: earlier tests' cameras may be shown too
    assert CAMERA in boxes and "detected" in boxes
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    opened.screenshot(path=str(SCREENSHOT), full_page=True)
    assert seen.errors == []  # no script error, nothing the Content-Security-Policy refused
    assert all(failure.startswith("404 ") and VANISHING.match(failure[4:]) for failure in seen.failed), seen.failed
    wait_until(lambda: page_metrics(street)["PagesOpen"] >= 1 and page_metrics(street)["FramesServed"] >= 3,
               WAIT_MS / 1000, "OperatorView's metrics of the page open")
    assert page_metrics(street)["PageRequests"] >= page_metrics(street)["FramesServed"]
    final = street.operator.wait_final(request_id, timeout=240)
    assert final.state == "finished"


def page_metrics(pipeline: Pipeline) -> dict[str, float]:
    """OperatorView's metrics so far: the sum of each count, the highest PagesOpen."""
    found: dict[str, float] = defaultdict(float)
    for metric in read_metrics(RuntimePaths(pipeline.runtime.root).metrics_file):
        datum = metric.request.metric_data
        if {"name": "Component", "value": VIEW} in [d.model_dump() for d in datum.dimensions]:
            name = datum.metric_name
            found[name] = max(found[name], datum.value) if name == "PagesOpen" else found[name] + datum.value
    return found
