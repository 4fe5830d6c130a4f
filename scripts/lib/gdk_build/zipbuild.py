"""GDK's zip build system: which files ship, the zip-build/<folder>/ copy and the artifact zip.

File selection follows GDK 1.6.2 exactly: the exclude patterns are globbed (recursive) from the
component folder and a path is left out when it, or a folder above it, matched. Without
``build.options`` the patterns are gdk-config.json, greengrass-build, the recipe file,
``**/test*``, ``**/.*`` and ``**/node_modules``; with any option set only the first three plus
``options.excludes``. Unlike ``shutil.make_archive`` (what GDK uses) the zip here is reproducible:
entries sorted, fixed timestamps and permissions, so unchanged sources give a byte-identical zip.
"""

from __future__ import annotations

import glob
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from gdk_build.errors import BuildError

ALWAYS_EXCLUDED = ("gdk-config.json", "greengrass-build")
DEFAULT_EXCLUDES = ("**/test*", "**/.*", "**/node_modules")
# Folders at the project root GDK never sees when it copies: it deletes zip-build/ first, and the
# staging folders are this build's own (hidden, and removed when a build ends).
OWN_OUTPUT = "zip-build"
STAGING_PREFIX = ".gdk-build-"  # hidden, so GDK's default excludes skip it as well
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Selection:
    dirs: list[PurePosixPath]
    files: list[PurePosixPath]


def exclude_patterns(options: dict[str, Any], recipe_name: str) -> list[str]:
    patterns = [*ALWAYS_EXCLUDED, recipe_name]
    if not options:
        patterns.extend(DEFAULT_EXCLUDES)
    else:
        patterns.extend(str(p) for p in options.get("excludes", []))
    return patterns


def select(folder: Path, patterns: list[str]) -> Selection:
    root = folder.resolve()
    unwanted: set[str] = set()
    for pattern in patterns:
        unwanted |= set(glob.glob(f"{glob.escape(str(root))}{os.sep}{pattern}", recursive=True))
    dirs: list[PurePosixPath] = []
    files: list[PurePosixPath] = []
    seen_dirs: set[str] = set()

    def walk(directory: Path, relative: PurePosixPath) -> None:
        real = os.path.realpath(directory)
        if real in seen_dirs:
            raise BuildError(directory, "symbolic link loop; the zip build would copy forever")
        seen_dirs.add(real)
        for name in sorted(os.listdir(directory)):
            path = directory / name
            if str(path) in unwanted or f"{path}{os.sep}" in unwanted:
                continue
            if directory == root and (name == OWN_OUTPUT or name.startswith(STAGING_PREFIX)):
                continue
            if path.is_dir():
                dirs.append(relative / name)
                walk(path, relative / name)
            elif path.is_file():
                files.append(relative / name)
            elif path.is_symlink():
                raise BuildError(path, "broken symbolic link; GDK's copy of the folder would fail on it")
        seen_dirs.discard(real)

    walk(root, PurePosixPath())
    return Selection(dirs=dirs, files=files)


def copy_selection(folder: Path, selection: Selection, destination: Path) -> None:
    destination.mkdir(parents=True)
    for relative in selection.dirs:
        (destination / relative).mkdir(parents=True, exist_ok=True)
    for relative in selection.files:
        target = destination / relative
        shutil.copyfile(folder / relative, target)
        target.chmod(_normal_mode(folder / relative))


def _normal_mode(path: Path) -> int:
    """0o755 for anything executable, else 0o644: the umask of a checkout must not change the zip."""
    return 0o755 if os.stat(path).st_mode & 0o111 else 0o644


def write_zip(source: Path, selection: Selection, zip_path: Path) -> None:
    """Zip ``source`` (the zip-build copy) with entries relative to it, like make_archive(root_dir=...)."""
    entries = [(str(d) + "/", None) for d in selection.dirs] + [(str(f), source / f) for f in selection.files]
    with zipfile.ZipFile(zip_path, "w") as archive:
        for arcname, path in sorted(entries, key=lambda entry: entry[0]):
            info = zipfile.ZipInfo(arcname, date_time=ZIP_EPOCH)
            info.create_system = 3  # unix, so external_attr carries permissions
            if path is None:
                info.external_attr = (0o40755 << 16) | 0x10
                info.compress_type = zipfile.ZIP_STORED
                archive.writestr(info, b"")
                continue
            info.external_attr = (0o100000 | _normal_mode(path)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.file_size = path.stat().st_size
            with path.open("rb") as src, archive.open(info, "w", force_zip64=info.file_size > 2**31) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
