"""The CLI without a running runtime: clear messages and exit codes."""

import json
from pathlib import Path

import pytest

from local_greengrass.cli import main
from local_greengrass.paths import RuntimePaths


def test_status_and_env_say_not_running(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(tmp_path), "status"]) == 1
    assert "not running" in capsys.readouterr().err
    assert main(["env", "smartcam.CameraIngest", "--root", str(tmp_path)]) == 1


def test_down_when_not_running_is_fine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(tmp_path), "down"]) == 0
    assert "nothing left behind" in capsys.readouterr().out


def test_logs_prints_a_log_or_names_the_known_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = RuntimePaths(tmp_path)
    paths.create()
    paths.log("test.A").write_text("hello from A\n")
    assert main(["--root", str(tmp_path), "logs", "test.A"]) == 0
    assert capsys.readouterr().out == "hello from A\n"
    assert main(["--root", str(tmp_path), "logs", "test.B"]) == 1
    err = capsys.readouterr().err
    assert "no log for test.B" in err and "(logs: test.A)" in err


def test_up_refuses_a_broken_document_before_starting_anything(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "doc.json"
    doc.write_text(json.dumps({"components": {"test.A": {"componentVersion": "one"}}}))
    assert main(["--root", str(tmp_path / "root"), "up", str(doc)]) == 2
    assert "not a semantic version" in capsys.readouterr().err
    assert not (tmp_path / "root").exists()


def test_up_sharing_an_iot_core_stand_in_needs_that_runtime_running(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "doc.json"
    doc.write_text(json.dumps({"components": {"test.A": {"componentVersion": "1.0.0"}}}))
    root = tmp_path / "root"
    assert main(["--root", str(root), "up", str(doc), "--iot-core-of", str(tmp_path / "other")]) == 1
    assert f"--iot-core-of {tmp_path / 'other'}: that runtime is not running" in capsys.readouterr().err
    assert main(["--root", str(root), "up", str(doc), "--iot-core-of", str(root)]) == 1
    assert "--iot-core-of names this runtime itself" in capsys.readouterr().err
    assert not root.exists()


def test_down_removes_this_devices_frame_ring_and_no_other(tmp_path: Path) -> None:
    from local_greengrass.cli import device_frame_root

    ours = device_frame_root(RuntimePaths(tmp_path / "a"))
    other = device_frame_root(RuntimePaths(tmp_path / "b"))
    assert ours != other
    try:
        for ring in (ours, other):
            (ring / "cam0").mkdir(parents=True)
            (ring / "cam0" / "000000000001-f.jpg").write_bytes(b"jpeg")
        assert main(["--root", str(tmp_path / "a"), "down"]) == 0
        assert not ours.exists()
        assert (other / "cam0" / "000000000001-f.jpg").read_bytes() == b"jpeg"
    finally:
        import shutil

        shutil.rmtree(ours, ignore_errors=True)
        shutil.rmtree(other, ignore_errors=True)


def test_waiting_to_settle_does_not_take_a_crash_loops_running_moment_for_settled(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from local_greengrass import cli

    def row(state: str, settled: bool) -> dict:
        return {"component": "test.Crasher", "state": state, "settled": settled, "error": None}

    # The Run process was RUNNING at one poll, then crashed, restarted, and ended BROKEN.
    polls = iter([row("RUNNING", True), row("STOPPING", False), row("RUNNING", True), row("BROKEN", True),
                  row("BROKEN", True), row("BROKEN", True)])
    seen: list[dict] = []

    def request(_paths: RuntimePaths, _message: dict) -> dict:
        seen.append(next(polls))
        return {"components": [seen[-1]]}

    monkeypatch.setattr(cli, "request", request)
    monkeypatch.setattr(cli.time, "sleep", lambda _s: None)
    assert cli._wait_settled(RuntimePaths(tmp_path), timeout=60) is False
    assert [r["state"] for r in seen] == ["RUNNING", "STOPPING", "RUNNING", "BROKEN", "BROKEN"]
    assert capsys.readouterr().out.splitlines()[-1] == "test.Crasher: BROKEN"
