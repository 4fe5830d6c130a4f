"""The table design answers the queries users make (against DynamoDB Local, GSI included)."""

from collections import Counter

import pytest

from dynamo_writer.dynamo import LABEL_INDEX
from dynamo_writer.items import items_for, label_shard_key, label_shard_keys
from local_device import store as local_store
from tests.dynamo_writer.helpers import BASE_TIME, detections

pytestmark = pytest.mark.integration


def ms(t):
    return f"{round(t * 1000):013d}"


@pytest.fixture
def filled(ddb_local, table):
    client = ddb_local.client()
    requests = []
    for device in ("cam-a", "cam-b"):
        for i in range(10):
            labels = ("person", "car") if i % 2 else ("person",)
            message = detections(f"f{i}", BASE_TIME + i, labels=labels)
            requests += [{"PutRequest": {"Item": it.item}} for it in items_for(message, device, 30)]
    for start in range(0, len(requests), 25):
        client.batch_write_item(RequestItems={table: requests[start:start + 25]})
    return client, table


def test_a_devices_detections_in_a_time_range_newest_first(filled):
    client, table = filled
    response = client.query(
        TableName=table, ScanIndexForward=False,
        KeyConditionExpression="device = :d AND sk BETWEEN :from AND :to",
        ExpressionAttributeValues={":d": {"S": "cam-a"}, ":from": {"S": ms(BASE_TIME + 3)},
                                   ":to": {"S": ms(BASE_TIME + 6) + "~"}},
    )
    frames = [(i["frameId"]["S"], i["label"]["S"]) for i in response["Items"]]
    assert [f for f, _ in frames] == ["f6", "f5", "f5", "f4", "f3", "f3"]
    assert {i["device"]["S"] for i in response["Items"]} == {"cam-a"}


def test_a_labels_detections_over_time_across_devices(filled):
    client, table = filled
    found = []
    for shard_key in label_shard_keys("car"):  # the fleet-wide query: one Query per shard, merged
        response = client.query(
            TableName=table, IndexName=LABEL_INDEX,
            KeyConditionExpression="labelShard = :l AND labelSk BETWEEN :from AND :to",
            ExpressionAttributeValues={":l": {"S": shard_key}, ":from": {"S": ms(BASE_TIME)},
                                       ":to": {"S": ms(BASE_TIME + 4) + "~"}},
        )
        found += [(i["labelSk"]["S"], i["device"]["S"], i["frameId"]["S"]) for i in response["Items"]]
    assert [(d, f) for _, d, f in sorted(found)] == [("cam-a", "f1"), ("cam-b", "f1"), ("cam-a", "f3"),
                                                     ("cam-b", "f3")]


def test_one_label_from_the_whole_fleet_spreads_over_every_shard(ddb_local, table):
    """A person-only fleet: no single partition key of the label index takes every write."""
    client = ddb_local.client()
    devices = [f"thing-{n:03d}" for n in range(200)]
    requests = [{"PutRequest": {"Item": items_for(detections("f1", BASE_TIME + n), device, 30)[0].item}}
                for n, device in enumerate(devices)]
    for start in range(0, len(requests), 25):
        client.batch_write_item(RequestItems={table: requests[start:start + 25]})
    keys = Counter(r["PutRequest"]["Item"]["labelShard"]["S"] for r in requests)
    assert set(keys) == set(label_shard_keys("person"))
    assert max(keys.values()) < len(devices) / 4  # the busiest key takes a share, not the fleet
    per_shard = {}
    for shard_key in label_shard_keys("person"):
        response = client.query(TableName=table, IndexName=LABEL_INDEX, Select="COUNT",
                                KeyConditionExpression="labelShard = :l",
                                ExpressionAttributeValues={":l": {"S": shard_key}})
        per_shard[shard_key] = response["Count"]
    assert per_shard == dict(keys)


def test_the_local_device_store_reads_a_label_across_the_fleet(filled, ddb_local):
    _, table_name = filled
    store = local_store.table(ddb_local.endpoint, table_name)
    items = local_store.items_for_label(store, "person", round(BASE_TIME * 1000) + 2000,
                                        round(BASE_TIME * 1000) + 3000)
    assert [(i["frameId"], i["device"]) for i in items] == [("f2", "cam-a"), ("f2", "cam-b"), ("f3", "cam-a"),
                                                            ("f3", "cam-b")]


def test_a_devices_items_of_a_label_stay_in_one_shard():
    shards = {items_for(detections(f"f{n}", BASE_TIME + n), "cam-a", 30)[0].item["labelShard"]["S"]
              for n in range(20)}
    assert shards == {label_shard_key("person", "cam-a")}
