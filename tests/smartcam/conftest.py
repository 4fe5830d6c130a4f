"""Shared fixtures of the foundation tests."""

import logging

import pytest


@pytest.fixture(autouse=True)
def keep_root_logging():
    """run_component configures the root logger for the process; put it back for other tests."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
