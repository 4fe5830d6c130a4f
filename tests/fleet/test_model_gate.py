"""The model gate of scripts/publish.py: the packaged model passes against its own record, a model with
shuffled anchors is refused (nothing published), --force publishes it and records both models' figures.
S3 through moto, greengrassv2 through Stubber, as in test_publish.py; the evaluation is real (onnxruntime)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from fleet import model_gate
from fleet import publish_cli as publish
from fleet.aws import FleetError
from fleet.components import discover_projects, load_built
from model_packaging.accuracy import EVAL_SET
from model_packaging.evaluate import evaluate
from smartcam.contracts import EvaluationRecord, ModelEvaluation, parse
from tests.fleet.helpers import RecordingAws, write_project
from tests.fleet.test_publish import expect_create, expect_versions
from tests.model_packaging.bundles import onnx_bundle

STORE = "smartcam.SsdModelStore"
GATE = {"labels": str(EVAL_SET), "backend": "onnxruntime", "threads": 1,
        "tolerancePoints": {"ap50": 1.0, "recall": 1.0, "precision": 1.0}}


@pytest.fixture(scope="module")
def packaged(tmp_path_factory) -> ModelEvaluation:
    """The packaged model's figures (its ONNX build), as the gate records them."""
    bundle = onnx_bundle(tmp_path_factory.mktemp("packaged") / "model")
    evaluation, _ = evaluate(bundle, EVAL_SET, backend="onnxruntime", threads=1)
    return evaluation


def model_store(root: Path, recorded: ModelEvaluation, **bundle_options) -> Path:
    """The component folder (its model, the record of the current model, a README, a build) and gate.json."""
    folder = root / "components" / "SsdModelStore"
    onnx_bundle(folder / "model", **bundle_options)
    (root / model_gate.GATE_FILE).parent.mkdir(parents=True, exist_ok=True)
    (root / model_gate.GATE_FILE).write_text(json.dumps(GATE))
    (folder / "evaluation.json").write_text(json.dumps(EvaluationRecord(current=recorded).to_message()))
    (folder / "README.md").write_text("# smartcam.SsdModelStore\n")
    write_project(root, "SsdModelStore", artifact=built_zip(folder))
    return folder


def built_zip(folder: Path) -> bytes:
    path = folder / "build.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name in ("model.json", "anchors.npy", "labels.txt"):
            archive.write(folder / "model" / name, f"model/{name}")
        archive.write(folder / "README.md", "README.md")
    return path.read_bytes()


def rebuild(root: Path) -> str:
    """What the build does for this test repo: zip the component folder again."""
    folder = root / "components" / "SsdModelStore"
    write_project(root, "SsdModelStore", artifact=built_zip(folder))
    return "test build"


def publish_store(aws: RecordingAws, root: Path, monkeypatch, *options: str) -> int:
    monkeypatch.setattr(publish.Aws, "connect", classmethod(lambda cls, **_: aws))
    monkeypatch.setattr(publish, "build_all", rebuild)
    return publish.main(["--root", str(root), "--only", STORE, *options])


def created(aws: RecordingAws) -> list[str]:
    return [json.loads(p["inlineRecipe"])["ComponentVersion"] for _, op, p in aws.calls
            if op == "CreateComponentVersion"]


def test_the_packaged_model_passes_against_its_own_record_and_nothing_is_rewritten(aws, tmp_path, monkeypatch,
                                                                                  packaged, capsys):
    root = tmp_path / "repo"
    folder = model_store(root, packaged)
    record_before = (folder / "evaluation.json").read_bytes()
    expect_versions(aws, STORE, [])
    expect_create(aws, STORE, "1.0.0")

    assert publish_store(aws, root, monkeypatch) == 0, capsys.readouterr().err

    out = capsys.readouterr().out
    assert "the new model is the recorded one" in out and "worse:" not in out
    assert created(aws) == ["1.0.0"]
    assert (folder / "evaluation.json").read_bytes() == record_before
    assert (folder / "README.md").read_text() == "# smartcam.SsdModelStore\n"


def test_a_model_with_shuffled_anchors_is_refused_and_nothing_is_published(aws, tmp_path, monkeypatch, packaged,
                                                                           capsys):
    root = tmp_path / "repo"
    folder = model_store(root, packaged, version="1.1.0", shuffle_anchors_seed=7)
    record_before = (folder / "evaluation.json").read_bytes()

    assert publish_store(aws, root, monkeypatch) == 1

    out, err = capsys.readouterr()
    assert "the model gate refuses the new model" in err
    assert "new model: ssdlite-mobilenetv2-person 1.1.0" in out
    assert "current model: ssdlite-mobilenetv2-person 1.0.0" in out
    assert "worse: person ap50" in out and "worse: person recall" in out
    assert aws.mutating_calls() == [] and created(aws) == []
    assert (folder / "evaluation.json").read_bytes() == record_before


