"""Deployment documents (recipes/<env>.json): plain greengrassv2 CreateDeployment requests.

Validation happens here, before any call that changes AWS: the request shape, patterns and enums
(botocore model via the strict checker), the target ARN, that every component is the repo's or an
``aws.greengrass.*`` built-in, that merges are JSON objects, and (with AWS access, read-only) that every
version is published.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import botocore.session
from access_policy import wildcard_problems
from botocore.exceptions import ClientError

from fleet import checker
from fleet.aws import Aws, FleetError, error_code

TARGET_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):iot:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"(?P<kind>thing|thinggroup)/(?P<name>[a-zA-Z0-9:_-]{1,128})"
)
THING_GROUP_NAME = re.compile(r"[a-zA-Z0-9:_-]{1,128}")
BUILT_IN_PREFIX = "aws.greengrass."


def load_document(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise FleetError(f"cannot read the deployment document {path}: {error}") from error
    except json.JSONDecodeError as error:
        raise FleetError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise FleetError(f"{path}: a deployment document is a CreateDeployment request object")
    return document


def parse_target(arn: str) -> re.Match[str]:
    match = TARGET_ARN.fullmatch(arn) if isinstance(arn, str) else None
    if match is None:
        raise FleetError(
            f"targetArn {arn!r} has the wrong shape: expected "
            "arn:aws:iot:<region>:<12-digit account>:thinggroup/<name> (or thing/<name>)"
        )
    return match


def retarget(document: dict[str, Any], aws: Aws, thing_group: str | None = None,
             target_arn: str | None = None) -> dict[str, Any]:
    """The request with its target in this account and region (a thing group or ARN from the CLI wins)."""
    request = dict(document)
    if target_arn is not None:
        parse_target(target_arn)
        request["targetArn"] = target_arn
        return request
    if thing_group is not None:
        if THING_GROUP_NAME.fullmatch(thing_group) is None:
            raise FleetError(f"thing group name {thing_group!r} is invalid (letters, digits, :_- ; at most 128)")
        kind, name = "thinggroup", thing_group
    else:
        match = parse_target(document.get("targetArn", ""))
        kind, name = match["kind"], match["name"]
    request["targetArn"] = f"arn:{aws.partition}:iot:{aws.region}:{aws.account}:{kind}/{name}"
    return request


def problems_offline(document: dict[str, Any], repo_components: Iterable[str], *,
                     allow_wildcard_access: bool = False) -> list[str]:
    """Everything wrong with the document that needs no AWS access (a bare ``*`` in an accessControl
    policy of a merge included, unless ``allow_wildcard_access``)."""
    model = botocore.session.get_session().get_service_model("greengrassv2")
    problems = checker.check_request(model.operation_model("CreateDeployment"), document)
    if "targetArn" in document and not any("targetArn" in problem for problem in problems):
        try:
            parse_target(document["targetArn"])
        except FleetError as error:
            problems.append(str(error))
    known = set(repo_components)
    components = document.get("components")
    for name, spec in (components.items() if isinstance(components, dict) else []):
        if name not in known and not name.startswith(BUILT_IN_PREFIX):
            problems.append(f"component {name!r} is not in this repo ({', '.join(sorted(known))}) nor aws.greengrass.*")
        update = spec.get("configurationUpdate", {}) if isinstance(spec, dict) else {}
        merge = update.get("merge") if isinstance(update, dict) else None
        if isinstance(merge, str) and (reason := checker.merge_problem(merge)):
            message = f"components[{name!r}].configurationUpdate.merge: {reason}"
            if message not in problems:
                problems.append(message)
        elif isinstance(merge, str) and not allow_wildcard_access:
            problems += [f"components[{name!r}].configurationUpdate.merge: {problem}"
                         for problem in wildcard_problems(json.loads(merge))]
    return problems


def problems_unpublished(document: dict[str, Any], aws: Aws) -> list[str]:
    """Read-only check that every component version exists (built-ins in AWS's catalogue)."""
    greengrass = aws.client("greengrassv2")
    problems = []
    for name, spec in document.get("components", {}).items():
        version = spec["componentVersion"]
        owner = "aws" if name.startswith(BUILT_IN_PREFIX) else aws.account
        arn = f"arn:{aws.partition}:greengrass:{aws.region}:{owner}:components:{name}:versions:{version}"
        try:
            greengrass.describe_component(arn=arn)
        except ClientError as error:
            if error_code(error) != "ResourceNotFoundException":
                raise FleetError(f"cannot check {name} {version}: {error}") from error
            problems.append(f"{name} {version} is not published in {aws.region} (publish it: scripts/publish.py)")
    return problems


def validated_request(document: dict[str, Any], aws: Aws, repo_components: Iterable[str],
                      thing_group: str | None = None, target_arn: str | None = None, *,
                      allow_wildcard_access: bool = False) -> dict[str, Any]:
    """The CreateDeployment request to send, or FleetError listing every problem. Read-only calls only."""
    problems = problems_offline(document, repo_components, allow_wildcard_access=allow_wildcard_access)
    if problems:
        raise FleetError("invalid deployment document:\n  " + "\n  ".join(problems))
    aws.require_credentials()
    request = retarget(document, aws, thing_group=thing_group, target_arn=target_arn)
    problems = problems_unpublished(request, aws)
    if problems:
        raise FleetError("cannot deploy:\n  " + "\n  ".join(problems))
    return request


def write_versions(path: Path, versions: dict[str, str]) -> None:
    """Set componentVersion of the given components in a document, leaving everything else as written."""
    document = load_document(path)
    for name, spec in document.get("components", {}).items():
        if name in versions:
            spec["componentVersion"] = versions[name]
    Path(path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
