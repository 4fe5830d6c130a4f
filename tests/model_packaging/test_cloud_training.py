"""`python -m model_packaging train|compile|package|pipeline` against botocore's Stubber: every request
is checked against the real sagemaker/s3 service models (botocore ships them) and the stubs are
consumed in order, so each test pins the exact sequence of calls. No network, no AWS account."""

import io
import json
import shutil
import tarfile
from datetime import UTC, datetime

import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY

from model_packaging import cloud_cli
from model_packaging.__main__ import COMMANDS
from model_packaging.__main__ import main as module_main
from model_packaging.model_json import verify_model_folder
from repo_layout import REPO_ROOT
from ssd_inference.engine import PreparedModel
from tests.model_packaging.test_ground_truth_manifest import manifest

SAMPLE = REPO_ROOT / "components" / "SsdModelStore"
ROLE = "arn:aws:iam::123456789012:role/smartcam-sagemaker-execution"
BUCKET = "smartcam-training-eu-west-1-123456789012"
JOB = "smartcam-ssd-test"
TRAINING_ARN = f"arn:aws:sagemaker:eu-west-1:123456789012:training-job/{JOB}"
ARTIFACT = f"s3://{BUCKET}/smartcam/training/output/{JOB}/output/model.tar.gz"
IMAGE = "685385470294.dkr.ecr.eu-west-1.amazonaws.com/object-detection:1"
NOW = datetime(2026, 12, 6, tzinfo=UTC)


@pytest.fixture
def gt_manifest(tmp_path):
    path = tmp_path / "output.manifest"
    path.write_text(manifest(20))
    return path


def train_argv(manifest_path, *extra):
    return ["--manifest", str(manifest_path), "--label-attribute", "people", "--role-arn", ROLE, "--bucket", BUCKET,
            "--region", "eu-west-1", "--job-name", JOB, "--poll-seconds", "60", *extra]


def describe_training(status, secondary, **extra):
    return {
        "TrainingJobName": JOB, "TrainingJobArn": TRAINING_ARN, "TrainingJobStatus": status,
        "SecondaryStatus": secondary, "ModelArtifacts": {"S3ModelArtifacts": ARTIFACT},
        "StoppingCondition": {"MaxRuntimeInSeconds": 14400}, "CreationTime": NOW, **extra,
    }


def expected_training_request(train_samples: int) -> dict:
    channel = {
        "DataSource": {"S3DataSource": {
            "S3DataType": "AugmentedManifestFile", "S3DataDistributionType": "FullyReplicated",
            "AttributeNames": ["source-ref", "people"]}},
        "ContentType": "application/x-recordio", "RecordWrapperType": "RecordIO", "CompressionType": "None",
        "InputMode": "Pipe",
    }
    prefix = f"s3://{BUCKET}/smartcam/training/manifests/{JOB}"
    train, validation = json.loads(json.dumps(channel)), json.loads(json.dumps(channel))
    train["ChannelName"], validation["ChannelName"] = "train", "validation"
    train["DataSource"]["S3DataSource"]["S3Uri"] = f"{prefix}/train.manifest"
    validation["DataSource"]["S3DataSource"]["S3Uri"] = f"{prefix}/validation.manifest"
    return {
        "TrainingJobName": JOB,
        "HyperParameters": {
            "base_network": "resnet-50", "use_pretrained_model": "1", "num_classes": "2",
            "num_training_samples": str(train_samples), "image_shape": "300", "epochs": "30",
            "mini_batch_size": "16", "learning_rate": "0.001", "label_width": "350",
        },
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "Pipe"},
        "RoleArn": ROLE,
        "InputDataConfig": [train, validation],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/smartcam/training/output"},
        "ResourceConfig": {"InstanceType": "ml.p3.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
        "StoppingCondition": {"MaxRuntimeInSeconds": 14400},
    }


class Recorder:
    """The uploaded split manifests, captured through the Stubber's expected-params check."""

    def __init__(self):
        self.bodies = {}

    def body(self, key):
        recorder = self

        class Capture:
            def __eq__(self, other):
                recorder.bodies[key] = other
                return True

            __hash__ = None

        return Capture()


