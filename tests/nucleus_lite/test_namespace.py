"""The private systemd nucleus lite runs under: what it may touch on the host, and that nothing
of it is left once stopped. A systemd that sees the host's /tmp empties it at boot, so this is
checked with a marker file, as well as /etc, /var and the cgroups."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from nucleus_lite.devices import LITE_RUNS
from nucleus_lite.namespace import CGROUP_ROOT, HIERARCHIES, NamespaceError, PrivateSystemd, alive, available

pytestmark = pytest.mark.skipif(available() is not None, reason=f"private systemd: {available()}")


@pytest.fixture
def run_dir() -> Iterator[Path]:
    LITE_RUNS.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="ns-test-", dir=LITE_RUNS))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_private_systemd_leaves_the_host_alone_and_nothing_running(run_dir: Path) -> None:
    marker = Path(tempfile.mkstemp(prefix="smartcam-namespace-marker-", dir="/tmp")[1])
    passwd = Path("/etc/passwd").read_bytes()
    systemd = PrivateSystemd(run_dir, f"smartcam-ns-test-{run_dir.name}")
    try:
        systemd.start()
        pid = systemd.pid
        assert pid is not None
        # Inside, /tmp is the namespace's own tmpfs: only the run folder is bound there.
        assert systemd.run("ls", "-A", "/tmp").stdout.split() == ["ggl"]
        systemd.run("touch", "/tmp/inside-only", "/etc/inside-only", "/var/inside-only")
        for path in ("/tmp/inside-only", "/etc/inside-only", "/var/inside-only"):
            assert not Path(path).exists(), f"{path} leaked to the host"
        assert (run_dir / "ns" / "etc-upper" / "inside-only").exists()  # the overlay took it
        # Users made inside stay inside.
        assert "ggcore:" in systemd.run("cat", "/etc/passwd").stdout
        assert Path("/etc/passwd").read_bytes() == passwd
        # The units that clean /tmp at boot are masked.
        for unit in ("systemd-tmpfiles-setup.service", "systemd-tmpfiles-clean.timer"):
            assert systemd.run("systemctl", "is-enabled", unit, check=False).stdout.strip() == "masked"
        children = systemd.processes()
        assert pid in [p.pid for p in children] and len(children) >= 2  # systemd and at least journald/dbus
    finally:
        systemd.stop()
    survived = marker.exists()
    marker.unlink(missing_ok=True)
    assert survived, "the marker in the host's /tmp was deleted"
    assert not any(alive(p) for p in children), "a process of the namespace survived"
    assert not any((CGROUP_ROOT / h / systemd.name).exists() for h in HIERARCHIES)


def test_run_folder_is_never_the_hosts_tmp_nor_overlaid() -> None:
    for folder in ("/tmp/x", "/var/tmp/x", "/etc/x"):
        with pytest.raises(NamespaceError):
            PrivateSystemd(Path(folder), "never-started")
