"""Detections the spool could not take (disk full, I/O error), held in memory until it can.

Pub/sub does not redeliver, so a message the spool refuses for lack of disk is kept here, in
arrival order, and offered to the spool again; only what exceeds the memory bound is lost (and
counted by the caller). Bounded by items and by their estimated DynamoDB size.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from dynamo_writer.items import SpoolItem


@dataclass(frozen=True)
class HeldMessage:
    frame_id: str
    items: list[SpoolItem]

    @property
    def size(self) -> int:
        return sum(item.size for item in self.items)


class HeldBack:
    """FIFO of messages waiting for the spool; not thread-safe (the receiver serializes access)."""

    def __init__(self, *, max_items: int, max_bytes: int) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._messages: deque[HeldMessage] = deque()
        self.items = 0
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._messages)

    def offer(self, message: HeldMessage) -> bool:
        """Hold ``message`` behind the others; False (nothing held) when it would exceed the bound."""
        if self.items + len(message.items) > self.max_items or self.bytes + message.size > self.max_bytes:
            return False
        self._messages.append(message)
        self.items += len(message.items)
        self.bytes += message.size
        return True

    def oldest(self) -> HeldMessage | None:
        return self._messages[0] if self._messages else None

    def pop_oldest(self) -> HeldMessage:
        message = self._messages.popleft()
        self.items -= len(message.items)
        self.bytes -= message.size
        return message