def test_force_publishes_the_worse_model_and_records_both_models_figures(aws, tmp_path, monkeypatch, packaged,
                                                                         capsys):
    root = tmp_path / "repo"
    folder = model_store(root, packaged, version="1.1.0", shuffle_anchors_seed=7)
    expect_versions(aws, STORE, [])
    expect_create(aws, STORE, "1.0.0")

    assert publish_store(aws, root, monkeypatch, "--force") == 0, capsys.readouterr().err

    assert "published anyway (--force)" in capsys.readouterr().out
    assert created(aws) == ["1.0.0"]
    record = parse(EvaluationRecord, json.loads((folder / "evaluation.json").read_text()))
    assert record.previous == packaged
    assert record.current.model.version == "1.1.0"
    assert record.current.classes[0].ap50 < packaged.classes[0].ap50 - 0.1
    readme = (folder / "README.md").read_text()
    assert "| current: ssdlite-mobilenetv2-person 1.1.0 (onnxruntime) | person |" in readme
    assert "| previous: ssdlite-mobilenetv2-person 1.0.0 (onnxruntime) | person |" in readme
    # the artifact was built again after the figures were written: the README it ships has them
    (component,) = [load_built(p) for p in discover_projects(root)]
    with zipfile.ZipFile(component.artifacts["SsdModelStore.zip"]) as archive:
        assert archive.read("README.md").decode() == readme


def figures(evaluation: ModelEvaluation, **changes) -> ModelEvaluation:
    person = evaluation.classes[0].model_copy(update=changes)
    return evaluation.model_copy(update={"classes": [person]})


def test_the_tolerance_is_per_metric_in_points(packaged):
    tolerance = {"ap50": 1.0, "recall": 2.0}
    ap, recall = packaged.classes[0].ap50, packaged.classes[0].recall
    assert model_gate.compare(packaged, figures(packaged, ap50=ap - 0.01, recall=recall - 0.02), tolerance) == []
    (problem,) = model_gate.compare(packaged, figures(packaged, ap50=ap - 0.011), tolerance)
    assert problem.startswith("person ap50:") and "-1.1 points" in problem
    assert model_gate.compare(packaged, figures(packaged, precision=0.0), tolerance) == []  # not gated here
    assert model_gate.compare(packaged, figures(packaged, ap50=1.0, recall=1.0), tolerance) == []  # better


def test_figures_measured_another_way_are_not_compared(packaged):
    other_set = packaged.evaluation_set.model_copy(update={"manifest_sha256": "0" * 64})
    assert "another evaluation set" in model_gate.compare(
        packaged, packaged.model_copy(update={"evaluation_set": other_set}), {"ap50": 1.0})[0]
    litert = packaged.model.model_copy(update={"backend": "litert"})
    assert "not comparable" in model_gate.compare(
        packaged, packaged.model_copy(update={"model": litert}), {"ap50": 1.0})[0]


def test_an_artifact_built_from_another_model_is_refused(tmp_path, packaged):
    folder = model_store(tmp_path / "repo", packaged, version="2.0.0")  # its zip holds a model.json of 2.0.0
    passed = model_gate.Passed(model_gate.GateConfig.model_validate(GATE), model_gate.Verdict(packaged, packaged),
                               recorded=False)
    (component,) = [load_built(p) for p in discover_projects(folder.parent.parent)]
    with pytest.raises(FleetError, match="holds another model than the one the gate evaluated"):
        passed.check_artifact(component)


def test_a_gate_file_off_its_contract_is_refused(tmp_path):
    (tmp_path / model_gate.GATE_FILE).parent.mkdir(parents=True)
    (tmp_path / model_gate.GATE_FILE).write_text(json.dumps({**GATE, "tolerancePoints": {"ap50": "1"}}))
    with pytest.raises(FleetError, match=r"gate\.json"):
        model_gate.load_config(tmp_path)
    assert model_gate.load_config(tmp_path / "elsewhere") is None


def test_the_same_model_measured_on_a_changed_set_is_recorded_again_when_forced(tmp_path, packaged):
    folder = tmp_path / "SsdModelStore"
    folder.mkdir()
    older = figures(packaged, ap50=0.5).model_copy(update={"model": packaged.model.model_copy(
        update={"version": "0.9.0", "manifest_sha256": "1" * 64})})
    changed_set = packaged.evaluation_set.model_copy(update={"manifest_sha256": "0" * 64})
    recorded = packaged.model_copy(update={"evaluation_set": changed_set})
    verdict = model_gate.Verdict(packaged, recorded, previous=older)
    verdict.problems = model_gate.compare(recorded, packaged, {"ap50": 1.0})
    assert verdict.same_model and not verdict.accepted

    assert model_gate.record(folder, verdict)  # forced through: the figures on this set become the record

    written = model_gate.load_record(folder)
    assert written == EvaluationRecord(current=packaged, previous=older)
    assert not model_gate.record(folder, model_gate.Verdict(packaged, packaged))  # accepted, same: untouched
