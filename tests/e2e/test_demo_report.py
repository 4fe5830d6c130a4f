"""The table `make demo` prints, from stored items alone."""

from decimal import Decimal

from local_device.report import detections_table


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
