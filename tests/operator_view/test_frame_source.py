"""The one reader of the frame ring: a frame's JPEG while the ring has it, None after (or when refused)."""

from __future__ import annotations

from operator_view.frame_source import FrameSource
from tests.operator_view.helpers import jpeg, write_frame


def test_a_frame_in_the_ring_is_read_and_one_recycled_is_none(ring):
    frame = write_frame(ring)
    source = FrameSource(ring.root)
    assert source.jpeg(frame) == jpeg()
    for _ in range(3):  # capacity 3
        write_frame(ring)
    assert source.jpeg(frame) is None


def test_a_reference_outside_the_ring_is_none(ring, tmp_path):
    frame = write_frame(ring)
    elsewhere = tmp_path / "elsewhere.jpg"
    elsewhere.write_bytes(jpeg())
    assert FrameSource(ring.root).jpeg(frame.model_copy(update={"path": str(elsewhere)})) is None
    assert FrameSource(tmp_path / "other-root").jpeg(frame) is None
