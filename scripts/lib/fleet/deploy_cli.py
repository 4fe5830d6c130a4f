"""Deploy a deployment document (recipes/<env>.json) to a thing group, report per device, roll back.

  scripts/deploy.py validate recipes/dev.json               # offline checks only
  scripts/deploy.py deploy recipes/dev.json [--thing-group smartcam-dev] [--no-wait]
  scripts/deploy.py status --thing-group smartcam-dev       # latest deployment of the group
  scripts/deploy.py rollback --thing-group smartcam-dev     # redeploy the previous document
  scripts/deploy.py canary recipes/dev.json --model-version 1.1.0 --canary-group smartcam-dev-canary \
      --fleet-group smartcam-dev --endpoint <iot endpoint> --ca AmazonRootCA1.pem --cert op.pem --key op.key

Every document is checked (shape, patterns, enums, target, repo components, merge JSON, credentials,
published versions) before any call that changes AWS. Exit status: 0 when every device succeeded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from access_policy import ALLOW_FLAG
from botocore.exceptions import BotoCoreError, ClientError

from fleet import canary_cli
from fleet.aws import Aws, FleetError, paginate
from fleet.canary_policy import PolicyError
from fleet.checker import RequestRejected
from fleet.components import REPO_ROOT, component_names
from fleet.deployments import Deployer, DeploymentReport, History
from fleet.documents import load_document, problems_offline, retarget, validated_request
from fleet.mqtt import MqttError

DEFAULT_HISTORY = REPO_ROOT / ".fleet-history"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--region", help="AWS region (default: profile/environment)")
    parser.add_argument("--profile", help="AWS profile")
    parser.add_argument("--history", type=Path, default=DEFAULT_HISTORY, help="local deployment history folder")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True)

    def targeted(command: argparse.ArgumentParser) -> None:
        group = command.add_mutually_exclusive_group()
        group.add_argument("--thing-group", help="target this thing group (account and region filled in)")
        group.add_argument("--target-arn", help="target this thing or thing group ARN verbatim")

    def waiting(command: argparse.ArgumentParser) -> None:
        command.add_argument("--no-wait", action="store_true", help="return once the deployment is created")
        command.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for the devices")
        command.add_argument("--poll", type=float, default=10.0, help="seconds between status checks")

    validate = commands.add_parser("validate", help="check a document without AWS")
    validate.add_argument("document", type=Path)
    deploy = commands.add_parser("deploy", help="validate, create the deployment, wait and report")
    deploy.add_argument("document", type=Path)
    for command in (validate, deploy):
        command.add_argument(ALLOW_FLAG, action="store_true", dest="allow_wildcard_access",
                             help="accept a bare '*' in an accessControl policy's operations or resources")
    targeted(deploy)
    waiting(deploy)
    status = commands.add_parser("status", help="per-device status of a deployment")
    status.add_argument("--deployment-id")
    targeted(status)
    rollback = commands.add_parser("rollback", help="redeploy the target's previous deployment")
    targeted(rollback)
    rollback.add_argument("--document", type=Path, help="take the target (and region) from this document")
    rollback.add_argument("--from-history", action="store_true", help="use the local history, not AWS's")
    waiting(rollback)
    canary_cli.add_parser(commands)
    return parser.parse_args(argv)


def print_report(report: DeploymentReport) -> None:
    good = sum(device.status in {"SUCCEEDED", "COMPLETED"} for device in report.devices)
    suffix = " (timed out waiting)" if report.timed_out else ""
    print(f"deployment {report.deployment_id}: {report.deployment_status}, {good}/{len(report.devices)} "
          f"devices succeeded{suffix}")
    for device in report.devices:
        print(f"  {device.thing:40} {device.status:12} {device.reason}")


def resolve_target(args: argparse.Namespace, aws: Aws) -> str:
    if getattr(args, "document", None) is not None:
        base = load_document(args.document)
    else:
        base = {"targetArn": f"arn:aws:iot:{aws.region}:000000000000:thinggroup/placeholder"}
    if args.target_arn is None and args.thing_group is None and getattr(args, "document", None) is None:
        raise FleetError("name the target: --thing-group, --target-arn or --document")
    return retarget(base, aws, thing_group=args.thing_group, target_arn=args.target_arn)["targetArn"]


def finish(deployer: Deployer, deployment_id: str, args: argparse.Namespace) -> int:
    if args.no_wait:
        return 0
    report = deployer.wait(deployment_id, timeout_s=args.timeout, poll_s=args.poll)
    print_report(report)
    return 0 if report.succeeded else 1


def run(args: argparse.Namespace, aws_factory: type[Aws] = Aws) -> int:
    if args.command == "validate":
        problems = problems_offline(load_document(args.document), component_names(args.root),
                                    allow_wildcard_access=args.allow_wildcard_access)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        print(f"{args.document}: {'INVALID' if problems else 'valid'}")
        return 1 if problems else 0
    if args.command == "canary":
        return canary_cli.run(args, aws_factory)
    aws = aws_factory.connect(region=args.region, profile=args.profile)
    deployer = Deployer(aws, History(args.history))
    if args.command == "deploy":
        request = validated_request(load_document(args.document), aws, component_names(args.root),
                                    thing_group=args.thing_group, target_arn=args.target_arn,
                                    allow_wildcard_access=args.allow_wildcard_access)
        return finish(deployer, deployer.deploy(request), args)
    aws.require_credentials()
    if args.command == "status":
        deployment_id = args.deployment_id
        if deployment_id is None:
            target = resolve_target(args, aws)
            latest = paginate(aws.client("greengrassv2"), "list_deployments", "deployments", targetArn=target,
                              historyFilter="LATEST_ONLY")
            if not latest:
                raise FleetError(f"no deployment for {target}")
            deployment_id = latest[0]["deploymentId"]
        report = deployer.report(deployment_id)
        print_report(report)
        return 0 if report.succeeded else 1
    target = resolve_target(args, aws)
    previous = deployer.previous_request(target, use_history=args.from_history)
    request = validated_request(previous, aws, component_names(args.root), target_arn=target)
    print(f"rolling {target} back to: " + ", ".join(f"{n} {s['componentVersion']}" for n, s in
                                                    sorted(request["components"].items())))
    return finish(deployer, deployer.deploy(request), args)


def main(argv: list[str] | None = None) -> int:
    try:
        return run(parse_args(argv))
    except (FleetError, PolicyError, MqttError, RequestRejected, ClientError, BotoCoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
