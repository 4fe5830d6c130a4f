"""A SageMaker training job of the built-in Object Detection algorithm (MXNet SSD) on a Ground Truth
output manifest: the request, starting it, waiting for it.

Why this algorithm: it is SageMaker's own SSD, trains straight from Ground Truth's augmented manifest
(no RecordIO conversion step), and its model.tar.gz is what Neo compiles for the fleet's DLR builds
(the ``sagemaker-ssd-mxnet`` preset of neo_compile). Its base networks (VGG-16, ResNet-50) are heavier
than the shipped SSDLite; model_packaging/README.md says what that costs on a device.

Input: Pipe mode, channels ``train`` and ``validation`` of S3DataType AugmentedManifestFile with
AttributeNames ["source-ref", "<label attribute>"] (image first, then its annotations) and
RecordWrapperType RecordIO, as the algorithm's documentation requires.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from model_packaging.aws_inputs import (
    InputError,
    S3Uri,
    check_instance_type,
    check_job_name,
    check_region,
    check_role_arn,
)

# The algorithm's image is in a SageMaker-owned ECR registry per region ("Docker Registry Paths and
# Example Code" in the SageMaker developer guide; the same table as the SageMaker Python SDK's
# image_uri_config/object-detection.json). Repository object-detection, tag 1.
ALGORITHM_REGISTRIES = {
    "af-south-1": "455444449433", "ap-east-1": "286214385809", "ap-northeast-1": "501404015308",
    "ap-northeast-2": "306986355934", "ap-northeast-3": "364406365360", "ap-south-1": "991648021394",
    "ap-southeast-1": "475088953585", "ap-southeast-2": "544295431143", "ca-central-1": "469771592824",
    "cn-north-1": "390948362332", "cn-northwest-1": "387376663083", "eu-central-1": "813361260812",
    "eu-north-1": "669576153137", "eu-south-1": "257386234256", "eu-west-1": "685385470294",
    "eu-west-2": "644912444149", "eu-west-3": "749696950732", "me-south-1": "249704162688",
    "sa-east-1": "855470959533", "us-east-1": "811284229777", "us-east-2": "825641698319",
    "us-gov-west-1": "226302683700", "us-west-1": "632365934929", "us-west-2": "433757028032",
}
ALGORITHM_REPOSITORY = "object-detection"
ALGORITHM_TAG = "1"
# "For object detection, we support the following GPU instances for training" (the algorithm's page).
TRAINING_INSTANCE_TYPES = (
    "ml.p2.xlarge", "ml.p2.8xlarge", "ml.p2.16xlarge", "ml.p3.2xlarge", "ml.p3.8xlarge", "ml.p3.16xlarge",
)
BASE_NETWORKS = ("resnet-50", "vgg-16")
DEFAULT_LABEL_WIDTH = 350  # the algorithm's default; raised when an image has more objects
RUNNING_STATES = {"InProgress", "Stopping"}


class TrainingError(RuntimeError):
    """The training job failed, was stopped, or did not finish in time."""


def training_image(region: str) -> str:
    region = check_region(region)
    if region not in ALGORITHM_REGISTRIES:
        raise InputError(f"no Object Detection algorithm image is listed for {region} "
                         f"(known: {', '.join(sorted(ALGORITHM_REGISTRIES))})")
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{ALGORITHM_REGISTRIES[region]}.dkr.ecr.{region}.{domain}/{ALGORITHM_REPOSITORY}:{ALGORITHM_TAG}"


@dataclass(frozen=True)
class TrainingSettings:
    """What the operator chooses; every field is checked by :meth:`checked`."""

    job_name: str
    role_arn: str
    region: str
    output: S3Uri  # S3OutputPath: the model lands at <output>/<job name>/output/model.tar.gz
    instance_type: str = "ml.p3.2xlarge"
    volume_gb: int = 50
    max_runtime_seconds: int = 4 * 3600
    base_network: str = "resnet-50"
    image_shape: int = 300
    epochs: int = 30
    mini_batch_size: int = 16
    learning_rate: float = 0.001

    def checked(self) -> TrainingSettings:
        check_job_name(self.job_name, "TrainingJobName")
        check_role_arn(self.role_arn)
        check_instance_type(self.instance_type, "TrainingInstanceType", TRAINING_INSTANCE_TYPES)
        training_image(self.region)
        if self.base_network not in BASE_NETWORKS:
            raise InputError(f"base network must be one of {BASE_NETWORKS}, not {self.base_network!r}")
        if self.image_shape < 300:
            raise InputError(f"image_shape must be at least 300 (the algorithm's minimum), not {self.image_shape}")
        if not 1 <= self.epochs <= 1000 or not 1 <= self.mini_batch_size <= 256:
            raise InputError("epochs must be 1-1000 and the mini-batch size 1-256")
        if not 0 < self.learning_rate <= 1:
            raise InputError(f"the learning rate must be in (0, 1], not {self.learning_rate}")
        if not 1 <= self.volume_gb <= 16384 or not 60 <= self.max_runtime_seconds <= 28 * 24 * 3600:
            raise InputError("the volume must be 1-16384 GB and the maximum runtime 60 s to 28 days")
        return self

    def model_artifact(self) -> S3Uri:
        """Where SageMaker writes the trained model (for plans made before the job exists)."""
        return self.output.join(self.job_name, "output", "model.tar.gz")


def hyperparameters(settings: TrainingSettings, *, num_classes: int, num_training_samples: int,
                    max_objects: int) -> dict[str, str]:
    """The algorithm's hyperparameters (all strings, as CreateTrainingJob takes them)."""
    # label_width holds 2 header values plus 5 per object ([class, x1, y1, x2, y2]); SageMaker pads to it.
    label_width = max(DEFAULT_LABEL_WIDTH, 2 + 5 * max_objects + 8)
    return {
        "base_network": settings.base_network,
        "use_pretrained_model": "1",
        "num_classes": str(num_classes),
        "num_training_samples": str(num_training_samples),
        "image_shape": str(settings.image_shape),
        "epochs": str(settings.epochs),
        "mini_batch_size": str(settings.mini_batch_size),
        "learning_rate": f"{settings.learning_rate:g}",
        "label_width": str(label_width),
    }


