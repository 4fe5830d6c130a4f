"""Publishing like `gdk component publish`: S3 through moto, greengrassv2 through Stubber, every request
through the strict checker."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY

from fleet.aws import FleetError
from fleet.checker import RequestRejected
from fleet.components import discover_projects, load_built
from fleet.publishing import Publisher, next_patch, publish_all
from tests.fleet.helpers import ACCOUNT, REGION, RecordingAws, write_project

BUCKET = f"smartcam-test-{REGION}-{ACCOUNT}"


def arn(name: str, version: str | None = None) -> str:
    base = f"arn:aws:greengrass:{REGION}:{ACCOUNT}:components:{name}"
    return f"{base}:versions:{version}" if version else base


def expect_versions(aws: RecordingAws, name: str, versions: list[str]) -> None:
    items = [{"componentName": name, "componentVersion": v, "arn": arn(name, v)} for v in versions]
    aws.stub.add_response("list_component_versions", {"componentVersions": items}, {"arn": arn(name)})


def expect_create(aws: RecordingAws, name: str, version: str) -> None:
    aws.stub.add_response(
        "create_component_version",
        {"arn": arn(name, version), "componentName": name, "componentVersion": version,
         "creationTimestamp": "2026-01-01T00:00:00Z", "status": {"componentState": "REQUESTED"}},
        {"inlineRecipe": ANY, "clientToken": ANY, "tags": ANY},
    )
    aws.stub.add_response("describe_component", {"arn": arn(name, version), "status": {"componentState": "DEPLOYABLE"}},
                          {"arn": arn(name, version)})


def expect_get(aws: RecordingAws, name: str, version: str, recipe: bytes, tags: dict[str, str] | None = None) -> None:
    response = {"recipeOutputFormat": "JSON", "recipe": recipe, **({"tags": tags} if tags else {})}
    aws.stub.add_response("get_component", response, {"arn": arn(name, version), "recipeOutputFormat": "JSON"})


def sent_recipes(aws: RecordingAws) -> list[dict[str, Any]]:
    return [json.loads(params["inlineRecipe"]) for _, op, params in aws.calls if op == "CreateComponentVersion"]


def as_service_returns(aws: RecordingAws, recipe: dict[str, Any], with_digest: bool = True) -> bytes:
    """The recipe as get_component returns it: the service adds each artifact's SHA-256 digest."""
    recipe = json.loads(json.dumps(recipe))
    if with_digest:
        s3 = aws.session.client("s3", region_name=REGION)
        for manifest in recipe["Manifests"]:
            for artifact in manifest["Artifacts"]:
                bucket, key = artifact["URI"].removeprefix("s3://").split("/", 1)
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                artifact["Digest"] = base64.b64encode(hashlib.sha256(body).digest()).decode()
                artifact["Algorithm"] = "SHA-256"
    return json.dumps(recipe).encode()


def run_publish(aws: RecordingAws, repo: Path, **options: Any) -> dict[str, tuple[str, str]]:
    built = [load_built(project) for project in discover_projects(repo)]
    results = publish_all(Publisher(aws, sleep=lambda _: None, **options), built)
    return {result.name: (result.version, result.action) for result in results}


def object_keys(aws: RecordingAws, bucket: str = BUCKET) -> list[str]:
    s3 = aws.session.client("s3", region_name=REGION)
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def first_publish(aws: RecordingAws, repo: Path) -> dict[str, tuple[str, str]]:
    for name in ("smartcam.Runtime", "smartcam.CameraIngest"):
        expect_versions(aws, name, [])
        expect_create(aws, name, "1.0.0")
    return run_publish(aws, repo)


