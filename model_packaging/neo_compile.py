"""Cloud path: compile a model with a real SageMaker Neo compilation job and package its output as a
model store folder (the same model.json writer as the offline `make model`).

    python -m model_packaging.neo_compile --preset ssdlite-tflite --role-arn arn:aws:iam::123456789012:role/Neo \
        --bucket my-bucket --target-device ml_c5 --out build/neo-model
    python -m model_packaging.neo_compile --preset sagemaker-ssd-mxnet --model-s3-uri s3://b/ssd/model.tar.gz \
        --labels labels.txt --role-arn ... --bucket my-bucket --target-device jetson_nano --out build/neo-ssd

One job makes one DLR build of the folder (`--build`, default `dlr`, repeatable); the sample ships four
(model_card.DLR_BUILDS), each with its Neo target in NEO_BUILD_TARGETS, e.g. `--build dlr-avx512` runs an
ml_c5 job and writes dlr-avx512/. With several `--build`s the jobs run at once and their outputs are collected
into one folder. `python -m model_packaging compile` is the same command; `--dry-run` prints the requests.

Needs AWS credentials with sagemaker:CreateCompilationJob/DescribeCompilationJob, s3 Get/Put on the bucket,
and iam:PassRole for the role that Neo assumes. Runs in the dev venv (boto3 only).
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from model_packaging import model_card as card
from model_packaging.aws_inputs import S3Uri, check_job_name, check_role_arn
from model_packaging.metadata import RAW_OUTPUTS, runtime_entry, runtime_preference
from model_packaging.model_json import MODEL_JSON, load_model_json, write_model_json

REPO = Path(__file__).resolve().parent.parent
SAMPLE_FOLDER = REPO / "components" / "SsdModelStore" / "model"
DONE_STATES = {"COMPLETED", "FAILED", "STOPPED"}
# Neo target devices of Linux edge/cloud CPUs -> the machine architecture the device reports.
# Others are accepted as given and recorded with architecture "unknown".
DEVICE_ARCHITECTURES = {
    "ml_c4": "x86_64", "ml_c5": "x86_64", "ml_m4": "x86_64", "ml_m5": "x86_64", "deeplens": "x86_64",
    "ml_c6g": "aarch64", "ml_m6g": "aarch64",
    "jetson_tx1": "aarch64", "jetson_tx2": "aarch64", "jetson_nano": "aarch64", "jetson_xavier": "aarch64",
    "rasp4b": "aarch64", "imx8qm": "aarch64", "imx8mplus": "aarch64", "rk3399": "aarch64",
    "rasp3b": "armv7l", "rk3288": "armv7l",
    "linux_x86_64": "x86_64", "linux_arm64": "aarch64",  # TargetPlatform jobs (see output_target)
}
# The DLR builds the sample ships (model_card.DLR_BUILDS) -> the Neo output target that makes the same
# build: an instance family of that CPU generation, or a generic platform for the baseline levels.
NEO_BUILD_TARGETS: dict[str, dict] = {
    "dlr-avx2": {"TargetDevice": "ml_c4"},  # Haswell/Broadwell: AVX2 + FMA
    "dlr-x86-64": {"TargetPlatform": {"Os": "LINUX", "Arch": "X86_64"}},
    "dlr-avx512": {"TargetDevice": "ml_c5"},  # Skylake-SP: AVX-512
    "dlr-aarch64": {"TargetPlatform": {"Os": "LINUX", "Arch": "ARM64"}},
}


class NeoCompilationError(RuntimeError):
    """The compilation job failed, stopped, timed out, or produced no usable artifact."""


@dataclass(frozen=True)
class Preset:
    framework: str  # SageMaker InputConfig.Framework
    data_input_config: dict  # input name -> shape, as Neo wants it
    local_model_file: str | None  # file of the base folder uploaded as the Neo input (None: --model-s3-uri)
    framework_version: str | None = None
    metadata: dict = field(default_factory=dict)  # model.json fields when there is no base folder


MXNET_SSD_IMAGE_SIZE = 512  # the preset's input size unless --image-size says the training job's image_shape


def mxnet_ssd_preset(image_size: int = MXNET_SSD_IMAGE_SIZE) -> Preset:
    """The built-in Object Detection model at the square input size it was trained with (image_shape)."""
    return Preset(
        "MXNET", {"data": [1, 3, image_size, image_size]}, None, framework_version="1.8",
        metadata={
            "framework": "mxnet",
            "input": {
                "name": "data", "shape": [1, 3, image_size, image_size], "layout": "NCHW", "dtype": "float32",
                "color": "RGB",
                "normalization": {"mean": [123.68, 116.779, 103.939], "std": [58.393, 57.12, 57.375]},
            },
            # SsdInference's mxnet_ssd decoder: one output of rows [class_id, score, x1, y1, x2, y2],
            # corners normalized to the input, class -1 for an empty row, NMS already done in the graph.
            "decoder": {
                "type": "mxnet_ssd",
                "params": {
                    "row_format": ["class_id", "score", "x1", "y1", "x2", "y2"],
                    "coordinates": "normalized",
                    "invalid_class_id": -1,
                    "nms_in_graph": True,
                },
            },
        },
    )


PRESETS = {
    # The sample model: its TFLite export goes to Neo, the result replaces dlr/ of the sample folder.
    "ssdlite-tflite": Preset("TFLITE", {card.INPUT_TENSOR: [1, card.INPUT_SIZE, card.INPUT_SIZE, 3]}, "model.tflite"),
    "ssdlite-onnx": Preset("ONNX", {card.INPUT_TENSOR: [1, card.INPUT_SIZE, card.INPUT_SIZE, 3]}, "model.onnx"),
    # SageMaker's built-in Object Detection algorithm (MXNet SSD): its model.tar.gz from a training job.
    "sagemaker-ssd-mxnet": mxnet_ssd_preset(),
}


def preset_for(name: str, image_size: int | None = None) -> Preset:
    if image_size is None:
        return PRESETS[name]
    if name != "sagemaker-ssd-mxnet":
        raise ValueError(f"--image-size applies to the sagemaker-ssd-mxnet preset, not {name}")
    if not 300 <= image_size <= 1024:
        raise ValueError(f"--image-size must be 300-1024 (the training job's image_shape), not {image_size}")
    return mxnet_ssd_preset(image_size)



def upload_model(s3: object, model_file: Path, destination: S3Uri) -> S3Uri:
    """Neo reads a model.tar.gz: pack the single model file and put it at `destination`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(model_file, arcname=model_file.name)
    s3.put_object(Bucket=destination.bucket, Key=destination.key, Body=buffer.getvalue())
    return destination


