"""The interface every runtime implements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np


class BackendError(RuntimeError):
    """A runtime that cannot load or run the model; ``str()`` says which and why."""


class Backend(Protocol):
    name: str  # "dlr" | "onnxruntime" | "litert"
    variant: str  # which build of the model runs: its model.json runtime key (e.g. "dlr-avx512")
    threads: int

    def run(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        """One inference; returns the decoder's named outputs (model.json runtimes.<name>.outputs)."""
        ...

    def close(self) -> None: ...


def map_outputs(
    backend: str, raw: Sequence[np.ndarray], raw_names: Sequence[str], mapping: Mapping[str, int | str]
) -> dict[str, np.ndarray]:
    """Name a runtime's outputs as model.json says: each entry is an output index or name."""
    named: dict[str, np.ndarray] = {}
    for decoder_name, where in mapping.items():
        if isinstance(where, int):
            if not 0 <= where < len(raw):
                raise BackendError(f"{backend}: output index {where} for {decoder_name!r} but the model has {len(raw)}")
            named[decoder_name] = raw[where]
        else:
            try:
                named[decoder_name] = raw[list(raw_names).index(where)]
            except ValueError:
                raise BackendError(
                    f"{backend}: no output named {where!r} for {decoder_name!r} (has {', '.join(raw_names)})"
                ) from None
    return named
