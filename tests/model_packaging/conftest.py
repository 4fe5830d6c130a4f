"""What the cloud commands' tests share: SageMaker and S3 clients under botocore's Stubber (the real
service models check every request), handed to the commands as their client factory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    session = boto3.Session(region_name="eu-west-1", aws_access_key_id="test", aws_secret_access_key="test")
    sagemaker, s3 = session.client("sagemaker"), session.client("s3")
    with Stubber(sagemaker) as sagemaker_stub, Stubber(s3) as s3_stub:
        yield {"clients": lambda region: (sagemaker, s3), "sagemaker": sagemaker_stub, "s3": s3_stub}
        sagemaker_stub.assert_no_pending_responses()
        s3_stub.assert_no_pending_responses()