def output_target(build: str, target_device: str | None) -> dict:
    """OutputConfig's target: the device asked for, or the one that makes ``build``."""
    if target_device:
        return {"TargetDevice": target_device}
    if build not in NEO_BUILD_TARGETS:
        raise ValueError(f"no Neo target known for build {build!r} (known: {', '.join(NEO_BUILD_TARGETS)}); "
                         "give --target-device")
    return NEO_BUILD_TARGETS[build]


def target_name(target: dict) -> str:
    """``ml_c5`` for a TargetDevice, ``linux_x86_64`` for a TargetPlatform: the name model.json records."""
    if "TargetDevice" in target:
        return str(target["TargetDevice"])
    platform = target["TargetPlatform"]
    return f"{platform['Os']}_{platform['Arch']}".lower()


def compilation_request(
    *, job_name: str, role_arn: str, model_uri: S3Uri, preset: Preset, output_uri: S3Uri, target: dict,
    max_runtime_seconds: int = 900,
) -> dict:
    """The CreateCompilationJob request."""
    input_config = {
        "S3Uri": str(model_uri),
        "DataInputConfig": json.dumps(preset.data_input_config),
        "Framework": preset.framework,
    }
    if preset.framework_version:
        input_config["FrameworkVersion"] = preset.framework_version
    return {
        "CompilationJobName": job_name,
        "RoleArn": role_arn,
        "InputConfig": input_config,
        "OutputConfig": {"S3OutputLocation": str(output_uri), **target},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime_seconds},
    }


