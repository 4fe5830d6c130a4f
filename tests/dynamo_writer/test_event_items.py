"""An event's DynamoDB item: its key, its attributes, the index keys, the snapshot only when named."""

from dynamo_writer.dynamo import EVENTS_TABLE_DEFINITION
from dynamo_writer.event_items import event_item, event_key, snapshot_value, with_snapshot
from dynamo_writer.items import item_size
from tests.dynamo_writer.helpers import BASE_TIME, DEVICE, snapshot, track_event


def test_the_item_is_keyed_by_device_and_event_and_says_what_the_event_says():
    event = track_event("cam1-e1", 2)
    spooled = event_item(event, DEVICE, retention_days=30)
    item = spooled.item
    assert (item["device"], item["event_id"]) == ({"S": DEVICE}, {"S": "cam1-e1"})
    assert spooled.key == event_key(DEVICE, "cam1-e1")
    assert item["camera_key"] == {"S": f"{DEVICE}#cam1"}
    assert item["start_sk"] == {"S": f"{round(BASE_TIME * 1000):013d}#cam1-e1"}
    assert {name: item[name] for name in ("label", "track_id", "sequence", "state", "frames", "request_id")} == {
        "label": {"S": "person"}, "track_id": {"N": "7"}, "sequence": {"N": "2"}, "state": {"S": "open"},
        "frames": {"N": "3"}, "request_id": {"S": "req-1"}}
    assert item["duration_s"] == {"N": "1.0"} and item["best_score"] == {"N": "0.8"}
    assert item["path"]["L"][0] == {"L": [{"N": str(BASE_TIME)}, {"N": "0.1"}, {"N": "0.2"}, {"N": "0.3"},
                                          {"N": "0.6"}]}
    assert item["zones"] == {"L": [{"M": {"zone": {"S": "door"}, "entered": {"N": str(BASE_TIME)}}}]}
    assert item["lines"] == {"L": [{"M": {"line": {"S": "gate"}, "crossed_in": {"N": "1"}, "crossed_out": {"N": "0"}}}]}
    assert item["expiresAt"] == {"N": str(int(BASE_TIME + 1.0) + 30 * 86_400)}
    assert "end_reason" not in item and "snapshot" not in item
    assert spooled.size == item_size(item)


def test_an_end_message_closes_the_item_with_its_reason():
    item = event_item(track_event("e", 5, kind="end"), DEVICE, 30).item
    assert (item["state"], item["end_reason"]) == ({"S": "ended"}, {"S": "unseen"})


def test_the_item_carries_every_key_attribute_of_the_table_and_its_index():
    item = event_item(track_event(), DEVICE, 30).item
    for definition in EVENTS_TABLE_DEFINITION["AttributeDefinitions"]:
        assert definition["AttributeType"] in item[definition["AttributeName"]]


def test_the_snapshot_is_added_only_when_named_and_the_reason_when_missing(tmp_path):
    item = event_item(track_event(), DEVICE, 30).item
    value = snapshot_value(snapshot(tmp_path, "e"), "bucket-1", "k/full.jpg", "k/crop.jpg")
    named = with_snapshot(item, snapshot=value, missing=None, sent_at=BASE_TIME)
    location = named["snapshot"]["M"]
    assert (location["key"], location["crop_key"], location["bucket"]) == (
        {"S": "k/full.jpg"}, {"S": "k/crop.jpg"}, {"S": "bucket-1"})
    assert named["snapshot"]["M"]["box"] == {"L": [{"N": "0.1"}, {"N": "0.2"}, {"N": "0.3"}, {"N": "0.6"}]}
    assert "snapshot_missing" not in named and named["sent_at"] == {"N": f"{BASE_TIME:.3f}"}
    missing = with_snapshot(item, snapshot=None, missing="gone", sent_at=BASE_TIME)
    assert "snapshot" not in missing and missing["snapshot_missing"] == {"S": "gone"}
    assert "snapshot" not in item and "sent_at" not in item  # the spooled item is left as it was
