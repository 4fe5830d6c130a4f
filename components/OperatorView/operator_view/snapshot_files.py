"""Event snapshots as EventTracker keeps them (``<its work folder>/snapshots/<event id>/<frame id>.{full,crop}.jpg``,
see event_tracker.snapshots), read for the page.

A path comes from an event message, so it is checked like anything from a peer: it must lie in the
snapshot folder, in the event's own folder, and be a regular file of bounded size; a symlink there is
refused, never followed. A snapshot EventTracker has since replaced or pruned is simply gone (None).
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024


class SnapshotFiles:
    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.abspath(root))

    def read(self, event_id: str, path: str) -> bytes | None:
        """The JPEG at ``path`` (an event's snapshot path), or None when it is gone or not allowed."""
        candidate = Path(os.path.abspath(path))
        if candidate.parent != self.root / event_id or not candidate.name.endswith(".jpg"):
            log.warning("snapshot path %s of event %s is not in %s; refused", path, event_id, self.root / event_id)
            return None
        try:
            folder = os.open(candidate.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            fd = os.open(candidate.name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ELOOP):
                log.warning("snapshot %s could not be opened: %s", candidate, exc)
            return None
        finally:
            os.close(folder)
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_SNAPSHOT_BYTES:
            os.close(fd)
            return None
        with os.fdopen(fd, "rb", buffering=0) as handle:
            data = handle.read(MAX_SNAPSHOT_BYTES + 1)
        return data if len(data) <= MAX_SNAPSHOT_BYTES else None
