"""`make test` runs on pytest-xdist workers (``--dist loadgroup``). Each test file is one group, so
its module fixtures start once and its tests run in order on one worker; the files that drive the
one local device of ``.local-greengrass/e2e`` (its runtime, frame ring and spool tmpfs) share one
group, so one worker runs them all while the other runs the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
SHARED_DEVICE = frozenset({"e2e", "nucleus_lite"})


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups from the marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(item.path).resolve().relative_to(TESTS)
        group = "local-device" if path.parts[0] in SHARED_DEVICE else path.as_posix()
        item.add_marker(pytest.mark.xdist_group(group))
