"""`make test` runs on two pytest-xdist workers (``-n 2``) with the scheduler below: each test file
is one unit of work, so its module fixtures start once and its tests run in order on one worker;
the files that drive the one local device of ``.local-greengrass/e2e`` (its runtime, frame ring and
spool tmpfs) form a single unit, sent out first, so one worker runs them all while the other runs
the rest. (xdist's own ``--dist loadgroup`` marks do not group under pytest 9: it renames node ids
through an attribute pytest 9 no longer reads.)"""

from __future__ import annotations

from typing import Any

import pytest

SHARED_DEVICE_FOLDERS = ("tests/e2e/", "tests/nucleus_lite/")
SHARED_DEVICE = "local-device"


def work_unit(nodeid: str) -> str:
    """The scheduling unit of a test: its file, or the one shared local device."""
    return SHARED_DEVICE if nodeid.startswith(SHARED_DEVICE_FOLDERS) else nodeid.split("::", 1)[0]


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class SharedDeviceFirst(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

        def schedule(self) -> None:
            if self.collection is None:
                # Units go out in collection order (no reordering by size): the device's unit first.
                self.config.option.loadscopereorder = False
                for node, collection in self.registered_collections.items():
                    self.registered_collections[node] = sorted(
                        collection, key=lambda nodeid: work_unit(nodeid) != SHARED_DEVICE)
            super().schedule()

    return SharedDeviceFirst(config, log)
