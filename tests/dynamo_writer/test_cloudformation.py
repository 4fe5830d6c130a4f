
"""infrastructure/dynamodb.yaml: cfn-lint clean, the table the writer expects, least privilege."""

import subprocess
import sys
from pathlib import Path

import pytest
from cfnlint.decode.cfn_yaml import load

from dynamo_writer.dynamo import ACTIONS_USED, LABEL_INDEX, TABLE_DEFINITION, TTL_ATTRIBUTE
from dynamo_writer.items import items_for
from dynamo_writer.sender import Sender
from dynamo_writer.spool import Spool
from repo_layout import REPO_ROOT
from smartcam.telemetry import Counters
from tests.dynamo_writer.helpers import DEVICE, config, drain, frames

TEMPLATE = REPO_ROOT / "infrastructure" / "dynamodb.yaml"
TABLE_ARN = {"Fn::GetAtt": ["DetectionsTable", "Arn"]}
INDEX_ARNS = {"Fn::Sub": "${DetectionsTable.Arn}/index/*"}


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


def writer_statements(template):
    policies = [r for r in template["Resources"].values()
                if r["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy")]
    assert len(policies) == 1
    return policies[0]["Properties"]["PolicyDocument"]["Statement"]


def as_list(value):
    return value if isinstance(value, list) else [value]


def test_token_exchange_policy_allows_only_this_table_and_the_writers_actions(template):
    statements = writer_statements(template)
    actions, resources = set(), []
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement and "NotResource" not in statement
        actions |= set(as_list(statement["Action"]))
        resources += as_list(statement["Resource"])
    assert actions == set(ACTIONS_USED)
    assert resources and all(r in (TABLE_ARN, INDEX_ARNS) for r in resources)
    assert not any("*" in str(a) for a in actions)


def test_own_partition_condition_uses_the_thing_name(template):
    (statement,) = writer_statements(template)
    condition = statement["Condition"]["Fn::If"]
    assert condition[0] == "OwnPartitionOnly"
    assert condition[1] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${credentials-iot:ThingName}"]}}


@pytest.mark.integration
def test_the_writer_makes_no_call_the_policy_does_not_allow(aws_env, table, tmp_path):
    calls = []

    def factory(cfg):
        from dynamo_writer.dynamo import make_client

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
