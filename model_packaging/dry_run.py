"""--dry-run: the requests a command would send, validated against botocore's service models and printed
as JSON lines ({"service", "operation", "request"}); nothing is sent. Also where the real clients come from."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

import botocore.session
from botocore.validate import ParamValidator

Call = tuple[str, str, dict[str, Any]]  # (service, operation name as in the API reference, request)
# Members that are bytes on the wire: dry runs show a description of the body instead.
_BLOB_PLACEHOLDERS = {("s3", "PutObject"): ("Body", b"")}


def validate(service: str, operation: str, request: dict[str, Any]) -> None:
    """Raises botocore's ParamValidationError if the request does not match the operation's input shape."""
    model = botocore.session.get_session().get_service_model(service).operation_model(operation)
    checked = dict(request)
    if (service, operation) in _BLOB_PLACEHOLDERS:
        member, placeholder = _BLOB_PLACEHOLDERS[(service, operation)]
        checked[member] = placeholder
    report = ParamValidator().validate(checked, model.input_shape)
    if report.has_errors():
        from botocore.exceptions import ParamValidationError

        raise ParamValidationError(report=report.generate_report())


def print_calls(calls: list[Call], stream: TextIO | None = None) -> None:
    for service, operation, request in calls:
        validate(service, operation, request)
        line = json.dumps({"service": service, "operation": operation, "request": request})
        (stream or sys.stdout).write(line + "\n")


def sagemaker_clients(region: str | None) -> tuple[Any, Any]:
    """Real SageMaker and S3 clients from the SDK's usual configuration (credentials, profile, region)."""
    import boto3

    session = boto3.Session(region_name=region)
    return session.client("sagemaker"), session.client("s3")
