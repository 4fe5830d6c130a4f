"""What `gdk component publish` does, for every component, idempotently.

Per component (dependencies first): the bucket ``<prefix>-<region>-<account>`` (created if missing,
public access blocked, SSE-S3), then a comparison of the built recipe (minus its version) and the
artifacts' SHA-256 with the latest published version. Unchanged -> nothing is uploaded or created.
Changed -> NEXT_PATCH (latest patch + 1, 1.0.0 when none) or the configured version, artifacts uploaded
to ``<name>/<version>/<file>`` (with their SHA-256 as object metadata), then create_component_version.
An S3 object under a published version is never overwritten: GDK does, and devices then fail with
ARTIFACT_CHECKSUM_MISMATCH.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from fleet import checker
from fleet.aws import Aws, FleetError, error_code, paginate
from fleet.checker import SEMVER_PATTERN
from fleet.components import (
    ARTIFACT_URI,
    NEXT_PATCH,
    BuiltComponent,
    dependency_order,
    get_key,
    manifest_artifacts,
    sha256_file,
)

log = logging.getLogger("fleet.publish")

SHA256_METADATA = "sha256"  # x-amz-meta-sha256 on every uploaded artifact
FINGERPRINT_TAG = "smartcam:build-fingerprint"  # on every component version this script creates
PENDING_STATES = {"REQUESTED", "INITIATED"}


@dataclass
class PublishResult:
    name: str
    version: str
    action: str  # "published" or "unchanged"
    uploaded: list[str] = field(default_factory=list)


def semver_key(version: str) -> tuple[int, int, int, int, str]:
    match = SEMVER_PATTERN.fullmatch(version)
    if match is None:
        return (-1, -1, -1, -1, version)
    major, minor, patch, prerelease = match.group(1, 2, 3, 4)
    return (int(major), int(minor), int(patch), 0 if prerelease else 1, prerelease or "")


def next_patch(latest: str | None) -> str:
    if latest is None:
        return "1.0.0"
    major, minor, patch = semver_key(latest)[:3]
    return f"{major}.{minor}.{patch + 1}"


def _casefold_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key).lower(): _casefold_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_casefold_keys(item) for item in value]
    return value


def _drop_key(mapping: dict[str, Any], key: str) -> Any:
    for candidate in list(mapping):
        if str(candidate).lower() == key.lower():
            return mapping.pop(candidate)
    return None


def _set_key(mapping: dict[str, Any], key: str, value: Any) -> None:
    existing = next((candidate for candidate in mapping if str(candidate).lower() == key.lower()), key)
    mapping[existing] = value


def normalized_recipe(recipe: dict[str, Any], name: str) -> tuple[Any, dict[str, str]]:
    """The recipe without its version, digests and concrete artifact locations, plus the SHA-256 (hex)
    of each artifact that the recipe itself records (the service adds Digest/Algorithm on publish)."""
    result = copy.deepcopy(recipe)
    _drop_key(result, "ComponentVersion")
    digests: dict[str, str] = {}
    published_uri = re.compile(rf"s3://[^/]+/{re.escape(name)}/[^/]+/(?P<file>[^/]+)")
    for artifact in manifest_artifacts(result):
        match = published_uri.fullmatch(str(get_key(artifact, "URI", "")))
        digest, algorithm = _drop_key(artifact, "Digest"), _drop_key(artifact, "Algorithm")
        if match is None:
            continue
        _set_key(artifact, "URI", f"s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/{match['file']}")
        if digest and str(algorithm).upper() == "SHA-256":
            digests[match["file"]] = base64.b64decode(digest).hex()
    return _casefold_keys(result), digests


def fingerprint(recipe: Any, artifact_hashes: dict[str, Any]) -> str:
    """One hash of what makes a version: the normalized recipe and every artifact's SHA-256."""
    canonical = json.dumps({"recipe": recipe, "artifacts": artifact_hashes}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def publishable_recipe(component: BuiltComponent, bucket: str, version: str) -> bytes:
    """The built recipe as GDK publishes it: version set, artifact URIs pointing at the bucket."""
    recipe = copy.deepcopy(component.recipe)
    _set_key(recipe, "ComponentVersion", version)
    for artifact in manifest_artifacts(recipe):
        match = ARTIFACT_URI.fullmatch(str(get_key(artifact, "URI", "")))
        if match is not None:
            _set_key(artifact, "URI", f"s3://{bucket}/{component.name}/{version}/{match['file']}")
    return json.dumps(recipe, indent=2).encode()


class Publisher:
    def __init__(
        self,
        aws: Aws,
        *,
        bucket: str | None = None,
        wait: bool = True,
        wait_timeout_s: float = 600.0,
        sleep: Callable[[float], None] = time.sleep,
        recipe_problem: Callable[[dict[str, Any]], str | None] | None = None,
    ) -> None:
        self.aws = aws
        self.explicit_bucket = bucket
        self.wait = wait
        self.wait_timeout_s = wait_timeout_s
        self.sleep = sleep
        self.recipe_problem = recipe_problem  # e.g. GDK's recipe schema, as `gdk component publish` checks it
        self._ready_buckets: set[str] = set()

    @property
    def greengrass(self) -> Any:
        return self.aws.client("greengrassv2")

    @property
    def s3(self) -> Any:
        return self.aws.client("s3")

    def bucket_for(self, component: BuiltComponent) -> str:
        if self.explicit_bucket:
            return self.explicit_bucket
        return f"{component.project.bucket_prefix}-{self.aws.region}-{self.aws.account}"

    def component_arn(self, name: str, version: str | None = None) -> str:
        arn = f"arn:{self.aws.partition}:greengrass:{self.aws.region}:{self.aws.account}:components:{name}"
        return f"{arn}:versions:{version}" if version else arn

    def ensure_bucket(self, bucket: str) -> None:
        if bucket in self._ready_buckets:
            return
        try:
            self.s3.head_bucket(Bucket=bucket)
        except ClientError as error:
            if error_code(error) not in {"404", "NoSuchBucket", "NotFound"}:
                raise FleetError(f"bucket {bucket} exists but is not usable by this account ({error})") from error
            log.info("creating bucket %s", bucket)
            create: dict[str, Any] = {"Bucket": bucket}
            if self.aws.region != "us-east-1":
                create["CreateBucketConfiguration"] = {"LocationConstraint": self.aws.region}
            self.s3.create_bucket(**create)
            self.s3.put_public_access_block(
                Bucket=bucket,
                PublicAccessBlockConfiguration={
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                },
            )
            self.s3.put_bucket_encryption(
                Bucket=bucket,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            )
        self._ready_buckets.add(bucket)

    def published_versions(self, name: str) -> list[str]:
        try:
            arn = self.component_arn(name)
            items = paginate(self.greengrass, "list_component_versions", "componentVersions", arn=arn)
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return []
            raise
        return sorted((item["componentVersion"] for item in items), key=semver_key)

    def published_fingerprint(self, name: str, version: str) -> str:
        """The fingerprint tag this script put on the version, else one computed from the published recipe
        (digests from the recipe, or the SHA-256 metadata of the S3 objects it names)."""
        response = self.greengrass.get_component(arn=self.component_arn(name, version), recipeOutputFormat="JSON")
        tagged = (response.get("tags") or {}).get(FINGERPRINT_TAG)
        if tagged:
            return str(tagged)
        recipe = json.loads(response["recipe"])
        normalized, digests = normalized_recipe(recipe, name)
        hashes: dict[str, str | None] = {}
        for artifact in manifest_artifacts(recipe):
            uri = str(get_key(artifact, "URI", ""))
            match = re.fullmatch(rf"s3://(?P<bucket>[^/]+)/(?P<key>{re.escape(name)}/[^/]+/(?P<file>[^/]+))", uri)
            if match is None:
                continue
            file = match["file"]
            hashes[file] = digests.get(file) or self._object_sha256(match["bucket"], match["key"])
        return fingerprint(normalized, hashes)

    def _object_sha256(self, bucket: str, key: str) -> str | None:
        try:
            head = self.s3.head_object(Bucket=bucket, Key=key)
        except ClientError:
            return None
        return head.get("Metadata", {}).get(SHA256_METADATA)

    def publish(self, component: BuiltComponent) -> PublishResult:
        name = component.name
        built_recipe, _ = normalized_recipe(component.recipe, name)
        built = fingerprint(built_recipe, component.artifact_sha256())
        versions = self.published_versions(name)
        configured = component.project.version
        candidates = [v for v in {versions[-1] if versions else None, configured} if v in versions]
        for version in sorted(candidates, key=semver_key, reverse=True):
            if self.published_fingerprint(name, version) == built:
                log.info("%s unchanged since %s", name, version)
                return PublishResult(name, version, "unchanged")
        if configured == NEXT_PATCH:
            version = next_patch(versions[-1] if versions else None)
        elif configured in versions:
            raise FleetError(
                f"{name} {configured} is already published with different content; published versions are "
                "immutable (devices would fail with ARTIFACT_CHECKSUM_MISMATCH): set a new version or NEXT_PATCH "
                f"in {component.project.folder / 'gdk-config.json'}"
            )
        else:
            version = configured
        bucket = self.bucket_for(component)
        recipe = publishable_recipe(component, bucket, version)
        request = {"inlineRecipe": recipe, "clientToken": str(uuid.uuid4()), "tags": {FINGERPRINT_TAG: built}}
        checker.check(self.greengrass, "CreateComponentVersion", request)  # before anything is uploaded
        if self.recipe_problem is not None and (problem := self.recipe_problem(json.loads(recipe))):
            raise FleetError(f"{name} {version}: the recipe does not follow the Greengrass recipe schema {problem}")
        self.ensure_bucket(bucket)
        result = PublishResult(name, version, "published")
        for file, path in sorted(component.artifacts.items()):
            key = f"{name}/{version}/{file}"
            if self._upload(component, bucket, key, path, published=versions):
                result.uploaded.append(f"s3://{bucket}/{key}")
        log.info("creating %s %s", name, version)
        self.greengrass.create_component_version(**request)
        if self.wait:
            self._wait_deployable(name, version)
        return result

    def _upload(self, component: BuiltComponent, bucket: str, key: str, path: Path, *, published: list[str]) -> bool:
        """Upload unless the same bytes are already there; never replace an object a published version uses."""
        sha256 = sha256_file(path)
        existing = self._object_sha256_or_absent(bucket, key)
        if existing is not None:
            version = key.split("/")[-2]
            if version in published:
                raise FleetError(f"s3://{bucket}/{key} belongs to published {component.name} {version}: kept as is")
            if existing == sha256:
                log.info("s3://%s/%s already holds these bytes", bucket, key)
                return False
            log.warning("replacing s3://%s/%s, left by an unfinished publish (no published version uses it)",
                        bucket, key)
        extra = {**component.project.file_upload_args}
        extra["Metadata"] = {**extra.get("Metadata", {}), SHA256_METADATA: sha256}
        self.s3.upload_file(str(path), bucket, key, ExtraArgs=extra)
        return True

    def _object_sha256_or_absent(self, bucket: str, key: str) -> str | None:
        """None when absent; the recorded hash (or "" when none was recorded) when present."""
        try:
            head = self.s3.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if error_code(error) in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        return head.get("Metadata", {}).get(SHA256_METADATA, "")

    def _wait_deployable(self, name: str, version: str) -> None:
        deadline = time.monotonic() + self.wait_timeout_s
        while True:
            status = self.greengrass.describe_component(arn=self.component_arn(name, version)).get("status", {})
            state = status.get("componentState")
            if state not in PENDING_STATES:
                break
            if time.monotonic() > deadline:
                raise FleetError(f"{name} {version} still {state} after {self.wait_timeout_s:.0f} s")
            self.sleep(2.0)
        if state != "DEPLOYABLE":
            details = status.get("message") or json.dumps(status.get("errors", {}))
            raise FleetError(f"{name} {version} is {state}: {details}")


def publish_all(publisher: Publisher, components: list[BuiltComponent]) -> list[PublishResult]:
    publisher.aws.require_credentials()
    return [publisher.publish(component) for component in dependency_order(components)]