def wait_for_compilations(
    sagemaker: object, job_names: list[str], *, poll_seconds: float = 30.0, timeout_seconds: float = 3600.0,
    sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
) -> dict[str, dict]:
    """Polls DescribeCompilationJob (SageMaker has no waiter for it) for every job, one round per
    ``poll_seconds``, until all are done; the first failed or stopped one raises with its reason."""
    deadline = clock() + timeout_seconds
    done: dict[str, dict] = {}
    statuses: dict[str, str] = {}
    while True:
        for name in [name for name in job_names if name not in done]:
            job = sagemaker.describe_compilation_job(CompilationJobName=name)
            status = statuses[name] = job["CompilationJobStatus"]
            if status == "COMPLETED":
                done[name] = job
            elif status in DONE_STATES:
                reason = job.get("FailureReason") or "no reason"
                raise NeoCompilationError(f"compilation job {name} {status}: {reason}")
        pending = [name for name in job_names if name not in done]
        if not pending:
            return done
        if clock() >= deadline:
            still = ", ".join(f"{name} still {statuses[name]}" for name in pending)
            raise NeoCompilationError(f"compilation job {still} after {timeout_seconds:.0f} s")
        sleep(poll_seconds)


def wait_for_compilation(sagemaker: object, job_name: str, **options: object) -> dict:
    return wait_for_compilations(sagemaker, [job_name], **options)[job_name]


def download_artifacts(s3: object, artifact_uri: S3Uri, destination: Path) -> list[str]:
    """Fetches Neo's output tar.gz and unpacks it (regular files only, no paths outside `destination`)."""
    body = s3.get_object(Bucket=artifact_uri.bucket, Key=artifact_uri.key)["Body"].read()
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as archive:
        members = [member for member in archive.getmembers() if member.isfile()]
        archive.extractall(destination, members=members, filter="data")
    names = sorted(path.relative_to(destination).as_posix() for path in destination.rglob("*") if path.is_file())
    if not any(name.endswith(".so") for name in names) or not any(name.endswith(".params") for name in names):
        raise NeoCompilationError(f"{artifact_uri} holds no compiled .so/.params (got {names})")
    return names


def neo_runtime_entry(job: dict, target_device: str, input_name: str, preset: Preset, build: str = "dlr") -> dict:
    architecture = DEVICE_ARCHITECTURES.get(target_device, "unknown")
    outputs = {"detections": 0} if preset.framework == "MXNET" else dict(RAW_OUTPUTS)
    entry = runtime_entry(
        build, [architecture], target=f"sagemaker-neo:{target_device}",
        compiler=f"SageMaker Neo compilation job {job['CompilationJobArn']}",
        layout="SageMaker Neo output (TVM graph runtime: compiled .so/.json/.params/.meta) for DLR",
    )
    entry.update(input_name=input_name, outputs=outputs, output_names=list(outputs))
    return entry


