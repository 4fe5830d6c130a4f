"""The page's HTTP server (aiohttp): read-only, every input checked, a token when one is configured.

- Only GET and HEAD: any other method is 405 before anything else looks at the request.
- No query strings (the page sends none): 400. Path parameters are ids matched by the route and then
  looked up among what the page was offered; nothing from a URL ever becomes a file path.
- With a token: a request carries it as ``Authorization: Bearer <token>`` or in the cookie the login
  page sets; without it the page is the login page and the API answers 401. Without a token (loopback
  only, see settings): the Host header must name loopback, so a web page elsewhere cannot read this
  one through DNS rebinding.
- Every request is counted for OperatorView's own metrics (:mod:`operator_view.page_usage`).
- Every response: a strict Content-Security-Policy (only this server's own scripts, styles and
  images), no framing, no sniffing, no referrer, no caching (frames and snapshots, whose URLs name
  one picture, may be cached by the browser).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from aiohttp import web

from operator_view.frame_source import FrameSource
from operator_view.page_usage import PAGE_ID_HEADER, PageUsage
from operator_view.settings import OperatorViewConfig
from operator_view.snapshot_files import SnapshotFiles
from operator_view.view_state import ViewState, camera_json, event_json, health_json

# A cookie name, not a secret.
TOKEN_COOKIE = "smartcam_operator_token"  # noqa: S105  # nosec B105
ID = r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}"
READ_METHODS = frozenset({"GET", "HEAD"})
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
PICTURE_CACHE = "private, max-age=300, immutable"
PAGES = {"/": ("index.html", "text/html"), "/app.js": ("app.js", "text/javascript"),
         "/app.css": ("app.css", "text/css"), "/login.js": ("login.js", "text/javascript"),
         "/favicon.svg": ("favicon.svg", "image/svg+xml")}
LOGIN_PAGE = "login.html"
# What the login page needs, the same for everyone: no data of the device.
PUBLIC_PATHS = frozenset({"/app.css", "/login.js", "/favicon.svg"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _asset(name: str) -> bytes:
    return resources.files("operator_view").joinpath("web", name).read_bytes()


@dataclass(frozen=True)
class Sources:
    """What the server reads: the view state, the frame ring, the snapshots, the metrics and settings; and
    where it tells how it is used."""

    state: ViewState
    frames: FrameSource
    snapshots: SnapshotFiles
    metrics: Callable[[], list[dict[str, Any]]]
    config: Callable[[], OperatorViewConfig]
    usage: PageUsage


def host_is_loopback(host_header: str | None) -> bool:
    """Whether a Host header names this machine's loopback: ``localhost`` or a loopback address, any port."""
    if not host_header:
        return False
    name = host_header.rsplit(":", 1)[0] if not host_header.endswith("]") else host_header
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.removeprefix("[").removesuffix("]")).is_loopback
    except ValueError:
        return False


