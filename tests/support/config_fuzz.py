"""Random configuration updates for the property tests, delivered the way the nucleus delivers them.

A component's settings model is walked to find every setting (nested ones, each configured camera's,
the chosen variant of a tagged union) and what kind of value it takes; :func:`hostile_update` then
puts into one of them a value that kind can never accept (text for a number, true for a whole number,
NaN, 10**40 beside a bound, a list, deep nesting, an unknown key...). New settings are fuzzed without
touching this module. :class:`ConfigFuzz` sends each update twice, as a deployment's proposal (the
component must answer ACCEPTED or REJECTED with a reason) and then as the update itself (applied live,
or refused with the last good configuration kept), and checks the outcome against what the update was
built to be. :class:`HandlerErrors` fails a test on any exception a component caught and logged:
an exception escaping a handler is logged by ``smartcam.ipc``, never raised into the test.
"""

from __future__ import annotations

import copy
import logging
import math
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml
from awsiot.greengrasscoreipc.model import ConfigurationValidityStatus
from hypothesis import strategies as st
from pydantic import BaseModel

from repo_layout import REPO_ROOT
from smartcam.config import RESERVED_KEYS, ComponentConfig, LiveConfig
from tests.support.fake_nucleus import FakeNucleus

Kind = Literal["integer", "number", "boolean", "text", "choice", "object", "list", "mixed"]
KeyPath = tuple[str | int, ...]

# Prefix of generated unknown keys: no setting's camelCase alias or snake_case name starts with it.
UNKNOWN = "zz"
# Deep enough for the validator's nesting guard, shallow enough for the JSON codecs on the way
# (the fake nucleus round-trips the configuration through json, as the IPC client does).
DEPTHS = (40, 150, 400)


@dataclass(frozen=True)
class Setting:
    path: KeyPath
    kind: Kind
    optional: bool
    choices: tuple[Any, ...] = ()
    bounded_above: bool = False
    bounded_below: bool = False


@dataclass(frozen=True)
class Update:
    """A whole component configuration for the nucleus to hold, and what it was built to be."""

    configuration: dict[str, Any]
    valid: bool
    what: str


def recipe_defaults(component: str) -> dict[str, Any]:
    """The DefaultConfiguration of ``components/<component>/recipe.yaml``: what a device starts with."""
    recipe = yaml.safe_load((REPO_ROOT / "components" / component / "recipe.yaml").read_text())
    return recipe["ComponentConfiguration"]["DefaultConfiguration"]


# the settings of a model ------------------------------------------------------------------------
def settings_of(model: type[BaseModel], value: Any, prefix: KeyPath = ()) -> Iterator[Setting]:
    """Every setting of ``model`` (keys as the configuration spells them), with ``value`` (a valid
    configuration) choosing list items and union variants to descend into."""
    value = value if isinstance(value, dict) else {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        annotation, optional = _without_none(info.annotation)
        metadata = list(info.metadata) + _annotated_metadata(annotation)
        annotation = _bare(annotation)
        path = (*prefix, key)
        kind, choices = _kind(annotation)
        yield Setting(path, kind, optional, choices,
                      bounded_above=any(hasattr(m, "le") or hasattr(m, "lt") for m in metadata),
                      bounded_below=any(hasattr(m, "ge") or hasattr(m, "gt") for m in metadata))
        current = value.get(key)
        if kind == "object":
            variant = _variant(annotation, current)
            if variant is not None:
                yield from settings_of(variant, current, path)
        elif kind == "list" and isinstance(current, list):
            (item,) = typing.get_args(annotation) or (Any,)
            item = _bare(item)
            if isinstance(item, type) and issubclass(item, BaseModel):
                for index, element in enumerate(current):
                    yield from settings_of(item, element, (*path, index))


def _without_none(annotation: Any) -> tuple[Any, bool]:
    if _is_union(annotation):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) < len(typing.get_args(annotation)):
            return (members[0] if len(members) == 1 else typing.Union[tuple(members)]), True  # noqa: UP007
    return annotation, False


def _annotated_metadata(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) is typing.Annotated:
        return [m for arg in typing.get_args(annotation)[1:] for m in getattr(arg, "metadata", [arg])]
    return []


