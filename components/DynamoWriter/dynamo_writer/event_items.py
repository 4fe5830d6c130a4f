"""From one TrackEvent message to the event's DynamoDB item (low-level AttributeValue JSON).

Table design (see infrastructure/dynamodb.yaml, EventsTable): one item per event, written when the
event starts and replaced by later messages of it (at most every eventUpdateIntervalS while it is
open), the last one at its end.
  - partition key ``device`` = thing name (the IAM condition dynamodb:LeadingKeys keeps a device on its
    own items, as in the detections table); sort key ``event_id``: the event's identity, so a message
    sent twice, or written again after a crash, is the same item.
  - GSI ``byCameraTime``: ``camera_key`` = ``<device>#<camera>`` / ``start_sk`` =
    ``<first seen ms, 13 digits>#<event id>`` -> the events of one camera by time, newest first. Each
    camera is its own partition key: no key is shared fleet-wide.
  - ``sequence`` is the message's: DynamoDB keeps an item only from a message of higher sequence
    (the sender's condition), so an older message never overwrites a newer one.
  - ``state`` is ``open`` until the ``end`` message (``ended``, with ``end_reason``).
  - ``expiresAt`` (epoch seconds) is the TTL attribute: last seen + retentionDays.
  - the snapshot (``snapshot``: its frame, time, score, box and S3 bucket and keys) is added by the
    sender once both pictures are in S3; ``snapshot_missing`` says why an event that had one has none.
Attribute names are snake_case as in the contract; ``expiresAt`` is the TTL name both tables share.
"""

from __future__ import annotations

from typing import Any

from dynamo_writer.items import KEY_SEPARATOR, SpoolItem, capture_ms, dynamo_number, item_size
from smartcam.contracts import SnapshotRef, TrackEvent


def event_key(device: str, event_id: str) -> str:
    """The identity of an event's item: its primary key (device, event_id)."""
    return f"{device}\x1f{event_id}"


def camera_key(device: str, camera_id: str) -> str:
    return f"{device}{KEY_SEPARATOR}{camera_id}"


def start_sort_key(first_seen: float, event_id: str) -> str:
    return f"{capture_ms(first_seen):013d}{KEY_SEPARATOR}{event_id}"


def event_item(event: TrackEvent, device: str, retention_days: int) -> SpoolItem:
    """The event's item without its snapshot (see :func:`with_snapshot`); raises
    :class:`~dynamo_writer.items.NumberOutOfRange` for a number DynamoDB cannot store."""
    item: dict[str, Any] = {
        "device": _s(device),
        "event_id": _s(event.event_id),
        "camera_key": _s(camera_key(device, event.camera_id)),
        "start_sk": _s(start_sort_key(event.first_seen, event.event_id)),
        "camera_id": _s(event.camera_id),
        "label": _s(event.label),
        "track_id": _n(event.track_id),
        "sequence": _n(event.sequence),
        "state": _s("ended" if event.kind == "end" else "open"),
        "first_seen": _n(event.first_seen),
        "last_seen": _n(event.last_seen),
        "duration_s": _n(event.duration_s),
        "best_score": _n(event.best_score),
        "frames": _n(event.frames),
        "path": {"L": [{"L": [_n(value) for value in point]} for point in event.path]},
        "zones": {"L": [{"M": {"zone": _s(z.zone), "entered": _n(z.entered),
                               **({"left": _n(z.left)} if z.left is not None else {})}} for z in event.zones]},
        "lines": {"L": [{"M": {"line": _s(c.line), "crossed_in": _n(c.crossed_in), "crossed_out": _n(c.crossed_out)}}
                        for c in event.lines]},
        "expiresAt": _n(int(event.last_seen) + retention_days * 86_400),
    }
    if event.request_id is not None:
        item["request_id"] = _s(event.request_id)
    if event.end_reason is not None:
        item["end_reason"] = _s(event.end_reason)
    # Bounded by the contract (64 path points, 32 zones and lines): far below DynamoDB's 400 KB.
    return SpoolItem(key=event_key(device, event.event_id), item=item, size=item_size(item), truncated=False)


def snapshot_value(snapshot: SnapshotRef, bucket: str, key: str, crop_key: str) -> dict[str, Any]:
    """The item's ``snapshot`` attribute, for pictures that are in S3 at ``key`` and ``crop_key``."""
    box = snapshot.box
    return {"M": {"frame_id": _s(snapshot.frame_id), "captured_at": _n(snapshot.captured_at),
                  "score": _n(snapshot.score), "box": {"L": [_n(box.x1), _n(box.y1), _n(box.x2), _n(box.y2)]},
                  "bucket": _s(bucket), "key": _s(key), "crop_key": _s(crop_key)}}


def with_snapshot(item: dict[str, Any], *, snapshot: dict[str, Any] | None, missing: str | None,
                  sent_at: float) -> dict[str, Any]:
    """The item as it goes to DynamoDB: with its snapshot (only once its objects are in S3) or the
    reason it has none, and when it left."""
    out = dict(item)
    if snapshot is not None:
        out["snapshot"] = snapshot
    if missing is not None:
        out["snapshot_missing"] = _s(missing)
    out["sent_at"] = {"N": f"{sent_at:.3f}"}
    return out


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: float) -> dict[str, str]:
    return {"N": dynamo_number(value)}
