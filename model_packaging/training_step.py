"""The `train` step: a Ground Truth output manifest in, a trained model.tar.gz in S3 out.

    read the manifest (S3 GetObject, or a local file) -> check every line -> split train/validation
    -> S3 PutObject of both split manifests -> CreateTrainingJob -> DescribeTrainingJob until done
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_packaging import ground_truth_manifest as gt
from model_packaging.aws_inputs import InputError, S3Uri
from model_packaging.dry_run import Call
from model_packaging.sagemaker_training import (
    TrainingSettings,
    hyperparameters,
    training_request,
    wait_for_training,
)


@dataclass(frozen=True)
class TrainingPlan:
    manifest: gt.Manifest
    uploads: list[tuple[S3Uri, str]]  # split manifests: where, what
    request: dict[str, Any]  # CreateTrainingJob
    settings: TrainingSettings

    @property
    def classes(self) -> list[str]:
        return self.manifest.classes

    def calls(self) -> list[Call]:
        calls: list[Call] = [
            ("s3", "PutObject", {**_put_request(uri, b""), "Body": _describe(text)}) for uri, text in self.uploads
        ]
        calls.append(("sagemaker", "CreateTrainingJob", self.request))
        return calls


def _put_request(uri: S3Uri, body: bytes) -> dict[str, Any]:
    return {"Bucket": uri.bucket, "Key": uri.key, "Body": body, "ContentType": "application/jsonlines"}


def _describe(text: str) -> str:
    return f"<{text.count(chr(10))} manifest lines, {len(text.encode())} bytes>"


def read_manifest(source: str, s3: Any) -> str:
    """The manifest text from ``s3://...`` (GetObject) or a local path."""
    if source.startswith("s3://"):
        uri = S3Uri.parse(source)
        return s3.get_object(Bucket=uri.bucket, Key=uri.key)["Body"].read().decode("utf-8")
    path = Path(source)
    if not path.is_file():
        raise InputError(f"no manifest at {source} (an s3:// URI or a local file)")
    return path.read_text(encoding="utf-8")


def plan_training(text: str, settings: TrainingSettings, *, label_attribute: str, data_prefix: S3Uri,
                  validation_percent: int = 20) -> TrainingPlan:
    """Checks everything and builds every request; sends nothing."""
    settings = settings.checked()
    manifest = gt.parse_manifest(text, label_attribute)
    train, validation = gt.split(manifest, validation_percent)
    classes = manifest.classes
    folder = data_prefix.join(settings.job_name)
    train_uri, validation_uri = folder.join("train.manifest"), folder.join("validation.manifest")
    request = training_request(
        settings, train=train_uri, validation=validation_uri, label_attribute=label_attribute,
        hyperparameters=hyperparameters(settings, num_classes=len(classes), num_training_samples=len(train),
                                        max_objects=manifest.max_objects),
    )
    uploads = [(train_uri, gt.manifest_text(train)), (validation_uri, gt.manifest_text(validation))]
    return TrainingPlan(manifest, uploads, request, settings)


def run_training(sagemaker: Any, s3: Any, plan: TrainingPlan, *, poll_seconds: float, timeout_seconds: float,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Uploads the split manifests, starts the job and waits for it; returns DescribeTrainingJob's answer."""
    for uri, text in plan.uploads:
        s3.put_object(**_put_request(uri, text.encode("utf-8")))
    sagemaker.create_training_job(**plan.request)
    return wait_for_training(sagemaker, plan.settings.job_name, poll_seconds=poll_seconds,
                             timeout_seconds=timeout_seconds, sleep=sleep, clock=clock, progress=progress)
