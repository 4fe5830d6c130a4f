import threading
import time

from smartcam.contracts import FrameRef
from ssd_inference.pending import PendingFrames


def frame(camera, seq):
    return FrameRef(frame_id=f"{camera}-{seq}", camera_id=camera, slot=seq % 4, sequence=seq,
                    captured_at=time.time(), captured_monotonic_ns=seq, width=8, height=8, format="bgr8")


def test_only_the_newest_frame_per_camera_is_kept():
    pending = PendingFrames(depth=1)
    for seq in range(1000):
        pending.put(frame("a", seq))
    assert len(pending) == 1 and pending.dropped == 999
    assert pending.get(0).sequence == 999
    assert pending.get(0) is None


def test_cameras_take_turns_and_depth_is_configurable():
    pending = PendingFrames(depth=2)
    for seq in range(3):
        pending.put(frame("a", seq))
    pending.put(frame("b", 0))
    assert [(f.camera_id, f.sequence) for f in iter(lambda: pending.get(0), None)] == [("a", 1), ("b", 0), ("a", 2)]
    assert pending.dropped == 1
    pending.put(frame("a", 5))
    pending.put(frame("a", 6))
    pending.configure(depth=1, max_cameras=64)
    assert pending.dropped == 2 and pending.get(0).sequence == 6


def test_camera_count_is_bounded():
    pending = PendingFrames(depth=1, max_cameras=3)
    for cam in range(10):
        pending.put(frame(f"c{cam}", 0))
    assert len(pending) == 3 and pending.dropped == 7
    assert {pending.get(0).camera_id for _ in range(3)} == {"c7", "c8", "c9"}


def test_wake_returns_a_waiting_get():
    pending = PendingFrames()
    results = []
    waiter = threading.Thread(target=lambda: results.append(pending.get(10_000)))
    waiter.start()
    while not results:
        pending.wake()
        waiter.join(0.05)
    waiter.join(60)
    assert results == [None] and not waiter.is_alive()


def test_every_dropped_frame_is_returned_with_why():
    pending = PendingFrames(depth=2, max_cameras=2)
    assert pending.put(frame("a", 0)) == [] and pending.put(frame("a", 1)) == []
    newest = pending.put(frame("a", 2))
    assert [d.frame.frame_id for d in newest] == ["a-0"]
    assert "newer frame of camera a" in newest[0].reason and "pendingPerCamera = 2" in newest[0].reason

    pending.put(frame("b", 0))
    evicted = pending.put(frame("c", 0))  # a third camera: "a" waited longest
    assert [d.frame.frame_id for d in evicted] == ["a-1", "a-2"]
    assert all("maxCameras = 2" in d.reason and "camera a waited longest" in d.reason for d in evicted)

    pending.put(frame("b", 1))
    lowered = pending.configure(depth=1, max_cameras=1)
    assert [d.frame.frame_id for d in lowered] == ["b-0", "b-1"]  # b's oldest to depth 1, then b's camera
    assert pending.dropped == 5 and [pending.get(0).frame_id] == ["c-0"] and len(pending) == 0


def resent(camera, seq):
    return frame(camera, seq).model_copy(update={"resent": True})


def test_frames_sent_again_wait_in_a_backlog_served_behind_live_frames_without_starving():
    pending = PendingFrames(depth=1, backlog=3)
    for seq in range(3):
        assert pending.put(resent("a", seq)) == []  # not subject to the newest-frame policy
    pending.put(frame("a", 10))
    pending.put(frame("b", 10))
    assert len(pending) == 5
    order = [f.frame_id for f in iter(lambda: pending.get(0), None)]
    assert order == ["a-10", "a-0", "b-10", "a-1", "a-2"]  # live first, then turns while both wait
    assert pending.dropped == 0


def test_a_full_backlog_drops_its_oldest_frame_with_why():
    pending = PendingFrames(depth=1, backlog=2)
    pending.put(resent("a", 0))
    pending.put(resent("a", 1))
    dropped = pending.put(resent("a", 2))
    assert [d.frame.frame_id for d in dropped] == ["a-0"] and "2 frames sent again" in dropped[0].reason
    assert pending.configure(depth=1, max_cameras=1) == []  # the live limits do not apply to the backlog
    assert [pending.get(0).frame_id, pending.get(0).frame_id] == ["a-1", "a-2"] and pending.dropped == 1
