"""Configuration of smartcam.DynamoWriter (recipe DefaultConfiguration, camelCase keys)."""

from __future__ import annotations

from smartcam.config import ComponentConfig


class DynamoWriterConfig(ComponentConfig):
    health_interval_s: float = 30.0
