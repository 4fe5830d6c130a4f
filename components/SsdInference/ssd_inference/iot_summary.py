"""The compact per-frame summary SsdInference sends to IoT Core (QoS 0)."""

from __future__ import annotations

from collections import Counter

from smartcam.contracts import Detections, DetectionSummary


def summarize(message: Detections, max_boxes: int, frames: int = 1) -> DetectionSummary:
    """Counts per label over every detection, and the first ``max_boxes`` boxes (the decoders put
    the best first), rounded. ``frames``: the camera's frames inferred since its last summary, this one
    included."""
    labels = Counter(d.label for d in message.detections)
    return DetectionSummary(
        frame_id=message.frame.frame_id,
        camera_id=message.frame.camera_id,
        request_id=message.frame.request_id,
        captured_at=round(message.frame.captured_at, 3),
        model=f"{message.model.name}@{message.model.version}",
        backend=message.model.backend,
        count=len(message.detections),
        labels=dict(labels),
        boxes=[
            (d.label, round(d.score, 3), *(round(v, 4) for v in (d.box.x1, d.box.y1, d.box.x2, d.box.y2)))
            for d in message.detections[:max_boxes]
        ],
        infer_ms=message.latency.infer_ms,
        frames=frames,
    )
