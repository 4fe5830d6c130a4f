"""Nucleus lite's /etc/greengrass/config.yaml for a device whose cloud is :mod:`nucleus_lite.cloud`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from nucleus_lite.namespace import INSIDE_RUN_DIR


@dataclass(frozen=True)
class DeviceSettings:
    thing_name: str
    region: str
    credentials_endpoint: str  # host:port of the credentials provider
    data_plane_port: int
    role_alias: str
    posix_user: str = "gg_component:gg_component"


def render(settings: DeviceSettings, certs_inside: Path = INSIDE_RUN_DIR / "certs") -> str:
    """The configuration as YAML (JSON is valid YAML 1.2; every value is quoted)."""
    config = {
        "system": {
            "privateKeyPath": str(certs_inside / "device.key"),
            "certificateFilePath": str(certs_inside / "device.pem"),
            "rootCaPath": str(certs_inside / "ca.pem"),
            "rootPath": "/var/lib/greengrass",
            "thingName": settings.thing_name,
        },
        "services": {
            "aws.greengrass.NucleusLite": {
                "componentType": "NUCLEUS",
                "configuration": {
                    "awsRegion": settings.region,
                    "iotCredEndpoint": settings.credentials_endpoint,
                    "iotDataEndpoint": "localhost",
                    "iotRoleAlias": settings.role_alias,
                    "runWithDefault": {"posixUser": settings.posix_user},
                    "greengrassDataPlanePort": str(settings.data_plane_port),
                    "platformOverride": {},
                    "fleetStatus": {"periodicStatusPublishIntervalSeconds": 86400},
                },
            },
        },
    }
    return "---\n" + json.dumps(config, indent=2) + "\n"
