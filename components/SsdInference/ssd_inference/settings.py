"""Configuration of smartcam.SsdInference (recipe DefaultConfiguration, camelCase keys)."""

from __future__ import annotations

from smartcam.config import ComponentConfig


class SsdInferenceConfig(ComponentConfig):
    health_interval_s: float = 30.0
