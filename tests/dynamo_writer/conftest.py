from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from dynamo_writer.dynamo import EVENTS_TABLE_DEFINITION, create_table_if_missing
from local_greengrass.standins.child import local_client
from local_greengrass.standins.dynamodb_local import DynamoDBLocal
from local_greengrass.standins.s3 import S3Server
from mutation_testing.shared_standins import SHARED_ENDPOINT_ENV
from tests.dynamo_writer.helpers import clear_aws_env, create_table, unique_table


@dataclass(frozen=True)
class RunningStandIn:
    """A stand-in started outside this test run (see SHARED_ENDPOINT_ENV): used, never stopped."""

    service: str
    endpoint: str

    def client(self, **config: Any) -> Any:
        return local_client(self.service, self.endpoint, **config)


@pytest.fixture(scope="session")
def ddb_local(tmp_path_factory):
    """One in-memory DynamoDB Local for the writer tests; each test uses its own table."""
    if shared := os.environ.get(SHARED_ENDPOINT_ENV["dynamodb"]):
        yield RunningStandIn("dynamodb", shared)
        return
    db = DynamoDBLocal(tmp_path_factory.mktemp("ddb-local"))
    db.start()
    yield db
    db.stop()


@pytest.fixture(scope="session")
def s3_local(tmp_path_factory):
    """One S3 stand-in (LocalBucket) for the writer tests; each test uses its own bucket."""
    if shared := os.environ.get(SHARED_ENDPOINT_ENV["s3"]):
        yield RunningStandIn("s3", shared)
        return
    server = S3Server(tmp_path_factory.mktemp("s3-local"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def aws_env(monkeypatch, tmp_path, ddb_local):
    """The environment a component sees, pointed at DynamoDB Local through AWS_ENDPOINT_URL_DYNAMODB."""
    clear_aws_env(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", ddb_local.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    return ddb_local


@pytest.fixture
def s3_env(aws_env, monkeypatch, s3_local):
    """... and at the S3 stand-in through AWS_ENDPOINT_URL_S3."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_local.endpoint)
    return s3_local


@pytest.fixture
def table(ddb_local):
    client = ddb_local.client()
    name = unique_table()
    create_table(client, name)
    yield name
    client.delete_table(TableName=name)


@pytest.fixture
def events_table(ddb_local):
    client = ddb_local.client()
    name = f"events-{uuid.uuid4().hex[:12]}"
    create_table_if_missing(client, name, EVENTS_TABLE_DEFINITION)
    yield name
    client.delete_table(TableName=name)


@pytest.fixture
def bucket(s3_local):
    name = f"snapshots-{uuid.uuid4().hex[:12]}"
    s3_local.client().create_bucket(Bucket=name)
    return name
