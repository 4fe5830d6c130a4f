"""The table `make demo` prints, from stored items alone."""

import time
from decimal import Decimal

from local_device.report import detections_table, events_table


def item(frame: str, captured: float, **extra):
    base = {"capturedAt": Decimal(str(captured)), "cameraId": "cam0", "sequence": Decimal(3), "frameId": frame,
            "label": "person", "count": Decimal(2), "inferredAt": Decimal(str(captured + 0.040)),
            "detections": [{"score": Decimal("0.91")}, {"score": Decimal("0.5")}]}
    return base | extra


def test_every_stage_time_comes_from_the_item():
    stages = {"queue": Decimal("5.25"), "read": Decimal("0.2"), "preprocess": Decimal("1.7"),
              "infer": Decimal("30.04"), "postprocess": Decimal("0.4")}
    table = detections_table([item("frame-b", 1000.5, latencyMs=stages, sentAt=Decimal("1000.55")),
                              item("frame-a", 1000.0)])
    lines = table.splitlines()
    assert lines[0].split() == ["captured", "camera", "seq", "frame", "label", "n", "scores", "queue", "read", "pre",
                                "infer", "post", "spool", "capture->sent"]
    older, newer = lines[2].split(), lines[3].split()
    assert older[3] == "frame-a" and newer[3] == "frame-b"  # by capture time
    assert newer[6:] == ["0.91,0.50", "5.2", "0.2", "1.7", "30.0", "0.4", "10.0", "50.0"]
    assert older[7:] == ["-"] * 7  # an item from before stage times were stored


def event(event_id: str, first: float, **extra):
    base = {"event_id": event_id, "label": "person", "first_seen": Decimal(str(first)),
            "last_seen": Decimal(str(first + 8.25)), "duration_s": Decimal("8.25"), "frames": Decimal(61),
            "best_score": Decimal("0.934"), "state": "ended", "end_reason": "unseen", "zones": [], "lines": []}
    return base | extra


def test_the_events_table_shows_each_event_from_its_item_oldest_first():
    snapshot = {"key": "snapshots/dev/cam0/2026/12/06/cam0.2.7/full.jpg", "crop_key": "x"}
    zones = [{"zone": "lawn", "entered": Decimal("1000.0"), "left": Decimal("1003.0")},
             {"zone": "door", "entered": Decimal("1005.0")}]
    lines = [{"line": "walkway", "crossed_in": Decimal(2), "crossed_out": Decimal(0)}]
    table = events_table([event("cam0.2.7", 1000.0, snapshot=snapshot, zones=zones, lines=lines),
                          event("cam0.1.3", 990.0, state="open", snapshot_missing="too old")])
    rows = table.splitlines()
    assert rows[0].split()[:4] == ["event", "label", "start", "end"]
    older, newer = rows[2], rows[3]
    assert older.startswith("cam0.1.3") and "- (too old)" in older and "open (unseen)" in older
    assert newer.startswith("cam0.2.7") and newer.endswith(snapshot["key"])
    assert "8.2" in newer.split() and "0.93" in newer.split() and "61" in newer.split()
    assert "walkway in 2 out 0" in newer
    def minute_second(epoch: float) -> str:
        return time.strftime("%M:%S", time.localtime(epoch))

    assert f"lawn {minute_second(1000)}-{minute_second(1003)},door {minute_second(1005)}-" in newer
