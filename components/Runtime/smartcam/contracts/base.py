"""What every contract shares: the base model, the field types, and :func:`parse` for what arrives.

Contracts are strict: a string is never read as a number, a bool never as an int, an unknown key is
refused. Each message carries ``schema`` (name and version) so a receiver can refuse what it does
not understand with a clear reason instead of guessing.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
RequestId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Unit = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
# Upper bounds keep every number storable (DynamoDB: 38 significant digits, magnitude below 1e126)
# and readable by any JSON consumer: a count fits a signed 64-bit integer, a time lies before year 5138.
MAX_COUNT = 2**63 - 1
EpochSeconds = Annotated[float, Field(gt=0, lt=1e11, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Milliseconds = Annotated[float, Field(ge=0, lt=1e14, allow_inf_nan=False)]
Detail = Annotated[str, Field(max_length=1024)]


class ContractError(ValueError):
    """A message that does not follow the contract; ``str()`` says why, for logs and status replies."""


class Contract(BaseModel):
    """A message or file exchanged between processes. Python names are snake_case; a field whose wire
    name differs (``schema``, the writer report's camelCase keys) declares it as its alias."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True, populate_by_name=True)

    #: an optional field left unset is omitted from the wire, unless the contract states its nulls
    wire_nulls: ClassVar[bool] = False

    def to_message(self) -> dict[str, Any]:
        """The JSON object that goes on the wire (IPC ``jsonMessage.message`` is a map)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=not self.wire_nulls)

    def to_bytes(self) -> bytes:
        """:meth:`to_message` as compact JSON (UTF-8), written by pydantic's own encoder: the same JSON
        values as ``json.dumps(to_message())`` at a fifth of the CPU (it runs for every message sent)."""
        return self.model_dump_json(by_alias=True, exclude_none=not self.wire_nulls).encode()


M = TypeVar("M", bound=Contract)

MAX_MESSAGE_BYTES = 128 * 1024  # a device's default IPC message limit


def parse(model: type[M], data: Any) -> M:
    """Validate ``data`` (a dict, JSON text or JSON bytes) as ``model``; raise ContractError."""
    if isinstance(data, bytes | bytearray | memoryview):
        if len(data) > MAX_MESSAGE_BYTES:
            raise ContractError(f"message of {len(data)} bytes is over the {MAX_MESSAGE_BYTES}-byte limit")
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ContractError(f"message is not UTF-8: {exc}") from None
    if isinstance(data, str):
        if len(data) > MAX_MESSAGE_BYTES:
            raise ContractError(f"message of {len(data)} characters is over the {MAX_MESSAGE_BYTES}-byte limit")
        try:
            data = json.loads(data, parse_constant=_refuse_constant)
        except ValueError as exc:  # json.JSONDecodeError is one
            raise ContractError(f"message is not valid JSON: {exc}") from None
        except RecursionError:
            raise ContractError(TOO_DEEP.format(what="message")) from None
    if not isinstance(data, dict):
        raise ContractError(f"message must be a JSON object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ContractError(_describe(model, exc)) from None
    except RecursionError:
        raise ContractError(TOO_DEEP.format(what="message")) from None


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed")


def _describe(model: type[Contract], exc: ValidationError) -> str:
    return f"invalid {model.__name__}: " + describe_problems(exc, separator=".", root="message")


TOO_DEEP = "{what} is nested too deeply"

# Short reasons for what an operator most often gets wrong; anything else keeps pydantic's message,
# reworded ("Input should be" -> "must be").
_REASONS = {
    "missing": "required",
    "extra_forbidden": "unknown key",
    "int_type": "must be a whole number (a JSON number, not a string or true/false)",
    "int_parsing": "must be a whole number (a JSON number, not a string or true/false)",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number (a JSON number, not a string or true/false)",
    "float_parsing": "must be a number (a JSON number, not a string or true/false)",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
    "list_type": "must be a JSON array",
    "tuple_type": "must be a JSON array",
    "recursion_loop": "is nested too deeply",
}


def reason(err: ErrorDetails) -> str:
    """One validation problem in words an operator reads: ``must be a number (...)``."""
    if err["type"] == "json_invalid" and "recursion" in err["msg"].lower():
        return "is nested too deeply"
    short = _REASONS.get(err["type"])
    if short is not None:
        return short
    msg = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return msg.replace("Input should be", "must be").replace("input should be", "must be")


def describe_problems(exc: ValidationError, *, separator: str, root: str, limit: int = 5) -> str:
    """``where: reason`` for the first ``limit`` problems of ``exc``, and how many more there are."""
    problems = []
    for err in exc.errors()[:limit]:
        where = separator.join(str(p) for p in err["loc"]) or root
        problems.append(f"{where}: {reason(err)}")
    more = exc.error_count() - len(problems)
    suffix = f" (+{more} more)" if more > 0 else ""
    return "; ".join(problems) + suffix
