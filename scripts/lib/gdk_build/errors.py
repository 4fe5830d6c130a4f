"""The one error type of the build: always names the file and the problem."""

from __future__ import annotations

from pathlib import Path


def shown(path: Path | str) -> str:
    """A path as a user would type it: relative to the working directory when it is below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class BuildError(Exception):
    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"{shown(path)}: {problem}")
        self.path = Path(path)
        self.problem = problem
