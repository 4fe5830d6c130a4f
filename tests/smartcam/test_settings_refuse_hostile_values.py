"""Every setting of every component refuses every value of the wrong kind, and the property tests'
configuration fuzz (tests.support.config_fuzz) sees every setting and fails on a handler's exception."""

from __future__ import annotations

from typing import Any

import pytest

from camera_ingest.settings import CameraIngestConfig
from dynamo_writer.settings import DynamoWriterConfig
from smartcam.config import ComponentConfig, ConfigError, LiveConfig, validate_config
from ssd_inference.settings import SsdInferenceConfig
from tests.support.config_fuzz import (
    ConfigFuzz,
    HandlerErrors,
    Update,
    at,
    hostile_values,
    recipe_defaults,
    settings_of,
    with_value,
)
from tests.support.fake_nucleus import DemoConfig, FakeNucleus

MODELS: dict[str, type[ComponentConfig]] = {
    "CameraIngest": CameraIngestConfig, "SsdInference": SsdInferenceConfig, "DynamoWriter": DynamoWriterConfig,
}


@pytest.mark.parametrize(("component", "path", "kind"), [
    ("CameraIngest", ("cameras", 0, "source", "fps"), "number"),
    ("CameraIngest", ("cameras", 0, "source", "type"), "choice"),
    ("CameraIngest", ("cameras", 0, "jpegQuality"), "integer"),
    ("CameraIngest", ("cameras", 0, "source"), "object"),
    ("CameraIngest", ("limits", "maxFps"), "number"),
    ("CameraIngest", ("cameras", 0, "motion", "sensitivity"), "number"),
    ("CameraIngest", ("cameras", 0, "motion", "enabled"), "boolean"),
    ("CameraIngest", ("cameras", 0, "motion", "analysisWidth"), "integer"),
    ("CameraIngest", ("cameras",), "list"),
    ("SsdInference", ("annotatedOutput", "dir"), "text"),
    ("SsdInference", ("dropPolicy", "pendingPerCamera"), "integer"),
    ("SsdInference", ("iotSummary", "enabled"), "boolean"),
    ("SsdInference", ("classAllowList",), "list"),
    ("DynamoWriter", ("maxSpoolMB",), "number"),
    ("DynamoWriter", ("overflowPolicy",), "choice"),
    ("DynamoWriter", ("region",), "text"),
])
def test_the_fuzz_finds_nested_settings_and_their_kinds(component: str, path: tuple, kind: str) -> None:
    found = {s.path: s.kind for s in settings_of(MODELS[component], recipe_defaults(component))}
    assert found.get(path) == kind, sorted(found)


@pytest.mark.parametrize("component", sorted(MODELS))
def test_every_setting_refuses_every_hostile_value(component: str) -> None:
    model, base = MODELS[component], recipe_defaults(component)
    validate_config(model, base)
    settings = list(settings_of(model, base))
    assert len(settings) >= 12
    accepted = []
    for setting in settings:
        for value in hostile_values(setting, at(base, setting.path)):
            try:
                validate_config(model, with_value(base, setting.path, value))
            except ConfigError as refused:
                # The reason names the setting, or its object when the setting is a union's tag.
                reason, names = str(refused), [str(step) for step in setting.path if isinstance(step, str)]
                assert (names[0] in reason and any(name in reason for name in names[-2:])) or \
                    "nested too deeply" in reason, (setting.path, reason)
            else:
                accepted.append((setting.path, value))
    assert not accepted  # strict: no text read as a number, no true as 1, no NaN, nothing past a bound


def test_an_exception_in_a_handler_fails_the_check() -> None:
    nucleus = FakeNucleus({"scoreThreshold": 0.5})

    def broken(_topic: str, _payload: Any) -> None:
        raise RuntimeError("a bug in a handler")

    nucleus.ipc.subscribe("smartcam/demo", broken)
    with HandlerErrors() as errors:
        nucleus.send("smartcam/demo", {"any": "message"})  # smartcam.ipc logs it; nothing is raised here
    with pytest.raises(AssertionError, match="a bug in a handler"):
        errors.check(refused_updates=0)


def test_the_fuzz_tells_an_applied_update_from_a_refused_one() -> None:
    nucleus = FakeNucleus({"scoreThreshold": 0.5})
    fuzz = ConfigFuzz(nucleus, LiveConfig(nucleus.ipc, DemoConfig))
    with HandlerErrors() as errors:
        fuzz.send(Update({"scoreThreshold": 0.9, "cameraId": "cam7"}, True, "well-formed"))
        fuzz.send(Update({"scoreThreshold": "0.9"}, False, "text for a number"))
    errors.check(refused_updates=1)
    assert (fuzz.applied, fuzz.refused, fuzz.rejected_proposals) == (1, 1, 1)
    assert fuzz.live.current == DemoConfig(score_threshold=0.9, camera_id="cam7")
    with pytest.raises(AssertionError, match="hostile proposal accepted"):
        fuzz.send(Update({"scoreThreshold": 0.1}, False, "labelled hostile, yet valid"))
