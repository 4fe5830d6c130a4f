"""A reader racing a writer in another process on a ring of two slots: every frame the reader gets back
is whole and the one it asked for (each pixel says which frame it is), and reads the writer overwrote
meanwhile are detected by the seqlock, counted and thrown away."""

from __future__ import annotations

import subprocess  # nosec B404 - runs this repository's own writer with this interpreter
import sys
from pathlib import Path

import numpy as np

from smartcam.contracts import FrameRef
from smartcam.frame_layout import FILE_HEADER_BYTES, FileHeader, stamp_sequence
from smartcam.frames import FrameExpired, FrameOverwritten, FrameReader, frame_id_of, ring_file_name

WRITER = Path(__file__).with_name("ring_writer.py")
SLOTS, WIDTH, HEIGHT = 2, 1280, 720
MAX_ATTEMPTS = 200_000  # a bound, not a timing: the loop ends as soon as both kinds of read were seen


def expected(sequence: int) -> np.ndarray:
    return np.array([sequence % 256, (sequence + 1) % 256, (sequence + 2) % 256], np.uint8)


def test_a_reader_racing_a_writer_gets_whole_frames_or_detects_the_overwrite(tmp_path: Path):
    root = tmp_path / "frames"
    writer = subprocess.Popen(  # nosec B603
        [sys.executable, str(WRITER), str(root), "cam0", str(SLOTS), str(WIDTH), str(HEIGHT)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
        path = root / "cam0" / ring_file_name(WIDTH, HEIGHT)
        header = FileHeader.unpack(path.read_bytes()[:FILE_HEADER_BYTES])
        stamps = [np.memmap(path, np.uint64, mode="r", offset=header.slot_offset(slot), shape=(1,))
                  for slot in range(SLOTS)]
        reader = FrameReader(root)
        whole = overwritten = expired = 0
        for attempt in range(MAX_ATTEMPTS):
            values = [int(stamp[0]) for stamp in stamps]
            newest = max(stamp_sequence(value) or 0 for value in values if value % 2 == 0)  # whole ones
            # the newest frame, or the one the writer is about to overwrite: both kinds of read, often
            sequence = max(newest - attempt % 2, 0)
            ref = FrameRef(frame_id=frame_id_of("cam0", header.token, sequence), camera_id="cam0",
                           slot=sequence % SLOTS, sequence=sequence, captured_at=1.0, captured_monotonic_ns=1,
                           width=WIDTH, height=HEIGHT, format="bgr8")
            try:
                pixels = reader.copy(ref)
            except FrameOverwritten:
                overwritten += 1
            except FrameExpired:
                expired += 1
            else:
                assert (pixels == expected(sequence)).all(), f"frame {sequence} came back torn or another frame"
                whole += 1
            if whole >= 200 and overwritten >= 5:
                break
        assert whole >= 200 and overwritten >= 5, (whole, overwritten, expired)
        assert reader.overwritten == overwritten
    finally:
        writer.communicate("", timeout=30)
    assert writer.returncode == 0
