"""Capture commands: parsed with the shared contract, then bounded by this device's configuration.

:func:`validate` turns anything that arrived (bytes, text, a JSON object) into a
:class:`CaptureRequest` or raises :class:`Rejected` with the reason for the status reply.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from camera_ingest.settings import CameraIngestConfig, CameraSettings
from smartcam.contracts import MAX_MESSAGE_BYTES, CaptureCommand, ContractError, parse

_REQUEST_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_CAMERA_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")

Action = Literal["capture", "start", "stop", "snapshot"]


class Rejected(Exception):
    def __init__(self, reason: str, *, request_id: str | None = None, camera_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.request_id = request_id
        self.camera_id = camera_id


@dataclass(frozen=True)
class CaptureRequest:
    action: Action
    camera: CameraSettings
    request_id: str
    period_s: float | None = None  # None: every frame the schedule sees (snapshot: the first)
    frames: int | None = None  # stop after this many frames
    duration_s: float | None = None  # stop after this long
    gated: bool = False  # the camera's motion gate judges each frame (never for stop and snapshot)

    @property
    def camera_id(self) -> str:
        return self.camera.id


def new_request_id() -> str:
    return f"req-{secrets.token_hex(6)}"


def validate(payload: Any, config: CameraIngestConfig) -> CaptureRequest:
    request_id, camera_id = _ids_for_reply(payload)
    try:
        command = parse(CaptureCommand, payload)
    except ContractError as exc:
        raise Rejected(str(exc), request_id=request_id, camera_id=camera_id) from None
    request_id = command.request_id or new_request_id()

    def reject(reason: str) -> Rejected:
        return Rejected(reason, request_id=request_id, camera_id=command.camera_id)

    camera = config.camera(command.camera_id)
    if camera is None:
        known = ", ".join(c.id for c in config.cameras)
        raise reject(f"unknown camera {command.camera_id!r}; this device has: {known}")

    if command.action in ("stop", "snapshot"):
        return CaptureRequest(
            command.action, camera, request_id, frames=1 if command.action == "snapshot" else None
        )

    period = _period(command, config, reject)
    gated = _gated(command, camera, reject)
    if command.action == "start":
        return CaptureRequest("start", camera, request_id, period_s=period, gated=gated)
    frames, duration = _bounded_amount(command, config, period, reject)
    return CaptureRequest("capture", camera, request_id, period_s=period, frames=frames, duration_s=duration,
                          gated=gated)


def _gated(command: CaptureCommand, camera: CameraSettings, reject: Callable[[str], Rejected]) -> bool:
    """Whether the camera's motion gate judges the request's frames: unless the command turns it off."""
    if command.motion_gate is True and not camera.motion.enabled:
        raise reject(f"motion_gate: camera {camera.id}'s motion gate is off in the configuration (motion.enabled)")
    return command.motion_gate is not False


def _period(command: CaptureCommand, config: CameraIngestConfig, reject: Callable[[str], Rejected]) -> float:
    """Seconds between kept frames, from fps or interval_s (default: defaultFps), within maxFps."""
    limits = config.limits
    if command.fps is not None and command.interval_s is not None:
        raise reject("give fps or interval_s, not both")
    if command.interval_s is not None:
        if command.interval_s > limits.max_interval_s:
            raise reject(f"interval_s {command.interval_s:g} is over the limit of {limits.max_interval_s:g} s")
        period = command.interval_s
    else:
        period = 1.0 / (command.fps if command.fps is not None else limits.default_fps)
    if period < 1.0 / limits.max_fps - 1e-9:
        raise reject(f"{1.0 / period:g} fps is over the limit of {limits.max_fps:g} fps (maxFps)")
    return period


def _bounded_amount(
    command: CaptureCommand, config: CameraIngestConfig, period: float, reject: Callable[[str], Rejected]
) -> tuple[int | None, float | None]:
    """(frames, duration_s) of a capture, within maxFrames and maxDurationS."""
    limits = config.limits
    if command.frames is not None:
        if command.frames > limits.max_frames:
            raise reject(f"frames {command.frames} is over the limit of {limits.max_frames} (maxFrames)")
        needs_s = (command.frames - 1) * period
        if needs_s > limits.max_duration_s:
            raise reject(
                f"{command.frames} frames every {period:g} s take {needs_s:g} s, over the limit of "
                f"{limits.max_duration_s:g} s (maxDurationS)"
            )
        return command.frames, None
    duration = float(command.duration_s or 0.0)
    if duration > limits.max_duration_s:
        raise reject(f"duration_s {duration:g} is over the limit of {limits.max_duration_s:g} s (maxDurationS)")
    expected = math.ceil(duration / period)
    if expected > limits.max_frames:
        raise reject(
            f"{duration:g} s at {1.0 / period:g} fps is about {expected} frames, over the limit of "
            f"{limits.max_frames} (maxFrames)"
        )
    return None, duration


def _ids_for_reply(payload: Any) -> tuple[str | None, str | None]:
    """The request and camera ids of a command we may reject, when they can be read safely."""
    if isinstance(payload, bytes | bytearray | str):
        if len(payload) > MAX_MESSAGE_BYTES:
            return None, None
        try:
            payload = json.loads(payload)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None, None
    if not isinstance(payload, dict):
        return None, None
    request_id = payload.get("request_id")
    camera_id = payload.get("camera_id")
    return (
        request_id if isinstance(request_id, str) and _REQUEST_ID.match(request_id) else None,
        camera_id if isinstance(camera_id, str) and _CAMERA_ID.match(camera_id) else None,
    )
