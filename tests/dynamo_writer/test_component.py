
"""The whole component (main.main) with a mocked IPC client, writing into DynamoDB Local."""

import importlib.util
import threading

import pytest
import yaml

from dynamo_writer.settings import DynamoWriterConfig
from repo_layout import REPO_ROOT
from smartcam.config import validate_config
from smartcam.contracts import Receipts
from tests.dynamo_writer.helpers import frames, scan_all, wait_until
from tests.support.fake_nucleus import FakeNucleus

pytestmark = pytest.mark.integration

COMPONENT_DIR = REPO_ROOT / "components" / "DynamoWriter"
RECIPE = COMPONENT_DIR / "recipe.yaml"
THING = "writer-test-thing"


class WriterNucleus(FakeNucleus):
    """The fake nucleus, with what the writer tests read in their own words."""

    def __init__(self, configuration):
        super().__init__(configuration, "smartcam.DynamoWriter")

    def deliver(self, topic, message):
        self.send(topic, message)

    def iot_reports(self):
        return self.on_iot(f"smartcam/{THING}/writer")

    def health(self):
        return self.on("smartcam/health/smartcam.DynamoWriter")


def load_main():
    # Every component has a main.py: load this one by path, not by the ambiguous name "main".
    spec = importlib.util.spec_from_file_location("dynamo_writer_main", COMPONENT_DIR / "main.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def recipe_defaults():
    return yaml.safe_load(RECIPE.read_text())["ComponentConfiguration"]["DefaultConfiguration"]


def test_recipe_defaults_are_a_valid_configuration():
    config = validate_config(DynamoWriterConfig, recipe_defaults())
    assert config.batch_size == 25
    assert config.overflow_policy == "refuseNewest"
    assert config.create_table_if_missing is False


def test_detections_in_items_out_with_reports(aws_env, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_IOT_THING_NAME", THING)
    monkeypatch.setenv("SMARTCAM_SPOOL_PATH", str(tmp_path / "work" / "spool.sqlite3"))
    monkeypatch.setenv("SMARTCAM_SNAPSHOT_SOURCE", str(tmp_path / "tracker"))
    monkeypatch.setenv("SMARTCAM_CAPTURE_SOURCE", str(tmp_path / "tracker-captures"))
    table = f"component-{tmp_path.name[-20:]}".replace("_", "-")
    configuration = recipe_defaults() | {"tableName": table, "createTableIfMissing": True, "store": "both",
                                         "flushIntervalS": 0.1, "reportIntervalS": 0.2}
    ipc = WriterNucleus(configuration)
    stop = threading.Event()
    runner = threading.Thread(target=load_main().main, args=(ipc.client, stop), daemon=True)
    runner.start()
    try:
        wait_until(lambda: "smartcam/detections" in ipc.topic_handlers, what="the subscription")
        messages = frames(40)
        for message in messages:
            ipc.deliver("smartcam/detections", message.to_message())
        ipc.deliver("smartcam/detections", messages[0].to_message())  # a duplicate frame
        ipc.deliver("smartcam/detections", {"schema": "smartcam.detections/1", "frame": "nonsense"})
        client = aws_env.client()

        def stored():
            try:
                return scan_all(client, table)
            except client.exceptions.ResourceNotFoundException:
                return []

        wait_until(lambda: len(stored()) >= 40, what="items in DynamoDB Local")
        wait_until(lambda: any(r["spool"]["items"] == 0 and r["counters"].get("itemsWritten") == 40
                               for r in ipc.iot_reports()), what="a report of the empty spool")
    finally:
        stop.set()
        runner.join(60)
    assert not runner.is_alive()
    items = stored()
    assert len(items) == 40
    assert {i["device"]["S"] for i in items} == {THING}
    reports = ipc.iot_reports()
    assert sum(r["written"] for r in reports) == 40
    confirmed = [c["sk"] for r in reports for c in r["confirmed"]]
    assert sorted(confirmed) == sorted(i["sk"]["S"] for i in items)
    # Confirmed when DynamoDB accepted the batch: after the writer sent it, before the report left.
    for report in reports:
        for entry in report["confirmed"]:
            sent = next(float(i["sentAt"]["N"]) for i in items if i["sk"]["S"] == entry["sk"])
            assert sent - 0.001 <= entry["at"] <= report["at"]
    last = reports[-1]["counters"]
    assert last["messagesInvalid"] == 1
    assert last["itemsSpooled"] == 40
    assert last["messagesDuplicate"] == 1  # the frame sent again: answered, nothing spooled
    receipts = [r for batch in ipc.parsed(Receipts, "smartcam/receipts") for r in batch.receipts]
    assert sorted((r.frame_id, r.outcome, r.items) for r in receipts) == sorted(
        [(m.frame.frame_id, "stored", 1) for m in messages] + [(messages[0].frame.frame_id, "stored", 1)])
    health = ipc.health()
    assert health and health[-1]["component"] == "smartcam.DynamoWriter"
    assert health[-1]["counters"]["messagesInvalid"] == 1
    ipc.client.update_state.assert_called()


def run_component(configuration):
    ipc = WriterNucleus(configuration)
    stop = threading.Event()
    runner = threading.Thread(target=load_main().main, args=(ipc.client, stop), daemon=True)
    runner.start()
    wait_until(lambda: "smartcam/detections" in ipc.topic_handlers or not runner.is_alive(), what="the subscription")
    assert runner.is_alive()
    return ipc, stop, runner


def test_backlog_from_an_outage_survives_a_restart_of_the_component(aws_env, monkeypatch, tmp_path, table):
    from local_greengrass.standins.dynamodb_local import free_port

    monkeypatch.setenv("AWS_IOT_THING_NAME", THING)
    monkeypatch.setenv("SMARTCAM_SPOOL_PATH", str(tmp_path / "work" / "spool.sqlite3"))
    monkeypatch.setenv("SMARTCAM_SNAPSHOT_SOURCE", str(tmp_path / "tracker"))
    monkeypatch.setenv("SMARTCAM_CAPTURE_SOURCE", str(tmp_path / "tracker-captures"))
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{free_port()}")  # DynamoDB unreachable
    configuration = recipe_defaults() | {"tableName": table, "store": "detections", "flushIntervalS": 0.1,
                                         "reportIntervalS": 0.2,
                                         "backoffBaseS": 0.05, "backoffMaxS": 0.5, "requestTimeoutS": 2}
    ipc, stop, runner = run_component(configuration)
    messages = frames(60)
    try:
        for message in messages:
            ipc.deliver("smartcam/detections", message.to_message())
        wait_until(lambda: any(r["lastError"] for r in ipc.iot_reports()), what="a report of the outage")
        assert any(h["state"] == "degraded" for h in ipc.health())
    finally:
        stop.set()
        runner.join(60)
    assert not runner.is_alive()
    assert scan_all(aws_env.client(), table) == []

    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", aws_env.endpoint)  # DynamoDB back, component restarted
    ipc, stop, runner = run_component(configuration)
    try:
        wait_until(lambda: len(scan_all(aws_env.client(), table)) >= 60, what="the backlog in DynamoDB Local")
        wait_until(lambda: any(r["spool"]["items"] == 0 for r in ipc.iot_reports()), what="an empty spool")
    finally:
        stop.set()
        runner.join(60)
    stored = sorted(i["frameId"]["S"] for i in scan_all(aws_env.client(), table))
    assert stored == sorted(m.frame.frame_id for m in messages)
