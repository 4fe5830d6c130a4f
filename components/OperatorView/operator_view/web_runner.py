"""Runs an aiohttp application on its own thread and event loop, so the component's main thread and
the IPC client's threads never wait on HTTP."""

from __future__ import annotations

import asyncio
import logging
import threading

from aiohttp import web

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 5.0


class WebRunner:
    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self._app = app
        self.host = host
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        self._thread = threading.Thread(target=self._loop.run_forever, name="operator-view-http", daemon=True)

    def start(self) -> None:
        """Listen (raises OSError when the address cannot be bound), then serve on the thread."""
        try:
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self.host, self.port)
            self._loop.run_until_complete(site.start())
        except BaseException:
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()
            raise
        addresses = self._runner.addresses
        if addresses and self.port == 0:
            self.port = addresses[0][1]
        self._thread.start()
        log.info("page served on http://%s:%d/", self.host, self.port)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        cleanup = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        try:
            cleanup.result(STOP_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - stopping goes on whatever the cleanup says
            log.warning("the page's server did not stop cleanly: %s", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(STOP_TIMEOUT_S)
        self._loop.close()
