"""Write (or check) every components/*/gdk-config.json from gdk-config/environments.json.

GDK reads exactly one gdk-config.json from the folder it runs in, so each component carries its
own copy of the shared settings (author, bucket, region, gdk_version). This script keeps those
copies identical to gdk-config/environments.json; each component keeps its own name and version.
The build is always the zip build system with NO options: any option (even just ``zip_name``)
turns GDK's default excludes off and tests and hidden files would ship in the artifact.

    scripts/sync_gdk_configs.py            # write the default environment's settings
    scripts/sync_gdk_configs.py --env prod # write another environment's settings
    scripts/sync_gdk_configs.py --check    # exit 1 naming every stale file, write nothing
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from repo_layout import REPO_ROOT

ENVIRONMENTS = REPO_ROOT / "gdk-config" / "environments.json"
COMPONENTS = REPO_ROOT / "components"
NAME_PREFIX = "smartcam."
DEFAULT_VERSION = "1.0.0"
RECIPE_NAMES = ("recipe.yaml", "recipe.json")


class SyncError(Exception):
    """A problem with an input file; ``str()`` names the file."""


def load_environment(environments: Path, env: str | None) -> dict[str, Any]:
    try:
        data = json.loads(environments.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SyncError(f"{environments}: file not found") from None
    except json.JSONDecodeError as exc:
        raise SyncError(f"{environments}: not valid JSON: {exc}") from None
    try:
        name = env or data["default_environment"]
        chosen = data["environments"][name]
        return {
            "author": str(data["author"]),
            "gdk_version": str(data["gdk_version"]),
            "bucket": str(chosen["bucket"]),
            "region": str(chosen["region"]),
        }
    except (KeyError, TypeError) as exc:
        known = sorted(data.get("environments", {})) if isinstance(data, dict) else []
        raise SyncError(f"{environments}: missing key {exc} (environments: {', '.join(known) or 'none'})") from None


def component_folders(components: Path) -> list[Path]:
    """Every folder under ``components`` that is a GDK project (has a recipe or a gdk-config.json)."""
    return sorted(
        folder
        for folder in components.iterdir()
        if folder.is_dir() and any((folder / n).is_file() for n in (*RECIPE_NAMES, "gdk-config.json"))
    )


def current_identity(config_file: Path, folder: Path) -> tuple[str, str]:
    """(component name, version) from an existing gdk-config.json, or the defaults for a new one."""
    if not config_file.is_file():
        return NAME_PREFIX + folder.name, DEFAULT_VERSION
    try:
        component = json.loads(config_file.read_text(encoding="utf-8"))["component"]
        (name, settings), *rest = component.items()
        if rest:
            raise SyncError(f"{config_file}: more than one component; GDK allows exactly one per project")
        return name, str(settings.get("version", DEFAULT_VERSION))
    except json.JSONDecodeError as exc:
        raise SyncError(f"{config_file}: not valid JSON: {exc}") from None
    except (KeyError, AttributeError, ValueError, TypeError):
        raise SyncError(f"{config_file}: no 'component' object with one component in it") from None


def render(name: str, version: str, env: dict[str, Any]) -> str:
    config = {
        "component": {
            name: {
                "author": env["author"],
                "version": version,
                "build": {"build_system": "zip"},
                "publish": {"bucket": env["bucket"], "region": env["region"]},
            }
        },
        "gdk_version": env["gdk_version"],
    }
    return json.dumps(config, indent=2) + "\n"


def sync(components: Path, environments: Path, env: str | None, check: bool) -> list[Path]:
    """Return the gdk-config.json files that differ(ed) from what environments.json says."""
    settings = load_environment(environments, env)
    stale: list[Path] = []
    for folder in component_folders(components):
        config_file = folder / "gdk-config.json"
        name, version = current_identity(config_file, folder)
        wanted = render(name, version, settings)
        existing = config_file.read_text(encoding="utf-8") if config_file.is_file() else None
        if existing == wanted:
            continue
        stale.append(config_file)
        if not check:
            config_file.write_text(wanted, encoding="utf-8")
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", help="environment in gdk-config/environments.json (default: its default_environment)")
    parser.add_argument("--check", action="store_true", help="only check; exit 1 naming every stale file")
    parser.add_argument("--components-dir", type=Path, default=COMPONENTS)
    parser.add_argument("--environments", type=Path, default=ENVIRONMENTS)
    args = parser.parse_args(argv)
    try:
        stale = sync(args.components_dir, args.environments, args.env, args.check)
    except SyncError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in stale:
        if args.check:
            print(f"stale: {path} differs from {args.environments}; run scripts/sync_gdk_configs.py", file=sys.stderr)
        else:
            print(f"wrote {path}")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
