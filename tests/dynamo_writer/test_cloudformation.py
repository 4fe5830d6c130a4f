
"""infrastructure/dynamodb.yaml: cfn-lint clean, the tables and bucket the writer expects, least privilege."""

import subprocess
import sys
from pathlib import Path

import pytest
from cfnlint.decode.cfn_yaml import load

from dynamo_writer.dynamo import (
    ACTIONS_USED,
    CAMERA_INDEX,
    EVENT_ACTIONS_USED,
    EVENTS_TABLE_DEFINITION,
    LABEL_INDEX,
    SNAPSHOT_ACTIONS_USED,
    TABLE_DEFINITION,
    TTL_ATTRIBUTE,
    make_client,
)
from dynamo_writer.event_items import event_item
from dynamo_writer.items import items_for
from dynamo_writer.sender import Sender
from dynamo_writer.snapshots import make_s3_client
from dynamo_writer.spool import Spool
from repo_layout import REPO_ROOT
from smartcam.telemetry import Counters
from tests.dynamo_writer.helpers import DEVICE, config, drain, frames, snapshot, track_event
from tests.dynamo_writer.test_event_sender import EventRig

TEMPLATE = REPO_ROOT / "infrastructure" / "dynamodb.yaml"
TABLE_ARN = {"Fn::GetAtt": ["DetectionsTable", "Arn"]}
EVENTS_TABLE_ARN = {"Fn::GetAtt": ["EventsTable", "Arn"]}
SNAPSHOT_OBJECTS = {"Fn::Sub": "${SnapshotBucket.Arn}/${SnapshotKeyPrefix}/*"}
OWN_SNAPSHOT_OBJECTS = {"Fn::Sub": "${SnapshotBucket.Arn}/${SnapshotKeyPrefix}/${!credentials-iot:ThingName}/*"}
CAPTURE_OBJECTS = {"Fn::Sub": "${SnapshotBucket.Arn}/${CaptureKeyPrefix}/*"}
OWN_CAPTURE_OBJECTS = {"Fn::Sub": "${SnapshotBucket.Arn}/${CaptureKeyPrefix}/${!credentials-iot:ThingName}/*"}
OWN_PARTITION = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${credentials-iot:ThingName}"]}}


@pytest.fixture(scope="module")
def template():
    return load(str(TEMPLATE))