def test_first_publish_creates_the_bucket_uploads_and_creates_versions_in_dependency_order(aws, repo):
    results = first_publish(aws, repo)

    aws.stub.assert_no_pending_responses()
    assert results == {"smartcam.Runtime": ("1.0.0", "published"), "smartcam.CameraIngest": ("1.0.0", "published")}
    s3 = aws.session.client("s3", region_name=REGION)
    block = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    rules = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert object_keys(aws) == ["smartcam.CameraIngest/1.0.0/CameraIngest.zip", "smartcam.Runtime/1.0.0/Runtime.zip"]
    head = s3.head_object(Bucket=BUCKET, Key="smartcam.Runtime/1.0.0/Runtime.zip")
    assert head["Metadata"]["sha256"] == hashlib.sha256(b"runtime-v1").hexdigest()
    recipes = sent_recipes(aws)
    assert [r["ComponentName"] for r in recipes] == ["smartcam.Runtime", "smartcam.CameraIngest"]  # dependency first
    assert recipes[0]["ComponentVersion"] == "1.0.0"
    assert recipes[0]["Manifests"][0]["Artifacts"][0]["URI"] == f"s3://{BUCKET}/smartcam.Runtime/1.0.0/Runtime.zip"


@pytest.mark.parametrize("service_adds_digest", [True, False], ids=["digest-in-recipe", "digest-in-s3-metadata"])
def test_second_run_publishes_nothing(aws, repo, service_adds_digest):
    first_publish(aws, repo)
    published = {r["ComponentName"]: r for r in sent_recipes(aws)}
    before = len(aws.mutating_calls())
    for name in ("smartcam.Runtime", "smartcam.CameraIngest"):
        expect_versions(aws, name, ["1.0.0"])
        expect_get(aws, name, "1.0.0", as_service_returns(aws, published[name], with_digest=service_adds_digest))

    results = run_publish(aws, repo)

    aws.stub.assert_no_pending_responses()
    assert results == {"smartcam.Runtime": ("1.0.0", "unchanged"), "smartcam.CameraIngest": ("1.0.0", "unchanged")}
    assert len(aws.mutating_calls()) == before  # no upload, no bucket change, no create_component_version


def test_a_changed_artifact_gets_the_next_patch_and_the_published_object_is_kept(aws, repo):
    first_publish(aws, repo)
    published = {r["ComponentName"]: r for r in sent_recipes(aws)}
    write_project(repo, "Runtime", artifact=b"runtime-v2")
    expect_versions(aws, "smartcam.Runtime", ["1.0.0"])
    expect_get(aws, "smartcam.Runtime", "1.0.0", as_service_returns(aws, published["smartcam.Runtime"]))
    expect_create(aws, "smartcam.Runtime", "1.0.1")
    expect_versions(aws, "smartcam.CameraIngest", ["1.0.0"])
    expect_get(aws, "smartcam.CameraIngest", "1.0.0", as_service_returns(aws, published["smartcam.CameraIngest"]))

    results = run_publish(aws, repo)

    aws.stub.assert_no_pending_responses()
    assert results["smartcam.Runtime"] == ("1.0.1", "published")
    assert results["smartcam.CameraIngest"] == ("1.0.0", "unchanged")
    s3 = aws.session.client("s3", region_name=REGION)
    old = s3.get_object(Bucket=BUCKET, Key="smartcam.Runtime/1.0.0/Runtime.zip")["Body"].read()
    new = s3.get_object(Bucket=BUCKET, Key="smartcam.Runtime/1.0.1/Runtime.zip")["Body"].read()
    assert (old, new) == (b"runtime-v1", b"runtime-v2")


def test_next_patch_follows_the_latest_semantic_version(aws, tmp_path):
    root = tmp_path / "repo"
    write_project(root, "Runtime")
    old_recipe = json.dumps({"RecipeFormatVersion": "2020-01-25", "ComponentName": "smartcam.Runtime",
                             "ComponentVersion": "1.0.10", "Manifests": []}).encode()
    expect_versions(aws, "smartcam.Runtime", ["1.0.9", "1.0.10", "1.0.2"])
    expect_get(aws, "smartcam.Runtime", "1.0.10", old_recipe)
    expect_create(aws, "smartcam.Runtime", "1.0.11")

    assert run_publish(aws, root) == {"smartcam.Runtime": ("1.0.11", "published")}
    assert next_patch(None) == "1.0.0"
    assert next_patch("2.3.4") == "2.3.5"


