"""Deployment documents: validation, reset -> DefaultConfiguration -> merge, versions and dependencies."""

import json
from pathlib import Path

import pytest

from local_greengrass.deployment.documents import (
    DeploymentError,
    apply_defaults,
    deep_merge,
    load_document,
    parse_document,
    plan_deployment,
    reset_pointers,
    resolve_configuration,
)
from local_greengrass.deployment.recipes import scan_built
from local_greengrass.lifecycle.specs import build_specs
from local_greengrass.paths import RuntimePaths
from tests.local_greengrass.helpers import write_component

DEFAULTS = {"frameRate": 5, "source": {"kind": "folder", "path": "/frames"}, "topics": ["a"]}


def doc(components: dict, **extra: object) -> dict:
    return {"targetArn": "arn:aws:iot:eu-west-1:000000000000:thing/cam-1", "components": components, **extra}


def merge(value: dict) -> dict:
    return {"merge": json.dumps(value)}


# configuration ---------------------------------------------------------------------------------------

def test_defaults_never_overwrite_existing_values() -> None:
    existing = {"frameRate": 10, "source": {"kind": "rtsp"}}
    assert apply_defaults(existing, DEFAULTS) == {"frameRate": 10, "source": {"kind": "rtsp", "path": "/frames"},
                                                  "topics": ["a"]}


def test_merge_is_deep_for_objects_and_replaces_lists() -> None:
    assert deep_merge(DEFAULTS, {"source": {"path": "/x"}, "topics": ["b", "c"]}) == {
        "frameRate": 5, "source": {"kind": "folder", "path": "/x"}, "topics": ["b", "c"]}


def test_reset_then_defaults_then_merge() -> None:
    previous = {"frameRate": 30, "source": {"kind": "rtsp", "path": "rtsp://cam"}, "extra": 1}
    # reset /frameRate brings back the default; the merge wins over both; untouched values persist.
    result = resolve_configuration(previous, DEFAULTS, {"source": {"kind": "file"}}, ["/frameRate"])
    assert result == {"frameRate": 5, "source": {"kind": "file", "path": "rtsp://cam"}, "extra": 1, "topics": ["a"]}


def test_reset_everything() -> None:
    assert reset_pointers({"a": 1, "b": {"c": 2}}, [""]) == {}
    assert reset_pointers({"a": 1, "b": {"c": 2}}, ["/b/c", "/missing/x"]) == {"a": 1, "b": {}}


def test_an_earlier_merge_persists_into_the_next_deployment() -> None:
    first = resolve_configuration(None, DEFAULTS, {"frameRate": 2}, [])
    assert resolve_configuration(first, DEFAULTS, {}, []) ["frameRate"] == 2


# documents --------------------------------------------------------------------------------------------

def test_document_fields() -> None:
    parsed = parse_document(doc({"test.A": {"componentVersion": "1.0.0", "configurationUpdate": merge({"x": 1})}}))
    assert parsed.thing_name == "cam-1" and parsed.region == "eu-west-1"
    assert parsed.components["test.A"].merge == {"x": 1}
    group = parse_document({"targetArn": "arn:aws:iot:us-east-2:1:thinggroup/smartcam-dev",
                            "components": {"test.A": {"componentVersion": "1.0.0"}}})
    assert group.thing_name == "smartcam-dev-core" and group.region == "us-east-2"
    assert parsed.validation_timeout == 20.0  # CreateDeployment's default
    policies = {"deploymentPolicies": {"failureHandlingPolicy": "ROLLBACK",
                                       "configurationValidationPolicy": {"timeoutInSeconds": 30}}}
    assert parse_document(doc({"test.A": {"componentVersion": "1.0.0"}}, **policies)).validation_timeout == 30.0


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "JSON object"),
        ({"components": {}}, "non-empty"),
        (doc({"test.A": {}}), r"test\.A\.componentVersion None is not a semantic version"),
        (doc({"test.A": {"componentVersion": "latest"}}), "not a semantic version"),
        (doc({"bad name!": {"componentVersion": "1.0.0"}}), "not a valid component name"),
        ({"targetArn": "not-an-arn", "components": {"test.A": {"componentVersion": "1.0.0"}}}, "targetArn"),
        (doc({"test.A": {"componentVersion": "1.0.0"}}, deploymentPolicy={}), "unknown keys"),
        (doc({"test.A": {"componentVersion": "1.0.0"}},
             deploymentPolicies={"configurationValidationPolicy": {"timeoutInSeconds": 0}}), "timeoutInSeconds 0"),
        (doc({"test.A": {"componentVersion": "1.0.0"}}, deploymentPolicies=[]), "deploymentPolicies must be"),
    ],
)
def test_broken_documents_are_refused_whole(document: object, message: str) -> None:
    with pytest.raises(DeploymentError, match=message):
        parse_document(document, "dev.json")


