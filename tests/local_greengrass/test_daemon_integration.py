
"""The whole local runtime through its CLI: tiny components built in tmp, the real awsiotsdk client in them.

One runtime serves the whole module (start-up includes DynamoDB Local's JVM); the last test takes it
down and checks that nothing is left.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import threading
import time
from pathlib import Path

import psutil
import pytest
from awscrt import mqtt5
from awsiot import mqtt5_client_builder

from local_greengrass.lifecycle.processes import marked_processes
from local_greengrass.paths import RuntimePaths
from local_greengrass.standins.mosquitto import OPERATOR, Mosquitto
from repo_layout import REPO_ROOT
from tests.local_greengrass.helpers import PYTHON, write_component

pytestmark = pytest.mark.integration

CLI = str(REPO_ROOT / "scripts" / "local-greengrass")
WAIT = 120.0
THING = "lg-test-thing"

PINGER = """
import json, pathlib, time
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import JsonMessage, PublishMessage, ReportedLifecycleState

client = GreengrassCoreIPCClientV2()
topic = client.get_configuration(key_path=["topic"]).value["topic"]
client.update_state(state=ReportedLifecycleState.RUNNING)
pathlib.Path("running").write_text("yes")  # the work folder: test.Dependent's install checks it
n = 0
while True:
    client.publish_to_topic(topic=topic, publish_message=PublishMessage(json_message=JsonMessage(message={"n": n})))
    n += 1
    time.sleep(0.2)
"""

CONFIGURED = """
import json, os, threading
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import ReportedLifecycleState

client = GreengrassCoreIPCClientV2()
print("pid", os.getpid(), flush=True)
print("config", json.dumps(client.get_configuration().value, sort_keys=True), flush=True)

def on_update(event):
    value = client.get_configuration().value
    print("config-update", json.dumps(value, sort_keys=True), flush=True)

def on_outside(event):
    print("outside-said", json.dumps(event.json_message.message), flush=True)

def on_iot(event):
    print("iot-said", event.message.topic_name, event.message.payload.decode(), flush=True)

client.subscribe_to_configuration_update(on_stream_event=on_update)
client.subscribe_to_iot_core(topic_name=f"smartcam/{os.environ['AWS_IOT_THING_NAME']}/capture", qos="1",
                             on_stream_event=on_iot)
client.subscribe_to_topic(topic="test/outside", on_stream_event=on_outside)
client.update_state(state=ReportedLifecycleState.RUNNING)
threading.Event().wait()
"""

DEPENDENT = """
import os, threading
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import ReportedLifecycleState

print("pinger-topic", os.environ["PINGER_TOPIC"], "model", os.environ["PINGER_FILES"], flush=True)
GreengrassCoreIPCClientV2().update_state(state=ReportedLifecycleState.RUNNING)
threading.Event().wait()
"""

CREDS = """
import os, threading
import boto3
from botocore.exceptions import ClientError
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import ReportedLifecycleState

dynamodb = boto3.client("dynamodb")  # endpoint, region and credentials: all from the runtime's environment
dynamodb.create_table(TableName="lg-test", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                      AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                      BillingMode="PAY_PER_REQUEST")
print("tables", dynamodb.list_tables()["TableNames"], "via", os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
      flush=True)
s3 = boto3.client("s3")  # the same: nothing but the runtime's environment
s3.create_bucket(Bucket="lg-test-snapshots")
s3.put_object(Bucket="lg-test-snapshots", Key="cam0/e1.jpg", Body=b"snapshot", IfNoneMatch="*")
try:
    s3.put_object(Bucket="lg-test-snapshots", Key="cam0/e1.jpg", Body=b"again", IfNoneMatch="*")
    again = "stored twice"
except ClientError as exc:
    again = exc.response["Error"]["Code"]
print("s3", s3.get_object(Bucket="lg-test-snapshots", Key="cam0/e1.jpg")["Body"].read().decode(), again,
      "at", os.environ["AWS_ENDPOINT_URL_S3"], flush=True)
GreengrassCoreIPCClientV2().update_state(state=ReportedLifecycleState.RUNNING)
threading.Event().wait()
"""

VALIDATOR = """
import json, threading
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import ConfigurationValidityReport, ConfigurationValidityStatus

client = GreengrassCoreIPCClientV2()

