from __future__ import annotations

import pytest

from local_greengrass.standins.dynamodb_local import DynamoDBLocal
from tests.dynamo_writer.helpers import clear_aws_env, create_table, unique_table


@pytest.fixture(scope="session")
def ddb_local(tmp_path_factory):
    """One in-memory DynamoDB Local for the writer tests; each test uses its own table."""
    db = DynamoDBLocal(tmp_path_factory.mktemp("ddb-local"))
    db.start()
    yield db
    db.stop()


@pytest.fixture
def aws_env(monkeypatch, tmp_path, ddb_local):
    """The environment a component sees, pointed at DynamoDB Local through AWS_ENDPOINT_URL_DYNAMODB."""
    clear_aws_env(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", ddb_local.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    return ddb_local


@pytest.fixture
def table(ddb_local):
    client = ddb_local.client()
    name = unique_table()
    create_table(client, name)
    yield name
    client.delete_table(TableName=name)
