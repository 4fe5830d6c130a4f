
"""kill -9 of the runtime daemon: its watchdog still ends components, mosquitto, DynamoDB Local and the S3
stand-in."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from local_greengrass.lifecycle.processes import marked_processes
from local_greengrass.paths import RuntimePaths
from local_greengrass.standins.s3 import is_s3_server
from repo_layout import REPO_ROOT
from tests.local_greengrass.helpers import PYTHON, write_component

pytestmark = pytest.mark.integration

CLI = str(REPO_ROOT / "scripts" / "local-greengrass")
SLEEPER = """
import subprocess, sys, threading
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import ReportedLifecycleState

subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])  # a grandchild of the shell
GreengrassCoreIPCClientV2().update_state(state=ReportedLifecycleState.RUNNING)
threading.Event().wait()
"""


def wait_reported_running(root: Path, component: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        status = subprocess.run([CLI, "--root", str(root), "status", "--json"], capture_output=True, text=True,
                                timeout=60, check=True)
        rows = {row["component"]: row for row in json.loads(status.stdout)["components"]}
        if rows[component].get("reported") == "RUNNING":
            return
        assert time.monotonic() < deadline, f"{component} did not report RUNNING: {rows[component]}"
        time.sleep(0.2)


def test_kill_9_of_the_daemon_leaves_no_process(tmp_path: Path) -> None:
    components, root = tmp_path / "components", tmp_path / "root"
    write_component(components, "test.Sleeper", files={"main.py": SLEEPER},
                    lifecycle={"Run": PYTHON + " -u {artifacts:decompressedPath}/Sleeper/main.py"})
    doc = tmp_path / "doc.json"
    doc.write_text(json.dumps({"components": {"test.Sleeper": {"componentVersion": "1.0.0"}}}))
    paths = RuntimePaths(root)
    try:
        up = subprocess.run([CLI, "--root", str(root), "up", str(doc), "--components-dir", str(components),
                             "--timeout", "200"], capture_output=True, text=True, timeout=260, check=False)
        assert up.returncode == 0, up.stdout + up.stderr + paths.daemon_log.read_text()
        # `up` returns once the Sleeper's process started; it reports RUNNING once its grandchild is there.
        wait_reported_running(root, "test.Sleeper")
        daemon = psutil.Process(int(paths.pid_file.read_text()))
        marker = paths.instance_file.read_text().strip()
        descendants = daemon.children(recursive=True)
        names = {p.name() for p in descendants}
        assert {"mosquitto", "java"} <= names, names
        assert any(is_s3_server(p.cmdline()) for p in descendants), [p.cmdline() for p in descendants]
        assert len(marked_processes(marker)) >= 6  # mosquitto, java, the S3 server, sh, python and its grandchild

        daemon.send_signal(signal.SIGKILL)
        daemon.wait(30)
        _, alive = psutil.wait_procs(descendants, timeout=90)
        assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []
        assert marked_processes(marker) == []
        # The next `up` on the same root works: stale sockets are no obstacle.
        status = subprocess.run([CLI, "--root", str(root), "status"], capture_output=True, text=True, timeout=60,
                                check=False)
        assert status.returncode == 1 and "not running" in status.stderr
    finally:
        subprocess.run([CLI, "--root", str(root), "down"], capture_output=True, timeout=300, check=False)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and paths.instance_file.exists():
            marker = paths.instance_file.read_text().strip()
            if not marked_processes(marker):
                break
            time.sleep(0.5)
