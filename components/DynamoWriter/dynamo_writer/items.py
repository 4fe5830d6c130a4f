"""From one Detections message to DynamoDB items (low-level AttributeValue JSON).

Table design (see infrastructure/dynamodb.yaml): one item per (frame, label), holding every
detection of that label in the frame.
  - partition key ``device`` = thing name; sort key ``sk`` = ``<capture ms, 13 digits>#<camera>#<frame>#<label>``
    -> a device's detections in a time range, newest first: Query device = :thing AND sk BETWEEN
    :from_ms AND :to_ms~ with ScanIndexForward=false.
  - GSI ``byLabel``: ``label`` / ``labelSk`` = ``<capture ms>#<device>#<camera>#<frame>`` -> a label's
    detections over time, across the fleet.
  - ``expiresAt`` (epoch seconds) is the TTL attribute: capture time + retentionDays.
  - per-stage latency: ``capturedAt`` -> ``latencyMs`` {queue, read, preprocess, infer, postprocess}
    -> ``inferredAt`` -> ``sentAt`` (set by the sender: when the batch holding the item last left).
The key depends only on the device, capture time, camera, frame id and label, so the same frame
written twice is the same item (PutItem replaces it), and every item of a message is distinct.
Frames without detections produce no item (they are counted by the component).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from smartcam.contracts import Detection, Detections

MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's hard limit per item
# Our size estimate follows AWS's published rules; the margin covers what it may not count.
ITEM_BUDGET_BYTES = MAX_ITEM_BYTES - 8 * 1024
KEY_SEPARATOR = "#"


@dataclass(frozen=True)
class SpoolItem:
    """One DynamoDB item ready to spool: ``key`` is unique per DynamoDB primary key."""

    key: str
    item: dict[str, Any]  # low-level AttributeValue map, as BatchWriteItem takes it
    size: int  # estimated DynamoDB item size in bytes
    truncated: bool


def capture_ms(captured_at: float) -> int:
    return round(captured_at * 1000)


def sort_key(captured_at: float, camera_id: str, frame_id: str, label: str) -> str:
    return KEY_SEPARATOR.join((f"{capture_ms(captured_at):013d}", camera_id, frame_id, label))


def spool_key(item: dict[str, Any]) -> str:
    """The identity of a low-level item: its primary key (device, sk)."""
    return f"{item['device']['S']}\x1f{item['sk']['S']}"


def items_for(message: Detections, device: str, retention_days: int) -> list[SpoolItem]:
    frame = message.frame
    by_label: dict[str, list[Detection]] = {}
    for detection in message.detections:
        by_label.setdefault(detection.label, []).append(detection)
    expires_at = int(frame.captured_at) + retention_days * 86_400
    items = []
    for label, detections in by_label.items():
        ranked = sorted(detections, key=lambda d: d.score, reverse=True)
        base = {
            "device": _s(device),
            "sk": _s(sort_key(frame.captured_at, frame.camera_id, frame.frame_id, label)),
            "label": _s(label),
            "labelSk": _s(
                KEY_SEPARATOR.join((f"{capture_ms(frame.captured_at):013d}", device, frame.camera_id, frame.frame_id))
            ),
            "capturedAt": _n(frame.captured_at),
            "cameraId": _s(frame.camera_id),
            "frameId": _s(frame.frame_id),
            "sequence": _n(frame.sequence),
            "frameSize": {"M": {"width": _n(frame.width), "height": _n(frame.height)}},
            "model": {"M": {"name": _s(message.model.name), "version": _s(message.model.version),
                            "backend": _s(message.model.backend)}},
            "inferredAt": _n(message.inferred_at),
            "latencyMs": {"M": latency_value(message)},
            "count": _n(len(ranked)),
            "maxScore": _n(ranked[0].score),
            "expiresAt": _n(expires_at),
        }
        if frame.request_id:
            base["requestId"] = _s(frame.request_id)
        items.append(_fit(base, [detection_value(d) for d in ranked]))
    return items


def _fit(base: dict[str, Any], detections: list[dict[str, Any]]) -> SpoolItem:
    """Attach as many detections (best score first) as fit in an item; flag what was cut."""
    base_size = item_size(base) + len("detections") + attribute_size({"L": []})
    flags_size = item_size({"truncated": {"BOOL": True}, "detectionsStored": _n(len(detections))})
    budget = ITEM_BUDGET_BYTES - base_size
    kept, used = 0, 0
    for detection in detections:
        size = attribute_size(detection) + 1
        if used + size > budget - (flags_size if kept + 1 < len(detections) else 0):
            break
        used += size
        kept += 1
    item = dict(base)
    item["detections"] = {"L": detections[:kept]}
    if kept == len(detections):
        return SpoolItem(key=spool_key(item), item=item, size=base_size + used, truncated=False)
    item["truncated"] = {"BOOL": True}
    item["detectionsStored"] = _n(kept)
    return SpoolItem(key=spool_key(item), item=item, size=item_size(item), truncated=True)


def latency_value(message: Detections) -> dict[str, Any]:
    stages = message.latency
    values = {"queue": stages.queue_ms, "read": stages.read_ms, "preprocess": stages.preprocess_ms,
              "infer": stages.infer_ms, "postprocess": stages.postprocess_ms}
    return {name: _n(value) for name, value in values.items() if value is not None}


def detection_value(d: Detection) -> dict[str, Any]:
    # A list for the box keeps each detection small: attribute names count towards the item size.
    return {"M": {"score": _n(d.score), "classId": _n(d.class_id),
                  "box": {"L": [_n(d.box.x1), _n(d.box.y1), _n(d.box.x2), _n(d.box.y2)]}}}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: float) -> dict[str, str]:
    text = repr(value)  # the shortest text that round-trips
    if "e" in text or "n" in text:  # 1e-05, inf, nan: DynamoDB wants plain digits
        text = format(Decimal(text), "f")
    return {"N": text}


# Item size per https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def attribute_size(value: dict[str, Any]) -> int:
    (kind, inner), = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        digits = inner.lstrip("-").replace(".", "").lstrip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(attribute_size(v) + 1 for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + attribute_size(v) + 1 for k, v in inner.items())
    raise ValueError(f"unsupported attribute type {kind}")