def stub_training(aws, *, train_samples, finish=("Completed", "Completed"), recorder=None):
    recorder = recorder or Recorder()
    prefix = f"smartcam/training/manifests/{JOB}"
    for name in ("train", "validation"):
        key = f"{prefix}/{name}.manifest"
        aws["s3"].add_response("put_object", {}, {"Bucket": BUCKET, "Key": key, "Body": recorder.body(name),
                                                  "ContentType": "application/jsonlines"})
    aws["sagemaker"].add_response("create_training_job", {"TrainingJobArn": TRAINING_ARN},
                                  expected_training_request(train_samples))
    for status, secondary in [("InProgress", "Starting"), ("InProgress", "Training"), finish]:
        extra = {"FailureReason": "AlgorithmError: num_classes 2 but label 5"} if status == "Failed" else {}
        if status == "Completed":
            extra["BillableTimeInSeconds"] = 1234
        aws["sagemaker"].add_response("describe_training_job", describe_training(status, secondary, **extra),
                                      {"TrainingJobName": JOB})
    return recorder


def train_samples_of(text: str) -> int:
    from model_packaging import ground_truth_manifest as gt

    train, _ = gt.split(gt.parse_manifest(text, "people"), 20)
    return len(train)


def test_train_uploads_the_split_starts_the_job_and_waits_for_it(aws, gt_manifest, tmp_path, capsys):
    samples = train_samples_of(gt_manifest.read_text())
    recorder = stub_training(aws, train_samples=samples)
    sleeps = []
    labels = tmp_path / "labels.txt"
    status = cloud_cli.train(train_argv(gt_manifest, "--labels-out", str(labels)), clients=aws["clients"],
                             sleep=sleeps.append)

    assert status == 0
    assert sleeps == [60, 60]
    result = json.loads(capsys.readouterr().out)
    assert result == {"training_job": JOB, "model_artifact": ARTIFACT, "classes": ["person", "bicycle"],
                      "image_shape": 300, "billable_seconds": 1234}
    assert labels.read_text() == "person\nbicycle\n"
    train_lines = recorder.bodies["train"].decode().splitlines()
    validation_lines = recorder.bodies["validation"].decode().splitlines()
    assert len(train_lines) == samples and len(train_lines) + len(validation_lines) == 20
    assert sorted(train_lines + validation_lines) == sorted(gt_manifest.read_text().splitlines())


def test_a_failed_training_job_exits_non_zero_with_its_failure_reason(aws, gt_manifest, capsys):
    stub_training(aws, train_samples=train_samples_of(gt_manifest.read_text()), finish=("Failed", "Failed"))
    status = cloud_cli.pipeline(train_argv(gt_manifest), clients=aws["clients"], sleep=lambda _: None)

    assert status == 1
    err = capsys.readouterr().err
    assert f"error: training job {JOB} Failed: AlgorithmError: num_classes 2 but label 5" in err
    # nothing is compiled or packaged after a failed training: no further stubs were consumed or needed


def test_a_training_job_still_running_at_the_timeout_is_stopped(aws, gt_manifest, capsys):
    prefix = f"smartcam/training/manifests/{JOB}"
    for name in ("train", "validation"):
        aws["s3"].add_response("put_object", {}, {"Bucket": BUCKET, "Key": f"{prefix}/{name}.manifest", "Body": ANY,
                                                  "ContentType": "application/jsonlines"})
    request = expected_training_request(train_samples_of(gt_manifest.read_text()))
    request["StoppingCondition"]["MaxRuntimeInSeconds"] = 1800
    aws["sagemaker"].add_response("create_training_job", {"TrainingJobArn": TRAINING_ARN}, request)
    for _ in range(3):
        aws["sagemaker"].add_response("describe_training_job", describe_training("InProgress", "Training"),
                                      {"TrainingJobName": JOB})
    aws["sagemaker"].add_response("stop_training_job", {}, {"TrainingJobName": JOB})
    # --max-runtime-hours 0.5: the command waits 1800 s + 1800 s of grace, the clock jumps 1500 s a poll
    ticks = iter([0, 1500, 3000, 4500])
    status = cloud_cli.train(train_argv(gt_manifest, "--max-runtime-hours", "0.5"), clients=aws["clients"],
                             sleep=lambda _: None, clock=lambda: next(ticks))

    assert status == 1
    assert f"training job {JOB} still InProgress (Training) after 3600 s: asked SageMaker to stop it" in (
        capsys.readouterr().err)