def package_neo_output(
    neo_dir: Path, out: Path, *, job: dict, target_device: str, preset: Preset, base_folder: Path | None,
    labels_file: Path | None = None, name: str | None = None, version: str | None = None, build: str = "dlr",
) -> dict:
    """Builds the model folder: the base folder's files (exports, anchors, other builds, labels) plus Neo's
    output as the ``build`` runtime (its folder is named like it)."""
    with tempfile.TemporaryDirectory(prefix="smartcam-neo-") as tmp:
        staging = Path(tmp) / "model"
        if base_folder is not None:
            base = load_model_json(base_folder)
            shutil.copytree(base_folder, staging, ignore=shutil.ignore_patterns(MODEL_JSON))
            shutil.rmtree(staging / build, ignore_errors=True)
            metadata = {key: value for key, value in base.items() if key != "files"}
        else:
            if labels_file is None:
                raise ValueError("--labels is required without a base model folder")
            staging.mkdir(parents=True)
            metadata = {
                "schema": card.SCHEMA, "name": name or "sagemaker-builtin-ssd", "version": version or "1.0.0",
                "notes": "SageMaker built-in Object Detection (MXNet SSD) model compiled by SageMaker Neo.",
                "labels_file": "labels.txt", **preset.metadata,
            }
        if labels_file is not None:
            shutil.copyfile(labels_file, staging / "labels.txt")
        shutil.copytree(neo_dir, staging / build)
        runtimes = dict(metadata.get("runtimes", {}))
        runtimes[build] = neo_runtime_entry(job, target_device, metadata["input"]["name"], preset, build)
        metadata["runtimes"] = runtimes
        metadata["labels"] = (staging / metadata["labels_file"]).read_text(encoding="utf-8").splitlines()
        metadata["runtime_preference"] = runtime_preference(runtimes)
        metadata["neo"] = {
            "compilation_job": job["CompilationJobName"], "arn": job["CompilationJobArn"],
            "target_device": target_device, "framework": preset.framework,
        }
        if name:
            metadata["name"] = name
        if version:
            metadata["version"] = version
        document = write_model_json(staging, metadata)
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(staging, out)
    return document


@dataclass(frozen=True)
class CompilationPlan:
    """Every request of one `compile` run: the model upload (sample presets only) and one job per build."""

    preset: Preset
    upload: tuple[Path, S3Uri] | None
    jobs: dict[str, dict]  # build -> CreateCompilationJob request
    devices: dict[str, str]  # build -> the target name model.json records

    def calls(self) -> list[tuple[str, str, dict]]:
        calls: list[tuple[str, str, dict]] = []
        if self.upload:
            source, destination = self.upload
            calls.append(("s3", "PutObject", {"Bucket": destination.bucket, "Key": destination.key,
                                              "Body": f"<model.tar.gz of {source.name}>"}))
        calls.extend(("sagemaker", "CreateCompilationJob", request) for request in self.jobs.values())
        return calls


def plan_compilation(args: argparse.Namespace, now: Callable[[], float] = time.time) -> CompilationPlan:
    preset = preset_for(args.preset, args.image_size)
    builds = args.build or ["dlr"]
    if len(set(builds)) != len(builds):
        raise ValueError(f"a build is named twice: {builds}")
    if args.target_device and len(builds) > 1:
        raise ValueError("--target-device names one target: give one --build with it")
    check_role_arn(args.role_arn)
    prefix = args.prefix.strip("/")
    stamp = int(now())
    jobs: dict[str, dict] = {}
    devices: dict[str, str] = {}
    names: dict[str, str] = {}
    for build in builds:
        target = output_target(build, args.target_device)
        devices[build] = target_name(target)
        default = f"smartcam-{args.preset}-{devices[build]}-{stamp}".replace("_", "-")
        if args.job_name:
            names[build] = args.job_name if len(builds) == 1 else f"{args.job_name}-{build}"
        else:
            names[build] = default
        check_job_name(names[build], "EntityName")
    upload = None
    if args.model_s3_uri:
        model_uri = S3Uri.parse(args.model_s3_uri)
    elif preset.local_model_file:
        model_uri = S3Uri(args.bucket, f"{prefix}/{names[builds[0]]}/input/model.tar.gz")
        upload = (args.base_folder / preset.local_model_file, model_uri)
    else:
        raise ValueError(f"preset {args.preset} needs --model-s3-uri")
    for build in builds:
        jobs[build] = compilation_request(
            job_name=names[build], role_arn=args.role_arn, model_uri=model_uri, preset=preset,
            output_uri=S3Uri(args.bucket, f"{prefix}/{names[build]}/output"), target=output_target(
                build, args.target_device),
        )
    return CompilationPlan(preset, upload, jobs, devices)


