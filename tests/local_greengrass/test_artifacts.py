"""Artifacts land where the nucleus puts them, with Permission as file modes; a hostile zip is refused."""

import stat
import zipfile
from pathlib import Path

import pytest

from local_greengrass.deployment.recipes import Artifact
from local_greengrass.lifecycle.artifacts import ArtifactError, install_artifacts
from local_greengrass.lifecycle.specs import ArtifactFile, LaunchSpec
from local_greengrass.paths import RuntimePaths


def zip_with(path: Path, entries: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in entries.items():
            archive.writestr(name, text)
    return path


def spec_for(files: list[ArtifactFile]) -> LaunchSpec:
    return LaunchSpec(name="test.Thing", version="1.0.0", configuration={}, artifacts=files)


def test_zip_unpacks_into_a_folder_named_after_it_with_modes(tmp_path: Path) -> None:
    paths = RuntimePaths(tmp_path / "root")
    archive = zip_with(tmp_path / "Thing.zip", {"Thing/main.py": "print(1)", "model/weights.bin": "w"})
    model = tmp_path / "labels.txt"
    model.write_text("cat\n")
    install_artifacts(spec_for([
        ArtifactFile(Artifact(uri="s3://b/Thing.zip", unarchive="ZIP", read="ALL"), archive),
        ArtifactFile(Artifact(uri="s3://b/labels.txt", execute="OWNER"), model),
    ]), paths)
    unpacked = paths.unarchived("test.Thing", "1.0.0") / "Thing"
    assert (unpacked / "Thing/main.py").read_text() == "print(1)"
    assert stat.S_IMODE((unpacked / "model/weights.bin").stat().st_mode) & 0o444 == 0o444
    copied = paths.artifacts("test.Thing", "1.0.0") / "labels.txt"
    assert copied.read_text() == "cat\n"
    mode = stat.S_IMODE(copied.stat().st_mode)
    assert mode & stat.S_IXUSR and not mode & (stat.S_IRGRP | stat.S_IROTH)
    # A second deployment of the same version replaces the read-only tree.
    install_artifacts(spec_for([ArtifactFile(Artifact(uri="s3://b/Thing.zip", unarchive="ZIP"), archive)]), paths)
    assert stat.S_IMODE((unpacked / "Thing/main.py").stat().st_mode) & 0o077 == 0


def test_zip_slip_is_refused(tmp_path: Path) -> None:
    archive = zip_with(tmp_path / "Evil.zip", {"../../escape.txt": "x"})
    with pytest.raises(ArtifactError, match="outside"):
        install_artifacts(spec_for([ArtifactFile(Artifact(uri="s3://b/Evil.zip", unarchive="ZIP"), archive)]),
                          RuntimePaths(tmp_path / "root"))
    assert not (tmp_path / "root/packages/escape.txt").exists()
