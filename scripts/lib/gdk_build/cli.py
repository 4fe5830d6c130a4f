"""Build every component the way ``gdk component build`` (GDK CLI 1.6.2, zip build system) does.

GDK itself is not installable from PyPI, so CI and fresh machines use this instead; a GDK user can
still run ``cd components/X && gdk component build`` and gets the same files. For each component
folder it checks gdk-config.json against GDK's config schema, finds exactly one recipe, checks its
size, zips the folder with GDK's default excludes into zip-build/, copies the artifacts the recipe's
s3 URIs name into greengrass-build/artifacts/<name>/<version>/ and writes the transformed recipe to
greengrass-build/recipes/. It also refuses Python imports the shared runtime venv does not provide.
Any problem: a message naming the file, exit code 2, and no component's output is touched.

    scripts/build_components.py                          # all components, dependencies first
    scripts/build_components.py --component CameraIngest  # just one (repeatable)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from gdk_build.build import build_all
from gdk_build.errors import BuildError, shown
from gdk_build.project import BUNDLED_SCHEMAS, load_schemas
from repo_layout import REPO_ROOT

EXIT_BAD_INPUT = 2


def _flatten(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _flatten(inner)]
    return [error]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--component", action="append", metavar="FOLDER",
                        help="component folder name under --components-dir (repeatable; default: all)")
    parser.add_argument("--components-dir", type=Path, default=REPO_ROOT / "components")
    parser.add_argument("--schemas", type=Path, default=Path(os.environ.get("SMARTCAM_GDK_SCHEMAS", BUNDLED_SCHEMAS)),
                        help="folder with GDK's gdk-config.schema.json and greengrass-recipe.schema.json")
    args = parser.parse_args(argv)
    try:
        schemas = load_schemas(args.schemas)
        plans = build_all(args.components_dir, schemas, args.component)
    except (BuildError, ExceptionGroup) as exc:
        for error in _flatten(exc):
            print(f"build failed: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for plan in plans:
        project = plan.project
        print(f"built {project.name} {project.version}: {shown(project.folder / 'greengrass-build')} "
              f"({plan.zip_file_name}, {len(plan.selection.files)} files)")
        shipped_bytecode = [f for f in plan.selection.files if f.suffix == ".pyc"]
        if shipped_bytecode:
            print(f"note: {shown(project.folder)} ships {len(shipped_bytecode)} .pyc files from __pycache__ "
                  "(GDK would too); run with PYTHONDONTWRITEBYTECODE=1 or delete them for a reproducible zip")
    return 0


if __name__ == "__main__":
    sys.exit(main())
