"""Every number in an item is one DynamoDB accepts (38 significant digits, magnitude 1e-130..1e126,
no NaN or infinity): bounded by the contracts, normalized or refused by the item builder."""

from decimal import Decimal

import pytest

from dynamo_writer.items import NumberOutOfRange, dynamo_number, items_for
from smartcam.contracts import ContractError, Detections, parse
from tests.dynamo_writer.helpers import BASE_TIME, DEVICE, detections

TINY = 1e-200


def tiny_message():
    message = detections("tiny").to_message()
    message["detections"][0]["score"] = TINY
    message["detections"][0]["box"] = {"x1": 0.0, "y1": 5e-324, "x2": 1e-300, "y2": TINY}
    message["latency"]["postprocess_ms"] = TINY
    return parse(Detections, message)


@pytest.mark.parametrize(("value", "text"), [
    (0, "0"), (5, "5"), (0.5, "0.5"), (1e-05, "0.00001"), (1e16, "10000000000000000"), (-0.0, "0"),
    (TINY, "0"), (5e-324, "0"), (10**37 + 1, str(10**37 + 1)), (10**40, str(10**40)),
])
def test_numbers_are_plain_digits_within_dynamodb_range(value, text):
    assert dynamo_number(value) == text


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 10**40 + 1, 1e126, 10**200, True])
def test_numbers_dynamodb_cannot_store_are_refused(value):
    with pytest.raises(NumberOutOfRange):
        dynamo_number(value)


@pytest.mark.parametrize(("path", "value"), [
    (("frame", "sequence"), 10**39 + 7),  # a 40-digit sequence
    (("frame", "captured_monotonic_ns"), 2**63),
    (("frame", "captured_at"), 1e200),
    (("inferred_at",), 1e200),
    (("latency", "infer_ms"), 1e200),
    (("detections", 0, "class_id"), 10**39),
])
def test_contracts_refuse_numbers_beyond_their_range(path, value):
    message = detections("big").to_message()
    target = message
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    with pytest.raises(ContractError):
        parse(Detections, message)


def test_largest_contract_values_still_make_items():
    message = detections("big").to_message()
    message["frame"]["sequence"] = 2**63 - 1
    message["latency"]["infer_ms"] = 9.99e13
    (item,) = items_for(parse(Detections, message), DEVICE, 30)
    assert item.item["sequence"] == {"N": str(2**63 - 1)}


@pytest.mark.integration
def test_dynamodb_local_stores_the_normalized_tiny_values(ddb_local, table):
    client = ddb_local.client()
    (item,) = items_for(tiny_message(), DEVICE, 30)
    client.put_item(TableName=table, Item=item.item)
    stored = client.get_item(TableName=table, Key={"device": item.item["device"], "sk": item.item["sk"]},
                             ConsistentRead=True)["Item"]
    detection = stored["detections"]["L"][0]["M"]
    assert detection["score"] == {"N": "0"}
    assert [n["N"] for n in detection["box"]["L"]] == ["0", "0", "0", "0"]
    assert stored["latencyMs"]["M"]["postprocess"] == {"N": "0"}
    assert float(stored["capturedAt"]["N"]) == BASE_TIME


@pytest.mark.integration
def test_dynamodb_local_takes_the_extremes_the_builder_lets_through(ddb_local, table):
    client = ddb_local.client()
    (item,) = items_for(detections("edge"), DEVICE, 30)
    extremes = {"a": 10**37 + 1, "b": 10**40, "c": 1.5e-130, "d": 9.9e125}
    client.put_item(TableName=table, Item=item.item | {k: {"N": dynamo_number(v)} for k, v in extremes.items()})
    stored = client.get_item(TableName=table, Key={"device": item.item["device"], "sk": item.item["sk"]},
                             ConsistentRead=True)["Item"]
    assert int(stored["a"]["N"]) == 10**37 + 1
    assert int(stored["b"]["N"]) == 10**40


@pytest.mark.integration
@pytest.mark.parametrize("text", [format(Decimal("1e-200"), "f"), str(10**39 + 7)])
def test_dynamodb_local_refuses_what_the_builder_no_longer_writes(ddb_local, table, text):
    """The guard above means something: DynamoDB Local refuses the raw forms."""
    client = ddb_local.client()
    (item,) = items_for(detections("raw"), DEVICE, 30)
    with pytest.raises(client.exceptions.ClientError, match="ValidationException"):
        client.put_item(TableName=table, Item=item.item | {"raw": {"N": text}})
