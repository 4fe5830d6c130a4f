"""The local stand-ins listen on loopback only: nothing of a developer's machine is reachable from
its network (DynamoDB Local's own command line would listen on every interface)."""

from __future__ import annotations

import ipaddress
import subprocess

import pytest

from local_greengrass.standins.dynamodb_local import DynamoDBLocal

pytestmark = pytest.mark.integration


def listening_addresses(port: int) -> list[str]:
    """Local addresses of the TCP listeners on ``port``, as `ss -ltn` prints them."""
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    addresses = []
    for line in out.splitlines():
        local = line.split()[3]  # State Recv-Q Send-Q Local:Port Peer:Port
        addresses.append(local.rsplit(":", 1)[0].strip("[]"))
    return addresses


def is_loopback(address: str) -> bool:
    if address == "*":  # ss's way of saying every interface
        return False
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def test_dynamodb_local_listens_on_loopback_only(tmp_path):
    with DynamoDBLocal(tmp_path) as db:
        addresses = listening_addresses(db.port)
        assert addresses, f"nothing listens on port {db.port}"
        assert all(is_loopback(a) for a in addresses), addresses
        assert db.client().list_tables()["TableNames"] == []


def test_the_address_check_tells_wildcards_from_loopback():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("::ffff:127.0.0.1")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("10.1.2.3") and not is_loopback("*")
