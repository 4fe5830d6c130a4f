"""From one Detections message to DynamoDB items (low-level AttributeValue JSON).

Table design (see infrastructure/dynamodb.yaml): one item per (frame, label), holding every
detection of that label in the frame.
  - partition key ``device`` = thing name; sort key ``sk`` = ``<capture ms, 13 digits>#<camera>#<frame>#<label>``
    -> a device's detections in a time range, newest first: Query device = :thing AND sk BETWEEN
    :from_ms AND :to_ms~ with ScanIndexForward=false.
  - GSI ``byLabelShard``: ``labelShard`` = ``<label>#<shard>`` / ``labelSk`` =
    ``<capture ms>#<device>#<camera>#<frame>`` -> a label's detections over time, across the fleet:
    one Query per shard (:func:`label_shard_keys`), merged by ``labelSk``. The shard (``00``..``15``)
    is a hash of the device, so a label the whole fleet sees (``person``) spreads over 16 partition
    keys instead of one hot key, and a device's items of a label stay in one shard.
  - ``expiresAt`` (epoch seconds) is the TTL attribute: capture time + retentionDays.
  - per-stage latency: ``capturedAt`` -> ``latencyMs`` {queue, read, preprocess, infer, postprocess}
    -> ``inferredAt`` -> ``sentAt`` (set by the sender: when the batch holding the item last left).
The key depends only on the device, capture time, camera, frame id and label, so the same frame
written twice is the same item (PutItem replaces it), and every item of a message is distinct.
Frames without detections produce no item (they are counted by the component).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from smartcam.contracts import Detection, Detections, ModelInfo

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


# Fixed for the life of the table: changing it means a new index (see the README's migration note).
LABEL_SHARDS = 16


def label_shard(device: str) -> int:
    """Which shard of the label index a device's items go to: stable across processes and hosts."""
    return int.from_bytes(hashlib.sha256(device.encode()).digest()[:4], "big") % LABEL_SHARDS


def label_shard_key(label: str, device: str) -> str:
    return f"{label}{KEY_SEPARATOR}{label_shard(device):02d}"


def label_shard_keys(label: str) -> list[str]:
    """Every partition key of the label index holding ``label``: a fleet-wide query asks each."""
    return [f"{label}{KEY_SEPARATOR}{shard:02d}" for shard in range(LABEL_SHARDS)]


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
            "labelShard": _s(label_shard_key(label, device)),
            "labelSk": _s(
                KEY_SEPARATOR.join((f"{capture_ms(frame.captured_at):013d}", device, frame.camera_id, frame.frame_id))
            ),
            "capturedAt": _n(frame.captured_at),
            "cameraId": _s(frame.camera_id),
            "frameId": _s(frame.frame_id),
            "sequence": _n(frame.sequence),
            "frameSize": {"M": {"width": _n(frame.width), "height": _n(frame.height)}},
            "model": {"M": model_value(message.model)},
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


def model_value(model: ModelInfo) -> dict[str, Any]:
    value = {"name": _s(model.name), "version": _s(model.version), "backend": _s(model.backend)}
    if model.variant is not None:
        value["variant"] = _s(model.variant)
    return value


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
    return {"N": dynamo_number(value)}


class NumberOutOfRange(ValueError):
    """A number DynamoDB cannot store: NaN, infinity, 1e126 or more, or over 38 significant digits."""


# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html
MAX_SIGNIFICANT_DIGITS = 38
SMALLEST_MAGNITUDE = Decimal("1e-130")
LARGEST_MAGNITUDE = Decimal("1e126")  # exclusive


def dynamo_number(value: float) -> str:
    """``value`` as a DynamoDB number in plain digits. A magnitude below 1e-130 (a score of 1e-200)
    is stored as 0, as a float underflows; what cannot be stored raises :class:`NumberOutOfRange`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NumberOutOfRange(f"{value!r} is not a number")
    # repr: the shortest text that round-trips a float, not its binary expansion
    number = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    if not number.is_finite():
        raise NumberOutOfRange(f"{value!r}: DynamoDB has no NaN or infinity")
    if abs(number) < SMALLEST_MAGNITUDE:
        return "0"
    if abs(number) >= LARGEST_MAGNITUDE:
        raise NumberOutOfRange(f"{value!r}: DynamoDB numbers stay below 1e126")
    significant = "".join(map(str, number.as_tuple().digits)).strip("0")  # normalize() would round to 28
    if len(significant) > MAX_SIGNIFICANT_DIGITS:
        raise NumberOutOfRange(f"{value!r}: more than {MAX_SIGNIFICANT_DIGITS} significant digits")
    return format(number, "f")  # 1e-05 -> 0.00001: DynamoDB wants plain digits


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
