"""What the server stand-ins (DynamoDB Local, the S3 server) share: ending their process, and a boto3
client for their endpoint with dummy credentials (the stand-ins check none)."""

from __future__ import annotations

import signal
import subprocess
from typing import Any

import boto3
from botocore.config import Config

GRACE_S = 20


def end_gracefully(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM, then SIGKILL after GRACE_S seconds."""
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(GRACE_S)


def end_at_once(process: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL, for outage and crash tests."""
    if process is not None and process.poll() is None:
        process.kill()
        process.wait(GRACE_S)


def local_client(service: str, endpoint: str, **config: Any) -> Any:
    retries = config.pop("retries", {"mode": "standard", "total_max_attempts": 3})
    return boto3.session.Session().client(
        service, region_name="us-east-1", endpoint_url=endpoint,
        aws_access_key_id="local", aws_secret_access_key="local",  # noqa: S106 - not a secret  # nosec B106
        config=Config(retries=retries, **config),
    )
