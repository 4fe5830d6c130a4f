"""Stand-ins started once for a whole mutation session instead of once per mutant.

The writer's sender tests start DynamoDB Local (a JVM) and the S3 stand-in for each pytest run: on
a busy 2-core machine that is ~15 s of every mutant's ~40 s. Each test makes its own table and
bucket, so one pair of servers can serve every mutant; the tests' fixtures use them when these
variables name their endpoints (tests/dynamo_writer/conftest.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

SHARED_ENDPOINT_ENV = {"dynamodb": "SMARTCAM_TEST_DYNAMODB_ENDPOINT", "s3": "SMARTCAM_TEST_S3_ENDPOINT"}


@contextlib.contextmanager
def shared_standins(services: tuple[str, ...], workdir: Path) -> Iterator[dict[str, str]]:
    """Start the named stand-ins; the environment variables that point the tests at them."""
    from local_greengrass.standins.dynamodb_local import DynamoDBLocal
    from local_greengrass.standins.s3 import S3Server

    makers = {"dynamodb": DynamoDBLocal, "s3": S3Server}
    with contextlib.ExitStack() as stack:
        env = {}
        for service in services:
            server = stack.enter_context(makers[service](workdir / service))
            env[SHARED_ENDPOINT_ENV[service]] = server.endpoint
        yield env