def test_unreadable_document_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "dev.json"
    path.write_text("{not json")
    with pytest.raises(DeploymentError, match=f"{path}: not valid JSON"):
        load_document(path)


def test_bad_merge_json_is_an_error_of_that_component_only() -> None:
    parsed = parse_document(doc({
        "test.A": {"componentVersion": "1.0.0", "configurationUpdate": {"merge": "{oops"}},
        "test.B": {"componentVersion": "1.0.0", "configurationUpdate": {"merge": "[1]"}},
        "test.C": {"componentVersion": "1.0.0", "configurationUpdate": merge({"ok": True})},
    }), "dev.json")
    assert "dev.json: test.A: configurationUpdate.merge is not valid JSON" in parsed.components["test.A"].error
    assert "must be a JSON object" in parsed.components["test.B"].error
    assert parsed.components["test.C"].error is None


# plans --------------------------------------------------------------------------------------------------

@pytest.fixture
def catalog(tmp_path: Path):
    components = tmp_path / "components"
    write_component(components, "test.Base", configuration={"n": 1, "topic": "t/{iot:thingName}"},
                    lifecycle={"Install": "true"})
    write_component(components, "test.App", dependencies={"test.Base": ">=1.0.0 <2.0.0"},
                    lifecycle={"Run": "echo {test.Base:work:path} {configuration:/n}"}, configuration={"n": 7},
                    files={"main.py": "print(1)"})
    write_component(components, "test.Orphan", dependencies={"test.Missing": "^1.0.0"}, lifecycle={"Run": "true"})
    write_component(components, "test.OnOrphan", dependencies={"test.Orphan": "^1.0.0"}, lifecycle={"Run": "true"})
    write_component(components, "test.Sneaky", dependencies={"test.App": "^1.0.0"},
                    lifecycle={"Run": "echo {test.Base:work:path}"})
    write_component(components, "test.Creds", dependencies={"aws.greengrass.TokenExchangeService": "^2.0.0"},
                    lifecycle={"Run": "true"})
    return scan_built(components)


def test_plan_orders_dependencies_first_and_reports_bad_components(catalog) -> None:
    parsed = parse_document(doc({
        "test.App": {"componentVersion": "1.0.0"},
        "test.Base": {"componentVersion": "1.0.0"},
        "test.Orphan": {"componentVersion": "1.0.0"},
        "test.OnOrphan": {"componentVersion": "1.0.0"},
        "test.Nowhere": {"componentVersion": "1.0.0"},
        "test.Creds": {"componentVersion": "1.0.0"},
    }), "dev.json")
    plan = plan_deployment(parsed, catalog, {}, {"os": "linux", "architecture": "amd64"})
    assert list(plan.components) == ["test.Base", "test.App", "test.Creds"]
    assert "test.Orphan depends on test.Missing, which is not in the deployment document dev.json" in \
        plan.errors["test.Orphan"]
    assert "its dependency test.Orphan cannot be deployed" in plan.errors["test.OnOrphan"]
    assert "test.Nowhere: no built recipe" in plan.errors["test.Nowhere"]


