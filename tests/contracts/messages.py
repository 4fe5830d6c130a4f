"""Valid messages of every contract, as plain JSON-like dicts, and the helpers the contract tests share.

Each builder returns a fresh dict a test may change; ``over`` replaces (or adds) top-level keys.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from smartcam.contracts import Contract, ContractError, parse

AT = 1764900000.5  # a wall-clock time in 2025

Message = dict[str, Any]


def refusal(model: type[Contract], data: Any) -> str:
    """Why ``parse`` refuses ``data``; fails the test if it is accepted."""
    with pytest.raises(ContractError) as refused:
        parse(model, data)
    return str(refused.value)


def round_trip(model: type[Contract], data: Message) -> Contract:
    """``data`` accepted, and what it becomes accepted again, equal, after a trip through JSON."""
    parsed = parse(model, data)
    assert parse(model, json.dumps(parsed.to_message()).encode()) == parsed
    return parsed


def box(x1: float = 0.1, y1: float = 0.2, x2: float = 0.4, y2: float = 0.8) -> Message:
    return {"x1": x1, "y1": y1, "x2": x2, "y2": y2}


def frame(**over: Any) -> Message:
    return {"frame_id": "cam0-00001", "camera_id": "cam0", "slot": 1, "sequence": 1,
            "captured_at": AT, "captured_monotonic_ns": 123, "width": 640, "height": 480, "format": "bgr8", **over}


def detection(**over: Any) -> Message:
    return {"label": "person", "class_id": 0, "score": 0.9, "box": box(), **over}


def detections(**over: Any) -> Message:
    return {"frame": frame(), "detections": [detection()], "model": {"name": "ssd", "version": "1", "backend": "dlr"},
            "latency": {"read_ms": 1.0, "preprocess_ms": 2.0, "infer_ms": 5.0, "postprocess_ms": 1.0},
            "inferred_at": AT, **over}


def summary(**over: Any) -> Message:
    return {"frame_id": "cam0-00001", "camera_id": "cam0", "captured_at": AT, "model": "ssd@1", "backend": "dlr",
            "count": 2, "labels": {"person": 1, "dog": 1}, "boxes": [["person", 0.9, 0.1, 0.2, 0.4, 0.8]],
            "infer_ms": 5.0, **over}


def command(**over: Any) -> Message:
    return {"action": "capture", "camera_id": "cam0", "frames": 3, **over}


def status(**over: Any) -> Message:
    return {"state": "progress", "at": AT, **over}


def event(**over: Any) -> Message:
    return {"event_id": "cam0.1764900000123.7", "kind": "update", "sequence": 3, "camera_id": "cam0", "track_id": 7,
            "label": "person", "first_seen": 1764900000.0, "last_seen": 1764900004.5, "duration_s": 4.5,
            "best_score": 0.91, "frames": 40, "path": [[1764900000.0, 0.1, 0.2, 0.3, 0.6]], "sent_at": 1764900004.7,
            **over}


def snapshot(**over: Any) -> Message:
    return {"frame_id": "cam0-00042", "captured_at": AT, "score": 0.91, "box": box(),
            "path": "/g/work/snapshots/e/full.jpg", "crop_path": "/g/work/snapshots/e/crop.jpg", "bytes": 51234,
            **over}


def health(**over: Any) -> Message:
    return {"component": "smartcam.SsdInference", "state": "ok", "at": AT, **over}


def receipts(**over: Any) -> Message:
    return {"stage": "smartcam.DynamoWriter", "instance": "0123456789abcdef0123456789abcdef", "at": AT,
            "receipts": [{"frame_id": "cam0-00001", "camera_id": "cam0", "outcome": "stored", "items": 2}], **over}


def spool_depth(**over: Any) -> Message:
    return {"items": 3, "bytes": 900, "oldestAgeS": 1.5, "maxItems": 1000, "maxBytes": 10_000_000, **over}


def event_spool_depth(**over: Any) -> Message:
    return {"table": "smartcam-events", "pending": 1, "snapshotBytes": 5000, "oldestAgeS": None, "maxEvents": 100,
            "maxSnapshotBytes": 1_000_000, **over}


def writer_report(**over: Any) -> Message:
    return {"thing": "cam-thing", "table": "smartcam-detections", "at": AT, "written": 1,
            "confirmed": [{"sk": "cam0#00001#0", "at": AT}], "confirmedOmitted": 0, "spool": spool_depth(),
            "events": event_spool_depth(), "counters": {"itemsWritten": 1}, "lastError": None, **over}


SHA = "0" * 64
FILE = {"sha256": SHA, "size": 1}


def manifest(**over: Any) -> Message:
    return {"name": "ssd-mobilenet", "version": "1.0", "framework": "tensorflow", "notes": "",
            "input": {"shape": [1, 300, 400, 3], "layout": "NHWC", "dtype": "uint8"},
            "decoder": {"type": "tf_od_api"}, "labels_file": "labels.txt",
            "runtimes": {"onnxruntime": {"path": "model.onnx"}},
            "files": {"labels.txt": FILE, "model.onnx": FILE}, **over}
