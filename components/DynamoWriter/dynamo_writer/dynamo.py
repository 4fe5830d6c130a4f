"""The DynamoDB client and the table's definition (the same one as infrastructure/dynamodb.yaml).

Region comes from configuration, else AWS_REGION (else AWS_DEFAULT_REGION); credentials from
whatever boto3 finds, on a device the token exchange service (AWS_CONTAINER_CREDENTIALS_FULL_URI +
AWS_CONTAINER_AUTHORIZATION_TOKEN); the endpoint only from AWS_ENDPOINT_URL_DYNAMODB, read by boto3.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from dynamo_writer.settings import DynamoWriterConfig

log = logging.getLogger(__name__)

# Every action the writer performs in production, by the resource it acts on; the IAM policy grants
# exactly these (tests/dynamo_writer/test_cloudformation.py checks both the template and the calls made).
ACTIONS_USED = ("dynamodb:BatchWriteItem",)  # the detections table
EVENT_ACTIONS_USED = ("dynamodb:PutItem",)  # the events table
SNAPSHOT_ACTIONS_USED = ("s3:PutObject",)  # the snapshot bucket, below the key prefix

# The label index is partitioned by label and shard (a hash of the device, see items.label_shard):
# a label seen by the whole fleet spreads over LABEL_SHARDS partition keys instead of one hot key.
LABEL_INDEX = "byLabelShard"
TTL_ATTRIBUTE = "expiresAt"

TABLE_DEFINITION: dict[str, Any] = {
    "AttributeDefinitions": [
        {"AttributeName": "device", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
        {"AttributeName": "labelShard", "AttributeType": "S"},
        {"AttributeName": "labelSk", "AttributeType": "S"},
    ],
    "KeySchema": [
        {"AttributeName": "device", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": LABEL_INDEX,
            "KeySchema": [
                {"AttributeName": "labelShard", "KeyType": "HASH"},
                {"AttributeName": "labelSk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ],
    "BillingMode": "PAY_PER_REQUEST",
}

# The events table (dynamo_writer.event_items): one item per event; the index serves a camera's events by time.
CAMERA_INDEX = "byCameraTime"
EVENTS_TABLE_DEFINITION: dict[str, Any] = {
    "AttributeDefinitions": [
        {"AttributeName": "device", "AttributeType": "S"},
        {"AttributeName": "event_id", "AttributeType": "S"},
        {"AttributeName": "camera_key", "AttributeType": "S"},
        {"AttributeName": "start_sk", "AttributeType": "S"},
    ],
    "KeySchema": [
        {"AttributeName": "device", "KeyType": "HASH"},
        {"AttributeName": "event_id", "KeyType": "RANGE"},
    ],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": CAMERA_INDEX,
            "KeySchema": [
                {"AttributeName": "camera_key", "KeyType": "HASH"},
                {"AttributeName": "start_sk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ],
    "BillingMode": "PAY_PER_REQUEST",
}


def make_client(config: DynamoWriterConfig) -> Any:
    """A fresh DynamoDB client (fresh credential chain): retries are ours, botocore only tries twice.
    Items are built by dynamo_writer.items and DynamoDB validates them anyway; botocore's client-side
    walk over every nested attribute cost more CPU than the request itself."""
    return fresh_client("dynamodb", config, parameter_validation=False)


def fresh_client(service: str, config: DynamoWriterConfig, **options: Any) -> Any:
    """A client of ``service`` with a fresh credential chain, botocore trying each call twice at most."""
    session = boto3.session.Session()
    return session.client(
        service,
        # The nucleus sets AWS_REGION; botocore itself only reads AWS_DEFAULT_REGION.
        region_name=config.region or os.environ.get("AWS_REGION") or None,
        config=Config(
            retries={"mode": "standard", "total_max_attempts": 2},
            connect_timeout=config.request_timeout_s,
            read_timeout=config.request_timeout_s,
            tcp_keepalive=True,
            **options,
        ),
    )


def create_table_if_missing(client: Any, table_name: str, definition: dict[str, Any] = TABLE_DEFINITION) -> bool:
    """Local/dev runtime only (createTableIfMissing): create the table (detections unless ``definition``
    says otherwise) and enable TTL."""
    try:
        client.create_table(TableName=table_name, **definition)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceInUseException":
            return False
        raise
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    client.update_time_to_live(
        TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )
    log.info("created table %s", table_name)
    return True
