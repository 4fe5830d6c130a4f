"""The events benchmark's clips, made from a small video written here (the real one is vtest.avi)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks.event_clips import offset_clip, static_clip

FRAMES = 6


@pytest.fixture
def video(tmp_path: Path) -> Path:
    """A 6-frame 64x48 video whose frame i is a flat gray of level 40 * i."""
    path = tmp_path / "small.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    assert writer.isOpened()
    for index in range(FRAMES):
        writer.write(np.full((48, 64, 3), 40 * index, np.uint8))
    writer.release()
    return path


def _level(path: Path) -> float:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None
    return float(image.mean())


def test_the_static_clip_is_the_still_frame_with_fresh_noise_then_the_video(tmp_path: Path, video: Path):
    clip = static_clip(tmp_path / "clips", still_frame=2, noise_s=0.5, sigma=3.0, source=video, fps=10.0)
    files = sorted(clip.folder.glob("*.jpg"))
    assert (clip.noise_frames, clip.scene_frames, clip.frames) == (5, FRAMES, 11)
    assert len(files) == clip.frames
    assert clip.seconds == pytest.approx(1.1)
    stills = [cv2.imread(str(path), cv2.IMREAD_COLOR).astype(np.float32) for path in files[:5]]
    for still in stills:
        assert still.mean() == pytest.approx(_level(files[5 + 2]), abs=1)  # frame 2's gray
        assert 1.0 < float(still.std()) < 5.0  # with sensor noise
    assert float(np.abs(stills[0] - stills[1]).mean()) > 1.0  # each frame its own noise
    assert [round(_level(path) / 40) for path in files[5:]] == list(range(FRAMES))  # then the video, in order
    assert all(path.is_symlink() for path in files[5:])  # linked, not copied


def test_a_clip_is_made_once_and_again_when_asked_for_another(tmp_path: Path, video: Path):
    first = static_clip(tmp_path / "clips", noise_s=0.3, source=video, fps=10.0)
    made = (first.folder / "000000.jpg").stat().st_mtime_ns
    assert static_clip(tmp_path / "clips", noise_s=0.3, source=video, fps=10.0) == first
    assert (first.folder / "000000.jpg").stat().st_mtime_ns == made  # kept
    shorter = static_clip(tmp_path / "clips", noise_s=0.3, scene_frames=2, source=video, fps=10.0)
    assert len(list(shorter.folder.glob("*.jpg"))) == 3 + 2


def test_an_offset_clip_starts_at_its_offset_and_wraps_around(tmp_path: Path, video: Path):
    folder = offset_clip(tmp_path / "clips", 4, source=video)
    assert [round(_level(path) / 40) for path in sorted(folder.glob("*.jpg"))] == [4, 5, 0, 1, 2, 3]
