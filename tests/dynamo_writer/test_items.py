import json

from dynamo_writer.items import (
    ITEM_BUDGET_BYTES,
    MAX_ITEM_BYTES,
    attribute_size,
    detection_value,
    item_size,
    items_for,
    sort_key,
)
from smartcam.contracts import Detections
from tests.dynamo_writer.helpers import BASE_TIME, DEVICE, detections


def test_key_is_deterministic_from_device_time_camera_frame_and_label():
    first = items_for(detections("f1", labels=("person", "car")), DEVICE, 30)
    again = items_for(detections("f1", labels=("person", "car")), DEVICE, 30)
    assert [i.key for i in first] == [i.key for i in again]
    assert [i.item for i in first] == [i.item for i in again]
    other = items_for(detections("f2", labels=("person", "car")), DEVICE, 30)
    assert not {i.key for i in first} & {i.key for i in other}
    assert items_for(detections("f1"), "other-thing", 30)[0].key != first[0].key


def test_one_item_per_label_holds_all_its_detections_best_first():
    items = items_for(detections("f1", labels=("person", "car", "person")), DEVICE, 30)
    by_label = {i.item["label"]["S"]: i.item for i in items}
    assert set(by_label) == {"person", "car"}
    person = by_label["person"]
    assert person["count"] == {"N": "2"}
    scores = [float(d["M"]["score"]["N"]) for d in person["detections"]["L"]]
    assert scores == sorted(scores, reverse=True)
    assert person["maxScore"]["N"] == person["detections"]["L"][0]["M"]["score"]["N"]
    assert person["sk"]["S"] == sort_key(BASE_TIME, "cam1", "f1", "person")
    assert person["labelSk"]["S"].endswith(f"#{DEVICE}#cam1#f1")
    assert "truncated" not in person


def test_sort_key_orders_by_capture_time():
    early = sort_key(999.5, "cam", "zzz", "person")
    late = sort_key(1000.0, "cam", "aaa", "person")
    assert early < late
    assert early.startswith("0000000999500#")


def test_ttl_is_capture_time_plus_retention():
    item = items_for(detections("f1"), DEVICE, 7)[0].item
    assert int(item["expiresAt"]["N"]) == int(BASE_TIME) + 7 * 86_400


def test_frame_without_detections_gives_no_item():
    empty = detections("f1", labels=())
    assert items_for(empty, DEVICE, 30) == []


def test_numbers_are_plain_decimal_text():
    item = items_for(detections("f1"), DEVICE, 30)[0].item
    for path in (item["capturedAt"], item["maxScore"], *item["latencyMs"]["M"].values()):
        float(path["N"])
        assert "e" not in path["N"].lower()


def test_item_carries_every_stage_latency_of_the_message():
    message = detections("f1")
    message = message.model_copy(update={"latency": message.latency.model_copy(update={"queue_ms": 7.25})})
    stages = items_for(message, DEVICE, 30)[0].item["latencyMs"]["M"]
    assert {name: float(v["N"]) for name, v in stages.items()} == {
        "queue": 7.25, "read": message.latency.read_ms, "preprocess": message.latency.preprocess_ms,
        "infer": message.latency.infer_ms, "postprocess": message.latency.postprocess_ms}


def test_item_of_a_message_without_queue_time_has_the_other_stages():
    stages = items_for(detections("f1"), DEVICE, 30)[0].item["latencyMs"]["M"]
    assert set(stages) == {"read", "preprocess", "infer", "postprocess"}


def huge_message(count: int = 12_000) -> Detections:
    """More detections than a valid message may carry (the contract allows 1000, each ~50 bytes stored): the only way to
    get an item over 400 KB, so it is built without validation."""
    base = detections("big", labels=("person",))
    one = base.detections[0].model_copy(update={"label": "x" * 64})
    return base.model_copy(update={"detections": [one.model_copy(update={"class_id": i}) for i in range(count)]})


def test_item_over_400kb_is_truncated_with_a_flag_not_lost():
    message = huge_message()
    unbounded = attribute_size({"L": [detection_value(d) for d in message.detections]})
    assert unbounded > MAX_ITEM_BYTES  # the full item would not fit
    (spooled,) = items_for(message, DEVICE, 30)
    assert spooled.truncated
    assert spooled.item["truncated"] == {"BOOL": True}
    stored = int(spooled.item["detectionsStored"]["N"])
    assert 0 < stored < len(message.detections) == int(spooled.item["count"]["N"])
    assert len(spooled.item["detections"]["L"]) == stored
    assert spooled.size <= ITEM_BUDGET_BYTES
    assert item_size(spooled.item) == spooled.size


def test_size_estimate_never_below_the_text_of_the_values():
    item = items_for(detections("f1", labels=("person", "car")), DEVICE, 30)[0]
    names_and_strings = sum(len(k) for k in item.item) + sum(
        len(v["S"]) for v in item.item.values() if "S" in v)
    assert names_and_strings < item.size < len(json.dumps(item.item))


def test_item_names_the_model_build_that_ran_when_there_is_one():
    plain = detections("f1")
    assert items_for(plain, DEVICE, 30)[0].item["model"]["M"] == {
        "name": {"S": plain.model.name}, "version": {"S": plain.model.version}, "backend": {"S": plain.model.backend}}
    built = plain.model_copy(update={"model": plain.model.model_copy(update={"variant": "dlr-avx512"})})
    assert items_for(built, DEVICE, 30)[0].item["model"]["M"]["variant"] == {"S": "dlr-avx512"}