def on_validate(event):
    proposal = event.validate_configuration_update_event
    print("validate", json.dumps(proposal.configuration, sort_keys=True), flush=True)
    if proposal.configuration.get("silent"):
        return  # never answers: the deployment times out
    limit = proposal.configuration.get("limit")
    ok = isinstance(limit, int) and limit > 0
    report = ConfigurationValidityReport(
        status=ConfigurationValidityStatus.ACCEPTED if ok else ConfigurationValidityStatus.REJECTED,
        deployment_id=proposal.deployment_id, message=None if ok else f"limit must be positive, not {limit}")
    client.send_configuration_validity_report(configuration_validity_report=report)

def on_update(event):
    print("config-update", json.dumps(client.get_configuration().value, sort_keys=True), flush=True)

client.subscribe_to_validate_configuration_updates(on_stream_event=on_validate)
client.subscribe_to_configuration_update(on_stream_event=on_update)
print("config", json.dumps(client.get_configuration().value, sort_keys=True), flush=True)
threading.Event().wait()
"""

SMART = """
import sys
from concurrent.futures import ThreadPoolExecutor
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from pydantic import PositiveInt
from smartcam.component import run_component
from smartcam.config import ComponentConfig

class Settings(ComponentConfig):
    limit: PositiveInt = 5

class App:
    def __init__(self, ipc, live):
        self.live = live

    def start(self):
        print("app started with limit", self.live.current.limit, flush=True)

    def stop(self):
        print("app stopped", flush=True)

client = GreengrassCoreIPCClientV2(executor=ThreadPoolExecutor(max_workers=1))  # as the smartcam components
sys.exit(run_component("test.Smart", Settings, App, client))
"""

OUTSIDE = """
import sys, threading
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import JsonMessage, PublishMessage

client = GreengrassCoreIPCClientV2()
got = threading.Event()
client.subscribe_to_topic(topic="test/ping", on_stream_event=lambda event: got.set())
if not got.wait(60):
    sys.exit("no message from test.Pinger")
client.publish_to_topic(topic="test/outside",
                        publish_message=PublishMessage(json_message=JsonMessage(message={"hello": "outside"})))
client.close()
print("outside done")
"""


# Joins as test.Smart and changes its configuration outside any deployment (nothing validates it first).
UPDATER = """
import datetime, time
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

client = GreengrassCoreIPCClientV2()
for value in ("6", -1):
    client.update_configuration(key_path=[], timestamp=datetime.datetime.now(datetime.timezone.utc),
                                value_to_merge={"limit": value})
    time.sleep(0.5)
