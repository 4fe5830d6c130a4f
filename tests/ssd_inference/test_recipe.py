

import yaml

from repo_layout import REPO_ROOT
from smartcam.config import validate_config
from ssd_inference.settings import SsdInferenceConfig

RECIPE = REPO_ROOT / "components" / "SsdInference" / "recipe.yaml"


def recipe():
    return yaml.safe_load(RECIPE.read_text())


def test_default_configuration_declares_every_setting_with_the_code_defaults():
    defaults = recipe()["ComponentConfiguration"]["DefaultConfiguration"]
    assert validate_config(SsdInferenceConfig, defaults) == SsdInferenceConfig()
    declared = {key for key in defaults if key != "accessControl"}
    assert declared == {field.alias for field in SsdInferenceConfig.model_fields.values()}


def test_depends_on_runtime_and_model_store_and_reads_the_model_folder():
    doc = recipe()
    assert set(doc["ComponentDependencies"]) == {"smartcam.Runtime", "smartcam.SsdModelStore"}
    assert all(dep["DependencyType"] == "HARD" for dep in doc["ComponentDependencies"].values())
    for manifest in doc["Manifests"]:
        # Kernel-rooted, not {smartcam.X:...}: nucleus lite has no cross-component variables.
        run = manifest["Lifecycle"]["run"]
        assert run["Setenv"]["SMARTCAM_MODEL_DIR"] == "{kernel:rootPath}/work/smartcam.SsdModelStore/app/model"
        assert run["Script"].startswith("{kernel:rootPath}/work/smartcam.Runtime/venv/bin/python -u ")


def test_access_control_is_least_privilege():
    access = recipe()["ComponentConfiguration"]["DefaultConfiguration"]["accessControl"]
    policies = [p for service in access.values() for p in service.values()]
    granted = {(op, res) for p in policies for op in p["operations"] for res in p["resources"]}
    assert granted == {
        ("aws.greengrass#SubscribeToTopic", "smartcam/frames"),
        ("aws.greengrass#SubscribeToTopic", "smartcam/receipts"),
        ("aws.greengrass#PublishToTopic", "smartcam/detections"),
        ("aws.greengrass#PublishToTopic", "smartcam/receipts"),
        ("aws.greengrass#PublishToTopic", "smartcam/health/smartcam.SsdInference"),
        ("aws.greengrass#PublishToIoTCore", "smartcam/{iot:thingName}/detections"),
        ("aws.greengrass#PublishToIoTCore", "smartcam/{iot:thingName}/status/smartcam.SsdInference"),
    }
