
"""Helpers for the inference tests: synthetic model folders, a fake backend, a mocked IPC client."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import cv2
import numpy as np
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import (
    ConfigurationUpdateEvent,
    ConfigurationUpdateEvents,
    GetConfigurationResponse,
    JsonMessage,
    MessageContext,
    SubscriptionResponseMessage,
)

from repo_layout import REPO_ROOT
from smartcam.contracts import FrameRef

REPO = REPO_ROOT
MODEL_DIR = REPO / "components" / "SsdModelStore" / "model"
THING = "test-thing"
LABELS = ("background", "person", "dog")


def grid_anchors(n: int = 10) -> np.ndarray:
    """(n*n*2, 4) yxhw anchors: a grid of two sizes."""
    centers = (np.arange(n, dtype=np.float32) + 0.5) / n
    yc, xc = np.meshgrid(centers, centers, indexing="ij")
    out = []
    for size in (0.2, 0.4):
        out.append(np.stack([yc.ravel(), xc.ravel(), np.full(n * n, size), np.full(n * n, size)], axis=1))
    return np.concatenate(out).astype(np.float32)


def encode_boxes(boxes_xyxy: np.ndarray, anchors_center: np.ndarray, scale_factors: np.ndarray) -> np.ndarray:
    """Inverse of the TF OD API box decoding (``ssd_inference.decoders.tf_od_api.decode_boxes``): makes
    the raw outputs a model would give for known boxes."""
    x1, y1, x2, y2 = boxes_xyxy.T
    ya, xa, ha, wa = anchors_center.T
    h, w = y2 - y1, x2 - x1
    yc, xc = (y1 + y2) / 2, (x1 + x2) / 2
    codes = np.stack([(yc - ya) / ha, (xc - xa) / wa, np.log(h / ha), np.log(w / wa)], axis=1)
    return (codes * scale_factors).astype(np.float32)


def logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def raw_outputs(anchors: np.ndarray, objects: list[tuple[int, int, float, tuple[float, float, float, float]]],
                num_columns: int = 3) -> dict[str, np.ndarray]:
    """TF OD API raw outputs: ``objects`` are (anchor index, column incl. background, score, xyxy box)."""
    encodings = np.zeros((len(anchors), 4), np.float32)
    logits = np.full((len(anchors), num_columns), logit(0.001), np.float32)
    for anchor, column, score, box in objects:
        encodings[anchor] = encode_boxes(np.asarray([box], np.float32), anchors[anchor:anchor + 1],
                                         np.asarray([10, 10, 5, 5], np.float32))[0]
        logits[anchor, column] = logit(score)
    return {"box_encodings": encodings[None], "class_predictions": logits[None]}


def write_model_dir(folder: Path, *, runtimes: dict[str, Any] | None = None, decoder: dict[str, Any] | None = None,
                    labels: tuple[str, ...] = LABELS, anchors: np.ndarray | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "labels.txt").write_text("\n".join(labels) + "\n")
    np.save(folder / "anchors.npy", grid_anchors() if anchors is None else anchors)
    (folder / "fake.model").write_bytes(b"not a real model")
    runtimes = runtimes or {"fake": {"path": "fake.model", "outputs": {}}}
    manifest = {
        "schema": "smartcam.model/1", "name": "test-ssd", "version": "0.1.0", "framework": "test",
        "notes": "a synthetic model for the tests",
        "input": {"name": "image", "shape": [1, 64, 64, 3], "layout": "NHWC", "dtype": "float32", "color": "RGB",
                  "normalization": {"mean": [127.5] * 3, "std": [127.5] * 3}},
        "decoder": decoder or {"type": "tf_od_api", "params": {
            "anchors_file": "anchors.npy", "anchor_order": "yxhw", "scale_factors": [10, 10, 5, 5],
            "score_activation": "sigmoid", "background_class": 0}},
        "labels_file": "labels.txt",
        "runtimes": runtimes,
        "files": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
                  if p.name != "model.json"},
    }
    (folder / "model.json").write_text(json.dumps(manifest, indent=1))
    return folder


class FakeBackend:
    """Returns fixed raw outputs: one person at PERSON_BOX (score 0.9), one dog at DOG_BOX (0.6)."""

    PERSON_BOX = (0.1, 0.2, 0.4, 0.8)
    DOG_BOX = (0.55, 0.5, 0.95, 0.9)
    calls: list[tuple[str, int]] = []

    def __init__(self, name: str, bundle: Any, threads: int) -> None:
        self.name = name
        self.threads = threads
        self.closed = False
        self._anchors = bundle.anchors
        FakeBackend.calls.append((name, threads))

    def run(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        assert tensor.shape == (1, 64, 64, 3) and tensor.dtype == np.float32
        return raw_outputs(self._anchors, [(44, 1, 0.9, self.PERSON_BOX), (177, 2, 0.6, self.DOG_BOX)])

    def close(self) -> None:
        self.closed = True


def fake_factories(*names: str) -> dict[str, Any]:
    return {name: (lambda bundle, threads, n=name: FakeBackend(n, bundle, threads)) for name in names}


def jpeg_bytes(width: int = 160, height: int = 120, channels: int = 3, ext: str = ".jpg") -> bytes:
    rng = np.random.default_rng(0)
    shape = (height, width) if channels == 1 else (height, width, channels)
    ok, data = cv2.imencode(ext, rng.integers(0, 255, shape, dtype=np.uint8))
    assert ok
    return data.tobytes()


class FakeGreengrass:
    """A MagicMock(spec=GreengrassCoreIPCClientV2) that records what the component registers and sends."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.client = MagicMock(spec=GreengrassCoreIPCClientV2)
        self.topic_handlers: dict[str, Any] = {}
        self.config_handlers: list[Any] = []
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.iot: list[tuple[str, dict[str, Any]]] = []
        self.states: list[str] = []
        self._lock = threading.Lock()
        self.client.get_configuration.side_effect = lambda key_path: GetConfigurationResponse(
            component_name="smartcam.SsdInference", value=json.loads(json.dumps(self.config)))
        self.client.subscribe_to_topic.side_effect = self._subscribe
        self.client.subscribe_to_configuration_update.side_effect = self._subscribe_config
        self.client.publish_to_topic.side_effect = self._publish
        self.client.publish_to_topic_async.side_effect = self._publish_async
        self.client.publish_to_iot_core.side_effect = self._publish_iot
        self.client.update_state.side_effect = self._update_state

    def _update_state(self, state):
        self.states.append(str(state))

    def _subscribe(self, topic, receive_mode, on_stream_event, on_stream_error):
        self.topic_handlers[topic] = on_stream_event
        return MagicMock(), MagicMock()

    def _subscribe_config(self, key_path, on_stream_event, on_stream_error):
        self.config_handlers.append(on_stream_event)
        return MagicMock(), MagicMock()

    def _publish(self, topic, publish_message):
        with self._lock:
            self.published.append((topic, publish_message.json_message.message))

    def _publish_async(self, topic, publish_message):
        self._publish(topic, publish_message)
        done: Future = Future()
        done.set_result(None)
        return done

    def _publish_iot(self, topic_name, qos, payload):
        with self._lock:
            self.iot.append((topic_name, json.loads(payload)))

    # driving the component --------------------------------------------------------------------
    def send_frame(self, message: dict[str, Any] | FrameRef, topic: str = "smartcam/frames") -> None:
        body = message.to_message() if isinstance(message, FrameRef) else message
        event = SubscriptionResponseMessage(json_message=JsonMessage(message=body, context=MessageContext(topic=topic)))
        self.topic_handlers[topic](event)

    def update_config(self, **changes: Any) -> None:
        self.config = {**self.config, **changes}
        for handler in self.config_handlers:
            handler(ConfigurationUpdateEvents(configuration_update_event=ConfigurationUpdateEvent(
                component_name="smartcam.SsdInference", key_path=list(changes)[:1])))

    def on(self, topic: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m for t, m in self.published if t == topic]

    def on_iot(self, topic: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m for t, m in self.iot if t == topic]

    def wait_for(self, predicate, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.01)
        raise AssertionError("condition not met in time")
