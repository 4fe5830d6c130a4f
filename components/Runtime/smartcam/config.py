"""Typed component configuration with live updates.

A component declares its configuration as a :class:`ComponentConfig` subclass with snake_case
fields; the recipe's DefaultConfiguration uses the camelCase names (``scoreThreshold``).
:class:`LiveConfig` reads the whole configuration over IPC, validates it, and re-reads it on every
SubscribeToConfigurationUpdate event. It also answers the nucleus's configuration validation
(SubscribeToValidateConfigurationUpdates): a deployment proposing a configuration the model refuses
is REJECTED with the validation message, so the deployment fails and nothing is applied. An invalid
update that still arrives (validation unavailable or timed out) is refused with a logged reason and
the previous configuration stays in force, so an operator's mistake never stops a running component.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from smartcam.contracts.base import TOO_DEEP, describe_problems
from smartcam.ipc import Ipc

log = logging.getLogger(__name__)

# Keys the nucleus or the recipe put in every component's configuration that are not settings.
RESERVED_KEYS = frozenset({"accessControl"})


class ConfigError(ValueError):
    """Configuration that cannot be used; ``str()`` names every offending key."""


class ComponentConfig(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True, allow_inf_nan=False
    )


C = TypeVar("C", bound=ComponentConfig)


def validate_config(model: type[C], raw: dict[str, Any]) -> C:
    """``raw`` (a whole component configuration) as ``model``, or ConfigError naming every problem.

    Validated as the JSON it came as, strictly: ``"10"`` is not a number and ``true`` is not 1,
    while JSON's own forms (a string for a path, an array for a tuple) are what they always were.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"invalid {model.__name__}: the configuration must be a JSON object")
    settings = {k: v for k, v in raw.items() if k not in RESERVED_KEYS}
    try:
        text = json.dumps(settings, allow_nan=True)
        return model.model_validate_json(text, strict=True)
    except ValidationError as exc:
        problems = describe_problems(exc, separator="/", root="(root)", limit=20)
        raise ConfigError(f"invalid {model.__name__}: {problems}") from None
    except RecursionError:
        raise ConfigError(f"invalid {model.__name__}: {TOO_DEEP.format(what='the configuration')}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid {model.__name__}: not a JSON configuration: {exc}") from None


class LiveConfig(Generic[C]):
    """The component's current configuration, kept up to date from IPC.

    ``current`` is None while the configuration is unusable (reported through ``on_error``); a
    component waits in :meth:`wait_until_valid`. A nucleus acts on a reported ERRORED (Recover step,
    restart, BROKEN after 3 errors) and the next deployment reinstalls a BROKEN component, so a
    configuration fixed by a deployment is picked up either way.

    Once a configuration was good, an invalid update (from any path: a deployment whose validation
    did not run, UpdateConfiguration from another component, a local CLI) never reaches ``on_error``:
    it is logged, kept in :attr:`refused` for the health messages, passed to ``on_refused``, and the
    last good configuration stays in force, so the component stays RUNNING.
    """

    def __init__(
        self,
        ipc: Ipc,
        model: type[C],
        on_error: Callable[[ConfigError], None] | None = None,
        on_refused: Callable[[ConfigError], None] | None = None,
    ) -> None:
        self._ipc = ipc
        self._model = model
        self._on_error = on_error or (lambda exc: log.error("%s", exc))
        self._on_refused = on_refused or (lambda exc: None)
        self._refused: str | None = None
        self._listeners: list[Callable[[C, C], None]] = []
        self._lock = threading.Lock()
        self._valid = threading.Event()
        self._current: C | None = None
        ipc.on_configuration_update(self._reload)
        ipc.on_configuration_validation(self.check)
        self._reload([])

    @property
    def current(self) -> C:
        if self._current is None:
            raise ConfigError("no valid configuration yet")
        return self._current

    @property
    def refused(self) -> str | None:
        """Why the last update was refused while the previous configuration stays; None once one is accepted."""
        return self._refused

    def on_change(self, listener: Callable[[C, C], None]) -> None:
        """``listener(old, new)`` runs after every accepted change."""
        self._listeners.append(listener)

    def check(self, proposed: dict[str, Any]) -> str | None:
        """None when ``proposed`` (a whole component configuration) validates, else why not."""
        try:
            validate_config(self._model, proposed)
        except ConfigError as exc:
            return str(exc)
        return None

    def wait_until_valid(self, stop: threading.Event) -> bool:
        while not stop.is_set():
            if self._valid.wait(0.2):
                return True
        return False

    def _reload(self, key_path: list[str]) -> None:
        try:
            new = validate_config(self._model, self._ipc.get_configuration())
        except ConfigError as exc:
            if self._current is None:
                self._on_error(exc)
                return
            where = "/" + "/".join(key_path)
            log.error("configuration update at %s refused, the previous one stays: %s", where, exc)
            self._refused = f"configuration update at {where} refused, the previous one stays: {exc}"
            self._on_refused(exc)
            return
        with self._lock:
            old, self._current = self._current, new
            self._refused = None
        self._valid.set()
        if old is None or new == old:
            return
        log.info("configuration updated at /%s", "/".join(key_path))
        for listener in self._listeners:
            listener(old, new)
