"""Checked boto3 clients and the account/credential facts every fleet command needs first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError

from fleet import checker


class FleetError(RuntimeError):
    """A problem the operator must fix; the message says what and how."""


@dataclass
class Aws:
    """One region of one account: clients are created once, each with the strict checker installed."""

    session: boto3.Session
    region: str
    _clients: dict[str, BaseClient] = field(default_factory=dict)
    _account: str | None = None

    @classmethod
    def connect(cls, region: str | None = None, profile: str | None = None) -> Aws:
        try:
            session = boto3.Session(profile_name=profile, region_name=region)
        except BotoCoreError as error:
            raise FleetError(f"cannot open the AWS profile {profile!r}: {error}") from error
        resolved = region or session.region_name
        if not resolved:
            raise FleetError("no AWS region: pass --region or set AWS_REGION / a profile region")
        return cls(session=session, region=resolved)

    def client(self, service: str) -> BaseClient:
        if service not in self._clients:
            self._clients[service] = checker.install(self.session.client(service, region_name=self.region))
        return self._clients[service]

    def require_credentials(self) -> None:
        """Fail with a clear message before any call when no credentials can be found."""
        credentials = self.session.get_credentials()
        if credentials is None or not credentials.access_key:
            raise FleetError(
                "no AWS credentials found: configure a profile (aws configure / --profile) or set "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            )

    @property
    def account(self) -> str:
        if self._account is None:
            self.require_credentials()
            try:
                self._account = self.client("sts").get_caller_identity()["Account"]
            except (ClientError, BotoCoreError) as error:
                raise FleetError(f"cannot identify the AWS account (sts get-caller-identity): {error}") from error
        return self._account

    @property
    def partition(self) -> str:
        return self.session.get_partition_for_region(self.region)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def paginate(client: BaseClient, operation: str, result_key: str, **params: Any) -> list[Any]:
    """Every item of a paginated list operation (nextToken style), without relying on paginators."""
    items: list[Any] = []
    token: str | None = None
    while True:
        page = getattr(client, operation)(**params, **({"nextToken": token} if token else {}))
        items.extend(page.get(result_key, []))
        token = page.get("nextToken")
        if not token:
            return items
