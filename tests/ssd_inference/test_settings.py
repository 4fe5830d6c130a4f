"""The configuration rules of smartcam.SsdInference: every number and size refused just beyond its bounds
and accepted at them, the annotated JPEGs' folder "auto" or absolute."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from smartcam.config import ConfigError, validate_config
from ssd_inference.settings import AnnotatedOutput, SsdInferenceConfig
from tests.support.config_bounds import check_number_bounds, check_size_bounds


@pytest.mark.parametrize(("path", "bounds"), [
    (("scoreThreshold",), {"ge": 0, "le": 1}),
    (("trackingScoreThreshold",), {"ge": 0, "le": 1}),
    (("nmsIouThreshold",), {"gt": 0, "le": 1}),
    (("maxDetections",), {"ge": 1, "le": 1000, "integer": True}),
    (("minBoxArea",), {"ge": 0, "le": 1}),
    (("threads",), {"ge": 0, "le": 64, "integer": True}),
    (("healthIntervalS",), {"gt": 0, "le": 3600}),
    (("statusMinIntervalS",), {"ge": 0, "le": 3600}),
    (("annotatedOutput", "keepPerCamera"), {"ge": 1, "le": 10_000, "integer": True}),
    (("dropPolicy", "pendingPerCamera"), {"ge": 1, "le": 64, "integer": True}),
    (("dropPolicy", "maxCameras"), {"ge": 1, "le": 1024, "integer": True}),
    (("iotSummary", "maxBoxes"), {"ge": 0, "le": 50, "integer": True}),
    (("iotSummary", "minIntervalS"), {"ge": 0, "le": 3600}),
    (("streams",), {"ge": 1, "le": 8, "integer": True}),
])
def test_each_number_is_refused_just_beyond_its_bounds(path: tuple, bounds: dict[str, Any]):
    check_number_bounds(SsdInferenceConfig, {}, path, **bounds)


def test_the_allow_list_has_at_most_1000_labels_of_1_to_64_characters():
    check_size_bounds(SsdInferenceConfig, {}, ("classAllowList",), lambda n: [f"label{i}" for i in range(n)],
                      max_size=1000)
    check_size_bounds(SsdInferenceConfig, {"classAllowList": ["person"]}, ("classAllowList", 0), lambda n: "p" * n,
                      min_size=1, max_size=64)


def test_the_annotated_folder_has_1_to_4096_characters():
    check_size_bounds(SsdInferenceConfig, {}, ("annotatedOutput", "dir"), lambda n: ("/" + "a" * n)[:n],
                      min_size=1, max_size=4096)


@pytest.mark.parametrize("folder", ["annotated", "./annotated", "~/annotated", "AUTO", "/data/\x00annotated"])
def test_an_annotated_folder_neither_auto_nor_absolute_is_refused(folder: str):
    reason = re.escape("annotatedOutput/dir: must be 'auto' or an absolute path")
    with pytest.raises(ConfigError, match=f"^invalid SsdInferenceConfig: {reason}$"):
        validate_config(SsdInferenceConfig, {"annotatedOutput": {"dir": folder}})


def test_auto_is_the_annotated_folder_in_the_work_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    output = validate_config(SsdInferenceConfig, {"annotatedOutput": {"dir": "auto"}}).annotated_output
    assert output.folder() == tmp_path / "annotated"
    assert AnnotatedOutput().folder() == tmp_path / "annotated"


def test_an_absolute_annotated_folder_is_used_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    output = validate_config(SsdInferenceConfig, {"annotatedOutput": {"dir": "/data/annotated"}}).annotated_output
    assert output.folder() == Path("/data/annotated")