def _channel(name: str, manifest: S3Uri, label_attribute: str) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "AugmentedManifestFile",
                "S3Uri": str(manifest),
                "S3DataDistributionType": "FullyReplicated",
                "AttributeNames": ["source-ref", label_attribute],
            }
        },
        "ContentType": "application/x-recordio",
        "RecordWrapperType": "RecordIO",
        "CompressionType": "None",
        "InputMode": "Pipe",
    }


def training_request(settings: TrainingSettings, *, train: S3Uri, validation: S3Uri, label_attribute: str,
                     hyperparameters: dict[str, str]) -> dict[str, Any]:
    """The CreateTrainingJob request."""
    return {
        "TrainingJobName": settings.job_name,
        "HyperParameters": hyperparameters,
        "AlgorithmSpecification": {"TrainingImage": training_image(settings.region), "TrainingInputMode": "Pipe"},
        "RoleArn": settings.role_arn,
        "InputDataConfig": [_channel("train", train, label_attribute),
                            _channel("validation", validation, label_attribute)],
        "OutputDataConfig": {"S3OutputPath": str(settings.output)},
        "ResourceConfig": {"InstanceType": settings.instance_type, "InstanceCount": 1,
                           "VolumeSizeInGB": settings.volume_gb},
        "StoppingCondition": {"MaxRuntimeInSeconds": settings.max_runtime_seconds},
    }


def wait_for_training(
    sagemaker: Any, job_name: str, *, poll_seconds: float = 60.0, timeout_seconds: float = 6 * 3600.0,
    sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Polls DescribeTrainingJob until the job completes. A job still running at ``timeout_seconds`` is
    stopped (it bills per second and nothing would use its result) and TrainingError is raised."""
    deadline = clock() + timeout_seconds
    last = None
    while True:
        job = sagemaker.describe_training_job(TrainingJobName=job_name)
        status, secondary = job["TrainingJobStatus"], job.get("SecondaryStatus", "")
        if (status, secondary) != last:
            progress(f"training job {job_name}: {status} ({secondary})")
            last = (status, secondary)
        if status == "Completed":
            return job
        if status not in RUNNING_STATES:
            reason = job.get("FailureReason") or "no reason given"
            raise TrainingError(f"training job {job_name} {status}: {reason}")
        if clock() >= deadline:
            if status == "InProgress":
                sagemaker.stop_training_job(TrainingJobName=job_name)
            raise TrainingError(f"training job {job_name} still {status} ({secondary}) after "
                                f"{timeout_seconds:.0f} s: asked SageMaker to stop it")
        sleep(poll_seconds)