def _bare(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _kind(annotation: Any) -> tuple[Kind, tuple[Any, ...]]:
    if annotation is bool:
        return "boolean", ()
    if annotation is int:
        return "integer", ()
    if annotation is float:
        return "number", ()
    if annotation is str:
        return "text", ()
    if typing.get_origin(annotation) is Literal:
        return "choice", typing.get_args(annotation)
    if typing.get_origin(annotation) is list:
        return "list", ()
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object", ()
    members = [_bare(a) for a in typing.get_args(annotation)] if _is_union(annotation) else []
    if members and all(isinstance(m, type) and issubclass(m, BaseModel) for m in members):
        return "object", ()
    return "mixed", ()  # e.g. a camera device: an index or a path


def _variant(annotation: Any, value: Any) -> type[BaseModel] | None:
    """The model ``value`` validates as: the model itself, or the union member its ``type`` names."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if not isinstance(value, dict):
        return None
    for member in map(_bare, typing.get_args(annotation)):
        tag = member.model_fields.get("type")
        if tag is not None and value.get("type") in typing.get_args(tag.annotation):
            return member
    return None


# values no setting of a kind accepts -----------------------------------------------------------------
def nested(depth: int) -> list[Any]:
    value: list[Any] = [1]
    for _ in range(depth):
        value = [value]
    return value


def hostile_values(setting: Setting, current: Any) -> list[Any]:
    """Values ``setting`` refuses whatever its bounds: wrong JSON types, non-finite and huge numbers."""
    values: list[Any] = [[1, 2], {f"{UNKNOWN}Key": 1}, *(nested(d) for d in DEPTHS)]
    if not setting.optional:
        values.append(None)
    kind = setting.kind
    if kind == "integer":
        values += ["7", "", True, False, 2.5, 3.0, math.nan, math.inf, -math.inf]
    elif kind == "number":
        values += ["7.5", "1e3", "NaN", True, False, math.nan, math.inf, -math.inf, 10**400]
    elif kind == "boolean":
        values += ["true", "false", 1, 0, 1.0, "yes"]
    elif kind == "text":
        values += [5, 0.5, True, False]
    elif kind == "choice":
        values += [f"{UNKNOWN}-not-a-choice", 5, True]
        values += [str(c).upper() for c in setting.choices if str(c).upper() not in setting.choices]
    elif kind == "object":
        values += ["an object as text", 5, True]
        if isinstance(current, dict):
            values.append({**current, f"{UNKNOWN}Unknown": {"deep": nested(3)}})
    elif kind == "list":
        values += ["a list as text", 5, True]
    else:  # mixed (an index or a path): never a float, a boolean, a list or an object
        values += [2.5, True, math.nan]
    if kind in ("integer", "number"):
        if setting.bounded_above:
            values += [10**40, 1e300]
        if setting.bounded_below:
            values += [-(10**40), -1e300]
    return values


def at(configuration: Any, path: KeyPath) -> Any:
    for step in path:
        if isinstance(configuration, dict) and isinstance(step, str):
            configuration = configuration.get(step)
        elif isinstance(configuration, list) and isinstance(step, int) and step < len(configuration):
            configuration = configuration[step]
        else:
            return None
    return configuration


def with_value(configuration: dict[str, Any], path: KeyPath, value: Any) -> dict[str, Any]:
    """A copy of ``configuration`` with ``value`` at ``path`` (missing objects on the way are created)."""
    out = copy.deepcopy(configuration)
    here: Any = out
    for step in path[:-1]:
        if isinstance(step, str) and not isinstance(here.get(step), dict | list):
            here[step] = {}
        here = here[step]
    here[path[-1]] = value
    return out


_OMITTED = object()


def well_formed_settings(catalog: dict[str, list[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Each key of ``catalog`` left out or set to one of its values (one choice per key: drawing
    fewer choices keeps a thousand updates within seconds)."""
    choices = st.tuples(*(st.sampled_from([_OMITTED, *values]) for values in catalog.values()))
    return choices.map(lambda picked: {k: v for k, v in zip(catalog, picked, strict=True) if v is not _OMITTED})


def updates(
    model: type[ComponentConfig],
    well_formed: st.SearchStrategy[Update],
    against_the_rules: Callable[[dict[str, Any]], dict[str, dict[str, Any]]] | None = None,
) -> st.SearchStrategy[Update]:
    """Well-formed, hostile (see :func:`hostile_update`), or breaking a rule of the model that types
    alone do not express (``against_the_rules(valid) -> {what: configuration}``), about as often each."""

    @st.composite
    def draw_update(draw: st.DrawFn) -> Update:
        update = draw(well_formed)
        how = draw(st.integers(0, 2 if against_the_rules else 1))
        if how == 0:
            return update
        if how == 1:
            return hostile_update(draw, model, update.configuration)
        broken = against_the_rules(update.configuration) if against_the_rules else {}
        what = draw(st.sampled_from(sorted(broken)))
        return Update(broken[what], False, what)

    return draw_update()


def hostile_update(draw: st.DrawFn, model: type[ComponentConfig], base: dict[str, Any]) -> Update:
    """``base`` (a valid configuration) with one setting given a value it refuses, an unknown key, or
    deep nesting where an object belongs."""
    settings = list(settings_of(model, base))
    if draw(st.integers(0, 3)):  # three times in four a wrong value, else an unknown key
        setting = settings[draw(st.integers(0, len(settings) - 1))]
        values = hostile_values(setting, at(base, setting.path))
        value = values[draw(st.integers(0, len(values) - 1))]
        return Update(with_value(base, setting.path, value), False, f"{_where(setting.path)} = {_short(value)}")
    objects: list[KeyPath] = [(), *(s.path for s in settings if s.kind == "object")]
    for setting in settings:
        items = at(base, setting.path) if setting.kind == "list" else None
        objects += [(*setting.path, i) for i, item in enumerate(items or []) if isinstance(item, dict)]
    where = (*objects[draw(st.integers(0, len(objects) - 1))], UNKNOWN + draw(UNKNOWN_SUFFIXES))
    value = draw(st.sampled_from([1, "x", None, True, [], {}, nested(5)]))
    return Update(with_value(base, where, value), False, f"unknown key {_where(where)}")


UNKNOWN_SUFFIXES = st.sampled_from(["", "Key", "_snake_case", ".dotted", "-", "ScoreThreshold", "CAMERAS"])


def _where(path: KeyPath) -> str:
    return "/" + "/".join(str(p) for p in path)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


# delivering and checking -----------------------------------------------------------------------
def assert_holds(update: dict[str, Any], current: ComponentConfig) -> None:
    """Every setting ``update`` gives is the one ``current`` has (defaults fill the rest)."""
    dumped = current.model_dump(mode="json", by_alias=True)
    expected = {k: v for k, v in update.items() if k not in RESERVED_KEYS}
    _assert_within(expected, dumped, ())


def _assert_within(expected: Any, actual: Any, path: KeyPath) -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), (path, actual)
        for key, value in expected.items():
            assert key in actual, f"{_where((*path, key))} not in force"
            _assert_within(value, actual[key], (*path, key))
    elif isinstance(expected, list | tuple):
        assert isinstance(actual, list) and len(actual) == len(expected), (path, expected, actual)
        for index, (want, have) in enumerate(zip(expected, actual, strict=True)):
            _assert_within(want, have, (*path, index))
    else:
        same = expected == actual and isinstance(expected, bool) == isinstance(actual, bool)
        assert same, f"{_where(path)}: {expected!r} sent, {actual!r} in force"


