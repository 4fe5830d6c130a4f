"""The one reader of the frame ring: a frame's JPEG while the ring has it, None after (or when refused)."""

from __future__ import annotations

from operator_view.frame_source import FrameSource
from tests.operator_view.helpers import shade_of, write_frame


def test_a_frame_in_the_ring_is_made_a_jpeg_and_one_recycled_is_none(ring):
    frame = write_frame(ring, shade=90)
    source = FrameSource(ring.root)
    data = source.jpeg(frame)
    assert data is not None and shade_of(data) == 90
    for _ in range(ring.slots):  # every slot written again: the frame is gone
        write_frame(ring)
    assert source.jpeg(frame) is None


def test_a_reference_the_ring_refuses_is_none(ring, tmp_path):
    frame = write_frame(ring)
    assert FrameSource(ring.root).jpeg(frame.model_copy(update={"slot": ring.slots + 5})) is None
    assert FrameSource(ring.root).jpeg(frame.model_copy(update={"sequence": frame.sequence + 7})) is None
    assert FrameSource(tmp_path / "other-root").jpeg(frame) is None