def test_version_mismatch_and_unsatisfied_requirement(catalog) -> None:
    parsed = parse_document(doc({"test.Base": {"componentVersion": "2.0.0"},
                                 "test.App": {"componentVersion": "1.0.0"}}), "dev.json")
    plan = plan_deployment(parsed, catalog, {})
    assert "version mismatch: dev.json deploys test.Base 2.0.0, but the built recipe" in plan.errors["test.Base"]
    assert ("test.App needs test.Base >=1.0.0 <2.0.0, but the document deploys test.Base 2.0.0"
            in plan.errors["test.App"])


def test_specs_interpolate_lifecycle_and_configuration_only_when_the_nucleus_says_so(catalog, tmp_path: Path) -> None:
    paths = RuntimePaths(tmp_path / "root")
    components = {"test.Base": {"componentVersion": "1.0.0"},
                  "test.App": {"componentVersion": "1.0.0", "configurationUpdate": merge({"n": 9})},
                  "test.Sneaky": {"componentVersion": "1.0.0"}}
    plan = plan_deployment(parse_document(doc(components)), catalog, {})
    specs, errors = build_specs(plan, paths, "cam-1")
    assert specs["test.App"].lifecycle.get("run").script == f"echo {paths.work('test.Base')} 9"
    assert specs["test.Base"].configuration["topic"] == "t/{iot:thingName}"
    assert "not a direct dependency" in errors["test.Sneaky"]

    components["aws.greengrass.Nucleus"] = {"componentVersion": "2.14.3",
                                            "configurationUpdate": merge({"interpolateComponentConfiguration": True})}
    plan = plan_deployment(parse_document(doc(components)), catalog, {})
    specs, _ = build_specs(plan, paths, "cam-1")
    assert specs["test.Base"].configuration["topic"] == "t/cam-1"
    assert specs["aws.greengrass.Nucleus"].builtin


def test_fingerprint_ignores_configuration_but_not_lifecycle(catalog, tmp_path: Path) -> None:
    paths = RuntimePaths(tmp_path / "root")

    def fingerprints(base_merge: dict, app_merge: dict) -> dict[str, str]:
        plan = plan_deployment(parse_document(doc({
            "test.Base": {"componentVersion": "1.0.0", "configurationUpdate": merge(base_merge)},
            "test.App": {"componentVersion": "1.0.0", "configurationUpdate": merge(app_merge)}})), catalog, {})
        specs, _ = build_specs(plan, paths, "cam-1")
        return {name: spec.fingerprint for name, spec in specs.items()}

    first = fingerprints({}, {})
    assert fingerprints({"n": 2}, {})["test.Base"] == first["test.Base"]  # configuration only: no restart
    assert fingerprints({}, {"n": 8})["test.App"] != first["test.App"]  # {configuration:/n} is in its Run


WILDCARD = {"accessControl": {"aws.greengrass.ipc.pubsub": {"smartcam.DynamoWriter:pubsub:1": {
    "policyDescription": "anything", "operations": ["*"], "resources": ["*"]}}}}


def test_a_bare_wildcard_in_access_control_is_refused_unless_allowed() -> None:
    named = {"accessControl": {"aws.greengrass.ipc.pubsub": {"p": {
        "operations": ["aws.greengrass#PublishToTopic"], "resources": ["smartcam/*"]}}}}  # a prefix is fine
    document = doc({"test.A": {"componentVersion": "1.0.0", "configurationUpdate": merge(WILDCARD)},
                    "test.B": {"componentVersion": "1.0.0", "configurationUpdate": merge(named)}})
    parsed = parse_document(document, "dev.json")
    error = parsed.components["test.A"].error
    assert error is not None and "smartcam.DynamoWriter:pubsub:1.operations contains a bare '*'" in error
    assert ".resources contains a bare '*'" in error and "--allow-wildcard-access" in error
    assert parsed.components["test.B"].error is None

    allowed = parse_document(document, "dev.json", allow_wildcard_access=True)
    assert allowed.components["test.A"].error is None
    assert allowed.components["test.A"].merge == WILDCARD
