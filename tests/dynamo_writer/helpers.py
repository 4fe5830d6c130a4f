"""Shared helpers of the writer tests."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import cv2
import numpy as np

from dynamo_writer.dynamo import create_table_if_missing
from dynamo_writer.settings import DynamoWriterConfig
from smartcam.contracts import Detections, EventReceipt, FrameReceipt, SnapshotRef, TrackEvent
from tests.support.fake_nucleus import wait_until as support_wait_until

DEVICE = "test-thing-1"
# Recent: DynamoDB Local really deletes items whose TTL (capture time + retention) has passed.
BASE_TIME = float(int(time.time()))


def detections(frame_id: str = "f1", captured_at: float = BASE_TIME, labels: tuple[str, ...] = ("person",),
               camera_id: str = "cam1", sequence: int = 1, request_id: str | None = None) -> Detections:
    return Detections.model_validate({
        "frame": {"frame_id": frame_id, "camera_id": camera_id, "slot": sequence % 64,
                  "sequence": sequence, "captured_at": captured_at, "captured_monotonic_ns": 1,
                  "width": 640, "height": 480, "format": "bgr8", "request_id": request_id},
        "detections": [{"label": label, "class_id": i, "score": 0.5 + 0.01 * i,
                        "box": {"x1": 0.1, "y1": 0.1, "x2": 0.2 + 0.01 * i, "y2": 0.3}}
                       for i, label in enumerate(labels)],
        "model": {"name": "ssd", "version": "1", "backend": "onnxruntime"},
        "latency": {"read_ms": 1, "preprocess_ms": 1, "infer_ms": 10, "postprocess_ms": 1},
        "inferred_at": captured_at + 0.05,
    })


def jpeg(width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    """A real JPEG picture, different for each seed."""
    pixels = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    ok, data = cv2.imencode(".jpg", pixels)
    assert ok
    return data.tobytes()


def snapshot(folder: Any, event_id: str, frame_id: str = "cam1-000007", seed: int = 0) -> SnapshotRef:
    """A snapshot as EventTracker leaves it: ``<folder>/<event id>/full.jpg`` and ``crop.jpg``."""
    target = folder / event_id
    target.mkdir(parents=True, exist_ok=True)
    full, crop = jpeg(64, 48, seed), jpeg(16, 24, seed + 1)
    (target / "full.jpg").write_bytes(full)
    (target / "crop.jpg").write_bytes(crop)
    return SnapshotRef(frame_id=frame_id, captured_at=BASE_TIME + 1, score=0.8,
                       box={"x1": 0.1, "y1": 0.2, "x2": 0.3, "y2": 0.6}, path=str(target / "full.jpg"),
                       crop_path=str(target / "crop.jpg"), bytes=len(full) + len(crop))


def track_event(event_id: str = "cam1-e1", sequence: int = 0, *, kind: str | None = None,
                snapshot: SnapshotRef | None = None, camera_id: str = "cam1", first_seen: float = BASE_TIME,
                seen_for: float | None = None) -> TrackEvent:
    """Event ``event_id`` as of ``sequence``: ``start`` at 0, ``update`` after, unless ``kind`` says."""
    kind = kind or ("start" if sequence == 0 else "update")
    last_seen = first_seen + (seen_for if seen_for is not None else sequence * 0.5)
    return TrackEvent.model_validate({
        "event_id": event_id, "kind": kind, "sequence": sequence, "camera_id": camera_id, "track_id": 7,
        "label": "person", "request_id": "req-1", "first_seen": first_seen, "last_seen": last_seen,
        "duration_s": last_seen - first_seen, "best_score": 0.8, "frames": sequence + 1,
        "path": [(first_seen, 0.1, 0.2, 0.3, 0.6), (last_seen, 0.2, 0.2, 0.4, 0.6)],
        "zones": [{"zone": "door", "entered": first_seen}], "lines": [{"line": "gate", "crossed_in": 1}],
        "snapshot": snapshot, "end_reason": "unseen" if kind == "end" else None, "sent_at": last_seen + 0.1,
    })


class RecordingReceipts:
    """Stands in for the ReceiptSender: the receipts the receiver handed over, in order."""

    def __init__(self) -> None:
        self.receipts: list[FrameReceipt] = []
        self.events: list[EventReceipt] = []

    def add(self, receipt: FrameReceipt) -> None:
        self.receipts.append(receipt)

    def add_event(self, receipt: EventReceipt) -> None:
        self.events.append(receipt)

    def for_frame(self, frame_id: str) -> list[FrameReceipt]:
        return [r for r in self.receipts if r.frame_id == frame_id]

    def outcomes(self) -> list[tuple[str, str]]:
        return [(r.frame_id, r.outcome) for r in self.receipts]


def frames(count: int, prefix: str = "f") -> list[Detections]:
    return [detections(f"{prefix}{i:06d}", BASE_TIME + i * 0.1, sequence=i) for i in range(count)]


def clear_aws_env(monkeypatch: Any, tmp_path: Any) -> None:
    """No credentials, profile or endpoint from the developer's machine leaks into a test."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                 "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", "us-east-1")


def config(**over: Any) -> DynamoWriterConfig:
    # The per-frame tests pin store mode detections; the events tests say which mode they want.
    base: dict[str, Any] = {"tableName": "unit-table", "store": "detections", "flushIntervalS": 0.05,
                            "backoffBaseS": 0.01, "backoffMaxS": 0.2, "requestTimeoutS": 5}
    base.update(over)
    return DynamoWriterConfig.model_validate(base)


