"""Detections the spool could not take (disk full, I/O error), held in memory until it can.

Pub/sub does not redeliver, so a message the spool refuses for lack of disk is kept here, in
arrival order, and offered to the spool again; only what exceeds the memory bound is lost (and
counted by the caller). Bounded by items, by their estimated DynamoDB size and by messages (a
frame without detections has no items but is held too: it is receipted once it is spooled).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from dynamo_writer.items import SpoolItem
from dynamo_writer.spool import FrameKey


@dataclass(frozen=True)
class HeldMessage:
    frame: FrameKey
    items: list[SpoolItem]
    summarized: bool = False  # detections not stored per frame (store mode events): see Spool.put

    @property
    def frame_id(self) -> str:
        return self.frame.frame_id

    @property
    def size(self) -> int:
        return sum(item.size for item in self.items)


class HeldBack:
    """FIFO of messages waiting for the spool; not thread-safe (the receiver serializes access)."""

    def __init__(self, *, max_items: int, max_bytes: int, max_messages: int | None = None) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.max_messages = max_items if max_messages is None else max_messages
        self._messages: deque[HeldMessage] = deque()
        self._frame_ids: set[str] = set()
        self.items = 0
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._messages)

    def __contains__(self, frame_id: object) -> bool:
        return frame_id in self._frame_ids

    def offer(self, message: HeldMessage) -> bool:
        """Hold ``message`` behind the others; False (nothing held) when it would exceed the bound."""
        if (self.items + len(message.items) > self.max_items or self.bytes + message.size > self.max_bytes
                or len(self._messages) >= self.max_messages):
            return False
        self._messages.append(message)
        self._frame_ids.add(message.frame_id)
        self.items += len(message.items)
        self.bytes += message.size
        return True

    def oldest(self) -> HeldMessage | None:
        return self._messages[0] if self._messages else None

    def pop_oldest(self) -> HeldMessage:
        message = self._messages.popleft()
        self._frame_ids.discard(message.frame_id)
        self.items -= len(message.items)
        self.bytes -= message.size
        return message
