from __future__ import annotations

import pytest
from writer_helpers import create_table, unique_table

from local_greengrass.dynamodb_local import DynamoDBLocal


@pytest.fixture(scope="session")
def ddb_local(tmp_path_factory):
    """One in-memory DynamoDB Local for the writer tests; each test uses its own table."""
    db = DynamoDBLocal(tmp_path_factory.mktemp("ddb-local"))
    db.start()
    yield db
    db.stop()


def clear_aws_env(monkeypatch, tmp_path):
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                 "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", "us-east-1")


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
