"""`scripts/deploy.py canary`: the options of a canary rollout and the wiring of its parts.

In the cloud (default) the groups are thing groups and the health comes from IoT Core with an operator
certificate (``--endpoint/--cert/--key``); with ``--local GROUP=ROOT`` (once per group) each group is a
local runtime and the health comes from their shared IoT Core stand-in. The rollout itself
(:mod:`fleet.canary`) is the same code either way.
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fleet import canary
from fleet.aws import Aws, FleetError
from fleet.canary_policy import CanaryThresholds, WindowMetrics
from fleet.canary_watch import HealthWatch
from fleet.components import component_names
from fleet.deployments import Deployer, History
from fleet.documents import THING_GROUP_NAME, load_document, problems_offline
from fleet.mqtt import Endpoint, MqttConnection
from fleet.targets import CloudTarget, DeploymentTarget, LocalTarget

# CLI option -> threshold key (CanaryThresholds' JSON alias); a value given here beats --thresholds.
THRESHOLD_OPTIONS = {
    "watch_s": "watchS", "baseline_s": "baselineS", "min_frames": "minFramesPerDevice", "max_errors": "maxErrors",
    "max_latency_increase": "maxLatencyIncrease", "max_detection_rate_drop": "maxDetectionRateDrop",
    "max_detection_rate_rise": "maxDetectionRateRise",
}


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("canary", help="roll a new model version to a canary group, watch, promote or "
                                                "roll back")
    parser.add_argument("document", type=Path, help="the deployment document the fleet runs now")
    parser.add_argument("--model-version", required=True, help="the new smartcam.SsdModelStore version")
    parser.add_argument("--canary-group", required=True, help="thing group of the canary devices")
    parser.add_argument("--fleet-group", required=True, help="thing group of the rest of the fleet")
    policy = parser.add_argument_group("thresholds (defaults: fleet.canary_policy.CanaryThresholds)")
    policy.add_argument("--thresholds", type=Path, help="JSON object of thresholds (camelCase keys)")
    policy.add_argument("--watch-s", type=float, help="seconds to watch the canary on the new model (600)")
    policy.add_argument("--baseline-s", type=float, help="seconds to measure the previous model first (300)")
    policy.add_argument("--min-frames", type=int, help="frames of the new model needed per canary device (50)")
    policy.add_argument("--max-errors", type=int, help="problem reports allowed from the canary devices (0)")
    policy.add_argument("--max-latency-increase", type=float,
                        help="allowed rise of the mean inference time, a fraction of the baseline (0.5)")
    policy.add_argument("--max-detection-rate-drop", type=float,
                        help="allowed fall of detections per frame, a fraction of the baseline (0.3)")
    policy.add_argument("--max-detection-rate-rise", type=float,
                        help="allowed rise of detections per frame, a fraction of the baseline (1.0)")
    parser.add_argument("--baseline", type=Path, help="a recorded baseline (JSON) instead of measuring one")
    parser.add_argument("--save-baseline", type=Path, help="write the measured baseline here")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for each deployment")
    parser.add_argument("--poll", type=float, default=10.0, help="seconds between deployment status checks")
    mqtt = parser.add_argument_group("IoT Core (cloud): where the devices' health is read")
    mqtt.add_argument("--endpoint", help="aws iot describe-endpoint --endpoint-type iot:Data-ATS")
    mqtt.add_argument("--port", type=int, default=8883)
    mqtt.add_argument("--ca", type=Path, help="AmazonRootCA1.pem")
    mqtt.add_argument("--cert", type=Path, help="operator certificate (it may read smartcam/#)")
    mqtt.add_argument("--key", type=Path, help="its private key")
    parser.add_argument("--local", action="append", default=[], metavar="GROUP=ROOT",
                        help="the group is a local runtime with this root (scripts/local-greengrass); once per group")


def thresholds_from(args: argparse.Namespace) -> CanaryThresholds:
    values: dict[str, object] = {}
    if args.thresholds is not None:
        values.update(CanaryThresholds.from_file(args.thresholds).model_dump(by_alias=True))
    for option, key in THRESHOLD_OPTIONS.items():
        if getattr(args, option) is not None:
            values[key] = getattr(args, option)
    return CanaryThresholds.from_values(values)


def local_roots(pairs: list[str]) -> dict[str, Path]:
    roots: dict[str, Path] = {}
    for pair in pairs:
        group, sep, root = pair.partition("=")
        if not sep or not root or THING_GROUP_NAME.fullmatch(group) is None:
            raise FleetError(f"--local {pair!r}: expected GROUP=ROOT")
        if group in roots:
            raise FleetError(f"--local names {group} twice")
        roots[group] = Path(root)
    return roots


def build_target(args: argparse.Namespace, aws_factory: type[Aws]) -> DeploymentTarget:
    if args.local:
        roots = local_roots(args.local)
        missing = {args.canary_group, args.fleet_group} - set(roots)
        if missing:
            raise FleetError(f"--local given, but not for {', '.join(sorted(missing))}")
        return LocalTarget(roots, timeout_s=args.timeout)
    aws = aws_factory.connect(region=args.region, profile=args.profile)
    endpoint = None
    if args.endpoint or args.cert or args.key:
        if not (args.endpoint and args.cert and args.key):
            raise FleetError("--endpoint, --cert and --key go together")
        endpoint = Endpoint(args.endpoint, args.port, args.ca, args.cert, args.key)
    return CloudTarget(aws, Deployer(aws, History(args.history)), component_names(args.root), endpoint,
                       timeout_s=args.timeout, poll_s=args.poll)


def watching(endpoint: Endpoint) -> canary.WatchFactory:
    @contextmanager
    def watch(things: list[str]) -> Iterator[HealthWatch]:
        # operator-*: the client ids the operator policy (infrastructure/fleet.yaml) lets connect
        with MqttConnection(endpoint, client_id=f"operator-canary-{uuid.uuid4().hex[:12]}") as connection:
            health = HealthWatch(connection, things)
            health.subscribe()
            yield health

    return watch


def run(args: argparse.Namespace, aws_factory: type[Aws]) -> int:
    document = load_document(args.document)
    problems = problems_offline(document, component_names(args.root))
    if problems:
        raise FleetError(f"invalid deployment document {args.document}:\n  " + "\n  ".join(problems))
    for group in (args.canary_group, args.fleet_group):
        if THING_GROUP_NAME.fullmatch(group) is None:
            raise FleetError(f"thing group name {group!r} is invalid (letters, digits, :_- ; at most 128)")
    if args.canary_group == args.fleet_group:
        raise FleetError("the canary group and the fleet group must differ")
    rollout = canary.Rollout(document=document, new_version=args.model_version, canary_group=args.canary_group,
                             fleet_group=args.fleet_group, thresholds=thresholds_from(args),
                             baseline=WindowMetrics.load(args.baseline) if args.baseline else None,
                             save_baseline=args.save_baseline)
    rollout.new_document()  # refuses a version the document deploys already, before anything runs
    target = build_target(args, aws_factory)
    return canary.run(rollout, target, watching(target.endpoint()))
