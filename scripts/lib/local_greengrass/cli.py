"""scripts/local-greengrass: a local Greengrass V2 core device for this project.

    make build
    scripts/local-greengrass up recipes/dev.json       # background runtime; waits until components settle
    scripts/local-greengrass status                     # state and version of each component (exit 1: not up)
    scripts/local-greengrass logs smartcam.CameraIngest -f
    eval "$(scripts/local-greengrass env smartcam.CameraIngest)"   # then any Python process IS that component
    scripts/local-greengrass deploy recipes/dev.json   # config changes -> events; new builds -> restart
    scripts/local-greengrass down                       # stops everything; nothing is left running
    scripts/local-greengrass up DOC --root B --thing-name b --iot-core-of A   # a 2nd device, same IoT Core

Everything lives under --root (default $LOCAL_GREENGRASS_ROOT or .local-greengrass/ in the repository):
packages/, work/<component>/, logs/<component>.log (logs/local-greengrass.log is the runtime's own).
The thing name comes from --thing-name, else the document's thing ARN, else `<thing group>-core`.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from access_policy import ALLOW_FLAG

from local_greengrass.paths import DEFAULT_COMPONENTS_DIR, RuntimePaths, default_root

if TYPE_CHECKING:
    import psutil

# The modules only `up`, `deploy` and `down` need (the deployment model, the launcher, the frame ring
# with the smartcam contracts) are imported by those commands: `status`, `logs` and `env`, which tests
# and tools call in polling loops, start in a fraction of the time without them.

DEFAULT_THING_NAME = "local-greengrass-core"
START_TIMEOUT_SECONDS = 240.0


class NotRunning(RuntimeError):
    pass


def request(paths: RuntimePaths, payload: dict[str, Any], timeout: float = 600.0) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(timeout)
        try:
            client.connect(str(paths.control_socket))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise NotRunning(f"the local runtime is not running (root {paths.root})") from exc
        client.sendall(json.dumps(payload).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = client.recv(1 << 16)
            if not chunk:
                break
            data += chunk
    if not data:
        raise NotRunning(f"the local runtime at {paths.root} closed the connection")
    return json.loads(data)


def _is_up(paths: RuntimePaths) -> dict[str, Any] | None:
    try:
        return request(paths, {"command": "ping"}, timeout=10)
    except (NotRunning, OSError):
        return None


def _print_deploy(response: dict[str, Any]) -> bool:
    if not response.get("ok"):
        print(f"deployment refused: {response.get('error')}", file=sys.stderr)
        return False
    result = response["result"]
    for key in ("started", "restarted", "reconfigured", "removed"):
        if result.get(key):
            print(f"{key}: {', '.join(result[key])}")
    for name, message in response.get("errors", {}).items():
        print(f"ERROR {name}: {message}", file=sys.stderr)
    return not response.get("errors")


def _wait_settled(paths: RuntimePaths, timeout: float) -> bool:
    """Print state changes until every component is RUNNING, FINISHED or BROKEN, two polls in a row.

    Two polls, because a Run step is RUNNING from the moment its process starts: one that crashes at once
    is RUNNING for a few milliseconds before it restarts, and a single look could call that settled.
    """
    from local_greengrass.lifecycle.launcher import BROKEN

    deadline = time.monotonic() + timeout
    seen: dict[str, str] = {}
    settled_before = False
    while True:
        rows = request(paths, {"command": "status"})["components"]
        changed = False
        for row in rows:
            if seen.get(row["component"]) != row["state"]:
                seen[row["component"]] = row["state"]
                changed = True
                print(f"{row['component']}: {row['state']}" + (f" ({row['error']})" if row.get("error") else ""))
        settled = all(row["settled"] for row in rows)
        if settled and settled_before and not changed:
            return all(row["state"] != BROKEN and not row.get("error") for row in rows)
        settled_before = settled
        if time.monotonic() > deadline:
            print(f"not settled after {timeout:g} s; `status` and `logs <component>` tell more", file=sys.stderr)
            return False
        time.sleep(0.5)


def _daemon_log_tail(paths: RuntimePaths) -> str:
    try:
        return paths.daemon_log.read_text(errors="replace")[-3000:]
    except OSError:
        return ""


def _shared_iot_core(root: Path, paths: RuntimePaths) -> list[str]:
    """The daemon options that make it use the IoT Core stand-in of the runtime running at ``root``."""
    other = RuntimePaths(root.resolve())
    if other.root == paths.root:
        raise NotRunning("--iot-core-of names this runtime itself")
    if _is_up(other) is None:
        raise NotRunning(f"--iot-core-of {other.root}: that runtime is not running")
    iot = request(other, {"command": "status"})["standins"]["iot_core"]
    return ["--iot-core-workdir", iot["workdir"], "--iot-core-port", str(iot["port"])]


def cmd_up(args: argparse.Namespace, paths: RuntimePaths) -> int:
    from local_greengrass.deployment.documents import DeploymentError, load_document

    running = _is_up(paths)
    if running:
        print(f"already running (pid {running['pid']}, root {paths.root}); use `deploy` or `down`", file=sys.stderr)
        return 1
    try:
        document = load_document(args.document)
    except DeploymentError as exc:
        print(exc, file=sys.stderr)
        return 2
    thing = args.thing_name or document.thing_name or DEFAULT_THING_NAME
    region = args.region or document.region or os.environ.get("AWS_REGION") or "us-east-1"
    shared = _shared_iot_core(args.iot_core_of, paths) if args.iot_core_of is not None else []
    paths.create()
    env = dict(os.environ)
    with open(paths.daemon_log, "ab") as log:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "local_greengrass.daemon", "--root", str(paths.root),
             "--components-dir", str(args.components_dir.resolve()), "--thing-name", thing, "--region", region,
             *shared],
            cwd=paths.root, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while _is_up(paths) is None:
        if daemon.poll() is not None or time.monotonic() > deadline:
            print(f"the local runtime did not start; its log ({paths.daemon_log}):\n{_daemon_log_tail(paths)}",
                  file=sys.stderr)
            if daemon.poll() is None:
                daemon.terminate()
            return 1
        time.sleep(0.2)
    daemon.returncode = 0  # it runs on after we exit; keep Popen from warning about it
    print(f"local runtime up: pid {daemon.pid}, thing {thing}, region {region}, root {paths.root}")
    ok = _print_deploy(request(paths, {"command": "deploy", "document": json.loads(args.document.read_text()),
                                       "allow_wildcard_access": args.allow_wildcard_access,
                                       "source": str(args.document)}))
    if args.no_wait:
        return 0 if ok else 1
    return 0 if _wait_settled(paths, args.timeout) and ok else 1


def cmd_deploy(args: argparse.Namespace, paths: RuntimePaths) -> int:
    try:
        data = json.loads(args.document.read_text())
    except (OSError, ValueError) as exc:
        print(f"{args.document}: {exc}", file=sys.stderr)
        return 2
    ok = _print_deploy(request(paths, {"command": "deploy", "document": data, "source": str(args.document),
                                       "allow_wildcard_access": args.allow_wildcard_access}))
    if args.no_wait:
        return 0 if ok else 1
    return 0 if _wait_settled(paths, args.timeout) and ok else 1


def cmd_status(args: argparse.Namespace, paths: RuntimePaths) -> int:
    response = request(paths, {"command": "status"})
    if args.json:
        print(json.dumps(response, indent=2))
        return 0
    standins = response["standins"]
    print(f"thing {response['thing_name']}, region {response['region']}, root {response['root']}")
    print(f"IoT Core stand-in mqtts://{standins['iot_core']['host']}:{standins['iot_core']['port']} "
          f"(CA {standins['iot_core']['ca_path']}), DynamoDB Local {standins['dynamodb']}, "
          f"S3 stand-in {standins['s3']}")
    for row in response["components"]:
        line = f"{row['component']:<40} {row['version']:<10} {row['state']}"
        print(line + (f"  {row['error']}" if row.get("error") else ""))
    return 0


def cmd_logs(args: argparse.Namespace, paths: RuntimePaths) -> int:
    path = paths.daemon_log if args.component == "runtime" else paths.log(args.component)
    if not path.exists():
        known = sorted(p.stem for p in paths.logs.glob("*.log")) if paths.logs.exists() else []
        print(f"no log for {args.component} in {paths.logs} (logs: {', '.join(known) or 'none'})", file=sys.stderr)
        return 1
    with open(path, "rb") as log:
        while True:
            chunk = log.read(1 << 16)
            if chunk:
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
                continue
            if not args.follow:
                return 0
            try:
                time.sleep(0.5)
            except KeyboardInterrupt:
                return 0


def cmd_env(args: argparse.Namespace, paths: RuntimePaths) -> int:
    response = request(paths, {"command": "env", "component": args.component})
    if not response.get("ok"):
        print(response.get("error"), file=sys.stderr)
        return 1
    for key, value in sorted(response["env"].items()):
        print(f"export {key}={shlex.quote(value)}")
    return 0


def _daemon_process(paths: RuntimePaths) -> psutil.Process | None:
    """The daemon from the pid file, if that pid still is our daemon (pids get reused)."""
    import psutil

    try:
        process = psutil.Process(int(paths.pid_file.read_text()))
        command = process.cmdline()
    except (OSError, ValueError, psutil.Error):
        return None
    return process if "local_greengrass.daemon" in command and str(paths.root) in command else None


def cmd_down(args: argparse.Namespace, paths: RuntimePaths) -> int:
    import psutil

    from local_greengrass.lifecycle.processes import end_everything

    daemon = _daemon_process(paths)
    if _is_up(paths):
        request(paths, {"command": "shutdown"}, timeout=args.timeout)
    elif daemon is not None:
        daemon.terminate()  # alive but not answering: SIGTERM runs the same shutdown
    if daemon is not None:
        try:
            daemon.wait(args.timeout)
        except psutil.TimeoutExpired:
            daemon.kill()  # its watchdog ends the rest
    marker = paths.instance_file.read_text().strip() if paths.instance_file.exists() else ""
    survivors = end_everything(marker) if marker else []
    if survivors:
        print(f"could not end: {[p.pid for p in survivors]}", file=sys.stderr)
        return 1
    # As a reboot clears a device's /dev/shm: no later run reads this device's frame ring.
    shutil.rmtree(device_frame_root(paths), ignore_errors=True)
    print("stopped" if daemon else f"not running (root {paths.root}); nothing left behind")
    return 0


def device_frame_root(paths: RuntimePaths) -> Path:
    """The frame ring the components of this local device derive from the IPC socket it gives them."""
    from smartcam.frames import NUCLEUS_SOCKET_ENV, pipeline_frame_root

    return pipeline_frame_root({NUCLEUS_SOCKET_ENV: str(paths.ipc_socket)})


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", type=Path, default=argparse.SUPPRESS,
                        help="runtime folder (default: $LOCAL_GREENGRASS_ROOT or .local-greengrass in the repository)")
    parser = argparse.ArgumentParser(prog="local-greengrass", description="A local Greengrass V2 core device.",
                                     parents=[common])
    commands = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, parents=[common])

    up = add("up", "start the runtime in the background and deploy a document")
    up.add_argument("document", type=Path)
    up.add_argument("--thing-name")
    up.add_argument("--region")
    up.add_argument("--iot-core-of", type=Path, metavar="ROOT",
                    help="share the IoT Core stand-in of the runtime running at ROOT (stop this one first)")
    up.add_argument("--components-dir", type=Path,
                    default=Path(os.environ.get("LOCAL_GREENGRASS_COMPONENTS_DIR") or DEFAULT_COMPONENTS_DIR))
    for sub in (up, deploy := add("deploy", "deploy a document to the running runtime")):
        sub.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for components to settle")
        sub.add_argument("--no-wait", action="store_true", help="return once the deployment is accepted")
        sub.add_argument(ALLOW_FLAG, action="store_true", dest="allow_wildcard_access",
                         help="accept a bare '*' in an accessControl policy's operations or resources")
    deploy.add_argument("document", type=Path)
    status = add("status", "each component's state and version")
    status.add_argument("--json", action="store_true")
    logs = add("logs", "a component's log ('runtime' for the runtime's own)")
    logs.add_argument("component")
    logs.add_argument("-f", "--follow", action="store_true")
    env = add("env", "shell exports to join the runtime as a component")
    env.add_argument("component")
    down = add("down", "stop everything")
    down.add_argument("--timeout", type=float, default=300.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    paths = RuntimePaths((getattr(args, "root", None) or default_root()).resolve())
    handlers = {"up": cmd_up, "deploy": cmd_deploy, "status": cmd_status, "logs": cmd_logs, "env": cmd_env,
                "down": cmd_down}
    try:
        return handlers[args.command](args, paths)
    except NotRunning as exc:
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
