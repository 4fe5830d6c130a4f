"""Headless Chromium (Debian's package, installed by scripts/setup-system) driven by Playwright, for the
operator page's browser test and its CPU benchmark. Playwright's wheel carries its driver; the browser
is the system's, so nothing is downloaded."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
# No sandbox (as root), no GPU, and none of Chromium's own network traffic (this machine reaches no
# Google host): the page's requests are the only ones.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"]


@contextmanager
def headless_chromium() -> Iterator[Browser]:
    """A headless Chromium with a new empty profile, closed at the end."""
    if not CHROMIUM.exists():
        raise FileNotFoundError(f"{CHROMIUM} is missing: scripts/setup-system installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()
