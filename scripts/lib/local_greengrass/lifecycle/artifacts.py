"""Put a component's artifacts where the nucleus puts them, with the recipe's Permission as file modes.

Every artifact is copied to packages/artifacts/<name>/<version>/; a `Unarchive: ZIP` one is also
unpacked to packages/artifacts-unarchived/<name>/<version>/<zip name without .zip>/.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from pathlib import Path

from local_greengrass.deployment.recipes import Artifact
from local_greengrass.lifecycle.specs import LaunchSpec
from local_greengrass.paths import RuntimePaths


class ArtifactError(ValueError):
    pass


def file_mode(artifact: Artifact) -> int:
    mode = stat.S_IWUSR
    if artifact.read in ("OWNER", "ALL"):
        mode |= stat.S_IRUSR
    if artifact.read == "ALL":
        mode |= stat.S_IRGRP | stat.S_IROTH
    if artifact.execute in ("OWNER", "ALL"):
        mode |= stat.S_IXUSR
    if artifact.execute == "ALL":
        mode |= stat.S_IXGRP | stat.S_IXOTH
    return mode


def dir_mode(artifact: Artifact) -> int:
    return 0o755 if artifact.read == "ALL" else 0o700


def _remove_tree(path: Path) -> None:
    if not path.exists():
        return
    for folder, dirs, _ in os.walk(path):
        for name in dirs:
            os.chmod(os.path.join(folder, name), 0o700)
    shutil.rmtree(path)


def _unzip(source: Path, target: Path, artifact: Artifact) -> None:
    _remove_tree(target)
    target.mkdir(parents=True, mode=0o700)
    try:
        with zipfile.ZipFile(source) as archive:
            for entry in archive.infolist():
                destination = (target / entry.filename).resolve()
                if not destination.is_relative_to(target.resolve()):
                    raise ArtifactError(f"{source}: entry {entry.filename!r} would unpack outside {target}")
                if entry.is_dir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(entry) as src, open(destination, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                os.chmod(destination, file_mode(artifact))
    except zipfile.BadZipFile as exc:
        raise ArtifactError(f"{source}: not a valid ZIP archive: {exc}") from exc
    for folder, dirs, _ in os.walk(target):
        for name in dirs:
            os.chmod(os.path.join(folder, name), dir_mode(artifact))
    os.chmod(target, dir_mode(artifact))


def install_artifacts(spec: LaunchSpec, paths: RuntimePaths) -> None:
    plain = paths.artifacts(spec.name, spec.version)
    unarchived = paths.unarchived(spec.name, spec.version)
    plain.mkdir(parents=True, exist_ok=True)
    if any(f.artifact.unarchive == "ZIP" for f in spec.artifacts):
        unarchived.mkdir(parents=True, exist_ok=True)
    for item in spec.artifacts:
        copy = plain / item.source.name
        if copy.exists():
            os.chmod(copy, 0o600)
        shutil.copyfile(item.source, copy)
        os.chmod(copy, file_mode(item.artifact))
        if item.artifact.unarchive == "ZIP":
            _unzip(item.source, unarchived / item.source.stem, item.artifact)
    for folder in (plain, unarchived):
        if folder.exists():
            read_all = any(f.artifact.read == "ALL" for f in spec.artifacts)
            os.chmod(folder, 0o755 if read_all else 0o700)
