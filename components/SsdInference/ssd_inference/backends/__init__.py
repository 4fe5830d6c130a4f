"""Inference runtimes behind one interface: ``load(bundle, threads)`` then ``run(input) -> outputs``."""

from ssd_inference.backends.base import Backend, BackendError, map_outputs
from ssd_inference.backends.registry import BACKENDS, available_backends, load_backend, resolve_backend

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendError",
    "available_backends",
    "load_backend",
    "map_outputs",
    "resolve_backend",
]
