"""Configuration of smartcam.OperatorView (recipe DefaultConfiguration, camelCase keys).

The page is bound to loopback by default; an operator reaches it through AWS IoT Secure Tunneling.
A bind beyond loopback is refused unless a token is set: then every request must carry it.
``host``, ``port`` and ``token`` restart the server when they change; the rest applies at once.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from smartcam.cpu_affinity import ProcessConfig
from smartcam.metrics import MetricsSettings

MIN_TOKEN_CHARS = 32
# URL-safe characters only: what `secrets.token_urlsafe` makes, and nothing a header or cookie must escape.
# A pattern, not a secret.
TOKEN_PATTERN = r"^[A-Za-z0-9_~.-]+$"  # noqa: S105  # nosec B105


def is_loopback(host: str) -> bool:
    return ipaddress.ip_address(host).is_loopback


class OperatorViewConfig(ProcessConfig):
    host: Annotated[str, Field(min_length=2, max_length=45)] = Field(
        "127.0.0.1", description="IP address the page listens on (an address, not a name). Loopback by default: "
        "reach it through AWS IoT Secure Tunneling (docs/operator-view.md). Any other address needs `token`."
    )
    port: Annotated[int, Field(ge=1024, le=65535)] = Field(
        8420, description="TCP port of the page (1024..65535: the component runs as an unprivileged user)."
    )
    token: Annotated[str, Field(min_length=MIN_TOKEN_CHARS, max_length=256, pattern=TOKEN_PATTERN)] | None = Field(
        None, description=f"Access token, at least {MIN_TOKEN_CHARS} URL-safe characters (e.g. "
        "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`). When set, every request needs it "
        "(the page asks for it once and keeps it in a same-site cookie); required when `host` is not loopback."
    )
    max_fps: Annotated[float, Field(ge=0.2, le=10)] = Field(
        2.0, description="Most frames per second the page shows of each camera; frames are read from the ring "
        "only while a page asks for them."
    )
    recent_events: Annotated[int, Field(ge=1, le=200)] = Field(
        24, description="Events shown, the most recent first (each as of its latest message)."
    )
    metric_points: Annotated[int, Field(ge=10, le=1000)] = Field(
        120, description="Points kept per metric series for its chart (in memory only)."
    )
    metrics: MetricsSettings = Field(default_factory=MetricsSettings, description=MetricsSettings.__doc__)

    @field_validator("host")
    @classmethod
    def _ip_address(cls, value: str) -> str:
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise ValueError("must be an IP address such as 127.0.0.1 (not a host name)") from None

    @model_validator(mode="after")
    def _token_beyond_loopback(self) -> OperatorViewConfig:
        if not is_loopback(self.host) and self.token is None:
            raise ValueError(f"host {self.host} is not loopback: a token is required to listen there")
        return self