def neo_output() -> bytes:
    """What Neo writes for a TVM target (the committed AVX2 build standing in for the compiled SSD)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for source, target in [("model.so", "compiled.so"), ("model.json", "compiled.json"),
                               ("model.params", "compiled.params"), ("model.meta", "compiled.meta")]:
            archive.add(SAMPLE / "model" / "dlr-avx2" / source, arcname=target)
    return buffer.getvalue()


FLEET_TARGETS = {
    "dlr-avx2": {"TargetDevice": "ml_c4"},
    "dlr-x86-64": {"TargetPlatform": {"Os": "LINUX", "Arch": "X86_64"}},
    "dlr-avx512": {"TargetDevice": "ml_c5"},
    "dlr-aarch64": {"TargetPlatform": {"Os": "LINUX", "Arch": "ARM64"}},
}


def stub_compilations(aws):
    """One Neo job per fleet build: all created, then polled together, then each output downloaded."""
    jobs = {build: f"{JOB}-{build}" for build in FLEET_TARGETS}
    for build, name in jobs.items():
        aws["sagemaker"].add_response(
            "create_compilation_job", {"CompilationJobArn": f"arn:aws:sagemaker:eu-west-1:123456789012:"
                                                            f"compilation-job/{name}"},
            {"CompilationJobName": name, "RoleArn": ROLE,
             "InputConfig": {"S3Uri": ARTIFACT, "DataInputConfig": json.dumps({"data": [1, 3, 300, 300]}),
                             "Framework": "MXNET", "FrameworkVersion": "1.8"},
             "OutputConfig": {"S3OutputLocation": f"s3://{BUCKET}/smartcam/training/neo/{name}/output",
                              **FLEET_TARGETS[build]},
             "StoppingCondition": {"MaxRuntimeInSeconds": 900}})
    for build, name in jobs.items():
        aws["sagemaker"].add_response("describe_compilation_job", {
            "CompilationJobName": name, "CompilationJobStatus": "COMPLETED", "CreationTime": NOW,
            "CompilationJobArn": f"arn:aws:sagemaker:eu-west-1:123456789012:compilation-job/{name}",
            "StoppingCondition": {"MaxRuntimeInSeconds": 900}, "LastModifiedTime": NOW, "FailureReason": "",
            "RoleArn": ROLE, "ModelArtifacts": {"S3ModelArtifacts": f"s3://{BUCKET}/neo/{build}/model.tar.gz"},
            "InputConfig": {"S3Uri": ARTIFACT, "Framework": "MXNET"},
            "OutputConfig": {"S3OutputLocation": f"s3://{BUCKET}/neo/{build}", **FLEET_TARGETS[build]},
        }, {"CompilationJobName": name})
    body = neo_output()
    for build in jobs:
        aws["s3"].add_response("get_object", {"Body": StreamingBody(io.BytesIO(body), len(body))},
                               {"Bucket": BUCKET, "Key": f"neo/{build}/model.tar.gz"})


@pytest.fixture
def store(tmp_path):
    """A copy of the component folder: gdk-config.json (version 1.0.0) and model/."""
    folder = tmp_path / "SsdModelStore"
    folder.mkdir()
    shutil.copyfile(SAMPLE / "gdk-config.json", folder / "gdk-config.json")
    shutil.copytree(SAMPLE / "model", folder / "model")
    return folder


def test_the_pipeline_trains_compiles_for_every_fleet_build_and_packages_the_next_version(
        aws, gt_manifest, store, capsys):
    stub_training(aws, train_samples=train_samples_of(gt_manifest.read_text()))
    stub_compilations(aws)
    status = cloud_cli.pipeline(train_argv(gt_manifest), clients=aws["clients"], store=store, sleep=lambda _: None)

    assert status == 0, capsys.readouterr().err
    result = json.loads(capsys.readouterr().out)
    assert result["version"] == "1.1.0"
    assert result["runtimes"] == sorted(FLEET_TARGETS)
    config = json.loads((store / "gdk-config.json").read_text())
    assert config["component"]["smartcam.SsdModelStore"]["version"] == "1.1.0"
    document = verify_model_folder(store / "model")
    assert (document["version"], document["name"], document["labels"]) == (
        "1.1.0", "smartcam-ssd-resnet-50", ["person", "bicycle"])
    assert document["input"]["shape"] == [1, 3, 300, 300]
    assert document["runtime_preference"]["aarch64"] == ["dlr"]
    provenance = document["source"]["sagemaker_training"]
    assert provenance["training_job"] == TRAINING_ARN
    assert provenance["hyperparameters"]["num_classes"] == "2"
    assert set(provenance["compilation_jobs"]) == set(FLEET_TARGETS)
    assert not (store / "model" / "model.tflite").exists()  # the old model's files are gone
    model = PreparedModel.load(store / "model")  # what SsdInference itself loads
    assert model.bundle.input.layout == "NCHW"


def test_dry_run_prints_every_request_and_sends_none(aws, gt_manifest, store, capsys):
    status = cloud_cli.pipeline(train_argv(gt_manifest, "--dry-run"), clients=aws["clients"], store=store)

    assert status == 0
    calls = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(c["service"], c["operation"]) for c in calls] == [
        ("s3", "PutObject"), ("s3", "PutObject"), ("sagemaker", "CreateTrainingJob"),
        *[("sagemaker", "CreateCompilationJob")] * 4]
    assert calls[2]["request"] == expected_training_request(train_samples_of(gt_manifest.read_text()))
    assert [c["request"]["InputConfig"]["S3Uri"] for c in calls[3:]] == [ARTIFACT] * 4
    assert [c["request"]["OutputConfig"] for c in calls[3:]] == [
        {"S3OutputLocation": f"s3://{BUCKET}/smartcam/training/neo/{JOB}-{build}/output", **target}
        for build, target in FLEET_TARGETS.items()]
    assert json.loads((store / "gdk-config.json").read_text())["component"]["smartcam.SsdModelStore"][
        "version"] == "1.0.0"


@pytest.mark.parametrize(("extra", "message"), [
    (["--instance-type", "ml.m5.xlarge"], "not one the algorithm supports"),
    (["--image-shape", "256"], "image_shape must be at least 300"),
    (["--job-name", "bad_name"], "not a valid TrainingJobName"),
])
def test_bad_inputs_exit_2_before_any_request(aws, gt_manifest, capsys, extra, message):
    assert cloud_cli.train(train_argv(gt_manifest, *extra), clients=aws["clients"]) == 2
    assert message in capsys.readouterr().err


def test_a_bad_role_or_bucket_exits_2(aws, gt_manifest, capsys):
    argv = train_argv(gt_manifest)
    argv[argv.index(ROLE)] = "arn:aws:iam::123:role/x"
    assert cloud_cli.train(argv, clients=aws["clients"]) == 2
    argv = train_argv(gt_manifest)
    argv[argv.index(BUCKET)] = "Bad_Bucket"
    assert cloud_cli.train(argv, clients=aws["clients"]) == 2
    assert "not a valid S3 bucket name" in capsys.readouterr().err


def test_the_manifest_is_read_from_s3_and_a_bad_line_stops_the_command(aws, capsys):
    text = manifest(3) + '{"source-ref": "s3://smartcam-data/x.jpg"}\n'
    aws["s3"].add_response("get_object", {"Body": StreamingBody(io.BytesIO(text.encode()), len(text))},
                           {"Bucket": "smartcam-data", "Key": "labels/output.manifest"})
    argv = train_argv("s3://smartcam-data/labels/output.manifest", "--dry-run")
    assert cloud_cli.train(argv, clients=aws["clients"]) == 2
    assert "line 4: no 'people' label" in capsys.readouterr().err


def test_package_makes_a_compiled_folder_the_next_component_version(store, tmp_path, capsys):
    model = tmp_path / "new-model"
    shutil.copytree(SAMPLE / "model", model)
    assert cloud_cli.package(["--model", str(model), "--version", "2.0.0"], store=store) == 0
    assert json.loads(capsys.readouterr().out)["version"] == "2.0.0"
    assert verify_model_folder(store / "model")["version"] == "2.0.0"
    # an older version, or a folder whose files do not match its model.json, is refused; nothing changes
    assert cloud_cli.package(["--model", str(model), "--version", "1.5.0"], store=store) == 2
    labels = (model / "labels.txt").read_bytes()
    (model / "labels.txt").write_bytes(labels.swapcase())  # the same size: only the sha256 can tell
    assert cloud_cli.package(["--model", str(model)], store=store) == 2
    assert "labels.txt: sha256 differs" in capsys.readouterr().err
    (model / "labels.txt").write_text("tampered\n")
    assert cloud_cli.package(["--model", str(model)], store=store) == 2
    assert "labels.txt: 9 bytes, model.json says 18" in capsys.readouterr().err
    assert verify_model_folder(store / "model")["version"] == "2.0.0"
    assert not (store / ".model-next").exists()


def test_the_module_dispatches_its_commands_from_one_table(capsys):
    assert set(COMMANDS) >= {"train", "compile", "package", "pipeline"}
    assert module_main(["nope"]) == 2
    assert "usage: python -m model_packaging" in capsys.readouterr().err


def test_one_failed_compilation_stops_the_pipeline_with_its_reason_and_leaves_the_store_alone(
        aws, gt_manifest, store, capsys):
    stub_training(aws, train_samples=train_samples_of(gt_manifest.read_text()))
    for build, target in FLEET_TARGETS.items():
        aws["sagemaker"].add_response("create_compilation_job", {
            "CompilationJobArn": f"arn:aws:sagemaker:eu-west-1:123456789012:compilation-job/{JOB}-{build}"}, {
            "CompilationJobName": f"{JOB}-{build}", "RoleArn": ROLE,
            "InputConfig": {"S3Uri": ARTIFACT, "DataInputConfig": json.dumps({"data": [1, 3, 300, 300]}),
                            "Framework": "MXNET", "FrameworkVersion": "1.8"},
            "OutputConfig": {"S3OutputLocation": f"s3://{BUCKET}/smartcam/training/neo/{JOB}-{build}/output",
                             **target},
            "StoppingCondition": {"MaxRuntimeInSeconds": 900}})
    aws["sagemaker"].add_response("describe_compilation_job", {
        "CompilationJobName": f"{JOB}-dlr-avx2", "CompilationJobStatus": "FAILED", "CreationTime": NOW,
        "CompilationJobArn": f"arn:aws:sagemaker:eu-west-1:123456789012:compilation-job/{JOB}-dlr-avx2",
        "StoppingCondition": {"MaxRuntimeInSeconds": 900}, "LastModifiedTime": NOW, "RoleArn": ROLE,
        "FailureReason": "ClientError: InputConfiguration: unsupported operator", "ModelArtifacts": {
            "S3ModelArtifacts": "s3://x/none"}, "InputConfig": {"S3Uri": ARTIFACT, "Framework": "MXNET"},
        "OutputConfig": {"S3OutputLocation": f"s3://{BUCKET}/neo", "TargetDevice": "ml_c4"},
    }, {"CompilationJobName": f"{JOB}-dlr-avx2"})
    before = (store / "model" / "model.json").read_bytes()

    assert cloud_cli.pipeline(train_argv(gt_manifest), clients=aws["clients"], store=store, sleep=lambda _: None) == 1
    assert (f"compilation job {JOB}-dlr-avx2 FAILED: ClientError: InputConfiguration: unsupported operator"
            in capsys.readouterr().err)
    assert (store / "model" / "model.json").read_bytes() == before
    assert json.loads((store / "gdk-config.json").read_text())["component"]["smartcam.SsdModelStore"][
        "version"] == "1.0.0"


def test_compile_dry_run_prints_one_job_per_build(capsys):
    argv = ["--preset", "sagemaker-ssd-mxnet", "--model-s3-uri", ARTIFACT, "--image-size", "300",
            "--role-arn", ROLE, "--bucket", BUCKET, "--job-name", "smartcam-c", "--build", "dlr-avx512",
            "--build", "dlr-aarch64", "--out", "unused", "--dry-run"]
    assert cloud_cli.compile_(argv) == 0
    calls = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(c["request"]["CompilationJobName"], c["request"]["OutputConfig"]) for c in calls] == [
        ("smartcam-c-dlr-avx512", {"S3OutputLocation": f"s3://{BUCKET}/smartcam/training/neo/smartcam-c-dlr-avx512/output",
                                   "TargetDevice": "ml_c5"}),
        ("smartcam-c-dlr-aarch64", {"S3OutputLocation": f"s3://{BUCKET}/smartcam/training/neo/smartcam-c-dlr-aarch64/"
                                                        "output", "TargetPlatform": {"Os": "LINUX", "Arch": "ARM64"}}),
    ]
    assert cloud_cli.compile_([*argv, "--target-device", "ml_c5"]) == 2
    assert "--target-device names one target" in capsys.readouterr().err
