"""The local stand-ins listen on loopback only: nothing of a developer's machine is reachable from
its network (DynamoDB Local's own command line would listen on every interface; the S3 server serves a
socket its parent bound to 127.0.0.1)."""

from __future__ import annotations

import pytest

from local_device.listeners import is_loopback, tcp_listeners
from local_greengrass.standins.dynamodb_local import JAVA_OPTIONS_ENV, DynamoDBLocal, DynamoDBLocalError
from local_greengrass.standins.s3 import S3Server

pytestmark = pytest.mark.integration


def listening_addresses(port: int) -> list[str]:
    return [listener.address for listener in tcp_listeners() if listener.port == port]


def test_dynamodb_local_listens_on_loopback_only(tmp_path):
    with DynamoDBLocal(tmp_path) as db:
        addresses = listening_addresses(db.port)
        assert addresses, f"nothing listens on port {db.port}"
        assert all(is_loopback(a) for a in addresses), addresses
        assert db.client().list_tables()["TableNames"] == []


def test_the_s3_stand_in_listens_on_loopback_only(tmp_path):
    with S3Server(tmp_path) as s3:
        listeners = [listener for listener in tcp_listeners() if listener.port == s3.port]
        assert listeners, f"nothing listens on port {s3.port}"
        assert all(is_loopback(listener.address) for listener in listeners), listeners
        assert {listener.pid for listener in listeners} == {s3.pid}  # the server process alone holds the socket
        assert s3.client().list_buckets()["Buckets"] == []


def test_the_address_check_tells_wildcards_from_loopback():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("::ffff:127.0.0.1")
    assert is_loopback("127.0.0.53%lo")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("10.1.2.3") and not is_loopback("*")


def test_extra_jvm_options_come_from_the_environment_and_must_be_jvm_options(tmp_path, monkeypatch):
    monkeypatch.setenv(JAVA_OPTIONS_ENV, "-XX:TieredStopAtLevel=1 '-Dname=a b'")
    command = DynamoDBLocal(tmp_path).command()
    assert command[1:5] == ["-Xms64m", "-Xmx512m", "-XX:TieredStopAtLevel=1", "-Dname=a b"]
    monkeypatch.setenv(JAVA_OPTIONS_ENV, "-XX:+UseSerialGC -jar /tmp/other.jar")
    with pytest.raises(DynamoDBLocalError, match=r"not a JVM option.*'/tmp/other.jar'"):
        DynamoDBLocal(tmp_path).command()
