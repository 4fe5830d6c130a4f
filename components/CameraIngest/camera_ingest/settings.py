"""Configuration of smartcam.CameraIngest (recipe DefaultConfiguration, camelCase keys)."""

from __future__ import annotations

from smartcam.config import ComponentConfig


class CameraIngestConfig(ComponentConfig):
    health_interval_s: float = 30.0
