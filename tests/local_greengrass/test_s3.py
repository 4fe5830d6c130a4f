"""The S3 stand-in (LocalBucket in its own process) through boto3, as a component reaches it: what real S3
does that exactly-once snapshot uploads rely on, that its objects outlive the server, and where it differs."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import psutil
import pytest
from botocore.exceptions import BotoCoreError, ClientError

from local_greengrass.lifecycle.processes import STANDIN_NICENESS
from local_greengrass.standins.credentials import CredentialsServer
from local_greengrass.standins.s3 import S3Server, S3ServerError, is_s3_server

pytestmark = pytest.mark.integration

BUCKET = "smartcam-snapshots"
TOKEN = "token-of-a-component"


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[S3Server]:
    with S3Server(tmp_path / "s3") as server:
        server.client().create_bucket(Bucket=BUCKET)
        yield server


@pytest.fixture
def component_client(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """boto3 configured only by what the runtime hands a component: the endpoint, the region, and the
    container credentials endpoint of a component that depends on the TokenExchangeService."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    credentials = CredentialsServer(lambda token: token == TOKEN)
    credentials.start()
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", credentials.uri)
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", TOKEN)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.endpoint)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    try:
        yield boto3.session.Session().client("s3")
    finally:
        credentials.stop()


def content_md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


def error_code(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return str(raised.value.response["Error"]["Code"])


def test_put_get_head_and_list_as_a_component_does(component_client: Any, s3: S3Server) -> None:
    urls: list[str] = []
    component_client.meta.events.register("before-send.s3", lambda request, **_: urls.append(request.url))
    snapshot = b"\xff\xd8 a JPEG of event e1 \xff\xd9" * 100
    put = component_client.put_object(Bucket=BUCKET, Key="cam0/e1/full.jpg", Body=snapshot,
                                      ContentMD5=content_md5(snapshot))
    assert put["ETag"] == f'"{hashlib.md5(snapshot).hexdigest()}"'
    assert urls == [f"{s3.endpoint}/{BUCKET}/cam0/e1/full.jpg"]  # path-style, with no addressing setting
    assert component_client.get_object(Bucket=BUCKET, Key="cam0/e1/full.jpg")["Body"].read() == snapshot
    head = component_client.head_object(Bucket=BUCKET, Key="cam0/e1/full.jpg")
    assert (head["ContentLength"], head["ContentType"], head["ETag"]) == (len(snapshot), "image/jpeg", put["ETag"])
    assert error_code(component_client.head_object, Bucket=BUCKET, Key="cam0/e2/full.jpg") == "404"
    assert error_code(component_client.get_object, Bucket=BUCKET, Key="cam0/e2/full.jpg") == "NoSuchKey"
    assert error_code(component_client.put_object, Bucket="no-such-bucket", Key="k", Body=b"x") == "NoSuchBucket"

    for event in ("e2", "e3", "e4"):
        component_client.put_object(Bucket=BUCKET, Key=f"cam0/{event}/full.jpg", Body=event.encode())
    component_client.put_object(Bucket=BUCKET, Key="cam1/e5/full.jpg", Body=b"other camera")
    pages = component_client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="cam0/",
                                                                       PaginationConfig={"PageSize": 3})
    listed = [[entry["Key"] for entry in page["Contents"]] for page in pages]
    assert listed == [["cam0/e1/full.jpg", "cam0/e2/full.jpg", "cam0/e3/full.jpg"], ["cam0/e4/full.jpg"]]
    cameras = component_client.list_objects_v2(Bucket=BUCKET, Delimiter="/")["CommonPrefixes"]
    assert cameras == [{"Prefix": "cam0/"}, {"Prefix": "cam1/"}]


def test_if_none_match_writes_a_key_once_and_head_tells_a_retry_it_is_there(component_client: Any) -> None:
    first = component_client.put_object(Bucket=BUCKET, Key="cam0/e1/full.jpg", Body=b"first", IfNoneMatch="*")
    code = error_code(component_client.put_object, Bucket=BUCKET, Key="cam0/e1/full.jpg", Body=b"second",
                      IfNoneMatch="*")
    assert code == "PreconditionFailed"  # 412, as S3 answers an upload whose key exists
    assert component_client.get_object(Bucket=BUCKET, Key="cam0/e1/full.jpg")["Body"].read() == b"first"
    # A retry whose first attempt did land gets 412: the object's ETag says it is the same upload.
    assert component_client.head_object(Bucket=BUCKET, Key="cam0/e1/full.jpg")["ETag"] == first["ETag"]