def test_cfn_lint_is_clean():
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(cfn_lint), str(TEMPLATE)], check=False, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_table_matches_what_the_writer_writes(template):
    table = template["Resources"]["DetectionsTable"]["Properties"]
    assert table["KeySchema"] == TABLE_DEFINITION["KeySchema"]
    assert table["AttributeDefinitions"] == TABLE_DEFINITION["AttributeDefinitions"]
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == LABEL_INDEX
    assert index["KeySchema"] == TABLE_DEFINITION["GlobalSecondaryIndexes"][0]["KeySchema"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    item = items_for(frames(1)[0], DEVICE, 30)[0].item
    for attribute in ("device", "sk", "label", "labelSk", TTL_ATTRIBUTE):
        assert attribute in item


def test_the_events_table_matches_what_the_writer_writes(template):
    table = template["Resources"]["EventsTable"]["Properties"]
    assert table["KeySchema"] == EVENTS_TABLE_DEFINITION["KeySchema"]
    assert table["AttributeDefinitions"] == EVENTS_TABLE_DEFINITION["AttributeDefinitions"]
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == CAMERA_INDEX
    assert index["KeySchema"] == EVENTS_TABLE_DEFINITION["GlobalSecondaryIndexes"][0]["KeySchema"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"] == {"SSEEnabled": True} and table["DeletionProtectionEnabled"] is True
    assert template["Resources"]["EventsTable"]["DeletionPolicy"] == "Retain"
    item = event_item(track_event(), DEVICE, 30).item
    for attribute in ("device", "event_id", "camera_key", "start_sk", TTL_ATTRIBUTE):
        assert attribute in item


def test_the_snapshot_bucket_is_private_encrypted_tls_only_and_expires_snapshots(template):
    bucket = template["Resources"]["SnapshotBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values()) and len(bucket["PublicAccessBlockConfiguration"]) == 4
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    expire = next(r for r in bucket["LifecycleConfiguration"]["Rules"] if "ExpirationInDays" in r)
    assert expire["Status"] == "Enabled" and expire["ExpirationInDays"] == {"Ref": "SnapshotRetentionDays"}
    assert expire["Prefix"] == {"Fn::Sub": "${SnapshotKeyPrefix}/"}
    (deny,) = template["Resources"]["SnapshotBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:*")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def writer_statements(template):
    policies = [r for r in template["Resources"].values()
                if r["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy")]
    assert len(policies) == 1
    return {s["Sid"]: s for s in policies[0]["Properties"]["PolicyDocument"]["Statement"]}


def as_list(value):
    return value if isinstance(value, list) else [value]


def test_token_exchange_policy_allows_each_writer_action_on_its_one_resource(template):
    statements = writer_statements(template)
    for statement in statements.values():
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement and "NotResource" not in statement
        assert not any("*" in a for a in as_list(statement["Action"]))
    granted = {sid: set(as_list(s["Action"])) for sid, s in statements.items()}
    assert granted == {"WriteDetections": set(ACTIONS_USED), "WriteEvents": set(EVENT_ACTIONS_USED),
                       "WriteSnapshots": set(SNAPSHOT_ACTIONS_USED), "WriteCaptures": {"s3:PutObject"}}
    assert as_list(statements["WriteDetections"]["Resource"]) == [TABLE_ARN]
    assert as_list(statements["WriteEvents"]["Resource"]) == [EVENTS_TABLE_ARN]
    condition, own, everyone = statements["WriteSnapshots"]["Resource"]["Fn::If"]
    assert (condition, own, everyone) == ("OwnPartitionOnly", OWN_SNAPSHOT_OBJECTS, SNAPSHOT_OBJECTS)
    condition, own, everyone = statements["WriteCaptures"]["Resource"]["Fn::If"]
    assert (condition, own, everyone) == ("OwnPartitionOnly", OWN_CAPTURE_OBJECTS, CAPTURE_OBJECTS)


def test_the_capture_prefix_defaults_to_the_writers():
    from dynamo_writer.settings import DynamoWriterConfig
    template = load(str(TEMPLATE))
    assert template["Parameters"]["CaptureKeyPrefix"]["Default"] == DynamoWriterConfig().capture_key_prefix


def test_own_partition_condition_uses_the_thing_name(template):
    statements = writer_statements(template)
    for sid in ("WriteDetections", "WriteEvents"):
        condition = statements[sid]["Condition"]["Fn::If"]
        assert condition[0] == "OwnPartitionOnly"
        assert condition[1] == OWN_PARTITION


@pytest.mark.integration
def test_the_writer_makes_no_call_the_policy_does_not_allow(aws_env, table, tmp_path):
    calls = []

    def factory(cfg):
        client = make_client(cfg)
        client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
        return client

    spool = Spool(tmp_path / "spool.sqlite3")
    for message in frames(30):
        spool.put(items_for(message, DEVICE, 30), max_items=100, max_bytes=10**9, policy="refuseNewest")
    sender = Sender(spool, lambda: config(tableName=table), Counters(), client_factory=factory)
    drain(sender, spool)
    assert calls
    assert {f"dynamodb:{name}" for name in calls} <= set(ACTIONS_USED)


@pytest.mark.integration
def test_the_event_sender_makes_no_call_the_policy_does_not_allow(s3_env, events_table, bucket, tmp_path):
    calls = []

    def watched(make, service):
        def factory(cfg):
            client = make(cfg)
            client.meta.events.register(f"before-call.{service}",
                                        lambda model, **_: calls.append(f"{service}:{model.name}"))
            return client
        return factory

    rig = EventRig(tmp_path, events_table, bucket, client_factory=watched(make_client, "dynamodb"),
                   s3_client_factory=watched(make_s3_client, "s3"))
    try:
        rig.send(track_event("e1", 0, snapshot=snapshot(rig.source, "e1")))
        rig.send(track_event("e1", 1, kind="end", snapshot=snapshot(rig.source, "e1", seed=3)))
        rig.drain()
    finally:
        rig.close()
    assert calls and set(calls) == set(EVENT_ACTIONS_USED) | set(SNAPSHOT_ACTIONS_USED)


@pytest.mark.integration
def test_the_capture_sender_makes_no_call_the_policy_does_not_allow(s3_env, bucket, tmp_path):
    from tests.dynamo_writer.test_captures import Rig, data_capture

    calls = []

    def factory(cfg):
        client = make_s3_client(cfg)
        client.meta.events.register("before-call.s3", lambda model, **_: calls.append(f"s3:{model.name}"))
        return client

    rig = Rig(tmp_path, bucket, s3_client_factory=factory)
    capture, _ = data_capture(rig.source, 1)
    rig.receiver.on_message("smartcam/data-captures", capture.to_message())
    rig.drain()
    rig.spool.close()
    assert calls == ["s3:PutObject"] * 3
