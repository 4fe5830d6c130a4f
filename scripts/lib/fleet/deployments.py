"""Create a fleet deployment, wait for it device by device, and roll back to the previous one.

A thing group deployment stays ACTIVE for devices that join later, so "done" means: every device now in
the group reached a final status for this deployment (greengrassv2 list_effective_deployments), or the
deployment itself ended (canceled by the abort criteria, failed), or the timeout passed.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fleet.aws import Aws, FleetError, paginate
from fleet.documents import parse_target

FINAL_DEVICE_STATES = {"SUCCEEDED", "COMPLETED", "FAILED", "TIMED_OUT", "CANCELED", "REJECTED"}
GOOD_DEVICE_STATES = {"SUCCEEDED", "COMPLETED"}
REQUEST_KEYS = ("targetArn", "deploymentName", "components", "deploymentPolicies", "iotJobConfiguration",
                "parentTargetArn")


@dataclass
class DeviceStatus:
    thing: str
    status: str
    reason: str = ""


@dataclass
class DeploymentReport:
    deployment_id: str
    deployment_status: str
    devices: list[DeviceStatus] = field(default_factory=list)
    timed_out: bool = False

    @property
    def succeeded(self) -> bool:
        return not self.timed_out and all(device.status in GOOD_DEVICE_STATES for device in self.devices)


class History:
    """What was deployed to each target, newest last (one JSON line per deployment)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _file(self, target_arn: str) -> Path:
        return self.folder / (re.sub(r"[^A-Za-z0-9_.-]+", "_", target_arn) + ".jsonl")

    def record(self, deployment_id: str, request: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        entry = {"deploymentId": deployment_id, "at": datetime.now(UTC).isoformat(), "request": request}
        with self._file(request["targetArn"]).open("a", encoding="utf-8") as stream:
            stream.write(json.dumps(entry) + "\n")

    def entries(self, target_arn: str) -> list[dict[str, Any]]:
        path = self._file(target_arn)
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class Deployer:
    def __init__(self, aws: Aws, history: History, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, echo: Callable[[str], None] = print) -> None:
        self.aws = aws
        self.history = history
        self.sleep = sleep
        self.clock = clock
        self.echo = echo

    @property
    def greengrass(self) -> Any:
        return self.aws.client("greengrassv2")

    def deploy(self, request: dict[str, Any]) -> str:
        """Create the deployment (the request is validated already) and remember it for rollback."""
        response = self.greengrass.create_deployment(**request, clientToken=str(uuid.uuid4()))
        deployment_id = response["deploymentId"]
        self.history.record(deployment_id, request)
        self.echo(f"deployment {deployment_id} created for {request['targetArn']} (IoT job {response.get('iotJobId')})")
        return deployment_id

    def devices(self, target_arn: str) -> list[str]:
        target = parse_target(target_arn)
        if target["kind"] == "thing":
            return [target["name"]]
        iot = self.aws.client("iot")
        return sorted(paginate(iot, "list_things_in_thing_group", "things", thingGroupName=target["name"],
                               recursive=True))

    def device_status(self, thing: str, deployment_id: str) -> DeviceStatus:
        effective = paginate(self.greengrass, "list_effective_deployments", "effectiveDeployments",
                             coreDeviceThingName=thing)
        for entry in effective:
            if entry.get("deploymentId") == deployment_id:
                details = entry.get("statusDetails") or {}
                reason = entry.get("reason") or ", ".join(details.get("errorTypes", []) + details.get("errorStack", []))
                return DeviceStatus(thing, entry.get("coreDeviceExecutionStatus", "UNKNOWN"), reason)
        return DeviceStatus(thing, "NOT_STARTED")

    def report(self, deployment_id: str) -> DeploymentReport:
        deployment = self.greengrass.get_deployment(deploymentId=deployment_id)
        devices = [self.device_status(thing, deployment_id) for thing in self.devices(deployment["targetArn"])]
        return DeploymentReport(deployment_id, deployment.get("deploymentStatus", "UNKNOWN"), devices)

    def wait(self, deployment_id: str, timeout_s: float = 1800.0, poll_s: float = 10.0) -> DeploymentReport:
        deadline = self.clock() + timeout_s
        seen: dict[str, str] = {}
        while True:
            report = self.report(deployment_id)
            for device in report.devices:
                if seen.get(device.thing) != device.status:
                    seen[device.thing] = device.status
                    self.echo(f"  {device.thing}: {device.status}" + (f" ({device.reason})" if device.reason else ""))
            if not report.devices:
                self.echo("  no core devices in the target yet; they get this deployment when they join")
                return report
            if report.deployment_status != "ACTIVE" or all(d.status in FINAL_DEVICE_STATES for d in report.devices):
                return report
            if self.clock() >= deadline:
                report.timed_out = True
                return report
            self.sleep(poll_s)

    def previous_request(self, target_arn: str, use_history: bool = False) -> dict[str, Any]:
        """The request of the deployment before the current one of ``target_arn``."""
        if not use_history:
            deployments = paginate(self.greengrass, "list_deployments", "deployments", targetArn=target_arn,
                                   historyFilter="ALL")
            deployments.sort(key=lambda item: item.get("creationTimestamp") or datetime.min.replace(tzinfo=UTC),
                             reverse=True)
            if len(deployments) >= 2:
                previous = self.greengrass.get_deployment(deploymentId=deployments[1]["deploymentId"])
                return {key: previous[key] for key in REQUEST_KEYS if previous.get(key)}
        entries = self.history.entries(target_arn)
        if len(entries) < 2:
            raise FleetError(f"no previous deployment of {target_arn} to roll back to")
        return entries[-2]["request"]
