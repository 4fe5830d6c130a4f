"""Strict checks of what an operator passes to the cloud commands, before any request is made.

botocore validates types, required members, enums and lengths against the service model, but not the
regular expressions the model declares (job names) nor what an S3 URI or a role ARN look like: those
are checked here, so a typo fails at once with its name instead of minutes later inside a job.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import cache

import botocore.session

# S3 general purpose bucket naming rules (docs: "Bucket naming rules"): 3-63 characters, lower-case
# letters, digits, dots and hyphens, starting and ending with a letter or digit, no "..", not an IP
# address, none of the reserved prefixes/suffixes.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_KEY_MAX_BYTES = 1024
# An IAM role ARN: partition, 12-digit account, role name (with an optional path), IAM's own character set.
_ROLE_ARN = re.compile(r"arn:aws(?:-cn|-us-gov)?:iam::\d{12}:role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}")
_REGION = re.compile(r"[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d")


class InputError(ValueError):
    """An operator input that a request must not be made with."""


@dataclass(frozen=True)
class S3Uri:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Uri:
        """``s3://bucket/key`` with a valid bucket name and a non-empty key."""
        if not isinstance(uri, str) or not uri.startswith("s3://") or "/" not in uri[5:]:
            raise InputError(f"not an s3://bucket/key URI: {uri!r}")
        bucket, key = uri[5:].split("/", 1)
        check_bucket(bucket)
        check_key(key, uri)
        return cls(bucket, key)

    @classmethod
    def prefix(cls, uri: str) -> S3Uri:
        """``s3://bucket/prefix/`` (a folder): the key is kept without its trailing slash."""
        parsed = cls.parse(uri.rstrip("/") + "/x")
        return cls(parsed.bucket, parsed.key[:-2])

    def join(self, *parts: str) -> S3Uri:
        return S3Uri(self.bucket, "/".join([self.key.strip("/"), *(part.strip("/") for part in parts)]).strip("/"))

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def check_bucket(bucket: str) -> str:
    problem = None
    if not _BUCKET.fullmatch(bucket):
        problem = "3-63 characters of a-z, 0-9, '.', '-', starting and ending with a letter or digit"
    elif ".." in bucket:
        problem = "no two adjacent dots"
    elif _is_ip_address(bucket):
        problem = "not formatted as an IP address"
    elif bucket.startswith(_RESERVED_BUCKET_PREFIXES) or bucket.endswith(_RESERVED_BUCKET_SUFFIXES):
        problem = "no reserved prefix or suffix"
    if problem:
        raise InputError(f"not a valid S3 bucket name: {bucket!r} ({problem})")
    return bucket


def check_key(key: str, where: str) -> str:
    if not key or key.startswith("/") or "//" in key:
        raise InputError(f"{where}: the object key must be non-empty, without a leading or doubled '/'")
    if len(key.encode()) > _KEY_MAX_BYTES or any(ord(char) < 32 or ord(char) == 127 for char in key):
        raise InputError(f"{where}: the object key must be at most 1024 bytes, without control characters")
    return key


def _is_ip_address(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def check_role_arn(arn: str) -> str:
    if not isinstance(arn, str) or not _ROLE_ARN.fullmatch(arn):
        raise InputError(f"not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>): {arn!r}")
    return arn


def check_region(region: str | None) -> str:
    if not region or not _REGION.fullmatch(region):
        raise InputError(f"not an AWS region name: {region!r} (pass --region or configure one for the SDK)")
    return region


@cache
def sagemaker_model() -> object:
    """The SageMaker service model botocore ships (the one every request is validated against)."""
    return botocore.session.get_session().get_service_model("sagemaker")


def _shape(name: str) -> object:
    return sagemaker_model().shape_for(name)


def check_job_name(name: str, shape: str) -> str:
    """A SageMaker job name against the pattern and length of its shape in the service model
    (botocore does not check patterns itself)."""
    model = _shape(shape)
    pattern, maximum = model.metadata.get("pattern"), model.metadata.get("max", 63)
    if not isinstance(name, str) or not 1 <= len(name) <= maximum or not re.fullmatch(pattern, name):
        raise InputError(f"not a valid {shape}: {name!r} (pattern {pattern}, at most {maximum} characters)")
    return name


def check_instance_type(instance_type: str, shape: str, allowed: tuple[str, ...]) -> str:
    """An instance type the service model knows for ``shape`` and the algorithm supports (``allowed``)."""
    known = _shape(shape).enum
    if instance_type not in known:
        raise InputError(f"{instance_type!r} is not a SageMaker {shape}")
    if instance_type not in allowed:
        raise InputError(f"{instance_type!r} is not one the algorithm supports: {', '.join(allowed)}")
    return instance_type
