"""The vendored nucleus lite sources and the cache key derived from them."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from repo_layout import REPO_ROOT
from smartcam.contracts import sha256_file

# Tarball name prefix -> the CMake FetchContent name it stands in for (None: nucleus lite itself).
TARBALLS: dict[str, str | None] = {
    "aws-greengrass-lite-": None,
    "core_mqtt-": "CORE_MQTT",
    "aws_sigv4-": "AWS_SIGV4",
    "gg_sdk-": "GG_SDK",
    "unity-": "UNITY",
}
# Bumped whenever the build command changes, so an old install is not reused.
BUILD_RECIPE = "cmake-ninja-minsizerel-loginfo-v2"



@dataclass(frozen=True)
class Sources:
    """The five tarballs, by FetchContent name (``""`` for nucleus lite itself)."""

    directory: Path
    tarballs: dict[str, Path]

    def cache_key(self) -> str:
        """sha256 over every tarball's sha256 and the build recipe: same sources -> same install."""
        digest = hashlib.sha256(BUILD_RECIPE.encode())
        for name in sorted(self.tarballs):
            path = self.tarballs[name]
            digest.update(f"{name}={path.name}={sha256_file(path)}\n".encode())
        return digest.hexdigest()[:24]


def default_directory() -> Path:
    """``SMARTCAM_GREENGRASS_LITE_SOURCES``, else ``<checkout>/../shared/vendor/greengrass-lite``."""
    configured = os.environ.get("SMARTCAM_GREENGRASS_LITE_SOURCES")
    if configured:
        return Path(configured)
    for parent in REPO_ROOT.parents:
        candidate = parent / "shared" / "vendor" / "greengrass-lite"
        if candidate.is_dir():
            return candidate
    return REPO_ROOT.parent / "shared" / "vendor" / "greengrass-lite"


def find_sources(directory: Path | None = None) -> Sources | None:
    """The tarballs in ``directory``, or None when any is missing (the caller skips lite)."""
    directory = directory or default_directory()
    if not directory.is_dir():
        return None
    found: dict[str, Path] = {}
    for prefix, name in TARBALLS.items():
        matches = sorted(directory.glob(f"{prefix}*.tar.gz"))
        if len(matches) != 1:
            return None
        found[name or ""] = matches[0]
    return Sources(directory=directory, tarballs=found)

