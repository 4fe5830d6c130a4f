"""The table design answers the queries users make (against DynamoDB Local, GSI included)."""

import pytest

from dynamo_writer.dynamo import LABEL_INDEX
from dynamo_writer.items import items_for
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
    response = client.query(
        TableName=table, IndexName=LABEL_INDEX,
        KeyConditionExpression="label = :l AND labelSk BETWEEN :from AND :to",
        ExpressionAttributeValues={":l": {"S": "car"}, ":from": {"S": ms(BASE_TIME)},
                                   ":to": {"S": ms(BASE_TIME + 4) + "~"}},
    )
    found = [(i["device"]["S"], i["frameId"]["S"]) for i in response["Items"]]
    assert found == [("cam-a", "f1"), ("cam-b", "f1"), ("cam-a", "f3"), ("cam-b", "f3")]
