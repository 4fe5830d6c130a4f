
"""The SageMaker Neo path against botocore's Stubber: every request is validated against the real
sagemaker/s3 service models, no network. The "Neo output" is the committed DLR artifact renamed the
way Neo names it, so the packaged result is also loaded in DLR."""

import io
import json
import tarfile
from datetime import UTC, datetime

import boto3
import numpy as np
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from model_packaging import neo_compile
from model_packaging.model_card import DLR_BUILDS
from model_packaging.model_json import verify_model_folder
from model_packaging.preprocess import model_input
from model_packaging.reference_runners import load_runner
from repo_layout import REPO_ROOT
from ssd_inference.backends import map_outputs
from ssd_inference.backends.cpu_variants import target_needs
from ssd_inference.decoders import Selection
from ssd_inference.engine import Engine, PreparedModel
from ssd_inference.preprocessing import decode_image

REPO = REPO_ROOT
MODEL = REPO / "components" / "SsdModelStore" / "model"
ROLE = "arn:aws:iam::123456789012:role/SmartcamNeo"
JOB_ARN = "arn:aws:sagemaker:eu-west-1:123456789012:compilation-job/{name}"


def neo_output_tarball() -> bytes:
    """What Neo writes for a TVM target: compiled.{so,json,params,meta} (here: our own compile)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for source, target in [("model.so", "compiled.so"), ("model.json", "compiled.json"),
                               ("model.params", "compiled.params"), ("model.meta", "compiled.meta")]:
            archive.add(MODEL / "dlr-avx2" / source, arcname=target)
    return buffer.getvalue()


def describe(name, status, **extra):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return {
        "CompilationJobName": name, "CompilationJobArn": JOB_ARN.format(name=name), "CompilationJobStatus": status,
        "StoppingCondition": {"MaxRuntimeInSeconds": 900}, "CreationTime": now, "LastModifiedTime": now,
        "FailureReason": extra.pop("FailureReason", ""), "RoleArn": ROLE,
        "ModelArtifacts": {"S3ModelArtifacts": extra.pop("artifacts", "s3://bucket/none")},
        "InputConfig": {"S3Uri": "s3://bucket/in/model.tar.gz", "Framework": "TFLITE"},
        "OutputConfig": {"S3OutputLocation": "s3://bucket/out", "TargetDevice": "ml_c5"},
        **extra,
    }


@pytest.fixture
def clients():
    session = boto3.Session(region_name="eu-west-1", aws_access_key_id="test", aws_secret_access_key="test")
    sagemaker, s3 = session.client("sagemaker"), session.client("s3")
    with Stubber(sagemaker) as sagemaker_stub, Stubber(s3) as s3_stub:
        yield sagemaker, s3, sagemaker_stub, s3_stub
        sagemaker_stub.assert_no_pending_responses()
        s3_stub.assert_no_pending_responses()


def test_tflite_sample_is_compiled_and_packaged_like_make_model(clients, tmp_path):
    sagemaker, s3, sagemaker_stub, s3_stub = clients
    job = "smartcam-test-ml-c5"
    prefix = f"smartcam/training/neo/{job}"
    s3_stub.add_response("put_object", {}, {"Bucket": "my-bucket", "Key": f"{prefix}/input/model.tar.gz", "Body": ANY})
    sagemaker_stub.add_response("create_compilation_job", {"CompilationJobArn": JOB_ARN.format(name=job)}, {
        "CompilationJobName": job,
        "RoleArn": ROLE,
        "InputConfig": {
            "S3Uri": f"s3://my-bucket/{prefix}/input/model.tar.gz",
            "DataInputConfig": json.dumps({"image": [1, 300, 300, 3]}),
            "Framework": "TFLITE",
        },
        "OutputConfig": {"S3OutputLocation": f"s3://my-bucket/{prefix}/output", "TargetDevice": "ml_c5"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 900},
    })
    artifacts = f"s3://my-bucket/{prefix}/output/model-ml_c5.tar.gz"
    sagemaker_stub.add_response("describe_compilation_job", describe(job, "STARTING"), {"CompilationJobName": job})
    sagemaker_stub.add_response("describe_compilation_job", describe(job, "INPROGRESS"), {"CompilationJobName": job})
    sagemaker_stub.add_response(
        "describe_compilation_job", describe(job, "COMPLETED", artifacts=artifacts), {"CompilationJobName": job}
    )
    body = neo_output_tarball()
    s3_stub.add_response(
        "get_object", {"Body": StreamingBody(io.BytesIO(body), len(body))},
        {"Bucket": "my-bucket", "Key": f"{prefix}/output/model-ml_c5.tar.gz"},
    )
    out = tmp_path / "neo-model"
    args = neo_compile.parse_args([
        "--target-device", "ml_c5", "--role-arn", ROLE, "--bucket", "my-bucket", "--job-name", job,
        "--out", str(out), "--poll-seconds", "5",
    ])
    sleeps = []
    document = neo_compile.compile_and_package(sagemaker, s3, args, sleep=sleeps.append)

    assert sleeps == [5, 5]
    assert verify_model_folder(out) == document
    assert document["neo"]["target_device"] == "ml_c5"
    dlr_entry = document["runtimes"]["dlr"]
    assert dlr_entry["target"] == "sagemaker-neo:ml_c5"
    assert dlr_entry["platforms"] == ["x86_64"]
    assert {"dlr/compiled.so", "dlr/compiled.params", "model.onnx", "model.tflite", "anchors.npy"} <= set(
        document["files"]
    )
    sample = json.loads((MODEL / "model.json").read_text())
    assert document["decoder"] == sample["decoder"] and document["input"] == sample["input"]
    image = model_input(REPO / "tests" / "model_packaging" / "images" / "grace_hopper.jpg")
    neo_boxes = load_runner(out, "dlr")(image)["box_encodings"]
    np.testing.assert_allclose(neo_boxes, load_runner(MODEL, "onnxruntime")(image)["box_encodings"], atol=1e-3)


def test_mxnet_builtin_ssd_uses_its_own_input_and_decoder(clients, tmp_path):
    sagemaker, s3, sagemaker_stub, s3_stub = clients
    job = "smartcam-ssd-jetson"
    sagemaker_stub.add_response("create_compilation_job", {"CompilationJobArn": JOB_ARN.format(name=job)}, {
        "CompilationJobName": job, "RoleArn": ROLE,
        "InputConfig": {
            "S3Uri": "s3://training/ssd/output/model.tar.gz",
            "DataInputConfig": json.dumps({"data": [1, 3, 512, 512]}),
            "Framework": "MXNET", "FrameworkVersion": "1.8",
        },
        "OutputConfig": {
            "S3OutputLocation": f"s3://my-bucket/smartcam/training/neo/{job}/output", "TargetDevice": "jetson_nano",
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 900},
    })
    artifacts = f"s3://my-bucket/smartcam/training/neo/{job}/output/model-jetson_nano.tar.gz"
    sagemaker_stub.add_response(
        "describe_compilation_job", describe(job, "COMPLETED", artifacts=artifacts), {"CompilationJobName": job}
    )
    body = neo_output_tarball()
    s3_stub.add_response("get_object", {"Body": StreamingBody(io.BytesIO(body), len(body))}, {
        "Bucket": "my-bucket", "Key": f"smartcam/training/neo/{job}/output/model-jetson_nano.tar.gz",
    })
    labels = tmp_path / "labels.txt"
    labels.write_text("person\nbicycle\n")
    out = tmp_path / "ssd"
    args = neo_compile.parse_args([
        "--preset", "sagemaker-ssd-mxnet", "--model-s3-uri", "s3://training/ssd/output/model.tar.gz",
        "--labels", str(labels), "--target-device", "jetson_nano", "--role-arn", ROLE, "--bucket", "my-bucket",
        "--job-name", job, "--out", str(out), "--name", "thesis-ssd", "--version", "2.1.0",
    ])
    document = neo_compile.compile_and_package(sagemaker, s3, args, sleep=lambda _: None)

    assert (document["name"], document["version"], document["framework"]) == ("thesis-ssd", "2.1.0", "mxnet")
    assert document["decoder"]["type"] == "mxnet_ssd"
    assert document["input"]["layout"] == "NCHW"
    assert document["labels"] == ["person", "bicycle"]
    assert document["runtimes"]["dlr"]["platforms"] == ["aarch64"]
    assert document["runtime_preference"] == {"x86_64": [], "aarch64": ["dlr"]}
    verify_model_folder(out)


def test_a_failed_job_reports_its_reason(clients):
    sagemaker, _, sagemaker_stub, _ = clients
    sagemaker_stub.add_response(
        "describe_compilation_job", describe("j", "FAILED", FailureReason="ClientError: unsupported op"),
        {"CompilationJobName": "j"},
    )
    with pytest.raises(neo_compile.NeoCompilationError, match="FAILED: ClientError: unsupported op"):
        neo_compile.wait_for_compilation(sagemaker, "j", sleep=lambda _: None)


def test_a_job_that_never_finishes_times_out(clients):
    sagemaker, _, sagemaker_stub, _ = clients
    for _ in range(3):
        sagemaker_stub.add_response(
            "describe_compilation_job", describe("j", "INPROGRESS"), {"CompilationJobName": "j"}
        )
    ticks = iter(range(0, 1000, 10))
    with pytest.raises(neo_compile.NeoCompilationError, match="still INPROGRESS"):
        neo_compile.wait_for_compilation(
            sagemaker, "j", poll_seconds=10, timeout_seconds=25, sleep=lambda _: None, clock=lambda: next(ticks)
        )


def test_an_output_without_a_compiled_library_is_refused(clients, tmp_path):
    _, s3, _, s3_stub = clients
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 2
        archive.addfile(info, io.BytesIO(b"hi"))
    body = buffer.getvalue()
    s3_stub.add_response(
        "get_object", {"Body": StreamingBody(io.BytesIO(body), len(body))}, {"Bucket": "b", "Key": "k"}
    )
    with pytest.raises((neo_compile.NeoCompilationError, tarfile.FilterError)):
        neo_compile.download_artifacts(s3, neo_compile.S3Uri("b", "k"), tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_bad_s3_uris_are_refused():
    with pytest.raises(ValueError, match="not an s3://"):
        neo_compile.S3Uri.parse("https://bucket/key")
    assert str(neo_compile.S3Uri.parse("s3://bucket/a/b.tar.gz")) == "s3://bucket/a/b.tar.gz"
    with pytest.raises(ValueError, match="not a valid S3 bucket name"):
        neo_compile.S3Uri.parse("s3://b/a/b.tar.gz")



# --- every preset's output loads in SsdInference and decodes its family's real outputs ----------------

IMAGE = REPO / "tests" / "model_packaging" / "images" / "grace_hopper.jpg"
SELECTION = Selection(score_threshold=0.3, nms_iou_threshold=0.5, max_detections=10)
PRESET_ARGS = {
    "ssdlite-tflite": [],
    "ssdlite-onnx": [],
    "sagemaker-ssd-mxnet": ["--model-s3-uri", "s3://training/ssd/output/model.tar.gz", "--labels", "{labels}"],
}


def stub_completed_job(clients, job: str, *, upload: bool, output_config=ANY, device: str = "ml_c5") -> None:
    """The calls of one Neo job that completes at once: upload (if ``upload``), create with
    ``output_config``, describe, download of our own compile as its output."""
    _, _, sagemaker_stub, s3_stub = clients
    prefix = f"smartcam/training/neo/{job}"
    if upload:
        s3_stub.add_response("put_object", {}, {"Bucket": "my-bucket", "Key": f"{prefix}/input/model.tar.gz",
                                                "Body": ANY})
    sagemaker_stub.add_response(
        "create_compilation_job", {"CompilationJobArn": JOB_ARN.format(name=job)},
        {"CompilationJobName": job, "RoleArn": ROLE, "InputConfig": ANY, "OutputConfig": output_config,
         "StoppingCondition": ANY},
    )
    artifacts = f"s3://my-bucket/{prefix}/output/model-{device}.tar.gz"
    sagemaker_stub.add_response(
        "describe_compilation_job", describe(job, "COMPLETED", artifacts=artifacts), {"CompilationJobName": job}
    )
    body = neo_output_tarball()
    s3_stub.add_response("get_object", {"Body": StreamingBody(io.BytesIO(body), len(body))},
                         {"Bucket": "my-bucket", "Key": f"{prefix}/output/model-{device}.tar.gz"})


def package_preset(clients, tmp_path, preset: str):
    """The whole Neo path of ``preset`` against the stubs (requests checked by the service models)."""
    sagemaker, s3, _, _ = clients
    job = f"smartcam-{preset}"
    stub_completed_job(clients, job, upload=bool(neo_compile.PRESETS[preset].local_model_file))
    labels = tmp_path / "labels.txt"
    labels.write_text("person\nbicycle\n")
    out = tmp_path / preset
    args = neo_compile.parse_args([
        "--preset", preset, "--target-device", "ml_c5", "--role-arn", ROLE, "--bucket", "my-bucket",
        "--job-name", job, "--out", str(out), *(a.format(labels=labels) for a in PRESET_ARGS[preset]),
    ])
    neo_compile.compile_and_package(sagemaker, s3, args, sleep=lambda _: None)
    return out


class FamilyOutputs:
    """A backend that answers like the family's compiled model: ``raw`` in the runtime's output order,
    named through model.json's output mapping exactly as SsdInference's DLR backend names them."""

    name = "dlr"
    threads = 1

    def __init__(self, model: PreparedModel, raw: list[np.ndarray]) -> None:
        self.mapping = model.bundle.runtime("dlr").outputs
        self.input_shape = tuple(model.bundle.input.shape)
        self.raw = raw

    def run(self, tensor):
        assert tensor.shape == self.input_shape
        return map_outputs(self.name, self.raw, [], self.mapping)

    def close(self):
        pass


def sagemaker_ssd_rows() -> np.ndarray:
    """SageMaker's built-in Object Detection (MXNet SSD) output: [1, N, 6] rows (class, score, x1, y1,
    x2, y2), corners normalized to the input, best first, class -1 on the rows NMS emptied."""
    rows = np.full((1, 100, 6), -1.0, np.float32)
    rows[0, 0] = [0, 0.92, 0.10, 0.20, 0.40, 0.80]
    rows[0, 1] = [1, 0.71, 0.50, 0.55, 0.90, 0.95]
    rows[0, 2] = [0, 0.12, 0.60, 0.10, 0.70, 0.30]  # below the score threshold
    return rows


def engine_for(preset: str, model: PreparedModel) -> Engine:
    if preset == "sagemaker-ssd-mxnet":
        return Engine(model, FamilyOutputs(model, [sagemaker_ssd_rows()]))
    # The ssdlite presets compile the sample's own TFLite/ONNX export: the Neo artifact is a real DLR
    # model, run by SsdInference's DLR backend (raw box encodings [1, 1917, 4], class logits [1, 1917, 2]).
    return Engine.start(model, "dlr", 1, fall_back=False)


EXPECTED = {
    "ssdlite-tflite": ["person"],
    "ssdlite-onnx": ["person"],
    "sagemaker-ssd-mxnet": ["person", "bicycle"],
}


@pytest.mark.parametrize("preset", sorted(neo_compile.PRESETS))
def test_each_preset_loads_in_ssd_inference_and_decodes_its_family_output(clients, tmp_path, preset):
    out = package_preset(clients, tmp_path, preset)
    model = PreparedModel.load(out)  # the component's own path: manifest contract, checksums, decoder registry
    engine = engine_for(preset, model)
    try:
        tensor = engine.preprocess(decode_image(IMAGE.read_bytes()))
        detections = engine.postprocess(engine.infer(tensor), SELECTION).detections
    finally:
        engine.close()
    assert [d.label for d in detections] == EXPECTED[preset]
    assert detections[0].score > 0.5
    if preset == "sagemaker-ssd-mxnet":
        assert model.bundle.input.layout == "NCHW"
        box = detections[0].box
        np.testing.assert_allclose([box.x1, box.y1, box.x2, box.y2], [0.10, 0.20, 0.40, 0.80], atol=1e-6)
    else:
        box = detections[0].box  # Grace Hopper fills most of the portrait
        assert box.x2 - box.x1 > 0.5 and box.y2 - box.y1 > 0.5


def test_a_build_for_a_cpu_level_gets_its_neo_target_and_its_own_folder(clients, tmp_path):
    sagemaker, s3, _, _ = clients
    job = "smartcam-baseline"
    stub_completed_job(clients, job, upload=True, device="LINUX_X86_64", output_config={
        "S3OutputLocation": f"s3://my-bucket/smartcam/training/neo/{job}/output",
        "TargetPlatform": {"Os": "LINUX", "Arch": "X86_64"}})
    out = tmp_path / "neo-model"
    args = neo_compile.parse_args(["--build", "dlr-x86-64", "--role-arn", ROLE, "--bucket", "my-bucket",
                                   "--job-name", job, "--out", str(out)])
    document = neo_compile.compile_and_package(sagemaker, s3, args, sleep=lambda _: None)

    entry = document["runtimes"]["dlr-x86-64"]
    assert (entry["path"], entry["target"], entry["platforms"]) == ("dlr-x86-64", "sagemaker-neo:linux_x86_64",
                                                                   ["x86_64"])
    assert "dlr-x86-64/compiled.so" in document["files"]
    # the base folder's other builds stay as they were
    sample = json.loads((MODEL / "model.json").read_text())
    assert document["runtimes"]["dlr-avx512"] == sample["runtimes"]["dlr-avx512"]
    assert document["neo"]["target_device"] == "linux_x86_64"
    # SsdInference reads the target as the baseline level: any x86-64 CPU runs it
    assert target_needs(entry["target"], "x86_64") == frozenset()
    verify_model_folder(out)


def test_every_shipped_build_has_a_neo_target_that_ssd_inference_can_check():
    for build in DLR_BUILDS:
        target = neo_compile.output_target(build, None)
        name = neo_compile.target_name(target)
        machine = neo_compile.DEVICE_ARCHITECTURES[name]
        assert target_needs(f"sagemaker-neo:{name}", machine) == target_needs(DLR_BUILDS[build], machine), build
    with pytest.raises(ValueError, match="give --target-device"):
        neo_compile.output_target("dlr-riscv", None)
    assert neo_compile.output_target("dlr-riscv", "ml_c5") == {"TargetDevice": "ml_c5"}
