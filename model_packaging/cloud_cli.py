"""The cloud commands of `python -m model_packaging`: train, compile, package, pipeline (and label).

    train     Ground Truth output manifest -> SageMaker training job (built-in Object Detection, SSD)
    compile   a model.tar.gz -> one SageMaker Neo job per DLR build of the fleet -> a model folder
    package   a model folder -> the next smartcam.SsdModelStore version (components/SsdModelStore/)
    pipeline  train, then compile for every build in NEO_BUILD_TARGETS, then package
    label     the captures' input manifest -> a Ground Truth bounding-box labeling job (not waited for)

Every command checks its inputs before the first request, and with --dry-run prints the requests it
would send (validated against botocore's service models) and sends none. Exit status: 0 done,
1 a job failed, was stopped or timed out (or AWS refused a request), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from model_packaging import neo_compile
from model_packaging.aws_inputs import InputError, S3Uri
from model_packaging.dry_run import print_calls, sagemaker_clients
from model_packaging.labeling_job import plan_labeling, start_labeling
from model_packaging.model_json import ModelFolderError
from model_packaging.sagemaker_training import BASE_NETWORKS, TrainingError, TrainingSettings
from model_packaging.store_version import STORE, PackagingError, package_next_version
from model_packaging.training_step import TrainingPlan, plan_training, read_manifest, run_training

Clients = Callable[[str | None], tuple[Any, Any]]


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manifest", required=True,
                        help="Ground Truth bounding-box OUTPUT manifest: s3://.../output.manifest or a local file")
    parser.add_argument("--label-attribute", required=True,
                        help="the labeling job's label attribute name (the key holding each image's boxes)")
    parser.add_argument("--role-arn", required=True,
                        help="SageMaker execution role (infrastructure/model-training.yaml)")
    parser.add_argument("--bucket", required=True, help="bucket for split manifests, the model and Neo's output")
    parser.add_argument("--prefix", default="smartcam/training", help="key prefix in the bucket")
    parser.add_argument("--region", help="AWS region (default: the SDK's configuration)")
    parser.add_argument("--job-name", help="training job name (default smartcam-ssd-<unix time>)")
    parser.add_argument("--instance-type", default="ml.p3.2xlarge")
    parser.add_argument("--base-network", choices=BASE_NETWORKS, default="resnet-50")
    parser.add_argument("--image-shape", type=int, default=300, help="square input size the model trains at")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--mini-batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=0.001)
    parser.add_argument("--validation-percent", type=int, default=20)
    parser.add_argument("--max-runtime-hours", type=float, default=4.0, help="SageMaker stops the job after this")
    parser.add_argument("--poll-seconds", type=float, default=60.0)
    parser.add_argument("--dry-run", action="store_true", help="print the requests, validated, and send nothing")


def training_settings(args: argparse.Namespace, region: str | None) -> TrainingSettings:
    return TrainingSettings(
        job_name=args.job_name or f"smartcam-ssd-{int(time.time())}",
        role_arn=args.role_arn, region=region or "", output=S3Uri.prefix(f"s3://{args.bucket}/{args.prefix}/output"),
        instance_type=args.instance_type, max_runtime_seconds=round(args.max_runtime_hours * 3600),
        base_network=args.base_network, image_shape=args.image_shape, epochs=args.epochs,
        mini_batch_size=args.mini_batch_size, learning_rate=args.learning_rate,
    )


def _plan(args: argparse.Namespace, clients: Clients) -> tuple[TrainingPlan, Any, Any]:
    sagemaker, s3 = clients(args.region)
    settings = training_settings(args, args.region or sagemaker.meta.region_name)
    text = read_manifest(args.manifest, s3)
    plan = plan_training(text, settings, label_attribute=args.label_attribute,
                         data_prefix=S3Uri.prefix(f"s3://{args.bucket}/{args.prefix}/manifests"),
                         validation_percent=args.validation_percent)
    return plan, sagemaker, s3


def _train(plan: TrainingPlan, sagemaker: Any, s3: Any, args: argparse.Namespace, *,
           sleep: Callable[[float], None], clock: Callable[[], float]) -> dict[str, Any]:
    # wait a little longer than SageMaker's own limit: past it, the job is stuck and is stopped
    timeout = plan.settings.max_runtime_seconds + 1800
    return run_training(sagemaker, s3, plan, poll_seconds=args.poll_seconds, timeout_seconds=timeout,
                        sleep=sleep, clock=clock, progress=_progress)


def train(argv: list[str], clients: Clients = sagemaker_clients, sleep: Callable[[float], None] = time.sleep,
          clock: Callable[[], float] = time.monotonic) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_packaging train", description=train.__doc__)
    add_training_arguments(parser)
    parser.add_argument("--labels-out", type=Path, help="write the class names here (labels.txt for `compile`)")
    args = parser.parse_args(argv)

    def run() -> dict[str, Any]:
        plan, sagemaker, s3 = _plan(args, clients)
        if args.dry_run:
            print_calls(plan.calls())
            return {}
        job = _train(plan, sagemaker, s3, args, sleep=sleep, clock=clock)
        if args.labels_out:
            args.labels_out.write_text("".join(f"{name}\n" for name in plan.classes), encoding="utf-8")
        return {"training_job": job["TrainingJobName"], "model_artifact": job["ModelArtifacts"]["S3ModelArtifacts"],
                "classes": plan.classes, "image_shape": plan.settings.image_shape,
                "billable_seconds": job.get("BillableTimeInSeconds")}

    return _report(run)


def compile_(argv: list[str], clients: Clients = sagemaker_clients, sleep: Callable[[float], None] = time.sleep,
             clock: Callable[[], float] = time.monotonic) -> int:
    args = neo_compile.parse_args(argv)

    def run() -> dict[str, Any]:
        if args.dry_run:
            print_calls(neo_compile.plan_compilation(args).calls())
            return {}
        sagemaker, s3 = clients(args.region)
        document = neo_compile.compile_and_package(sagemaker, s3, args, sleep=sleep, clock=clock)
        return {"model_folder": str(args.out), "runtimes": sorted(document["runtimes"])}

    return _report(run)


def package(argv: list[str], store: Path = STORE) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_packaging package",
                                     description="a model folder -> the next smartcam.SsdModelStore version")
    parser.add_argument("--model", type=Path, required=True, help="model folder (model.json + files)")
    parser.add_argument("--version", help="component version (default: the next minor version)")
    parser.add_argument("--store", type=Path, default=store, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    def run() -> dict[str, Any]:
        document = package_next_version(args.model, store=args.store, version=args.version)
        return {"component": "smartcam.SsdModelStore", "version": document["version"],
                "model_folder": str(args.store / "model"), "files": len(document["files"])}

    return _report(run)


def pipeline(argv: list[str], clients: Clients = sagemaker_clients, store: Path = STORE,
             sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_packaging pipeline",
                                     description="train, compile for the fleet's builds, package the next version")
    add_training_arguments(parser)
    parser.add_argument("--build", action="append", choices=sorted(neo_compile.NEO_BUILD_TARGETS),
                        help="DLR builds to compile (default: all of NEO_BUILD_TARGETS)")
    parser.add_argument("--name", help="model name in model.json (default smartcam-ssd-<base network>)")
    parser.add_argument("--version", help="component version (default: the next minor version)")
    parser.add_argument("--compile-timeout-seconds", type=float, default=3600.0)
    parser.add_argument("--store", type=Path, default=store, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    def run() -> dict[str, Any]:
        plan, sagemaker, s3 = _plan(args, clients)
        with tempfile.TemporaryDirectory(prefix="smartcam-pipeline-") as tmp:
            labels = Path(tmp) / "labels.txt"
            labels.write_text("".join(f"{name}\n" for name in plan.classes), encoding="utf-8")
            model_uri = str(plan.settings.model_artifact())
            compile_args = _compile_args(args, plan, model_uri, labels, Path(tmp) / "model")
            if args.dry_run:
                print_calls([*plan.calls(), *neo_compile.plan_compilation(compile_args).calls()])
                return {}
            job = _train(plan, sagemaker, s3, args, sleep=sleep, clock=clock)
            compile_args.model_s3_uri = job["ModelArtifacts"]["S3ModelArtifacts"]
            _progress(f"compiling {compile_args.model_s3_uri} for {', '.join(compile_args.build)}")
            compiled = neo_compile.compile_and_package(sagemaker, s3, compile_args, sleep=sleep, clock=clock)
            provenance = {"sagemaker_training": {
                "training_job": job["TrainingJobArn"], "manifest": args.manifest,
                "label_attribute": args.label_attribute, "hyperparameters": plan.request["HyperParameters"],
                "compilation_jobs": {build: entry["compiler"] for build, entry in compiled["runtimes"].items()},
            }}
            document = package_next_version(compile_args.out, store=args.store, version=args.version,
                                            provenance=provenance)
        return {"training_job": job["TrainingJobName"], "billable_seconds": job.get("BillableTimeInSeconds"),
                "component": "smartcam.SsdModelStore",
                "version": document["version"], "runtimes": sorted(document["runtimes"]), "classes": plan.classes}

    return _report(run)


def label(argv: list[str], clients: Clients = sagemaker_clients) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_packaging label",
                                     description="a Ground Truth bounding-box labeling job on an input manifest")
    parser.add_argument("--manifest", required=True, help="s3://... input manifest (one source-ref per line)")
    parser.add_argument("--label", action="append", required=True, help="a class to box, repeatable (person, ...)")
    parser.add_argument("--label-attribute", default="boxes", help="name of the labels in the output manifest")
    parser.add_argument("--role-arn", required=True, help="SageMaker execution role")
    parser.add_argument("--workteam-arn", required=True, help="a private work team's ARN (workteam/private-crowd/)")
    parser.add_argument("--bucket", required=True, help="bucket for the job's files and output")
    parser.add_argument("--prefix", default="smartcam/training", help="key prefix in the bucket")
    parser.add_argument("--region", help="AWS region (default: the SDK's configuration)")
    parser.add_argument("--job-name", help="labeling job name (default smartcam-label-<unix time>)")
    parser.add_argument("--workers-per-object", type=int, default=1)
    parser.add_argument("--dry-run", action="store_true", help="print the requests, validated, and send nothing")
    args = parser.parse_args(argv)

    def run() -> dict[str, Any]:
        sagemaker, s3 = clients(args.region)
        manifest_uri = S3Uri.parse(args.manifest)
        text = read_manifest(args.manifest, s3)
        plan = plan_labeling(
            input_manifest=manifest_uri, manifest_text=text,
            job_name=args.job_name or f"smartcam-label-{int(time.time())}",
            label_attribute=args.label_attribute, labels=args.label, role_arn=args.role_arn,
            workteam_arn=args.workteam_arn, region=args.region or sagemaker.meta.region_name or "",
            work_prefix=S3Uri.prefix(f"s3://{args.bucket}/{args.prefix}/labeling"),
            workers_per_object=args.workers_per_object,
        )
        if args.dry_run:
            print_calls(plan.calls())
            return {}
        arn = start_labeling(sagemaker, s3, plan)
        return {"labeling_job": arn, "objects": plan.objects, "output_manifest": plan.output_manifest(),
                "label_attribute": args.label_attribute}

    return _report(run)


def _compile_args(args: argparse.Namespace, plan: TrainingPlan, model_uri: str, labels: Path,
                  out: Path) -> argparse.Namespace:
    builds = args.build or list(neo_compile.NEO_BUILD_TARGETS)
    argv = ["--preset", "sagemaker-ssd-mxnet", "--model-s3-uri", model_uri, "--labels", str(labels),
            "--image-size", str(plan.settings.image_shape), "--role-arn", args.role_arn, "--bucket", args.bucket,
            "--prefix", f"{args.prefix.strip('/')}/neo", "--job-name", plan.settings.job_name,
            "--name", args.name or f"smartcam-ssd-{plan.settings.base_network}",
            "--poll-seconds", str(args.poll_seconds), "--timeout-seconds", str(args.compile_timeout_seconds),
            "--out", str(out)]
    for build in builds:
        argv += ["--build", build]
    return neo_compile.parse_args(argv)


def _report(run: Callable[[], dict[str, Any]]) -> int:
    try:
        result = run()
    except (InputError, ParamValidationError, ModelFolderError, PackagingError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (TrainingError, neo_compile.NeoCompilationError, ClientError, BotoCoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if result:
        print(json.dumps(result, indent=2))
    return 0
