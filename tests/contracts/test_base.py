"""smartcam.contracts.base: parse, the shared field types and the reasons a refusal gives."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from pydantic import ValidationError

from smartcam.contracts import (
    MAX_MESSAGE_BYTES,
    Box,
    CaptureStatus,
    ContractError,
    Detections,
    FrameRef,
    Health,
    Normalization,
    SpoolDepth,
    WriterReport,
    parse,
)
from smartcam.contracts.base import MAX_COUNT, describe_problems, reason
from tests.contracts.messages import (
    AT,
    box,
    detection,
    detections,
    frame,
    health,
    refusal,
    spool_depth,
    status,
    writer_report,
)


def padded(data: dict[str, Any], size: int) -> str:
    """``data`` as JSON text of exactly ``size`` characters (spaces before the closing brace)."""
    text = json.dumps(data)
    return text[:-1] + " " * (size - len(text)) + "}"


# --- parse: what arrives ---------------------------------------------------------------------------------

def test_the_limit_is_a_devices_ipc_message_limit():
    assert MAX_MESSAGE_BYTES == 131072


def test_bytes_at_the_limit_are_read_and_one_more_is_refused():
    assert parse(FrameRef, padded(frame(), MAX_MESSAGE_BYTES).encode()).frame_id == "cam0-00001"
    why = refusal(FrameRef, padded(frame(), MAX_MESSAGE_BYTES + 1).encode())
    assert why == "message of 131073 bytes is over the 131072-byte limit"


def test_text_at_the_limit_is_read_and_one_more_character_is_refused():
    assert parse(FrameRef, padded(frame(), MAX_MESSAGE_BYTES)).frame_id == "cam0-00001"
    why = refusal(FrameRef, padded(frame(), MAX_MESSAGE_BYTES + 1))
    assert why == "message of 131073 characters is over the 131072-byte limit"


def test_characters_are_counted_in_text_and_bytes_in_bytes():
    text = json.dumps(health(detail="é" * 1024), ensure_ascii=False)
    text = text[:-1] + " " * (MAX_MESSAGE_BYTES - len(text)) + "}"  # 1024 two-byte characters among them
    assert parse(Health, text).detail == "é" * 1024
    assert refusal(Health, text.encode()) == "message of 132096 bytes is over the 131072-byte limit"


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview, lambda b: b.decode()])
def test_json_arrives_as_bytes_bytearray_memoryview_or_text(wrap):
    assert parse(Health, wrap(json.dumps(health()).encode())).component == "smartcam.SsdInference"


def test_a_dict_is_validated_as_is():
    assert parse(Health, health()).state == "ok"


def test_bytes_that_are_not_utf8_are_refused():
    assert refusal(Health, b'{"component": "\xff"}').startswith("message is not UTF-8: ")


@pytest.mark.parametrize("text", ["not json", '{"a": 1', ""])
def test_text_that_is_not_json_is_refused(text):
    assert refusal(Health, text).startswith("message is not valid JSON: ")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_constants_beyond_numbers_are_refused(constant):
    why = refusal(Health, '{"component": "c", "state": "ok", "at": ' + constant + "}")
    assert why == f"message is not valid JSON: {constant} is not allowed"


def test_json_nested_too_deeply_is_refused():
    deep = "[" * 60_000 + "]" * 60_000
    assert refusal(Health, deep) == "message is nested too deeply"


def test_running_out_of_stack_while_validating_is_a_refusal_not_a_crash():
    """Near the stack's limit the contract's validators run out of it: parse refuses the message as
    nested too deeply instead of letting a RecursionError escape (deeper still, the test's own calls
    run out before reaching parse)."""

    def at_depth(n: int) -> object:
        return parse(Box, {"x1": 0.1, "y1": 0.2, "x2": 0.3, "y2": 0.4}) if n == 0 else at_depth(n - 1)

    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    outcomes = []
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + 200)
    try:
        for n in range(200):
            try:
                outcomes.append(type(at_depth(n)).__name__)
            except ContractError as refused:
                outcomes.append(str(refused))
            except RecursionError:  # deeper still: the test's own calls ran out of stack
                outcomes.append("no call")
    finally:
        sys.setrecursionlimit(limit)
    assert outcomes[0] == "Box" and outcomes[-1] == "no call"
    assert "message is nested too deeply" in outcomes


@pytest.mark.parametrize(("data", "kind"), [("[1, 2]", "list"), ("3", "int"), ("null", "NoneType"),
                                            ('"x"', "str"), ([1], "list"), (None, "NoneType")])
def test_only_a_json_object_is_a_message(data, kind):
    assert refusal(Health, data) == f"message must be a JSON object, got {kind}"


# --- the model: strict, frozen, closed -----------------------------------------------------------------

def test_a_refusal_names_the_contract_and_where():
    assert refusal(Health, health(state="fine")).startswith("invalid Health: state: ")
    assert refusal(CaptureStatus, status(accounting={"stored": -1})).startswith(
        "invalid CaptureStatus: accounting.stored: ")


def test_a_problem_of_the_whole_message_is_the_messages():
    assert refusal(Box, {"x1": 0.5, "y1": 0, "x2": 0.4, "y2": 1}) == "invalid Box: message: box corners out of order"


@pytest.mark.parametrize(("value", "why"), [
    ("1", "must be a whole number (a JSON number, not a string or true/false)"),
    (True, "must be a whole number (a JSON number, not a string or true/false)"),
    (1.0, "must be a whole number (a JSON number, not a string or true/false)"),
    (1.5, "must be a whole number (a JSON number, not a string or true/false)"),
    (None, "must be a whole number (a JSON number, not a string or true/false)"),
])
def test_a_count_is_a_json_whole_number(value, why):
    assert refusal(FrameRef, frame(sequence=value)) == f"invalid FrameRef: sequence: {why}"


@pytest.mark.parametrize("value", ["1764900000.5", True, None, [AT]])
def test_a_time_is_a_json_number(value):
    assert refusal(FrameRef, frame(captured_at=value)) == (
        "invalid FrameRef: captured_at: must be a number (a JSON number, not a string or true/false)")


def test_an_int_is_a_number():
    assert parse(FrameRef, frame(captured_at=1764900000)).captured_at == 1764900000.0


@pytest.mark.parametrize(("over", "why"), [
    ({"state": 1}, "state: must be 'ok', 'degraded' or 'errored'"),
    ({"component": 7}, "component: must be a string"),
    ({"detail": b"x"}, "detail: must be a string"),
    ({"counters": []}, "counters: must be a JSON object"),
    ({"counters": {"a": "1"}}, "counters.a: must be a whole number (a JSON number, not a string or true/false)"),
    ({"at": float("nan")}, "at: must be a finite number"),
    ({"at": float("inf")}, "at: must be a finite number"),
    ({"colour": "red"}, "colour: unknown key"),
])
def test_each_kind_of_mistake_gets_its_reason(over, why):
    assert refusal(Health, health(**over)) == f"invalid Health: {why}"


def test_a_missing_field_is_required():
    data = health()
    del data["at"]
    assert refusal(Health, data) == "invalid Health: at: required"


def test_a_nested_contract_must_be_an_object():
    assert refusal(CaptureStatus, status(accounting=[1])) == "invalid CaptureStatus: accounting: must be a JSON object"


def test_a_list_must_be_an_array():
    assert refusal(Normalization, {"mean": {"a": 1.0}, "std": [1.0]}) == (
        "invalid Normalization: mean: must be a JSON array")


def test_a_bool_must_be_true_or_false():
    from smartcam.contracts import CaptureCommand

    assert refusal(CaptureCommand, {"action": "start", "camera_id": "c", "motion_gate": "yes"}) == (
        "invalid CaptureCommand: motion_gate: must be true or false")


def test_a_number_without_its_own_bounds_is_still_finite():
    assert refusal(Normalization, {"mean": [float("nan")], "std": [1.0]}) == (
        "invalid Normalization: mean.0: must be a finite number")
    assert refusal(Normalization, {"mean": [0.5], "std": [float("inf")]}) == (
        "invalid Normalization: std.0: must be a finite number")


def test_a_contract_is_frozen():
    message = parse(Health, health())
    with pytest.raises(ValidationError):
        message.state = "errored"  # type: ignore[misc]


def test_a_field_is_set_by_its_python_name_or_its_wire_name():
    by_name = SpoolDepth(items=1, bytes=2, oldest_age_s=None, max_items=3, max_bytes=4)
    assert by_name == parse(SpoolDepth, spool_depth(items=1, bytes=2, oldestAgeS=None, maxItems=3, maxBytes=4))


def test_the_wire_uses_the_aliases_and_leaves_unset_optionals_out():
    message = parse(Health, health()).to_message()
    assert message == {"schema": "smartcam.health/1", "component": "smartcam.SsdInference", "state": "ok",
                       "counters": {}, "at": AT}


def test_the_bytes_are_compact_json():
    assert parse(Health, health()).to_bytes() == (
        b'{"schema":"smartcam.health/1","component":"smartcam.SsdInference","state":"ok","counters":{},'
        b'"at":1764900000.5}')


@pytest.mark.parametrize(("model", "data"), [
    (Health, health()),
    (Detections, detections(detections=[detection(label="Ä人", score=1e-05,
                                                  box=box(x1=5e-324, x2=0.30000000000000004))],
                            latency={"queue_ms": 1e13, "read_ms": 0.0, "preprocess_ms": 2.5, "infer_ms": 11.0,
                                     "postprocess_ms": 123456.789})),
    (WriterReport, writer_report()),  # states its nulls
], ids=["health", "detections", "writer-report"])
def test_the_bytes_hold_exactly_the_message(model, data):
    # pydantic's encoder writes them; a number must come back the same float, a label the same text
    parsed = parse(model, data)
    assert json.loads(parsed.to_bytes()) == parsed.to_message()
    assert parse(model, parsed.to_bytes()) == parsed


# --- the shared field types ----------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["a", "A" * 128, "cam-0_1.b:c", "0"])
def test_an_identifier_of_1_to_128_safe_characters_is_accepted(value):
    assert parse(FrameRef, frame(camera_id=value)).camera_id == value


@pytest.mark.parametrize(("value", "why"), [
    ("", "at least 1 character"), ("A" * 129, "at most 128 characters"), ("-cam", "should match pattern"),
    ("../x", "should match pattern"), ("cam 0", "should match pattern"), ("cam/0", "should match pattern"),
])
def test_an_identifier_out_of_its_bounds_is_refused(value, why):
    assert why in refusal(FrameRef, frame(camera_id=value))


@pytest.mark.parametrize("value", ["a", "r" * 64, "-req_1.a:b"])
def test_a_request_id_of_1_to_64_characters_is_accepted(value):
    assert parse(FrameRef, frame(request_id=value)).request_id == value


@pytest.mark.parametrize(("value", "why"), [("", "at least 1 character"), ("r" * 65, "at most 64 characters"),
                                            ("req 1", "should match pattern"), ("req/1", "should match pattern")])
def test_a_request_id_out_of_its_bounds_is_refused(value, why):
    assert why in refusal(FrameRef, frame(request_id=value))


@pytest.mark.parametrize("value", [0, 0.0, 1, 1.0, 0.5])
def test_a_unit_is_0_to_1_both_included(value):
    assert parse(Box, {"x1": 0.0, "y1": 0.0, "x2": value, "y2": 1.0}).x2 == value


@pytest.mark.parametrize(("value", "why"), [(-0.001, "greater than or equal to 0"), (1.001, "less than or equal to 1"),
                                            (-1.0, "greater than or equal to 0"), (2.0, "less than or equal to 1")])
def test_a_unit_beyond_0_to_1_is_refused(value, why):
    assert why in refusal(Box, {"x1": 0.0, "y1": 0.0, "x2": value, "y2": 1.0})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_unit_is_finite(value):
    assert refusal(Box, {"x1": 0.0, "y1": 0.0, "x2": value, "y2": 1.0}) == "invalid Box: x2: must be a finite number"


@pytest.mark.parametrize("value", [1e-9, 0.5, 1, 99999999999.0, 1e11 - 0.001])
def test_a_time_after_the_epoch_and_before_1e11_is_accepted(value):
    assert parse(FrameRef, frame(captured_at=value)).captured_at == value


@pytest.mark.parametrize(("value", "why"), [(0, "greater than 0"), (-1, "greater than 0"),
                                            (1e11, "less than 100000000000"), (1e11 + 1, "less than 100000000000")])
def test_a_time_at_or_before_the_epoch_or_from_1e11_is_refused(value, why):
    assert why in refusal(FrameRef, frame(captured_at=value))


def test_a_count_fits_a_signed_64_bit_integer():
    assert MAX_COUNT == 9223372036854775807
    assert parse(FrameRef, frame(sequence=0)).sequence == 0
    assert parse(FrameRef, frame(sequence=MAX_COUNT)).sequence == MAX_COUNT
    assert "less than or equal to 9223372036854775807" in refusal(FrameRef, frame(sequence=MAX_COUNT + 1))
    assert "greater than or equal to 0" in refusal(FrameRef, frame(sequence=-1))


def test_milliseconds_are_0_up_to_below_1e14():
    from smartcam.contracts import StageLatency

    def latency(value: float) -> dict[str, float]:
        return {"read_ms": value, "preprocess_ms": 0, "infer_ms": 0, "postprocess_ms": 0}

    assert parse(StageLatency, latency(0)).read_ms == 0
    assert parse(StageLatency, latency(1e14 - 1)).read_ms == 1e14 - 1
    assert "less than 100000000000000" in refusal(StageLatency, latency(1e14))
    assert "greater than or equal to 0" in refusal(StageLatency, latency(-0.001))
    assert "finite" in refusal(StageLatency, latency(float("nan")))


def test_a_detail_is_at_most_1024_characters():
    assert parse(Health, health(detail="d" * 1024)).detail == "d" * 1024
    assert parse(Health, health(detail="")).detail == ""
    assert "at most 1024 characters" in refusal(Health, health(detail="d" * 1025))


# --- reasons and their summary -------------------------------------------------------------------------

def problems(count: int) -> ValidationError:
    """A validation error with ``count`` problems (each counter a string)."""
    with pytest.raises(ValidationError) as refused:
        Health.model_validate(health(counters={f"c{i}": str(i) for i in range(count)}))
    assert refused.value.error_count() == count
    return refused.value


def test_up_to_five_problems_are_named_without_a_count_of_more():
    text = describe_problems(problems(5), separator=".", root="message")
    assert text.count("must be a whole number") == 5
    assert text.startswith("counters.c0: must be a whole number") and "more)" not in text
    assert text.split("; ")[4].startswith("counters.c4: ")


def test_beyond_five_problems_the_rest_are_counted():
    assert describe_problems(problems(6), separator=".", root="message").endswith("; counters.c4: must be a whole "
                                                                                   "number (a JSON number, not a "
                                                                                   "string or true/false) (+1 more)")
    text = describe_problems(problems(8), separator=".", root="message")
    assert text.count("must be a whole number") == 5 and text.endswith(" (+3 more)")


def test_the_limit_separator_and_root_are_the_callers():
    text = describe_problems(problems(3), separator="/", root="(root)", limit=2)
    assert text == ("counters/c0: must be a whole number (a JSON number, not a string or true/false); "
                    "counters/c1: must be a whole number (a JSON number, not a string or true/false) (+1 more)")
    with pytest.raises(ValidationError) as refused:
        Box.model_validate({"x1": 1, "y1": 0, "x2": 0, "y2": 1})
    assert describe_problems(refused.value, separator="/", root="(root)") == "(root): box corners out of order"


def test_the_separator_and_root_are_named_never_given_by_position():
    """Both are strings: a caller swapping them by position would get wrong words, so they are keyword-only."""
    with pytest.raises(TypeError):
        describe_problems(problems(1), ".", "message")  # type: ignore[misc]


def detail(kind: str, msg: str) -> Any:
    return {"type": kind, "loc": (), "msg": msg, "input": None}


def test_json_nested_too_deeply_reads_so():
    assert reason(detail("json_invalid", "Invalid JSON: recursion limit exceeded")) == "is nested too deeply"
    assert reason(detail("json_invalid", "Invalid JSON: RECURSION limit")) == "is nested too deeply"


def test_other_invalid_json_keeps_its_message():
    assert reason(detail("json_invalid", "Invalid JSON: EOF while parsing")) == "Invalid JSON: EOF while parsing"


def test_recursion_in_a_message_that_is_not_about_json_is_not_nesting():
    assert reason(detail("value_error", "Value error, recursion is not allowed")) == "recursion is not allowed"


def test_pydantics_words_are_reworded():
    assert reason(detail("literal_error", "Input should be 'a' or 'b'")) == "must be 'a' or 'b'"
    assert reason(detail("value_error", "Value error, input should be short")) == "must be short"
    assert reason(detail("assertion_error", "Assertion failed, no")) == "no"
    assert reason(detail("missing", "Field required")) == "required"
    assert reason(detail("recursion_loop", "Recursion error - cyclic reference detected")) == "is nested too deeply"