def compile_and_package(sagemaker: object, s3: object, args: argparse.Namespace, sleep: Callable = time.sleep,
                        clock: Callable[[], float] = time.monotonic) -> dict:
    """Starts one Neo job per build, waits for all, then adds each build's output to one model folder."""
    plan = plan_compilation(args)
    if plan.upload:
        upload_model(s3, *plan.upload)
    for request in plan.jobs.values():
        sagemaker.create_compilation_job(**request)
    names = [request["CompilationJobName"] for request in plan.jobs.values()]
    jobs = wait_for_compilations(sagemaker, names, poll_seconds=args.poll_seconds,
                                 timeout_seconds=args.timeout_seconds, sleep=sleep, clock=clock)
    # the sample presets start from the committed folder; the built-in SSD starts empty, then each build
    # adds its own folder to the previous result
    base_folder = args.base_folder if plan.preset.local_model_file else None
    document: dict = {}
    for build, request in plan.jobs.items():
        job = jobs[request["CompilationJobName"]]
        with tempfile.TemporaryDirectory(prefix="smartcam-neo-out-") as tmp:
            download_artifacts(s3, S3Uri.parse(job["ModelArtifacts"]["S3ModelArtifacts"]), Path(tmp))
            document = package_neo_output(
                Path(tmp), args.out, job=job, target_device=plan.devices[build], preset=plan.preset,
                base_folder=base_folder, labels_file=args.labels, name=args.name, version=args.version,
                build=build,
            )
        base_folder = args.out
    return document


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=sorted(PRESETS), default="ssdlite-tflite")
    parser.add_argument("--build", action="append",
                        help=f"a DLR build of the model folder to make, one job each, repeatable "
                             f"({', '.join(NEO_BUILD_TARGETS)}, or dlr / dlr-<name> with --target-device; "
                             "default dlr)")
    parser.add_argument("--target-device",
                        help="Neo TargetDevice, e.g. ml_c5, jetson_nano, rasp4b (default: the one matching --build)")
    parser.add_argument("--role-arn", required=True, help="IAM role SageMaker Neo assumes (reads/writes the bucket)")
    parser.add_argument("--bucket", required=True, help="S3 bucket for the Neo input and output")
    parser.add_argument("--prefix", default="smartcam/training/neo",
                        help="key prefix in the bucket (the execution role of infrastructure/model-training.yaml "
                             "writes under <TrainingPrefix>/neo/)")
    parser.add_argument("--model-s3-uri", help="model.tar.gz already in S3 (required for sagemaker-ssd-mxnet)")
    parser.add_argument("--image-size", type=int,
                        help="sagemaker-ssd-mxnet: the training job's image_shape (default 512)")
    parser.add_argument("--base-folder", type=Path, default=SAMPLE_FOLDER, help="packaged folder to start from")
    parser.add_argument("--labels", type=Path, help="labels.txt, one class per line (MXNet preset)")
    parser.add_argument("--name", help="model name in model.json")
    parser.add_argument("--version", help="model version in model.json")
    parser.add_argument("--job-name", help="compilation job name (default: derived, unique per second; with "
                                           "several builds, the prefix of each job's name)")
    parser.add_argument("--poll-seconds", type=float, default=30.0)
    parser.add_argument("--timeout-seconds", type=float, default=3600.0, help="how long to wait for the jobs")
    parser.add_argument("--region", help="AWS region (default: the SDK's configuration)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--out", type=Path, required=True, help="model folder to write")
    parser.add_argument("--dry-run", action="store_true", help="print the requests, validated, and send nothing")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from model_packaging.dry_run import print_calls, sagemaker_clients

    args = parse_args(argv)
    if args.dry_run:
        print_calls(plan_compilation(args).calls())
        return 0
    sagemaker, s3 = sagemaker_clients(args.region)
    document = compile_and_package(sagemaker, s3, args)
    print(json.dumps({"model_folder": str(args.out), "files": document["files"], "neo": document["neo"]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
