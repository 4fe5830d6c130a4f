"""Snapshots: the best frame copied out of the real ring at once, written as JPEG (the whole frame at the
camera's quality and a crop) when a message names it, private and whole, replaced by a better one
(a picture replaced before the next message is never encoded), kept when the ring reused the slot
first, and bounded in count and bytes with the receipted events' snapshots deleted first."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest

from event_tracker import snapshots as snapshots_module
from event_tracker.settings import SnapshotSettings
from event_tracker.snapshots import CROP, FULL, Snapshots, crop
from smartcam import topics
from smartcam.contracts import TrackEvent
from smartcam.frames import FrameRing, encode_jpeg, frame_as_jpeg
from tests.event_tracker.component import T0, detection, detections_of, open_event, scene

BOX = (0.3, 0.3, 0.4, 0.7)


def image_of(path: Path) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, path
    return image


def test_the_snapshot_is_the_rings_jpeg_and_a_crop_around_the_box_private_and_whole(started, frame_root):
    tracker = started(snapshots={"cropMargin": 0.2, "jpegQuality": 90})
    refs = [tracker.frame(i / 10, [BOX]) for i in range(3)]
    [start] = tracker.events()
    snapshot = start.snapshot
    assert snapshot is not None and snapshot.frame_id == refs[0].frame_id  # the first of equal detections
    assert (snapshot.captured_at, snapshot.score) == (T0, 0.9)
    assert (snapshot.box.x1, snapshot.box.y1, snapshot.box.x2, snapshot.box.y2) == BOX
    full, cropped = Path(snapshot.path), Path(snapshot.crop_path)
    assert full.read_bytes() == frame_as_jpeg(refs[0], frame_root)  # the frame at the camera's JPEG quality
    # 0.1 x 0.4 of 320 x 240 and 20 % on each side: x 89..135, y 52..188
    assert image_of(cropped).shape == (136, 46, 3)
    assert snapshot.bytes == full.stat().st_size + cropped.stat().st_size
    assert full.parent.name == start.event_id and full.parent.parent == tracker.app.snapshots.root
    assert stat.S_IMODE(full.parent.stat().st_mode) == 0o750
    assert {stat.S_IMODE(p.stat().st_mode) for p in (full, cropped)} == {0o640}
    # named by the frame, so a file's content never changes; no temporary file left
    names = [f"{snapshot.frame_id}.{CROP}", f"{snapshot.frame_id}.{FULL}"]
    assert sorted(p.name for p in full.parent.iterdir()) == names


def test_a_clearly_better_snapshot_replaces_the_files_and_rides_with_the_next_messages(started):
    tracker = started(updateIntervalS=0.5)
    refs = []
    for i in range(10):  # someone walking towards the camera: 15 % larger every frame
        scale = 1.15**i
        refs.append(tracker.frame(i / 10, [(0.4, 0.2, 0.4 + 0.04 * scale, 0.2 + 0.12 * scale)]))
    tracker.clock.now += 11
    tracker.app.tick()
    start, *_, end = tracker.events()
    assert start.snapshot is not None and end.snapshot is not None
    # a better picture is written beside the old one, which goes: the last message names the files there are
    assert end.snapshot.frame_id in {ref.frame_id for ref in refs[4:]} and end.snapshot.path != start.snapshot.path
    assert end.snapshot.box.y2 > start.snapshot.box.y2
    assert end.snapshot.bytes == sum(Path(p).stat().st_size for p in (end.snapshot.path, end.snapshot.crop_path))
    assert sorted(p.name for p in Path(end.snapshot.path).parent.iterdir()) == [
        Path(end.snapshot.crop_path).name, Path(end.snapshot.path).name]
    assert tracker.app.telemetry.counters["snapshotsWritten"] >= 3 and len(tracker.app.snapshots) == 1


def test_better_pictures_between_two_messages_are_held_and_only_the_last_is_encoded(started, monkeypatch):
    encodes = []
    real_encode = snapshots_module.encode_jpeg

    def counting_encode(image, quality):
        encodes.append(image.shape)
        return real_encode(image, quality)

    monkeypatch.setattr(snapshots_module, "encode_jpeg", counting_encode)
    tracker = started(updateIntervalS=100)  # no update between the start and the end
    refs = []
    for i in range(10):  # walking towards the camera: a better picture nearly every frame
        scale = 1.15**i
        refs.append(tracker.frame(i / 10, [(0.4, 0.2, 0.4 + 0.04 * scale, 0.2 + 0.12 * scale)]))
    tracker.clock.now += 11
    tracker.app.tick()
    start, end = tracker.events()
    assert (start.kind, end.kind) == ("start", "end") and end.snapshot is not None
    assert end.snapshot.frame_id in {ref.frame_id for ref in refs[4:]}
    # one whole frame encoded per message that carried a new picture, none for those replaced meanwhile
    assert len(encodes) == tracker.app.telemetry.counters["snapshotsWritten"] == 2


def test_a_frame_the_ring_recycled_first_leaves_the_snapshot_as_it_was(started, frame_root):
    tracker = started(tracking={"confirmHits": 1})
    ring = FrameRing(frame_root, "cam7", capacity=1)
    late = ring.write(tracker.pixels, captured_at=T0, captured_monotonic_ns=1)
    ring.write(tracker.pixels, captured_at=T0 + 0.1, captured_monotonic_ns=2)
    tracker.nucleus.send(topics.DETECTIONS, detections_of(late, [detection(BOX)]))  # too late for the ring
    [start] = tracker.events()
    assert start.kind == "start" and start.snapshot is None
    assert tracker.app.telemetry.counters["snapshotsExpired"] == 1 and len(tracker.app.snapshots) == 0


def test_no_snapshot_when_turned_off(started):
    tracker = started(snapshots={"enabled": False})
    open_event(tracker)
    assert all(e.snapshot is None for e in tracker.events()) and not any(tracker.app.snapshots.root.iterdir())


def events_one_after_another(tracker, count: int) -> list[TrackEvent]:
    """``count`` people, one after another (each event ended before the next starts); their ends."""
    for n in range(count):
        open_event(tracker, start=20.0 * n)
    return [e for e in tracker.events() if e.kind == "end"]


def newest_event(tracker) -> str:
    return [e for e in tracker.events() if e.kind == "start"][-1].event_id


def test_snapshots_beyond_max_count_are_deleted_oldest_first_the_receipted_before_the_unsent(started):
    tracker = started(snapshots={"maxCount": 2})
    first, second = events_one_after_another(tracker, 2)
    tracker.receipt([second])  # the writer has the second event (and its snapshot), not the first
    open_event(tracker, start=40.0)  # a third: one too many
    kept = {p.name for p in tracker.app.snapshots.root.iterdir()}
    third = newest_event(tracker)
    assert kept == {first.event_id, third}  # the receipted one went, although it is newer
    counters = tracker.app.telemetry.counters
    assert (counters["snapshotsPruned"], counters["snapshotsPrunedUnsent"]) == (1, 0)

    open_event(tracker, start=60.0)  # nothing receipted left: the oldest unsent one goes, and is reported
    fourth = newest_event(tracker)
    assert {p.name for p in tracker.app.snapshots.root.iterdir()} == {third, fourth}
    assert (counters["snapshotsPruned"], counters["snapshotsPrunedUnsent"]) == (2, 1)
    status = tracker.nucleus.on_iot(topics.iot_component_status("tracker-thing", "smartcam.EventTracker"))
    assert "snapshots deleted before the writer receipted their events" in status[-1]["detail"]


def test_snapshots_beyond_max_mb_are_deleted_but_the_newest_is_kept(started):
    one = len(encode_jpeg(scene(), 85)) / 1024 / 1024  # the camera's default quality
    tracker = started(snapshots={"maxMb": one * 1.5})  # room for one full frame and its crop, not two
    ends = events_one_after_another(tracker, 3)
    tracker.receipt(ends)
    assert [p.name for p in tracker.app.snapshots.root.iterdir()] == [ends[-1].event_id]
    tracker.nucleus.update(snapshots={"maxCount": 1, "maxMb": one / 10})  # smaller than one snapshot
    tracker.app.tick()
    assert len(tracker.app.snapshots) == 1  # the newest stays whatever the bounds


def test_a_restart_adopts_whole_snapshots_oldest_first_and_removes_half_written_ones(tmp_path):
    root = tmp_path / "snapshots"
    for n, name in enumerate(("cam0.1.1", "cam0.2.1", "cam0.3.1")):
        folder = root / name
        folder.mkdir(parents=True)
        for part in (FULL, CROP):
            (folder / f"f{n}.{part}").write_bytes(b"x" * (n + 1) * 10)
            os.utime(folder / f"f{n}.{part}", (1000 + n, 1000 + n))
    (root / "cam0.2.1" / f".tmp-f9.{FULL}").write_bytes(b"half")  # a replacement a crash cut short
    (root / "cam0.3.1" / f"f0.{FULL}").write_bytes(b"replaced")  # an older picture a crash left behind
    (root / "cam0.3.1" / f"f0.{CROP}").write_bytes(b"replaced")
    os.utime(root / "cam0.3.1" / f"f0.{FULL}", (900, 900))
    os.utime(root / "cam0.3.1" / f"f0.{CROP}", (900, 900))
    (root / "cam0.4.1").mkdir()
    (root / "cam0.4.1" / f"f4.{FULL}").write_bytes(b"only the full frame")
    (root / "stray-file").write_bytes(b"?")
    os.utime(root / "cam0.1.1" / f"f0.{FULL}", (2000, 2000))  # the first one was replaced last: the newest
    snapshots = Snapshots(root)
    assert len(snapshots) == 3 and snapshots.total_bytes == 2 * (10 + 20 + 30)
    assert sorted(p.name for p in root.iterdir()) == ["cam0.1.1", "cam0.2.1", "cam0.3.1"]
    assert not (root / "cam0.2.1" / f".tmp-f9.{FULL}").exists()
    assert sorted(p.name for p in (root / "cam0.3.1").iterdir()) == [f"f2.{CROP}", f"f2.{FULL}"]
    pruned = snapshots.prune(SnapshotSettings(max_count=1), waiting=lambda _: False)
    assert pruned.receipted == 2 and [p.name for p in root.iterdir()] == ["cam0.1.1"]


def test_a_symlink_planted_as_an_event_folder_is_refused_not_followed(started, tmp_path):
    tracker = started()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tracker.app.snapshots.root / f"cam0.{round(T0 * 1000)}.1").symlink_to(elsewhere)
    open_event(tracker, end=False)
    assert tracker.events()[0].snapshot is None and not any(elsewhere.iterdir())
    assert tracker.app.telemetry.counters["snapshotFailed"] == 1


@pytest.mark.parametrize(("box", "shape"), [
    ((0.0, 0.0, 0.1, 0.1), (29, 39)),  # at the corner: the margin is cut by the frame
    ((0.95, 0.95, 1.0, 1.0), (15, 20)),
    ((0.5, 0.5, 0.5, 0.5), (1, 1)),  # a box of no size still gives a pixel
])
def test_the_crop_stays_inside_the_frame(box, shape):
    cropped = cv2.imdecode(np.frombuffer(crop(scene(), box, 0.2, 90), np.uint8), cv2.IMREAD_COLOR)
    assert cropped.shape[:2] == shape
