"""The clips of the events benchmark, as folders of JPEGs that a folder camera (CameraIngest's
``folder`` source) replays in name order: a frame is decoded only when a capture keeps it, and there
is no container to seek or re-encode (OpenCV here writes only its own MJPG, at a quality it does not let
us set).

- the static clip: one frame of vtest.avi with sensor noise (Gaussian, ``sigma`` gray levels, fresh
  for every frame: local_device.video.noisy_stills) for ``noise_s``, then the whole of vtest.avi;
- one clip per camera of the multi-camera run: vtest.avi from frame ``offset`` to its end, then from
  its start (a camera that loops it starts elsewhere in the scene).

Every frame of vtest.avi is written once as a JPEG; the clips link to those files, so the static clip
and four replays cost one copy of the video on disk. A clip is made once and kept (a stamp file says
what it was made of).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from local_device.video import VTEST, VTEST_FPS, noisy_stills

JPEG_QUALITY = 95
STAMP = "clip.json"


@dataclass(frozen=True)
class StaticClip:
    folder: Path
    still_frame: int  # index in vtest.avi of the frame held still
    noise_s: float
    sigma: float
    fps: float
    noise_frames: int
    scene_frames: int
    jpeg_quality: int

    @property
    def frames(self) -> int:
        return self.noise_frames + self.scene_frames

    @property
    def seconds(self) -> float:
        return self.frames / self.fps


def _frame_name(index: int) -> str:
    return f"{index:06d}.jpg"


def _write_jpeg(path: Path, image: np.ndarray) -> None:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError(f"cannot encode {path.name}")
    path.write_bytes(data.tobytes())


def video_jpegs(folder: Path, source: Path = VTEST) -> list[Path]:
    """Every frame of the video ``source`` as a JPEG in ``folder`` (written once)."""
    stamp = {"source": str(source), "quality": JPEG_QUALITY}
    if _stamped(folder, stamp):
        return sorted(folder.glob("*.jpg"))
    if not source.is_file():
        raise SystemExit(f"{source} is missing (vtest.avi: Debian's opencv-doc package, see scripts/setup-system)")
    _fresh(folder)
    capture = cv2.VideoCapture(str(source))
    try:
        index = 0
        while True:
            ok, image = capture.read()
            if not ok:
                break
            _write_jpeg(folder / _frame_name(index), image)
            index += 1
    finally:
        capture.release()
    if index == 0:
        raise SystemExit(f"no frames read from {source}")
    _stamp(folder, stamp)
    return sorted(folder.glob("*.jpg"))


def static_clip(root: Path, *, still_frame: int = 0, noise_s: float = 60.0, sigma: float = 3.0,
                scene_frames: int | None = None, source: Path = VTEST, fps: float = VTEST_FPS) -> StaticClip:
    """``root``/static: frame ``still_frame`` of ``source`` with fresh sensor noise for ``noise_s`` at
    the video's rate ``fps``, then the video (its first ``scene_frames``; None: all of it)."""
    scene = video_jpegs(root / "video", source)[:scene_frames]
    clip = StaticClip(folder=root / "static", still_frame=still_frame, noise_s=noise_s, sigma=sigma, fps=fps,
                      noise_frames=round(noise_s * fps), scene_frames=len(scene), jpeg_quality=JPEG_QUALITY)
    stamp = {"source": str(source), **{key: str(value) if isinstance(value, Path) else value
                                       for key, value in asdict(clip).items()}}
    if _stamped(clip.folder, stamp):
        return clip
    _fresh(clip.folder)
    still = cv2.imread(str(scene[still_frame]), cv2.IMREAD_COLOR)
    for index, image in enumerate(noisy_stills(still, clip.noise_frames, sigma)):
        _write_jpeg(clip.folder / _frame_name(index), image)
    for index, frame in enumerate(scene, start=clip.noise_frames):
        (clip.folder / _frame_name(index)).symlink_to(os.path.relpath(frame, clip.folder))
    _stamp(clip.folder, stamp)
    return clip


def offset_clip(root: Path, offset: int, source: Path = VTEST) -> Path:
    """``root``/offset-<offset>: the video ``source`` from frame ``offset`` on, then from its start."""
    scene = video_jpegs(root / "video", source)
    folder = root / f"offset-{offset}"
    stamp = {"source": str(source), "offset": offset, "frames": len(scene)}
    if _stamped(folder, stamp):
        return folder
    _fresh(folder)
    for index in range(len(scene)):
        frame = scene[(offset + index) % len(scene)]
        (folder / _frame_name(index)).symlink_to(os.path.relpath(frame, folder))
    _stamp(folder, stamp)
    return folder


def _stamped(folder: Path, stamp: dict[str, object]) -> bool:
    try:
        return bool(json.loads((folder / STAMP).read_text()) == stamp)
    except (OSError, ValueError):
        return False


def _stamp(folder: Path, stamp: dict[str, object]) -> None:
    (folder / STAMP).write_text(json.dumps(stamp))  # last: a clip cut short by a crash has none


def _fresh(folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
