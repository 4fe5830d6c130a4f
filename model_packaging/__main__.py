"""`python -m model_packaging <command> [options]`: one line per command below (module, function); the
function takes the remaining arguments and returns the exit status. `<command> --help` for its options."""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "train": ("model_packaging.cloud_cli", "train"),
    "compile": ("model_packaging.cloud_cli", "compile_"),
    "package": ("model_packaging.cloud_cli", "package"),
    "pipeline": ("model_packaging.cloud_cli", "pipeline"),
    "label": ("model_packaging.cloud_cli", "label"),
    "evaluate": ("model_packaging.evaluate", "main"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m model_packaging {{{','.join(COMMANDS)}}} [options]", file=sys.stderr)
        return 0 if argv and argv[0] in {"-h", "--help"} else 2
    module, function = COMMANDS[argv[0]]
    return getattr(importlib.import_module(module), function)(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
