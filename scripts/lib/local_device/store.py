"""Reading back what DynamoWriter stored in the runtime's DynamoDB Local and S3 stand-in."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import boto3
from boto3.dynamodb.conditions import Attr, Key
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from dynamo_writer.dynamo import LABEL_INDEX
from dynamo_writer.items import label_shard_keys
from smartcam.contracts import Detections

TABLE = "SmartcamDetections"


def table(endpoint: str, name: str = TABLE) -> Any:
    resource = boto3.session.Session().resource(
        "dynamodb", region_name="us-east-1", endpoint_url=endpoint,
        aws_access_key_id="local", aws_secret_access_key="local",  # noqa: S106  # nosec B106
        config=Config(retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=5, read_timeout=10))
    return resource.Table(name)


def items_for_request(store: Any, device: str, request_id: str, since_ms: int = 0) -> list[dict[str, Any]]:
    """Every item of one capture request (captured at ``since_ms`` or later), oldest first (the table's
    sort key starts with capture time)."""
    key = Key("device").eq(device) & Key("sk").gte(f"{since_ms:013d}") if since_ms else Key("device").eq(device)
    return _query_all(store, {"KeyConditionExpression": key, "FilterExpression": Attr("requestId").eq(request_id),
                              "ConsistentRead": True})


def _query_all(store: Any, query: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item ``query`` finds, page after page; none from a table that does not exist (yet)."""
    items: list[dict[str, Any]] = []
    while True:
        try:
            page = store.query(**query)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                return []
            raise
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        query = {**query, "ExclusiveStartKey": page["LastEvaluatedKey"]}


def items_for_label(store: Any, label: str, from_ms: int, to_ms: int) -> list[dict[str, Any]]:
    """A label's items across the fleet captured in [from_ms, to_ms], oldest first: one Query per
    shard of the label index, merged by its sort key (capture ms first)."""
    items: list[dict[str, Any]] = []
    for shard_key in label_shard_keys(label):
        query: dict[str, Any] = {
            "IndexName": LABEL_INDEX,
            "KeyConditionExpression": Key("labelShard").eq(shard_key)
            & Key("labelSk").between(f"{from_ms:013d}", f"{to_ms:013d}~"),
        }
        while True:
            page = store.query(**query)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted(items, key=lambda item: str(item["labelSk"]))


def expected_keys(messages: Iterable[Detections]) -> set[tuple[str, str]]:
    """(frame id, label) of every item the writer must store for these messages."""
    return {(m.frame.frame_id, d.label) for m in messages for d in m.detections}


def stored_keys(items: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(str(item["frameId"]), str(item["label"])) for item in items]


def wait_for_items(store: Any, device: str, request_id: str, expected: Callable[[], set[tuple[str, str]]], *,
                   timeout: float = 180.0, on_poll: Callable[[int, int], None] | None = None
                   ) -> list[dict[str, Any]]:
    """Poll until every expected (frame, label) is stored, or ``timeout``; returns the items found."""
    deadline = time.monotonic() + timeout
    items: list[dict[str, Any]] = []
    while True:
        want = expected()
        try:
            items = items_for_request(store, device, request_id)
        except BotoCoreError:
            items = items or []
        have = set(stored_keys(items))
        if on_poll:
            on_poll(len(have & want), len(want))
        if want and want <= have:
            return items
        if time.monotonic() > deadline:
            return items
        time.sleep(1.0)


EVENTS_TABLE = "SmartcamEvents"


def events_for_request(store: Any, device: str, request_id: str) -> list[dict[str, Any]]:
    """Every event item of the device whose first frame belongs to ``request_id``, oldest first."""
    items = _query_all(store, {"KeyConditionExpression": Key("device").eq(device),
                               "FilterExpression": Attr("request_id").eq(request_id), "ConsistentRead": True})
    return sorted(items, key=lambda item: (float(item["first_seen"]), str(item["event_id"])))


def bucket_keys(s3: Any, bucket: str) -> set[str]:
    """Every object key in ``bucket``."""
    keys: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys |= {entry["Key"] for entry in page.get("Contents", [])}
    return keys


def wait_for_events(store: Any, device: str, request_id: str, expected: Callable[[], dict[str, int]], *,
                    timeout: float = 180.0, on_poll: Callable[[int, int], None] | None = None
                    ) -> list[dict[str, Any]]:
    """Poll until the table holds the request's events exactly as ``expected`` (event id -> the
    sequence of its last message), or ``timeout``; returns the items found."""
    deadline = time.monotonic() + timeout
    while True:
        want = expected()
        try:
            items = events_for_request(store, device, request_id)
        except BotoCoreError:
            items = []
        have = {str(item["event_id"]): int(item["sequence"]) for item in items}
        if on_poll:
            on_poll(sum(1 for event_id, sequence in want.items() if have.get(event_id) == sequence), len(want))
        if have == want or time.monotonic() > deadline:
            return items
        time.sleep(1.0)
