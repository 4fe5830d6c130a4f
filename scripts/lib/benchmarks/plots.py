"""How every benchmark writes its plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def save_figure(fig: Any, path: Path) -> None:
    """Lay out ``fig``, write it to ``path`` (folders made as needed) and release it."""
    import matplotlib.pyplot as plt  # a benchmark's plotting dependency, imported when a plot is made

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
