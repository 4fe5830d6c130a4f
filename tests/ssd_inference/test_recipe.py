

import pytest
import yaml

from repo_layout import REPO_ROOT
from smartcam.config import ConfigError, validate_config
from ssd_inference.settings import SsdInferenceConfig

RECIPE = REPO_ROOT / "components" / "SsdInference" / "recipe.yaml"


def recipe():
    return yaml.safe_load(RECIPE.read_text())


def test_default_configuration_declares_every_setting_with_the_code_defaults():
    defaults = recipe()["ComponentConfiguration"]["DefaultConfiguration"]
    assert validate_config(SsdInferenceConfig, defaults) == SsdInferenceConfig()
    declared = {key for key in defaults if key != "accessControl"}
    # cpuAffinity (every component's) is omitted: null, where the nucleus started the component
    assert declared == {field.alias for field in SsdInferenceConfig.model_fields.values()} - {"cpuAffinity"}
    assert "# cpuAffinity: omitted" in RECIPE.read_text()


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
        ("aws.greengrass#PublishToTopic", "cloudwatch/metric/put"),  # its metrics (smartcam.metrics)
        ("aws.greengrass#PublishToIoTCore", "smartcam/{iot:thingName}/detections"),
        ("aws.greengrass#PublishToIoTCore", "smartcam/{iot:thingName}/status/smartcam.SsdInference"),
    }


def test_the_tracking_threshold_is_strict_and_any_order_of_the_two_thresholds_is_valid():
    assert validate_config(SsdInferenceConfig, {"trackingScoreThreshold": 0.0}).tracking_score_threshold == 0.0
    # at or above scoreThreshold it sends no candidates (decoders' tests), so a site that lowered
    # scoreThreshold below the default 0.1 keeps a valid configuration
    assert validate_config(SsdInferenceConfig, {"scoreThreshold": 0.05}).tracking_score_threshold == 0.1
    assert validate_config(SsdInferenceConfig, {"trackingScoreThreshold": 0.6}).score_threshold == 0.5
    with pytest.raises(ConfigError, match="trackingScoreThreshold"):
        validate_config(SsdInferenceConfig, {"trackingScoreThreshold": "0.1"})
    with pytest.raises(ConfigError, match="trackingScoreThreshold"):
        validate_config(SsdInferenceConfig, {"trackingScoreThreshold": 1.5})
