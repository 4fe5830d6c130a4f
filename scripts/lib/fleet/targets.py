"""Where a deployment goes: a thing group in AWS (CreateDeployment) or a local runtime standing in for one.

The canary rollout talks to a :class:`DeploymentTarget` only, so the same code decides and deploys in
the cloud and on a laptop: :class:`CloudTarget` validates the document and creates the deployment on
the thing group (greengrassv2 CreateDeployment through :class:`~fleet.deployments.Deployer`), waits
for every device and names the group's core devices; :class:`LocalTarget` maps each group name to a
local runtime (``scripts/local-greengrass``, one core device each) and deploys through its control
socket, exactly as ``local-greengrass deploy`` does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fleet.aws import Aws, FleetError
from fleet.deployments import Deployer
from fleet.documents import validated_request
from fleet.mqtt import Endpoint


@dataclass(frozen=True)
class Outcome:
    succeeded: bool
    detail: str


class DeploymentTarget(Protocol):
    def things(self, group: str) -> list[str]:
        """The core devices (thing names) of ``group``."""

    def deploy(self, group: str, document: dict[str, Any]) -> Outcome:
        """Deploy ``document`` to ``group`` and wait until every device of it finished."""

    def endpoint(self) -> Endpoint:
        """Where the devices' IoT Core messages can be read (MQTT, mutual TLS)."""


class CloudTarget:
    def __init__(self, aws: Aws, deployer: Deployer, repo_components: Iterable[str], endpoint: Endpoint | None,
                 *, timeout_s: float = 1800.0, poll_s: float = 10.0) -> None:
        self.aws = aws
        self.deployer = deployer
        self.repo_components = list(repo_components)
        self._endpoint = endpoint
        self.timeout_s = timeout_s
        self.poll_s = poll_s

    def _arn(self, group: str) -> str:
        return f"arn:{self.aws.partition}:iot:{self.aws.region}:{self.aws.account}:thinggroup/{group}"

    def things(self, group: str) -> list[str]:
        return self.deployer.devices(self._arn(group))

    def deploy(self, group: str, document: dict[str, Any]) -> Outcome:
        request = validated_request(document, self.aws, self.repo_components, thing_group=group)
        report = self.deployer.wait(self.deployer.deploy(request), timeout_s=self.timeout_s, poll_s=self.poll_s)
        devices = ", ".join(f"{d.thing} {d.status}" + (f" ({d.reason})" if d.reason else "") for d in report.devices)
        timed_out = " (timed out)" if report.timed_out else ""
        summary = f"deployment {report.deployment_id} {report.deployment_status}{timed_out}"
        return Outcome(report.succeeded and bool(report.devices), f"{summary}: {devices or 'no devices'}")

    def endpoint(self) -> Endpoint:
        if self._endpoint is None:
            raise FleetError("the canary reads the devices' health over IoT Core: pass --endpoint, --cert and --key "
                             "(an operator certificate, see README 'Trigger a capture')")
        return self._endpoint


class LocalTarget:
    """Each thing group is one local runtime (its root); their devices must share one IoT Core stand-in
    (``local-greengrass up --iot-core-of <root>``) for one MQTT connection to hear them all."""

    def __init__(self, roots: dict[str, Path], timeout_s: float = 600.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        from local_greengrass.paths import RuntimePaths

        self.paths = {group: RuntimePaths(Path(root).resolve()) for group, root in roots.items()}
        self.timeout_s = timeout_s
        self.sleep = sleep

    def _request(self, group: str, payload: dict[str, Any], timeout: float = 600.0) -> dict[str, Any]:
        from local_greengrass.cli import NotRunning, request

        if group not in self.paths:
            raise FleetError(f"no local runtime for thing group {group!r} (--local {group}=<root>)")
        try:
            return request(self.paths[group], payload, timeout=timeout)
        except (NotRunning, OSError) as exc:
            raise FleetError(f"the local runtime of {group} ({self.paths[group].root}): {exc}") from exc

    def things(self, group: str) -> list[str]:
        return [str(self._request(group, {"command": "status"})["thing_name"])]

    def deploy(self, group: str, document: dict[str, Any]) -> Outcome:
        response = self._request(group, {"command": "deploy", "document": document,
                                         "source": f"canary rollout to {group}"})
        if not response.get("ok"):
            return Outcome(False, f"deployment refused: {response.get('error')}")
        if response.get("errors"):
            return Outcome(False, "; ".join(f"{name}: {error}" for name, error in response["errors"].items()))
        return self._settled(group, {name: spec["componentVersion"] for name, spec in document["components"].items()})

    def _settled(self, group: str, versions: dict[str, str]) -> Outcome:
        """Every component settled (two polls in a row, as `local-greengrass deploy` waits) at its version."""
        from local_greengrass.lifecycle.launcher import BROKEN

        deadline = time.monotonic() + self.timeout_s
        settled_before = False
        while True:
            rows = self._request(group, {"command": "status"})["components"]
            settled = all(row["settled"] for row in rows)
            if settled and settled_before:
                broken = [f"{row['component']} {row['state']} {row.get('error') or ''}".strip() for row in rows
                          if row["state"] == BROKEN or row.get("error")]
                wrong = [f"{row['component']} runs {row['version']}, not {versions[row['component']]}"
                         for row in rows if versions.get(row["component"], row["version"]) != row["version"]]
                thing = self.things(group)[0]
                if broken or wrong:
                    return Outcome(False, f"{thing}: " + "; ".join(broken + wrong))
                return Outcome(True, f"{thing}: " + ", ".join(f"{row['component']} {row['version']} {row['state']}"
                                                              for row in rows if row["component"] in versions))
            settled_before = settled
            if time.monotonic() > deadline:
                return Outcome(False, f"not settled after {self.timeout_s:g} s")
            self.sleep(0.5)

    def endpoint(self) -> Endpoint:
        """An operator certificate from the shared IoT Core stand-in's CA (mosquitto's ACL lets
        ``operator`` read every ``smartcam/#`` topic)."""
        from local_greengrass.standins.mosquitto import OPERATOR, Mosquitto

        brokers = {}
        for group in self.paths:
            iot = self._request(group, {"command": "status"})["standins"]["iot_core"]
            brokers[(iot["host"], int(iot["port"]), iot["workdir"])] = iot
        if len(brokers) != 1:
            raise FleetError("the local runtimes do not share one IoT Core stand-in (start the second with "
                             "`local-greengrass up --iot-core-of <first root>`)")
        (host, port, workdir), iot = next(iter(brokers.items()))
        cert, key = Mosquitto(Path(workdir)).issue_client_cert(OPERATOR)
        return Endpoint(host, port, Path(iot["ca_path"]), cert, key)