def test_of_racing_conditional_uploads_exactly_one_lands(s3: S3Server) -> None:
    writers = 8
    start = threading.Barrier(writers)
    outcomes: dict[int, str] = {}

    def upload(n: int) -> None:
        client = s3.client(retries={"total_max_attempts": 1})
        start.wait()
        try:
            client.put_object(Bucket=BUCKET, Key="cam0/e1/full.jpg", Body=f"writer {n}".encode(), IfNoneMatch="*")
            outcomes[n] = "stored"
        except ClientError as exc:
            outcomes[n] = str(exc.response["Error"]["Code"])

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(outcomes.values()) == {"stored": 1, "PreconditionFailed": writers - 1}
    winner = next(n for n, outcome in outcomes.items() if outcome == "stored")
    body = s3.client().get_object(Bucket=BUCKET, Key="cam0/e1/full.jpg")["Body"].read()
    assert body == f"writer {winner}".encode()


def test_objects_outlive_a_killed_server_and_a_new_one_on_the_same_folder(s3: S3Server) -> None:
    s3.client().put_object(Bucket=BUCKET, Key="cam0/e1/full.jpg", Body=b"kept")
    endpoint = s3.endpoint
    s3.kill()
    with pytest.raises(BotoCoreError):  # an outage: refused, not hanging on a socket nobody serves
        s3.client(retries={"total_max_attempts": 1}, connect_timeout=2).list_buckets()
    s3.start()
    assert s3.endpoint == endpoint
    assert s3.client().get_object(Bucket=BUCKET, Key="cam0/e1/full.jpg")["Body"].read() == b"kept"
    s3.kill()
    # A runtime that crashed and came up again: another port, the same folder, the same objects.
    with S3Server(s3.workdir) as again:
        assert again.client().get_object(Bucket=BUCKET, Key="cam0/e1/full.jpg")["Body"].read() == b"kept"
        assert [entry["Key"] for entry in again.client().list_objects_v2(Bucket=BUCKET)["Contents"]] == [
            "cam0/e1/full.jpg"]


def test_the_server_is_a_stand_in_process_at_lower_priority(s3: S3Server) -> None:
    assert s3.pid is not None
    process = psutil.Process(s3.pid)
    assert is_s3_server(process.cmdline())
    assert process.nice() == min(19, psutil.Process().nice() + STANDIN_NICENESS)
    assert process.cwd() == str(s3.workdir)
    s3.stop()
    assert not psutil.pid_exists(process.pid) or process.status() == psutil.STATUS_ZOMBIE


def test_a_server_that_cannot_start_says_why(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file where the data folder should be")
    server = S3Server(tmp_path)
    with pytest.raises(S3ServerError, match=r"exited on start[\s\S]*FileExistsError"):
        server.start()
    assert not server.running


def test_where_it_differs_from_s3(s3: S3Server) -> None:
    """Each of these is refused or different on S3 (see standins/s3.py); this pins what the stand-in does."""
    client = s3.client(retries={"total_max_attempts": 1})
    wrong = content_md5(b"other bytes")
    client.put_object(Bucket=BUCKET, Key="bad-md5", Body=b"body", ContentMD5=wrong)  # S3: 400 BadDigest
    client.put_object(Bucket=BUCKET, Key="bad-sha", Body=b"body",  # S3: 400 BadDigest
                      ChecksumSHA256=base64.b64encode(hashlib.sha256(b"other").digest()).decode())
    assert client.get_object(Bucket=BUCKET, Key="bad-md5")["Body"].read() == b"body"
    client.put_object(Bucket=BUCKET, Key="meta.jpg", Body=b"x", Metadata={"event-id": "e1"})
    assert client.head_object(Bucket=BUCKET, Key="meta.jpg")["Metadata"] == {}  # S3 keeps x-amz-meta-*
    client.put_object(Bucket=BUCKET, Key="meta.jpg", Body=b"y", IfMatch='"not-its-etag"')  # S3: 412
    assert client.get_object(Bucket=BUCKET, Key="meta.jpg")["Body"].read() == b"y"
    assert error_code(client.create_bucket, Bucket=BUCKET) == "BucketAlreadyOwnedByYou"  # S3 in us-east-1: 200
    client.put_object(Bucket=BUCKET, Key="cam0/e1", Body=b"a key that is also a folder")
    with pytest.raises(BotoCoreError):  # S3 stores both; the stand-in drops the connection
        client.put_object(Bucket=BUCKET, Key="cam0/e1/full.jpg", Body=b"x")
    assert client.get_object(Bucket=BUCKET, Key="cam0/e1")["Body"].read() == b"a key that is also a folder"


def test_at_its_ip_endpoint_every_addressing_style_is_path_style(s3: S3Server) -> None:
    """LocalBucket serves path-style only; botocore cannot put a bucket name in front of an IP address, so
    no addressing setting of a component (there is no environment variable for it) can break this."""
    for style in ("virtual", "auto", "path"):
        client = s3.client(s3={"addressing_style": style})
        urls: list[str] = []
        client.meta.events.register("before-send.s3", lambda request, **_: urls.append(request.url))  # noqa: B023
        assert client.head_bucket(Bucket=BUCKET)["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert urls == [f"{s3.endpoint}/{BUCKET}"], style
