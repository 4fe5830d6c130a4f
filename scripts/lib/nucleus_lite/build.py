"""Build nucleus lite once per source set into a cache outside the repository, and reuse it.

``python -m nucleus_lite.build`` prints the install prefix (building it when needed).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from nucleus_lite.sources import Sources, find_sources

CACHE_ROOT = Path(os.environ.get("SMARTCAM_NUCLEUS_LITE_CACHE", "/var/cache/smartcam/nucleus-lite"))
# The binaries a usable install has; a partial one is never renamed into place.
REQUIRED = ("bin/ggl-cli", "bin/ggdeploymentd", "bin/iotcored", "bin/ggipcd", "bin/ggconfigd")


class BuildError(RuntimeError):
    """The build failed; the message names the log."""


def cached_prefix(sources: Sources, cache_root: Path = CACHE_ROOT) -> Path:
    """Where the install for these sources is (or will be)."""
    return cache_root / sources.cache_key() / "prefix"


def is_built(prefix: Path) -> bool:
    return all((prefix / name).exists() for name in REQUIRED)


def ensure_built(sources: Sources, cache_root: Path = CACHE_ROOT, jobs: int | None = None) -> Path:
    """The install prefix for ``sources``: reused when cached, else built (under a lock)."""
    prefix = cached_prefix(sources, cache_root)
    if is_built(prefix):
        return prefix
    prefix.parent.mkdir(parents=True, exist_ok=True)
    with (prefix.parent / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second run waits for the first build instead of racing
        if not is_built(prefix):
            _build(sources, prefix, jobs)
    return prefix


# Out of /tmp on purpose: the build is large and /tmp is shared; mkdtemp makes a private folder here.
BUILD_SCRATCH = "/var/tmp"  # noqa: S108  # nosec B108


def _build(sources: Sources, prefix: Path, jobs: int | None) -> None:
    log = prefix.parent / "build.log"
    scratch = Path(tempfile.mkdtemp(prefix="smartcam-nucleus-lite-build-", dir=BUILD_SCRATCH))
    staging = prefix.parent / "prefix.partial"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        dirs = {name: _unpack(tarball, scratch) for name, tarball in sources.tarballs.items()}
        configure = [
            "cmake", "-S", str(dirs[""]), "-B", str(scratch / "build"), "-G", "Ninja",
            f"-DCMAKE_INSTALL_PREFIX={prefix}", "-DCMAKE_BUILD_TYPE=MinSizeRel",
            # The log level is fixed at compile time; unset, every DEBUG and TRACE line reaches journald.
            "-DGG_LOG_LEVEL=INFO",
            "-DFETCHCONTENT_FULLY_DISCONNECTED=ON",
            *(f"-DFETCHCONTENT_SOURCE_DIR_{name}={path}" for name, path in dirs.items() if name),
        ]
        with log.open("w") as out:
            for command in (
                configure,
                ["ninja", "-C", str(scratch / "build"), *(["-j", str(jobs)] if jobs else [])],
                ["cmake", "--install", str(scratch / "build"), "--prefix", str(staging)],
            ):
                out.write(f"$ {' '.join(command)}\n")
                out.flush()
                if subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False).returncode:
                    raise BuildError(f"nucleus lite build failed: {' '.join(command[:2])}; see {log}")
        # Installed files hold the configured prefix (unit files, paths); install to staging with the
        # final prefix compiled in, then move it into place in one rename.
        staging.rename(prefix)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)


def _unpack(tarball: Path, into: Path) -> Path:
    with tarfile.open(tarball) as archive:
        top = {member.name.split("/", 1)[0] for member in archive.getmembers()}
        if len(top) != 1:
            raise BuildError(f"{tarball}: expected one top-level folder, found {sorted(top)}")
        archive.extractall(into, filter="data")
    return into / top.pop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sources", type=Path, help="folder with the vendored tarballs")
    parser.add_argument("--jobs", type=int)
    args = parser.parse_args(argv)
    sources = find_sources(args.sources)
    if sources is None:
        print("nucleus lite sources not found", file=sys.stderr)
        return 2
    print(ensure_built(sources, jobs=args.jobs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
