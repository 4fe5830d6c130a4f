"""The end-to-end harness: a running pipeline (runtime, operator, observer, table) and one capture's
results. Used by tests/e2e/conftest.py and the e2e test modules."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_device.observe import Operator, PipelineObserver
from local_device.overlay import pipeline_merges, write_overlay
from local_device.process import LocalRuntime
from local_device.store import expected_keys, stored_keys, table, wait_for_items
from local_device.video import copy_people
from repo_layout import REPO_ROOT
from smartcam.contracts import CaptureStatus, Detections, FrameRef

E2E_ROOT = REPO_ROOT / ".local-greengrass" / "e2e"
CAMERA = "cam0"
WRITER = "smartcam.DynamoWriter"
SMARTCAM_COMPONENTS = ("smartcam.CameraIngest", "smartcam.SsdInference", WRITER, "smartcam.EventTracker")
SPOOL_DISK_BYTES = 16 * 1024 * 1024


@dataclass
class Capture:
    request_id: str
    final: CaptureStatus | None
    frames: list[FrameRef]  # published on smartcam/frames; first sends only (a resend has resent=True)
    detections: list[Detections]  # published on smartcam/detections
    items: list[dict[str, Any]]  # stored in DynamoDB

    @property
    def stored(self) -> list[tuple[str, str]]:
        """(frame id, label) of every stored item, duplicates kept."""
        return stored_keys(self.items)

    @property
    def published(self) -> set[tuple[str, str]]:
        return expected_keys(self.detections)


@dataclass
class Pipeline:
    runtime: LocalRuntime
    operator: Operator
    observer: PipelineObserver
    store: Any
    thing: str
    document: Path
    changed: bool = False  # deployed with other settings than the e2e document's (see redeploy)
    spool_disk_mounted: bool = False  # the writer's work folder is a small tmpfs (see spool_disk)

    def disconnect(self) -> None:
        for closable in (self.operator, self.observer):
            closable.close()

    def reconnect(self) -> None:
        """New operator and observer connections, e.g. after the runtime restarted. The operator
        resumes its MQTT session: statuses sent before it connected again are delivered."""
        self.disconnect()
        self.operator = Operator(self.runtime, client_id=self.operator.client_id)
        self.observer = PipelineObserver(self.runtime)
        self.store = table(self.runtime.dynamodb_endpoint())

    def new_request(self) -> str:
        return f"e2e-{uuid.uuid4().hex[:12]}"

    def run_capture(self, frames: int, fps: float, timeout: float = 240.0) -> Capture:
        """Send a capture command over MQTT, wait for its final status and for inference to settle."""
        request_id = self.operator.capture(CAMERA, frames, fps, self.new_request())
        final = self.operator.wait_final(request_id, timeout=timeout)
        self.observer.wait_inferred(request_id, final.frames_captured or 0, timeout=timeout, quiet=30.0)
        return self.collect(request_id, final)

    def collect(self, request_id: str, final: CaptureStatus | None = None, timeout: float = 240.0,
                expected: Callable[[], set[tuple[str, str]]] | None = None) -> Capture:
        """What was published for the request and, once every ``expected`` (frame, label) is stored
        (default: every published detection) or ``timeout``, what DynamoDB holds for it."""
        def published() -> set[tuple[str, str]]:
            return expected_keys(m for _, m in self.observer.detections(request_id))

        items = wait_for_items(self.store, self.thing, request_id, expected or published, timeout=timeout)
        return Capture(request_id, final, [f for _, f in self.observer.frames(request_id) if not f.resent],
                       [m for _, m in self.observer.detections(request_id)], items)

    def redeploy(self, extra: dict[str, dict[str, Any]] | None = None, **overrides: Any) -> Path:
        """Deploy the e2e document again with changed pipeline settings (see pipeline_merges) and
        ``extra`` merges per component. Every smartcam component's configuration is reset first, so
        nothing an earlier redeploy merged stays: ``redeploy()`` brings back the e2e settings."""
        path = self.document.with_name(f"deployment-{uuid.uuid4().hex[:6]}.json")
        write_overlay(path, {**merges(self.runtime.root, **overrides), **(extra or {})}, name="smartcam-e2e",
                      reset=SMARTCAM_COMPONENTS)
        self.runtime.deploy(path)
        self.changed = bool(extra or overrides)
        return path


def merges(root: Path, camera: dict[str, Any] | None = None, **overrides: Any) -> dict[str, dict[str, Any]]:
    """The e2e settings; ``camera`` replaces the default camera ``cam0`` (below)."""
    if camera is None:
        people = copy_people(root / "e2e-camera")
        # Every image has one person, so every frame must yield exactly one `person` item. The motion gate
        # is off: each frame is a cut to another photo, and these tests follow every frame taken.
        camera = {"id": CAMERA, "source": {"type": "folder", "path": str(people), "fps": 10}, "width": 640,
                  "height": 480, "loop": True, "motion": {"enabled": False}}
    return pipeline_merges(camera=camera, **overrides)


_NOT_SOURCE = {"greengrass-build", "zip-build", "__pycache__", ".pytest_cache"}


def _newest_source(folder: Path) -> float:
    newest = 0.0
    for path in folder.rglob("*"):
        if path.is_file() and not _NOT_SOURCE & set(path.relative_to(folder).parts):
            newest = max(newest, path.stat().st_mtime)
    return newest


def ensure_built() -> list[str]:
    """Build (like `make build`) every component whose greengrass-build is missing or older than its
    sources, so `make test` on a fresh clone, or after an edit, runs what the repository holds. One
    caller at a time: test modules on two pytest-xdist workers (tests/fleet/test_canary_e2e.py beside
    the e2e package) may both find a component stale."""
    lock = REPO_ROOT / ".local-greengrass" / "build.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        return _build_stale()


def _build_stale() -> list[str]:
    stale = []
    for folder in sorted((REPO_ROOT / "components").iterdir()):
        if not (folder / "gdk-config.json").exists():
            continue
        built = list((folder / "greengrass-build").rglob("*")) if (folder / "greengrass-build").exists() else []
        built_files = [p.stat().st_mtime for p in built if p.is_file()]
        if not built_files or min(built_files) < _newest_source(folder):
            stale.append(folder.name)
    if stale:
        command = [sys.executable, str(REPO_ROOT / "scripts" / "build_components.py")]
        for name in stale:
            command += ["--component", name]
        subprocess.run(command, check=True, cwd=REPO_ROOT)
    return stale


@contextmanager
def spool_disk(folder: Path) -> Iterator[bool]:
    """A small tmpfs of its own mounted on ``folder`` (the writer's work folder, its spool), so a test
    can fill that disk for real; yields whether it is mounted (only root can mount)."""
    if os.geteuid() != 0:
        yield False
        return
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["umount", str(folder)], capture_output=True, check=False)  # left by an interrupted run
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SPOOL_DISK_BYTES},mode=0750", "tmpfs", str(folder)],
                   check=True)
    try:
        yield True
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=False)


@contextmanager
def running_pipeline(runtime: LocalRuntime) -> Iterator[Pipeline]:
    """The runtime up with the e2e deployment, an operator and an observer; all down at the end."""
    document = write_overlay(E2E_ROOT / "e2e" / "deployment.json", merges(E2E_ROOT), name="smartcam-e2e")
    started: Pipeline | None = None
    try:
        runtime.up(document)
        started = Pipeline(runtime, Operator(runtime), PipelineObserver(runtime), table(runtime.dynamodb_endpoint()),
                           runtime.thing_name(), document)
        yield started
    finally:
        if started is not None:
            started.disconnect()
        runtime.down()
