"""Fixtures of the fleet tests (helpers live in helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from tests.fleet.helpers import REGION, RecordingAws, write_project


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


@pytest.fixture
def aws(aws_env: None) -> Iterator[RecordingAws]:
    with mock_aws():
        connected = RecordingAws.connect(region=REGION)
        connected.calls = []
        connected.client("greengrassv2")  # creates the Stubber
        yield connected


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    write_project(root, "Runtime", artifact=b"runtime-v1")
    write_project(root, "CameraIngest", dependencies={"smartcam.Runtime": ">=1.0.0 <2.0.0"}, artifact=b"ingest-v1")
    return root
