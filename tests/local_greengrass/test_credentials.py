"""The local container-credentials endpoint, read by botocore's own ContainerProvider."""

import json
import urllib.error
import urllib.request

import pytest
from botocore.credentials import ContainerProvider

from local_greengrass.standins.credentials import CREDENTIALS_PATH, CredentialsServer


@pytest.fixture
def server():
    server = CredentialsServer(lambda token: token == "good-token")
    server.start()
    yield server
    server.stop()


def test_botocore_gets_credentials_with_the_right_token(server: CredentialsServer) -> None:
    provider = ContainerProvider(environ={"AWS_CONTAINER_CREDENTIALS_FULL_URI": server.uri,
                                         "AWS_CONTAINER_AUTHORIZATION_TOKEN": "good-token"})
    credentials = provider.load().get_frozen_credentials()
    assert credentials.access_key and credentials.secret_key and credentials.token


def test_wrong_or_missing_token_is_refused(server: CredentialsServer) -> None:
    for headers in ({"Authorization": "stolen"}, {}):
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(urllib.request.Request(server.uri, headers=headers), timeout=10)
        assert caught.value.code == 403
        assert "TokenExchangeService" in json.loads(caught.value.read())["message"]


def test_shape_and_unknown_path(server: CredentialsServer) -> None:
    with urllib.request.urlopen(urllib.request.Request(server.uri, headers={"Authorization": "good-token"}),
                                timeout=10) as response:
        body = json.loads(response.read())
    assert set(body) == {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}
    assert body["Expiration"].endswith("Z")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(server.uri.replace(CREDENTIALS_PATH, "/other"), timeout=10)
    assert caught.value.code == 404
