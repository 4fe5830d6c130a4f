"""Check that a component's shipped Python code only imports what the device will have.

On a device every smartcam component runs in the one venv smartcam.Runtime builds from
components/Runtime/requirements.txt. An import of anything else would work on a developer's machine
and fail on the device, so the build refuses it. Allowed: the standard library, ``smartcam`` (the
shared package), the component's own top-level modules and packages, and the distributions listed
in the runtime requirements. Imports under ``if TYPE_CHECKING:`` and inside ``try`` blocks that
catch ImportError are optional by construction and are not checked.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from gdk_build.errors import BuildError, shown

SHARED_PACKAGES = frozenset({"smartcam"})
# Import name -> distribution names that provide it, where the two differ.
DISTRIBUTIONS_OF_IMPORT: dict[str, tuple[str, ...]] = {
    "cv2": ("opencv-python-headless", "opencv-python", "opencv-contrib-python-headless", "opencv-contrib-python"),
    "PIL": ("pillow",),
    "awsiot": ("awsiotsdk",),
    "yaml": ("PyYAML",),
    "dateutil": ("python-dateutil",),
    "google": ("protobuf",),
    "backports": ("backports.strenum",),
    "tflite_runtime": ("tflite-runtime",),
    "sklearn": ("scikit-learn",),
    "attr": ("attrs",),
    "jwt": ("PyJWT",),
    "serial": ("pyserial",),
    "zmq": ("pyzmq",),
    "bs4": ("beautifulsoup4",),
}
OPTIONAL_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError"})


def normalize(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def provided_distributions(requirements: Path) -> set[str]:
    """Normalized distribution names in a pip requirements file (following ``-r`` includes)."""
    names: set[str] = set()
    for raw in requirements.read_text(encoding="utf-8").splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if line.startswith(("-r ", "--requirement ")):
            names |= provided_distributions(requirements.parent / line.split(None, 1)[1])
            continue
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
        if match and not line.startswith("-"):
            names.add(normalize(match.group(0)))
    return names


@dataclass(frozen=True)
class ImportUse:
    line: int
    module: str  # top-level name


class _ImportCollector(ast.NodeVisitor):
    def __init__(self) -> None:
        self.uses: list[ImportUse] = []

    def visit_Import(self, node: ast.Import) -> None:
        self.uses.extend(ImportUse(node.lineno, alias.name.split(".")[0]) for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module:
            self.uses.append(ImportUse(node.lineno, node.module.split(".")[0]))

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        ):
            for statement in node.orelse:
                self.visit(statement)
            return
        self.generic_visit(node)

    def visit_Try(self, node: ast.Try) -> None:
        caught = {name for handler in node.handlers for name in _exception_names(handler.type)}
        body = [] if caught & OPTIONAL_IMPORT_ERRORS else node.body
        for statement in [*body, *node.handlers, *node.orelse, *node.finalbody]:
            self.visit(statement)


def _exception_names(node: ast.expr | None) -> list[str]:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Tuple):
        return [name for element in node.elts for name in _exception_names(element)]
    return []


def imports_of(path: Path) -> list[ImportUse]:
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as exc:
        raise BuildError(path, f"line {exc.lineno}: Python syntax error: {exc.msg}") from None
    collector = _ImportCollector()
    collector.visit(tree)
    return collector.uses


def own_modules(files: list[PurePosixPath]) -> set[str]:
    """Top-level modules and packages the component ships itself."""
    names = set()
    for relative in files:
        if len(relative.parts) > 1:
            names.add(relative.parts[0])
        elif relative.suffix == ".py":
            names.add(relative.stem)
    return names


def check_imports(folder: Path, files: list[PurePosixPath], requirements: Path) -> list[BuildError]:
    """One error per third-party import the shared runtime does not provide, naming file and line."""
    first_party = SHARED_PACKAGES | own_modules(files)
    provided = provided_distributions(requirements) if requirements.is_file() else set()
    problems = []
    for relative in (f for f in files if f.suffix == ".py"):
        path = folder / relative
        for use in imports_of(path):
            if use.module in sys.stdlib_module_names or use.module in first_party:
                continue
            candidates = DISTRIBUTIONS_OF_IMPORT.get(use.module, (use.module,))
            if any(normalize(name) in provided for name in candidates):
                continue
            problems.append(BuildError(path, (
                f"line {use.line}: imports '{use.module}' (distribution {' or '.join(candidates)}), which the "
                f"shared runtime {shown(requirements)} does not provide; add it there, pinned, or drop the import")))
    return problems
