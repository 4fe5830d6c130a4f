"""A setting's bounds checked where they are: the bound itself accepted (or refused, when the bound is
excluded) and a value just beyond it refused, with the reason naming the key and stating the bound.

The bounds are written in each test, as the README's configuration reference states them; they are never
read from the model, so a bound changed in the code fails the test. "Just beyond" is 1 for a whole
number or a size and :data:`STEP` for a number: nearer than any bound off by one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from smartcam.config import ComponentConfig, ConfigError, validate_config
from tests.support.config_fuzz import KeyPath, with_value

Number = int | float
STEP = 0.001

_STATED = re.compile(r"must be (greater than|greater than or equal to|less than or equal to) (-?[0-9.e+]+)$")


def read_back(config: BaseModel, path: KeyPath) -> Any:
    """The value ``config`` holds at ``path``, with the keys as the configuration spells them."""
    node: Any = config.model_dump(by_alias=True)
    for step in path:
        node = node[step]
    return node


def accepted(model: type[ComponentConfig], raw: dict[str, Any], path: KeyPath, value: Any) -> None:
    """``value`` at ``path`` is accepted and held: the same number or text, a list or object of its size."""
    config = validate_config(model, with_value(raw, path, value))
    held = read_back(config, path)
    if isinstance(value, list | dict):
        assert len(held) == len(value), (path, len(value), held)
    else:
        assert held == value, (path, value, held)


def refused(model: type[ComponentConfig], raw: dict[str, Any], path: KeyPath, value: Any, reason: str = "",
            where: str | None = None) -> str:
    """The reason of the refusal, after checking that it names ``where`` (by default ``path``; a tagged
    union's variant adds its tag) and starts with ``reason``."""
    where = where or "/".join(str(step) for step in path)
    with pytest.raises(ConfigError) as refusal:
        validate_config(model, with_value(raw, path, value))
    message = str(refusal.value)
    prefix = f"invalid {model.__name__}: {where}: "
    assert message.startswith(prefix + reason), (path, value, message)
    return message.removeprefix(prefix)


def _states(reason: str, relation: str, bound: Number) -> None:
    """``reason`` is "must be <relation> <bound>", the bound as a number equal to ``bound``."""
    stated = _STATED.fullmatch(reason)
    assert stated is not None and stated.group(1) == relation and float(stated.group(2)) == bound, (reason, bound)


def check_number_bounds(
    model: type[ComponentConfig],
    base: dict[str, Any],
    path: KeyPath,
    *,
    ge: Number | None = None,
    gt: Number | None = None,
    le: Number | None = None,
    integer: bool = False,
    where: str | None = None,
) -> None:
    """``path`` takes numbers from ``ge`` (or above ``gt``) up to ``le``; ``integer``: whole numbers only."""
    step: Number = 1 if integer else STEP
    if ge is not None:
        accepted(model, base, path, ge)
        _states(refused(model, base, path, ge - step, where=where), "greater than or equal to", ge)
    if gt is not None:
        accepted(model, base, path, gt + step)
        _states(refused(model, base, path, gt, where=where), "greater than", gt)
    if le is not None:
        accepted(model, base, path, le)
        _states(refused(model, base, path, le + step, where=where), "less than or equal to", le)


def check_size_bounds(
    model: type[ComponentConfig],
    base: dict[str, Any],
    path: KeyPath,
    make: Callable[[int], Any],
    *,
    min_size: int | None = None,
    max_size: int | None = None,
    where: str | None = None,
) -> None:
    """``path`` takes values ``make(n)`` (a valid text, list or object of size n) for n from ``min_size``
    up to ``max_size``; a size beyond either is refused saying how many it should have at least or at most."""
    if min_size is not None:
        accepted(model, base, path, make(min_size))
        if min_size > 0:
            reason = refused(model, base, path, make(min_size - 1), where=where)
            assert re.search(rf"should have at least {min_size} (item|character)", reason), reason
    if max_size is not None:
        accepted(model, base, path, make(max_size))
        reason = refused(model, base, path, make(max_size + 1), where=where)
        assert re.search(rf"should have at most {max_size} (item|character)", reason), reason