class _Page:
    """The request handlers, over ``sources``; ``token`` is the one in force when the server started."""

    def __init__(self, sources: Sources, token: str | None) -> None:
        self._sources = sources
        self._token = token
        self._assets = {path: (_asset(name), kind) for path, (name, kind) in PAGES.items()}
        self._login = _asset(LOGIN_PAGE)
        self._frame_cache: dict[str, tuple[str, bytes]] = {}  # camera id -> the frame offered and its JPEG

    def _authorized(self, request: web.Request) -> bool:
        if self._token is None:
            return True
        given = request.cookies.get(TOKEN_COOKIE, "")
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            given = header.removeprefix("Bearer ")
        return hmac.compare_digest(given.encode(), self._token.encode())

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self._sources.usage.request()
        try:
            return await self._checked(request, handler)
        except web.HTTPException:
            raise
        except Exception:
            self._sources.usage.failed()
            raise

    async def _checked(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method not in READ_METHODS:
            raise web.HTTPMethodNotAllowed(request.method, sorted(READ_METHODS), text="read-only\n")
        if request.query_string:
            raise web.HTTPBadRequest(text="no query parameters are accepted\n")
        if self._token is None and not host_is_loopback(request.headers.get("Host")):
            raise web.HTTPMisdirectedRequest(text="this page answers on a loopback address only\n")
        if request.path not in PUBLIC_PATHS and not self._authorized(request):
            if request.path == "/":
                return web.Response(body=self._login, content_type="text/html")
            raise web.HTTPUnauthorized(text="token required\n")
        self._sources.usage.seen(request.headers.get(PAGE_ID_HEADER))
        return await handler(request)

    async def page(self, request: web.Request) -> web.Response:
        body, kind = self._assets[request.path]
        return web.Response(body=body, content_type=kind)

    async def live(self, _request: web.Request) -> web.Response:
        cameras = [camera_json(d) for d in self._sources.state.live()]
        return _json({"cameras": cameras, "maxFps": self._sources.config().max_fps})

    async def state(self, _request: web.Request) -> web.Response:
        now, state = time.time(), self._sources.state
        return _json({"at": now, "events": [event_json(e) for e in state.events()],
                      "health": [health_json(h, now) for h in state.health()],
                      "metrics": self._sources.metrics(), "refused": dict(state.refused)})

    async def frame(self, request: web.Request) -> web.Response:
        camera_id, frame_id = request.match_info["camera"], request.match_info["frame"]
        offered = self._sources.state.offered(camera_id)
        if offered is None or offered.frame.frame_id != frame_id:
            raise web.HTTPNotFound(text="not the frame this camera offers now\n")
        cached = self._frame_cache.get(camera_id)
        if cached is None or cached[0] != frame_id:
            started = time.perf_counter()
            jpeg = self._sources.frames.jpeg(offered.frame)
            if jpeg is None:
                raise web.HTTPNotFound(text="the frame is no longer in the ring\n")
            self._sources.usage.frame_made((time.perf_counter() - started) * 1000.0)
            cached = self._frame_cache[camera_id] = (frame_id, jpeg)
        return _picture(cached[1])

    async def snapshot(self, request: web.Request) -> web.Response:
        event = self._sources.state.event(request.match_info["event"])
        if event is None or event.snapshot is None or event.snapshot.frame_id != request.match_info["frame"]:
            raise web.HTTPNotFound(text="no such event with this snapshot\n")
        path = event.snapshot.crop_path if request.match_info["kind"] == "crop" else event.snapshot.path
        jpeg = self._sources.snapshots.read(event.event_id, path)
        if jpeg is None:
            raise web.HTTPNotFound(text="the snapshot is gone (replaced or pruned)\n")
        return _picture(jpeg)


async def _security_headers(_request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)
    response.headers.setdefault("Cache-Control", "no-store")


def build_app(sources: Sources, token: str | None) -> web.Application:
    """The aiohttp application; ``token`` is the one in force when the server started."""
    page = _Page(sources, token)
    app = web.Application(middlewares=[page.guard], client_max_size=1024)
    app.on_response_prepare.append(_security_headers)
    for path in PAGES:
        app.router.add_get(path, page.page)
    app.router.add_get("/api/live", page.live)
    app.router.add_get("/api/state", page.state)
    app.router.add_get(f"/api/cameras/{{camera:{ID}}}/frames/{{frame:{ID}}}.jpg", page.frame)
    app.router.add_get(f"/api/events/{{event:{ID}}}/snapshots/{{frame:{ID}}}/{{kind:crop|full}}.jpg", page.snapshot)
    return app


def _picture(jpeg: bytes) -> web.Response:
    return web.Response(body=jpeg, content_type="image/jpeg", headers={"Cache-Control": PICTURE_CACHE})


def _json(data: dict[str, Any]) -> web.Response:
    return web.Response(text=json.dumps(data, separators=(",", ":"), allow_nan=False),
                        content_type="application/json")