def test_an_explicit_version_already_published_with_other_content_is_refused_and_nothing_is_overwritten(aws, tmp_path):
    root = tmp_path / "repo"
    write_project(root, "Runtime", version="1.0.0", artifact=b"new-bytes")
    s3 = aws.session.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=BUCKET, Key="smartcam.Runtime/1.0.0/Runtime.zip", Body=b"published-bytes")
    published = {"RecipeFormatVersion": "2020-01-25", "ComponentName": "smartcam.Runtime", "ComponentVersion": "1.0.0",
                 "ComponentPublisher": "tests", "Manifests": [{"Platform": {"os": "linux"}, "Artifacts": [
                     {"URI": f"s3://{BUCKET}/smartcam.Runtime/1.0.0/Runtime.zip", "Unarchive": "ZIP"}],
                     "Lifecycle": {"Run": "python3 {artifacts:decompressedPath}/Runtime/main.py"}}]}
    expect_versions(aws, "smartcam.Runtime", ["1.0.0"])
    expect_get(aws, "smartcam.Runtime", "1.0.0", as_service_returns(aws, published))
    aws.calls.clear()

    with pytest.raises(FleetError, match="already published with different content"):
        run_publish(aws, root)

    assert aws.mutating_calls() == []
    body = s3.get_object(Bucket=BUCKET, Key="smartcam.Runtime/1.0.0/Runtime.zip")["Body"].read()
    assert body == b"published-bytes"


def test_an_object_left_by_an_unfinished_publish_with_the_same_bytes_is_not_uploaded_again(aws, tmp_path):
    root = tmp_path / "repo"
    write_project(root, "Runtime", artifact=b"same")
    s3 = aws.session.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=BUCKET, Key="smartcam.Runtime/1.0.0/Runtime.zip", Body=b"same",
                  Metadata={"sha256": hashlib.sha256(b"same").hexdigest()})
    expect_versions(aws, "smartcam.Runtime", [])
    expect_create(aws, "smartcam.Runtime", "1.0.0")
    aws.calls.clear()

    run_publish(aws, root)

    assert aws.mutating_calls() == ["greengrassv2.CreateComponentVersion"]


def test_an_explicit_bucket_is_used_verbatim(aws, tmp_path):
    root = tmp_path / "repo"
    write_project(root, "Runtime")
    expect_versions(aws, "smartcam.Runtime", [])
    expect_create(aws, "smartcam.Runtime", "1.0.0")

    run_publish(aws, root, bucket="my-own-artifacts")

    assert object_keys(aws, "my-own-artifacts") == ["smartcam.Runtime/1.0.0/Runtime.zip"]
    assert sent_recipes(aws)[0]["Manifests"][0]["Artifacts"][0]["URI"].startswith("s3://my-own-artifacts/")


def test_an_invalid_recipe_is_rejected_before_anything_is_uploaded(aws, tmp_path):
    root = tmp_path / "repo"
    project = write_project(root, "Runtime")
    recipe_path = project / "greengrass-build" / "recipes" / "recipe.yaml"
    recipe_path.write_text(recipe_path.read_text().replace("ComponentName: smartcam.Runtime",
                                                           "ComponentName: smartcam Runtime"))
    expect_versions(aws, "smartcam.Runtime", [])
    aws.calls.clear()

    with pytest.raises(RequestRejected, match="ComponentName"):
        run_publish(aws, root)

    assert aws.mutating_calls() == []


