"""Fake IoT Core messages of a canary device and a fake MQTT connection that delivers them."""

from __future__ import annotations

import queue

from fleet.mqtt import Message
from smartcam.contracts import DetectionSummary, Health

THING = "cam-1"


def summary(version: str, count: int, infer_ms: float = 40.0, thing: str = THING,
            frames: int | None = None) -> Message:
    message = DetectionSummary(frame_id="f1", camera_id="cam0", captured_at=1.7e9, model=f"ssd@{version}",
                               backend="dlr", count=count, labels={"person": count} if count else {}, boxes=[],
                               infer_ms=infer_ms, frames=frames)
    return Message(f"smartcam/{thing}/detections", message.to_bytes())


def status(detail: str) -> Message:
    health = Health(component="smartcam.SsdInference", state="errored", detail=detail, counters={"suppressed": 2},
                    at=1.7e9)
    return Message(f"smartcam/{THING}/status/smartcam.SsdInference", health.to_bytes())


class Inbox(queue.Queue):
    """Messages as they arrive; an empty inbox answers at once (the fake clock, not time, ends a window).
    ``later`` arrive once the inbox has been drained (the watch drains it after the canary deployment)
    and someone waits for a message again."""

    def __init__(self) -> None:
        super().__init__()
        self.later: list[Message] = []
        self.drained = False

    def get_nowait(self) -> Message:
        self.drained = True
        return super().get(block=False)

    def get(self, block: bool = True, timeout: float | None = None) -> Message:
        if block and self.drained and self.empty():
            for message in self.later:
                self.put(message)
            self.later = []
        return super().get(block=False)


class FakeConnection:
    def __init__(self) -> None:
        self.messages = Inbox()
        self.subscribed: list[str] = []

    def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        self.subscribed.append(topic_filter)