client.close()
print("updater done")
"""


def run_cli(root: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, "--root", str(root), *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


def build(components: Path) -> None:
    run = PYTHON + " -u {artifacts:decompressedPath}/%s/main.py"
    write_component(components, "test.Pinger", files={"main.py": PINGER}, lifecycle={"Run": run % "Pinger"},
                    configuration={"topic": "test/ping", "accessControl": {"aws.greengrass.ipc.pubsub": {
                        "test.Pinger:pubsub:1": {"operations": ["aws.greengrass#PublishToTopic"],
                                                 "resources": ["test/ping"]}}}},
                    permission={"Read": "ALL"})
    write_component(components, "test.Configured", files={"main.py": CONFIGURED},
                    lifecycle={"Run": run % "Configured"},
                    configuration={"greeting": "hello {iot:thingName}", "accessControl": {"aws.greengrass.ipc.pubsub": {
                        "test.Configured:pubsub:1": {"operations": ["aws.greengrass#SubscribeToTopic"],
                                                     "resources": ["test/outside", "test/ping"]},
                        "test.Configured:pubsub:2": {"operations": ["aws.greengrass#PublishToTopic"],
                                                     "resources": ["test/outside"]}},
                        "aws.greengrass.ipc.mqttproxy": {"test.Configured:mqttproxy:1": {
                            "operations": ["aws.greengrass#SubscribeToIoTCore"],
                            "resources": ["smartcam/{iot:thingName}/capture"]}}}})
    write_component(components, "test.Dependent", files={"main.py": DEPENDENT},
                    dependencies={"test.Pinger": "^1.0.0"},
                    lifecycle={"Setenv": {"PINGER_TOPIC": "{test.Pinger:configuration:/topic}",
                                          "PINGER_FILES": "{test.Pinger:artifacts:decompressedPath}"},
                               # test.Pinger is RUNNING once its process started, before it wrote the file.
                               "Install": "for i in $(seq 900); do test -f {test.Pinger:work:path}/running && "
                                          "exit 0; sleep 0.1; done; exit 1",
                               "Run": run % "Dependent"})
    write_component(components, "test.Creds", files={"main.py": CREDS},
                    dependencies={"aws.greengrass.TokenExchangeService": "^2.0.0"}, lifecycle={"Run": run % "Creds"})
    write_component(components, "test.Validator", files={"main.py": VALIDATOR},
                    lifecycle={"Run": run % "Validator"}, configuration={"limit": 5})
    write_component(components, "test.Smart", files={"main.py": SMART}, configuration={"limit": 5},
                    lifecycle={"Run": run % "Smart"})
    write_component(components, "test.Crasher", lifecycle={"Run": "echo crashing; exit 3"})
    write_component(components, "test.Orphan", dependencies={"test.Missing": "^1.0.0"}, lifecycle={"Run": "true"})
    write_component(components, "test.Mismatch", lifecycle={"Run": "true"})
    broken = components / "BadRecipe" / "greengrass-build" / "recipes"
    broken.mkdir(parents=True)
    (broken / "recipe.yaml").write_text("ComponentName: test.BadRecipe\nManifests: [unclosed\n")


def _component(merge: dict | None) -> dict:
    component: dict = {"componentVersion": "1.0.0"}
    if merge:
        component["configurationUpdate"] = {"merge": json.dumps(merge)}
    return component


def document(extra_merge: dict | None = None, validator_merge: dict | None = None) -> dict:
    configured = _component(extra_merge)
    return {
        "targetArn": f"arn:aws:iot:eu-west-1:000000000000:thing/{THING}",
        "components": {
            "aws.greengrass.Nucleus": {"componentVersion": "2.14.3", "configurationUpdate": {
                "merge": json.dumps({"interpolateComponentConfiguration": True})}},
            "aws.greengrass.TokenExchangeService": {"componentVersion": "2.0.3"},
            "test.Pinger": {"componentVersion": "1.0.0"},
            "test.Configured": configured,
            "test.Dependent": {"componentVersion": "1.0.0"},
            "test.Creds": {"componentVersion": "1.0.0"},
            "test.Validator": _component(validator_merge),
            "test.Crasher": {"componentVersion": "1.0.0"},
            "test.Orphan": {"componentVersion": "1.0.0"},
            "test.Mismatch": {"componentVersion": "2.0.0"},
            "test.BadRecipe": {"componentVersion": "1.0.0"},
        },
    }


class Runtime:
    def __init__(self, root: Path, components: Path) -> None:
        self.root, self.components = root, components
        self.paths = RuntimePaths(root)

    def status(self) -> dict[str, dict]:
        result = run_cli(self.root, "status", "--json")
        assert result.returncode == 0, result.stderr
        return {row["component"]: row for row in json.loads(result.stdout)["components"]}

    def wait_for(self, condition, what: str) -> None:
        deadline = time.monotonic() + WAIT
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}; status: {self.status()}"
            time.sleep(0.3)

    def log(self, component: str) -> str:
        result = run_cli(self.root, "logs", component)
        return result.stdout


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("lgrt")
    components, root = base / "components", base / "root"
    build(components)
    doc_path = base / "dev.json"
    doc_path.write_text(json.dumps(document()))
    try:
        up = subprocess.run([CLI, "up", str(doc_path), "--root", str(root), "--components-dir", str(components),
                             "--timeout", "240"], capture_output=True, text=True, timeout=280, check=False)
    except BaseException:  # a timeout here skips the teardown below: never leave the runtime behind
        run_cli(root, "down")
        raise
    rt = Runtime(root, components)
    rt.up = up
    yield rt
    run_cli(root, "down")


def test_up_starts_what_it_can_and_names_what_it_cannot(runtime: Runtime) -> None:
    # `up` waits until everything settled; it fails because some components are bad.
    assert runtime.up.returncode == 1, runtime.up.stdout + runtime.up.stderr
    assert f"thing {THING}, region eu-west-1" in runtime.up.stdout
    status = runtime.status()
    for name in ("test.Pinger", "test.Configured", "test.Dependent", "test.Creds", "test.Validator"):
        assert status[name]["state"] == "RUNNING", (name, status[name], runtime.log(name))
    assert status["aws.greengrass.TokenExchangeService"]["state"] == "RUNNING"
    assert status["test.Pinger"]["reported"] == "RUNNING"  # what it said itself with UpdateState
    assert status["test.Crasher"]["state"] == "BROKEN", (status["test.Crasher"], runtime.up.stdout)
    assert "test.Orphan depends on test.Missing" in status["test.Orphan"]["error"]
    assert "version mismatch" in status["test.Mismatch"]["error"]
    assert "recipe does not parse" in status["test.BadRecipe"]["error"]
    assert "BadRecipe" in status["test.BadRecipe"]["error"]
    assert "ERROR test.Orphan" in runtime.up.stderr


def test_lifecycle_interpolation_and_order(runtime: Runtime) -> None:
    log = runtime.log("test.Dependent")
    expected = runtime.paths.unarchived("test.Pinger", "1.0.0")
    assert f"pinger-topic test/ping model {expected}" in log
    assert runtime.log("test.Crasher").splitlines().count("crashing") == 3


def test_component_configuration_is_interpolated_when_the_nucleus_says_so(runtime: Runtime) -> None:
    assert f'"greeting": "hello {THING}"' in runtime.log("test.Configured")


def test_iot_core_messages_published_to_mosquitto_reach_the_component(runtime: Runtime) -> None:
    response = json.loads(run_cli(runtime.root, "status", "--json").stdout)
    broker = response["standins"]["iot_core"]
    cert, key = Mosquitto(Path(broker["workdir"])).issue_client_cert(OPERATOR)  # the broker's own CA signs it
    connected, stopped = threading.Event(), threading.Event()
    client = mqtt5_client_builder.mtls_from_path(
        endpoint=broker["host"], port=broker["port"], cert_filepath=str(cert), pri_key_filepath=str(key),
        ca_filepath=broker["ca_path"], client_id="lg-test-operator", enable_metrics_collection=False,
        on_lifecycle_connection_success=lambda _: connected.set(), on_lifecycle_stopped=lambda _: stopped.set())
    client.start()
    try:
        assert connected.wait(WAIT)
        packet = mqtt5.PublishPacket(topic=f"smartcam/{THING}/capture", payload=b'{"capture": 1}',
                                     qos=mqtt5.QoS.AT_LEAST_ONCE)
        puback = client.publish(packet).result(WAIT).puback
        assert puback.reason_code == mqtt5.PubackReasonCode.SUCCESS
    finally:
        client.stop()
        stopped.wait(WAIT)
    runtime.wait_for(lambda: f'iot-said smartcam/{THING}/capture {{"capture": 1}}' in runtime.log("test.Configured"),
                     "the IoT Core message at test.Configured")


def test_token_exchange_dependent_reaches_dynamodb_local(runtime: Runtime) -> None:
    log = runtime.log("test.Creds")
    assert "tables ['lg-test'] via http://127.0.0.1:" in log


def test_token_exchange_dependent_reaches_the_s3_stand_in(runtime: Runtime) -> None:
    endpoint = json.loads(run_cli(runtime.root, "status", "--json").stdout)["standins"]["s3"]
    assert endpoint.startswith("http://127.0.0.1:")
    runtime.wait_for(lambda: "s3 " in runtime.log("test.Creds"), "test.Creds to use S3")
    assert f"s3 snapshot PreconditionFailed at {endpoint}" in runtime.log("test.Creds")
    # The object is in the stand-in's folder under the runtime's root, where it outlives the runtime.
    stored = runtime.paths.standin("s3") / "data" / "lg-test-snapshots" / "cam0" / "e1.jpg"
    assert stored.read_bytes() == b"snapshot"


def test_env_lets_an_outside_process_join_as_a_component(runtime: Runtime) -> None:
    exports = run_cli(runtime.root, "env", "test.Configured")
    assert exports.returncode == 0, exports.stderr
    assert "AWS_CONTAINER_CREDENTIALS_FULL_URI" not in exports.stdout  # no TES dependency
    script = runtime.root.parent / "outside.py"
    script.write_text(OUTSIDE)
    # What a developer does: eval the exports in a shell, then run any Python process.
    outside = subprocess.run(["bash", "-c", f'eval "$({CLI} --root {runtime.root} env test.Configured)" && '
                                            f"{shlex.quote(PYTHON)} {shlex.quote(str(script))}"],
                             capture_output=True, text=True, timeout=WAIT, check=False)
    assert outside.returncode == 0, outside.stdout + outside.stderr
    runtime.wait_for(lambda: 'outside-said {"hello": "outside"}' in runtime.log("test.Configured"),
                     "test.Configured to receive the outside message")
    creds = run_cli(runtime.root, "env", "test.Creds").stdout
    assert "export AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:" in creds
    assert "export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:" in creds
    assert "export AWS_ENDPOINT_URL_S3=http://127.0.0.1:" in creds
    unknown = run_cli(runtime.root, "env", "test.Nope")
    assert unknown.returncode == 1 and "test.Nope is not deployed" in unknown.stderr


def test_redeploy_sends_configuration_events_without_a_restart(runtime: Runtime) -> None:
    doc_path = runtime.root.parent / "dev2.json"
    new = document({"greeting": "bye"})
    del new["components"]["test.Crasher"]
    doc_path.write_text(json.dumps(new))
    result = run_cli(runtime.root, "deploy", str(doc_path), "--timeout", "120")
    assert "reconfigured:" in result.stdout and "removed: test.Crasher" in result.stdout, result.stdout + result.stderr
    runtime.wait_for(lambda: '"greeting": "bye"' in runtime.log("test.Configured"), "the configuration event")
    log = runtime.log("test.Configured")
    assert len([line for line in log.splitlines() if line.startswith("pid ")]) == 1
    status = runtime.status()
    assert "test.Crasher" not in status
    assert status["test.Configured"]["state"] == "RUNNING"


def test_bad_deploy_is_refused_and_changes_nothing(runtime: Runtime) -> None:
    bad = runtime.root.parent / "bad.json"
    bad.write_text(json.dumps({"components": {"test.Pinger": {}}}))
    result = run_cli(runtime.root, "deploy", str(bad))
    assert result.returncode == 1 and "componentVersion None is not a semantic version" in result.stderr
    assert runtime.status()["test.Pinger"]["state"] == "RUNNING"


def _good_document(configured_merge: dict | None = None, validator_merge: dict | None = None,
                   validation_timeout: int | None = None) -> dict:
    """Only the deployable components (no BROKEN or invalid ones), so a successful `deploy` exits 0."""
    new = document(configured_merge, validator_merge)
    for name in ("test.Crasher", "test.Orphan", "test.Mismatch", "test.BadRecipe"):
        del new["components"][name]
    if validation_timeout is not None:
        new["deploymentPolicies"] = {"configurationValidationPolicy": {"timeoutInSeconds": validation_timeout}}
    return new


def _deploy(runtime: Runtime, name: str, new: dict) -> subprocess.CompletedProcess[str]:
    path = runtime.root.parent / name
    path.write_text(json.dumps(new))
    return run_cli(runtime.root, "deploy", str(path), "--timeout", "120")


def test_a_configuration_the_component_rejects_fails_the_deployment_and_changes_nothing(runtime: Runtime) -> None:
    # A Run component is RUNNING once started; it subscribes to validation a moment later.
    runtime.wait_for(lambda: "config {" in runtime.log("test.Validator"), "test.Validator to subscribe")
    result = _deploy(runtime, "rejected.json", _good_document({"greeting": "never applied"}, {"limit": -1}))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "test.Validator rejected its new configuration: limit must be positive, not -1" in result.stderr
    assert "nothing was applied" in result.stderr
    log = runtime.log("test.Validator")
    assert 'validate {"limit": -1}' in log and "config-update" not in log
    assert "never applied" not in runtime.log("test.Configured")  # not even the other components changed
    status = runtime.status()
    assert status["test.Validator"]["state"] == "RUNNING" and status["test.Configured"]["state"] == "RUNNING"


def test_no_validity_report_in_time_fails_the_deployment(runtime: Runtime) -> None:
    result = _deploy(runtime, "silent.json", _good_document(validator_merge={"silent": True}, validation_timeout=2))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no configuration validity report from test.Validator within 2 s" in result.stderr
    assert "config-update" not in runtime.log("test.Validator")


def test_an_accepted_configuration_is_applied(runtime: Runtime) -> None:
    result = _deploy(runtime, "accepted.json", _good_document(validator_merge={"limit": 7}))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "reconfigured: test.Validator" in result.stdout
    runtime.wait_for(lambda: 'config-update {"limit": 7}' in runtime.log("test.Validator"), "the accepted update")
    assert len([line for line in runtime.log("test.Validator").splitlines() if line.startswith("config {")]) == 1


def _with_smart(limit: int) -> dict:
    new = _good_document()
    new["components"]["test.Smart"] = _component({"limit": limit})
    return new


def test_smartcam_live_config_rejects_what_its_model_refuses(runtime: Runtime) -> None:
    result = _deploy(runtime, "smart-4.json", _with_smart(4))
    assert result.returncode == 0, result.stdout + result.stderr
    runtime.wait_for(lambda: "app started with limit 4" in runtime.log("test.Smart"), "test.Smart to start")
    result = _deploy(runtime, "smart-bad.json", _with_smart(-1))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "test.Smart rejected its new configuration: invalid Settings: limit: must be greater than 0" \
        in result.stderr
    result = _deploy(runtime, "smart-6.json", _with_smart(6))
    assert result.returncode == 0, result.stdout + result.stderr
    runtime.wait_for(lambda: "configuration updated" in runtime.log("test.Smart"), "the accepted update")
    assert runtime.log("test.Smart").count("app started") == 1  # applied live, no restart


def test_an_invalid_update_configuration_outside_a_deployment_keeps_smartcam_running(runtime: Runtime) -> None:
    runtime.wait_for(lambda: runtime.status()["test.Smart"]["state"] == "RUNNING", "test.Smart to run")
    script = runtime.root.parent / "updater.py"
    script.write_text(UPDATER)
    updater = subprocess.run(["bash", "-c", f'eval "$({CLI} --root {runtime.root} env test.Smart)" && '
                                            f"{shlex.quote(PYTHON)} {shlex.quote(str(script))}"],
                             capture_output=True, text=True, timeout=WAIT, check=False)
    assert updater.returncode == 0 and "updater done" in updater.stdout, updater.stdout + updater.stderr
    refused = "refused, the previous one stays"
    runtime.wait_for(lambda: runtime.log("test.Smart").count(refused) == 2, "test.Smart to refuse both updates")
    time.sleep(4.0)  # an ERRORED report would have the runtime restart it by now (BROKEN after 3)
    log = runtime.log("test.Smart")
    assert "limit: must be a whole number" in log and "limit: must be greater than 0" in log
    assert "configuration unusable" not in log and log.count("app started") == 1
    assert runtime.status()["test.Smart"]["state"] == "RUNNING"


def test_invalid_at_start_up_ends_broken_and_a_fixing_deployment_reinstalls_it(runtime: Runtime) -> None:
    result = _deploy(runtime, "no-smart.json", _good_document())
    assert "removed: test.Smart" in result.stdout, result.stdout + result.stderr
    # A new component is not asked to validate: it starts with the bad configuration, reports ERRORED,
    # is restarted by the runtime and is BROKEN after the third error, as on a core device.
    # (Like the nucleus's, this deployment may end before that: RUNNING is "its process started".)
    _deploy(runtime, "smart-bad-new.json", _with_smart(-1))
    runtime.wait_for(lambda: runtime.status()["test.Smart"]["state"] == "BROKEN", "test.Smart to be BROKEN")
    status = runtime.status()["test.Smart"]
    assert status["state"] == "BROKEN" and "reported ERRORED" in status["error"], status
    log = runtime.log("test.Smart")
    assert log.count("configuration unusable") == 3 and log.count("app started") == 1  # the first deployment's
    result = _deploy(runtime, "smart-fixed.json", _with_smart(2))  # the nucleus reinstalls BROKEN components
    assert result.returncode == 0, result.stdout + result.stderr
    assert "restarted: test.Smart" in result.stdout
    runtime.wait_for(lambda: "app started with limit 2" in runtime.log("test.Smart"), "the fixed test.Smart")


def test_down_leaves_nothing_behind(runtime: Runtime) -> None:
    marker = runtime.paths.instance_file.read_text().strip()
    daemon_pid = int(runtime.paths.pid_file.read_text())
    children = psutil.Process(daemon_pid).children(recursive=True)
    assert len(children) >= 6  # watchdog, mosquitto, java, the components
    result = run_cli(runtime.root, "down")
    assert result.returncode == 0 and "stopped" in result.stdout, result.stderr
    assert not psutil.pid_exists(daemon_pid) or psutil.Process(daemon_pid).status() == psutil.STATUS_ZOMBIE
    assert [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE] == []
    assert marked_processes(marker) == []
    assert _processes_under(runtime.root) == []
    assert run_cli(runtime.root, "status").returncode == 1


def _processes_under(root: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if Path(process.cwd()).is_relative_to(root):
                found.append(process)
        except (psutil.Error, OSError):
            continue
    return found