def test_missing_credentials_fail_before_any_call(aws, repo, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    aws.session = type(aws.session)(region_name=REGION)  # a session that finds no credentials
    aws.calls.clear()

    with pytest.raises(FleetError, match="no AWS credentials"):
        run_publish(aws, repo)

    assert aws.calls == []


def test_the_publish_command_writes_the_published_versions_into_a_deployment_document(aws, repo, monkeypatch,
                                                                                     tmp_path, capsys):
    from fleet import publish_cli as publish

    document = tmp_path / "dev.json"
    document.write_text(json.dumps({"targetArn": "arn:aws:iot:eu-west-1:000000000000:thinggroup/g", "components": {
        "smartcam.Runtime": {"componentVersion": "0.0.1"}, "aws.greengrass.Nucleus": {"componentVersion": "2.14.3"}}}))
    expect_versions(aws, "smartcam.Runtime", ["1.0.4"])
    expect_get(aws, "smartcam.Runtime", "1.0.4", b'{"RecipeFormatVersion": "2020-01-25", "Manifests": []}')
    expect_create(aws, "smartcam.Runtime", "1.0.5")
    expect_versions(aws, "smartcam.CameraIngest", [])
    expect_create(aws, "smartcam.CameraIngest", "1.0.0")
    monkeypatch.setattr(publish.Aws, "connect", classmethod(lambda cls, **_: aws))

    status = publish.main(["--root", str(repo), "--write-versions", str(document)])

    assert status == 0, capsys.readouterr().err
    written = json.loads(document.read_text())["components"]
    assert written == {"smartcam.Runtime": {"componentVersion": "1.0.5"},
                       "aws.greengrass.Nucleus": {"componentVersion": "2.14.3"}}
    assert json.loads(capsys.readouterr().out)["smartcam.CameraIngest"]["action"] == "published"


def test_the_fingerprint_tag_keeps_publishing_idempotent_when_the_service_reformats_the_recipe(aws, repo):
    first_publish(aws, repo)
    created = {json.loads(p["inlineRecipe"])["ComponentName"]: p for _, op, p in aws.calls
               if op == "CreateComponentVersion"}
    before = len(aws.mutating_calls())
    for name, params in created.items():
        reformatted = {**json.loads(params["inlineRecipe"]), "ComponentType": "aws.greengrass.generic"}
        expect_versions(aws, name, ["1.0.0"])
        expect_get(aws, name, "1.0.0", json.dumps(reformatted).encode(), tags=params["tags"])

    results = run_publish(aws, repo)

    assert {action for _, action in results.values()} == {"unchanged"}
    assert len(aws.mutating_calls()) == before


def test_a_recipe_the_schema_check_refuses_is_not_published(aws, repo, tmp_path):
    from fleet import publish_cli as publish

    schemas = tmp_path / "schemas"
    schemas.mkdir()
    (schemas / "greengrass-recipe.schema.json").write_text(json.dumps({
        "type": "object", "required": ["componentname"],
        "properties": {"componentpublisher": {"type": "string", "pattern": "^maintainers$"}}}))
    expect_versions(aws, "smartcam.Runtime", [])
    aws.calls.clear()

    with pytest.raises(FleetError, match=r"schema at /componentpublisher"):
        run_publish(aws, repo, recipe_problem=publish.recipe_schema_check(schemas))

    assert aws.mutating_calls() == []
    assert publish.recipe_schema_check(tmp_path / "missing") is None


@pytest.mark.parametrize("artifact", [b"new-bytes", b"published-bytes"], ids=["other-bytes", "same-bytes"])
def test_even_a_version_choice_gone_wrong_never_touches_an_object_a_published_version_uses(aws, tmp_path, monkeypatch,
                                                                                           artifact):
    """The upload's backstop: were the version choice ever to pick a published version, the upload refuses to
    write under it (devices that installed it would fail with ARTIFACT_CHECKSUM_MISMATCH), before any create."""
    root = tmp_path / "repo"
    write_project(root, "Runtime", artifact=artifact)
    s3 = aws.session.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    key = "smartcam.Runtime/1.0.0/Runtime.zip"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"published-bytes",
                  Metadata={"sha256": hashlib.sha256(b"published-bytes").hexdigest()})
    published = {"RecipeFormatVersion": "2020-01-25", "ComponentName": "smartcam.Runtime", "ComponentVersion": "1.0.0",
                 "ComponentPublisher": "an earlier release", "Manifests": []}
    expect_versions(aws, "smartcam.Runtime", ["1.0.0"])
    expect_get(aws, "smartcam.Runtime", "1.0.0", json.dumps(published).encode())
    monkeypatch.setattr("fleet.publishing.next_patch", lambda latest: latest)  # the choice gone wrong
    aws.calls.clear()

    with pytest.raises(FleetError, match=rf"s3://{BUCKET}/{key} belongs to published smartcam.Runtime 1.0.0"):
        run_publish(aws, root)

    assert aws.mutating_calls() == []
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"published-bytes"
