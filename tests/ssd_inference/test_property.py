"""Random configuration updates, well-formed and hostile, delivered through the fake nucleus while frames
arrive: every update is applied or refused with the last good configuration kept, no exception escapes a
handler or a thread, the component stays RUNNING, and afterwards it serves under the last configuration.
One run sends at least MIN_UPDATES updates; the test fails if fewer went out."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smartcam import topics
from smartcam.config import LiveConfig
from smartcam.contracts import Detections, FrameRef, parse
from smartcam.frames import FrameRing
from ssd_inference.app import SsdInferenceApp
from ssd_inference.settings import SsdInferenceConfig
from tests.ssd_inference.helpers import THING, fake_factories, frame_pixels, write_model_dir
from tests.support.config_fuzz import (
    ConfigFuzz,
    HandlerErrors,
    Update,
    recipe_defaults,
    updates,
    well_formed_settings,
)
from tests.support.fake_nucleus import FakeNucleus, wait_until

EXAMPLES = 25
UPDATES_PER_EXAMPLE = 42
FRAMES_PER_EXAMPLE = 6
MIN_UPDATES = 1000
RUNTIMES = {"onnxruntime": {"path": "fake.model", "outputs": {}}, "litert": {"path": "fake.model", "outputs": {}}}
# Served at the end of every example: the fake backend's person (0.9) passes, its dog (0.6) does not.
LAST = {"scoreThreshold": 0.7, "classAllowList": [], "backend": "onnxruntime", "minBoxArea": 0.0}


def inference_configuration(**settings: Any) -> dict[str, Any]:
    """What every example starts from: the recipe's defaults on a runtime the fake model has."""
    return {**recipe_defaults("SsdInference"), "backend": "onnxruntime", **settings}


def well_formed_updates(annotated: Path) -> st.SearchStrategy[Update]:
    """Valid configurations: each setting left out or at a value near its bounds. ``dlr`` and ``auto``
    name runtimes the fake model lacks (a reload that fails keeps the loaded one)."""
    catalog: dict[str, list[Any]] = {
        "scoreThreshold": [0.0, 0.1, 0.5, 0.95, 1.0],
        "trackingScoreThreshold": [0.0, 0.05, 0.1, 0.7],  # at or above scoreThreshold: no candidates
        "nmsIouThreshold": [1e-9, 0.45, 1.0],
        "maxDetections": [1, 20, 1000],
        "classAllowList": [[], ["person"], ["dog", "cat"], ["x" * 64]],
        "minBoxArea": [0.0, 0.01, 1.0],
        "backend": ["auto", "dlr", "onnxruntime", "litert"],
        "threads": [1, 2, 64],
        "streams": [1, 2, 8],
        "annotatedOutput": [{"enabled": False}, {"keepPerCamera": 10_000},
                            {"enabled": True, "dir": str(annotated), "keepPerCamera": 1}],
        "dropPolicy": [{"pendingPerCamera": 1, "maxCameras": 1}, {"pendingPerCamera": 64, "maxCameras": 1024}],
        "iotSummary": [{"enabled": False}, {"includeEmpty": True, "maxBoxes": 0}, {"maxBoxes": 50},
                       {"minIntervalS": 0}, {"minIntervalS": 3600}],
        "healthIntervalS": [0.05, 30, 3600],
        "statusMinIntervalS": [0, 5, 3600],
        "accessControl": [recipe_defaults("SsdInference")["accessControl"]],
    }
    return well_formed_settings(catalog).map(lambda c: Update(c, True, "well-formed"))


def against_the_rules(configuration: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        "a relative annotated dir": {**configuration, "annotatedOutput": {"dir": "annotated"}},
        "a NUL in the annotated dir": {**configuration, "annotatedOutput": {"dir": "/tmp/a\x00b"}},
        "an empty label": {**configuration, "classAllowList": ["person", ""]},
        "a 65-character label": {**configuration, "classAllowList": ["x" * 65]},
        "1001 labels": {**configuration, "classAllowList": [f"l{i}" for i in range(1001)]},
        "a zero IoU": {**configuration, "nmsIouThreshold": 0},
        "a tracking threshold above 1": {**configuration, "trackingScoreThreshold": 1.01},
    }


@pytest.fixture
def ring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FrameRing:
    monkeypatch.setenv("AWS_IOT_THING_NAME", THING)
    return FrameRing(tmp_path / "frames", "cam1", capacity=64)


# A failure is shrunk to a small example, which takes Hypothesis up to 5 minutes on its own.
@pytest.mark.timeout(900)
def test_random_configuration_updates_while_frames_arrive(tmp_path: Path, ring: FrameRing) -> None:
    model_dir = write_model_dir(tmp_path / "model", runtimes=RUNTIMES)
    pixels = frame_pixels(64, 48)
    sent: Counter[str] = Counter()

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        changes=st.lists(updates(SsdInferenceConfig, well_formed_updates(tmp_path / "annotated"), against_the_rules),
                         min_size=UPDATES_PER_EXAMPLE, max_size=UPDATES_PER_EXAMPLE),
        frames_after=st.lists(st.integers(0, UPDATES_PER_EXAMPLE - 1), min_size=FRAMES_PER_EXAMPLE,
                              max_size=FRAMES_PER_EXAMPLE),
    )
    def run(changes: list[Update], frames_after: list[int]) -> None:
        with HandlerErrors() as errors:
            nucleus = FakeNucleus(inference_configuration(), "smartcam.SsdInference")
            live = LiveConfig(nucleus.ipc, SsdInferenceConfig)
            fuzz = ConfigFuzz(nucleus, live)
            app = SsdInferenceApp(nucleus.ipc, live, model_dir=model_dir, frame_root=ring.root,
                                  backend_factories=fake_factories("onnxruntime", "litert"))
            assert app.start() == "RUNNING"
            try:
                for index, update in enumerate(changes):
                    fuzz.send(update)
                    for _ in range(frames_after.count(index)):
                        nucleus.send(topics.FRAMES, write_frame(ring, pixels))
                fuzz.send(Update(inference_configuration(**LAST), True, "the last configuration"))
                last = write_frame(ring, pixels)
                nucleus.send(topics.FRAMES, last)
                served = detections_for(nucleus, last)
            finally:
                app.stop()
        errors.check(refused_updates=fuzz.refused)
        assert "ERRORED" not in nucleus.states()
        assert [d.label for d in served.detections] == ["person"]
        sent["updates"] += len(changes)
        sent["applied"] += fuzz.applied
        sent["refused"] += fuzz.refused

    run()
    assert sent["updates"] >= MIN_UPDATES, sent
    assert min(sent["applied"], sent["refused"]) >= sent["updates"] // 10, sent


def write_frame(ring: FrameRing, pixels: np.ndarray) -> FrameRef:
    return ring.write(pixels, captured_at=time.time(), captured_monotonic_ns=time.monotonic_ns())


def detections_for(nucleus: FakeNucleus, frame: FrameRef) -> Detections:
    def served() -> list[Any]:
        return [m for m in nucleus.on(topics.DETECTIONS) if m["frame"]["frame_id"] == frame.frame_id]

    wait_until(served, what=f"the detections of frame {frame.frame_id}")
    return parse(Detections, served()[0])