@dataclass
class ConfigFuzz:
    """Sends updates through the fake nucleus to a component's :class:`LiveConfig` and checks each."""

    nucleus: FakeNucleus
    live: LiveConfig[Any]
    applied: int = 0
    refused: int = 0
    rejected_proposals: int = 0
    outcomes: list[str] = field(default_factory=list)

    def send(self, update: Update) -> None:
        before = self.live.current
        self._propose(update)
        assert self.live.current is before, f"a proposal changed the configuration: {update.what}"
        self.nucleus.update_configuration(copy.deepcopy(update.configuration), *_first_key(update))
        if update.valid:
            assert self.live.refused is None, f"well-formed update refused: {update.what}: {self.live.refused}"
            assert_holds(update.configuration, self.live.current)
            self.applied += 1
        else:
            assert self.live.current is before, f"hostile update applied: {update.what}"
            reason = self.live.refused
            assert reason and "refused, the previous one stays" in reason, (update.what, reason)
            self.refused += 1
        self.outcomes.append(f"{'applied' if update.valid else 'refused'}: {update.what}")

    def _propose(self, update: Update) -> None:
        deployment = f"deployment-{len(self.outcomes)}"
        self.nucleus.propose(copy.deepcopy(update.configuration), deployment)
        report = self.nucleus.reports()[-1]
        assert report.deployment_id == deployment
        if update.valid:
            assert report.status == ConfigurationValidityStatus.ACCEPTED, (update.what, report.message)
        else:
            assert report.status == ConfigurationValidityStatus.REJECTED, f"hostile proposal accepted: {update.what}"
            assert report.message and "invalid" in report.message, (update.what, report.message)
            self.rejected_proposals += 1


def _first_key(update: Update) -> list[str]:
    """The key path the nucleus names in the event: any key of the configuration will do."""
    return [next(iter(update.configuration), "")]


# what was logged ---------------------------------------------------------------------------------
REFUSAL = "configuration update at %s refused, the previous one stays: %s"


class HandlerErrors(logging.Handler):
    """Records what is logged with a traceback (an exception caught anywhere: a handler's by
    ``smartcam.ipc``, a worker's by its loop) or at ERROR by ``smartcam.ipc`` or ``smartcam.config``
    while attached. :meth:`check` fails on any of them except the one ERROR each refused configuration
    update is logged with. Conditions a component reports at ERROR on purpose (a backend that failed
    to reload, say) come from other loggers and are not failures."""

    WATCHED = ("smartcam.ipc", "smartcam.config")

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or (record.levelno >= logging.ERROR and record.name in self.WATCHED):
            self.records.append(record)

    def __enter__(self) -> HandlerErrors:
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *_: object) -> None:
        logging.getLogger().removeHandler(self)

    def refusals(self) -> int:
        return sum(1 for r in self.records if _is_refusal(r))

    def unexpected(self) -> list[str]:
        return [f"{r.name}: {r.getMessage()}" + (f"\n{self.format(r)}" if r.exc_info else "")
                for r in self.records if not _is_refusal(r)]

    def check(self, refused_updates: int) -> None:
        assert not self.unexpected(), "\n".join(self.unexpected())
        assert self.refusals() == refused_updates


def _is_refusal(record: logging.LogRecord) -> bool:
    return record.name == "smartcam.config" and record.msg == REFUSAL and not record.exc_info