def unique_table() -> str:
    return f"writer-{uuid.uuid4().hex[:12]}"


def create_table(client: Any, name: str) -> None:
    create_table_if_missing(client, name)


def scan_all(client: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


ItemKey = tuple[str, str]  # the detections table's primary key: (device, sk)


def item_key(item: dict[str, Any]) -> ItemKey:
    return item["device"]["S"], item["sk"]["S"]


def stored_items(client: Any, table: str) -> dict[ItemKey, dict[str, Any]]:
    """The detections table's items by primary key (a table holds one item per key: counting keys read
    back proves nothing about duplicates; comparing with what was spooled and sent does)."""
    return {item_key(item): item for item in scan_all(client, table)}


def as_stored(value: Any) -> Any:
    """An item (or AttributeValue) as DynamoDB compares it: a number by its value ("1.0" is stored as "1"),
    a set without order."""
    if isinstance(value, dict):
        return {key: _attribute(key, inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [as_stored(inner) for inner in value]
    return value


def _attribute(key: str, value: Any) -> Any:
    if key == "N":
        return Decimal(value)
    if key == "NS":
        return {Decimal(number) for number in value}
    if key in ("SS", "BS"):
        return set(value)
    return as_stored(value)


def assert_stored_as_spooled(client: Any, table: str, spooled: dict[ItemKey, dict[str, Any]]
                             ) -> dict[ItemKey, dict[str, Any]]:
    """Every spooled item is in the table with the content it was spooled with (the sender adds only
    ``sentAt``), and nothing else is; returns the stored items."""
    stored = stored_items(client, table)
    assert sorted(stored) == sorted(spooled), (
        f"missing: {sorted(set(spooled) - set(stored))[:5]}, unexpected: {sorted(set(stored) - set(spooled))[:5]}")
    changed = [key for key, item in stored.items()
               if as_stored({k: v for k, v in item.items() if k != "sentAt"}) != as_stored(spooled[key])]
    assert not changed, f"stored with other content than spooled: {changed[:5]}"
    assert all("sentAt" in item for item in stored.values())
    return stored


def wait_until(predicate: Callable[[], bool], timeout: float = 120.0, what: str = "condition") -> None:
    support_wait_until(predicate, timeout, what)


def drain(sender: Any, spool: Any, timeout: float = 180.0) -> None:
    """Run sender steps (flushing partial batches) until the spool is empty."""
    deadline = time.monotonic() + timeout
    while spool.depth()[0]:
        assert time.monotonic() < deadline, f"spool not drained, {spool.depth()[0]} items left"
        delay = sender.step(force=True)
        if delay > 0:
            time.sleep(min(delay, 0.2))


class RecordingClient:
    """Wraps a real client: records every BatchWriteItem and checks the batch has no duplicate keys,
    which real DynamoDB would refuse as a whole. Subclasses inject faults."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[list[str]] = []
        self.violations: list[str] = []

    def batch_write_item(self, **kwargs: Any) -> dict[str, Any]:
        (table, requests), = kwargs["RequestItems"].items()
        keys = [(r["PutRequest"]["Item"]["device"]["S"], r["PutRequest"]["Item"]["sk"]["S"]) for r in requests]
        if len(keys) != len(set(keys)) or not 1 <= len(keys) <= 25:
            self.violations.append(f"bad batch: {keys}")
        self.calls.append([sk for _, sk in keys])
        return self.forward(table, requests)

    def forward(self, table: str, requests: list[dict[str, Any]]) -> dict[str, Any]:
        return self.inner.batch_write_item(RequestItems={table: requests})

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class InMemoryDynamoDB:
    """Accepts every batch and remembers which table each frame's items went to (and, standing in for S3
    too, each event's item and object)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.tables: dict[str, str] = {}  # frame id -> table
        self.event_tables: dict[str, str] = {}  # event id -> table
        self.objects: dict[tuple[str, str], bytes] = {}  # (bucket, key) -> body

    def put_item(self, *, TableName: str, Item: dict[str, Any], **_: Any) -> dict[str, Any]:
        with self._lock:
            self.event_tables[Item["event_id"]["S"]] = TableName
        return {}

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, **_: Any) -> dict[str, Any]:
        with self._lock:
            self.objects[(Bucket, Key)] = Body
        return {}

    def create_bucket(self, **_: Any) -> dict[str, Any]:
        return {}

    def batch_write_item(self, *, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        with self._lock:
            for table, requests in RequestItems.items():
                for request in requests:
                    self.tables[request["PutRequest"]["Item"]["frameId"]["S"]] = table
        return {"UnprocessedItems": {}}

    def create_table(self, **_: Any) -> dict[str, Any]:
        return {}

    def get_waiter(self, _name: str) -> Any:
        return self

    def wait(self, **_: Any) -> None:
        return None

    def update_time_to_live(self, **_: Any) -> dict[str, Any]:
        return {}


class Clock:
    """A wall clock the test moves by hand (epoch seconds)."""

    def __init__(self, now: float = BASE_TIME) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeTime:
    """The sender's clocks, moved by hand: ``time()`` (wall) and ``monotonic()``."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now
