"""The model gate of `scripts/publish.py`: a new smartcam.SsdModelStore model must not be worse than the current one.

"Current" is the model whose figures ``evaluation.json`` in the component folder records: the last model the
gate accepted, i.e. what the component ships today (the file ships in the artifact with the model). The gate
evaluates the folder's model (``python -m model_packaging evaluate``, SsdInference's own engine) on the
evaluation set that ``model_packaging/eval/gate.json`` names, with its backend, and compares each class's
figures with the record's: a drop beyond ``tolerancePoints`` (percentage points, per metric: ap50, recall,
precision) refuses the model unless forced. Figures are only compared when the set, the protocol and the
backend are the same; otherwise the gate refuses too and says why. A model it accepts that differs from the
recorded one becomes the record's ``current`` (the old one its ``previous``), and both models' figures are
written into the component's README.md, before the component is built, so the artifact carries them.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fleet.aws import FleetError
from fleet.components import BuiltComponent, Project
from model_packaging.eval_images import ImageSourceError
from model_packaging.evaluate import evaluate
from model_packaging.ground_truth import GroundTruthError
from smartcam.contracts import ContractError, EvaluationRecord, ModelEvaluation, parse
from ssd_inference.engine import EngineError

MODEL_STORE = "smartcam.SsdModelStore"
GATE_FILE = Path("model_packaging", "eval", "gate.json")  # in the repository; no file, no gate
RECORD_FILE = "evaluation.json"
README_BEGIN = "<!-- model-gate: begin (written by scripts/publish.py) -->"
README_END = "<!-- model-gate: end -->"
Metric = Literal["ap50", "recall", "precision"]
Points = Annotated[float, Field(ge=0.0, le=100.0)]


class GateConfig(BaseModel):
    """``model_packaging/eval/gate.json``: which set, which backend, how much a new model may lose."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, populate_by_name=True)

    model: str = "model"  # the bundle folder, relative to the component folder
    labels: str  # Ground Truth manifest, relative to the repository root
    backend: Annotated[str, Field(min_length=1, max_length=64)] = "onnxruntime"
    threads: Annotated[int, Field(ge=0, le=64)] = 0
    tolerance_points: dict[Metric, Points] = Field(alias="tolerancePoints")


@dataclass
class Verdict:
    candidate: ModelEvaluation
    current: ModelEvaluation | None
    problems: list[str] = field(default_factory=list)  # each a reason to refuse
    previous: ModelEvaluation | None = None  # what the record says the current model replaced

    @property
    def accepted(self) -> bool:
        return not self.problems

    @property
    def same_model(self) -> bool:
        return self.current is not None and (
            self.current.model.manifest_sha256 == self.candidate.model.manifest_sha256)


def load_config(root: Path) -> GateConfig | None:
    path = root / GATE_FILE
    if not path.is_file():
        return None
    try:
        return GateConfig.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, ValidationError) as exc:
        raise FleetError(f"{path}: {exc}") from None


def load_record(folder: Path) -> EvaluationRecord | None:
    path = folder / RECORD_FILE
    if not path.is_file():
        return None
    try:
        return parse(EvaluationRecord, json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, ContractError) as exc:
        raise FleetError(f"{path}: {exc}") from None


@dataclass(frozen=True)
class Passed:
    """The gate let the model through; ``recorded``: it wrote new figures, so the component must be built again."""

    config: GateConfig
    verdict: Verdict
    recorded: bool


    def check_artifact(self, component: BuiltComponent) -> None:
        """The built zip must carry the evaluated model (its model.json, holding every other file's sha256)."""
        inside = f"{self.config.model}/model.json"
        for path in component.artifacts.values():
            if not zipfile.is_zipfile(path):
                continue
            with zipfile.ZipFile(path) as archive:
                if inside in archive.namelist():
                    if hashlib.sha256(archive.read(inside)).hexdigest() != self.verdict.candidate.model.manifest_sha256:
                        raise FleetError(f"{path} holds another model than the one the gate evaluated: build again "
                                         "(--build)")
                    return
        raise FleetError(f"{component.name}: no artifact holds {inside}: build again (--build)")


def run(projects: list[Project], root: Path, *, force: bool) -> Passed | None:
    """The gate, when smartcam.SsdModelStore is among ``projects`` and the repository has a gate.json (else None).
    Prints both models' figures; FleetError when it refuses and ``force`` is off."""
    store = next((p for p in projects if p.name == MODEL_STORE), None)
    config = load_config(root) if store else None
    if store is None or config is None:
        return None
    verdict = check(store.folder, root, config)
    print(report(verdict))
    if not verdict.accepted:
        if not force:
            raise FleetError(f"{MODEL_STORE}: the model gate refuses the new model (--force publishes it anyway)")
        print(f"{MODEL_STORE}: the gate refuses the model; published anyway (--force)")
    recorded = record(store.folder, verdict)
    if recorded:
        print(f"{MODEL_STORE}: figures recorded in {RECORD_FILE} and README.md; the component is built again so its "
              "artifact carries them")
    return Passed(config, verdict, recorded)


def check(folder: Path, root: Path, config: GateConfig) -> Verdict:
    """Evaluate the folder's model and judge it against the recorded one."""
    record = load_record(folder)
    try:
        candidate, _ = evaluate(folder / config.model, root / config.labels, backend=config.backend,
                                threads=config.threads)
    except (EngineError, GroundTruthError, ImageSourceError, OSError) as exc:
        raise FleetError(f"{MODEL_STORE}: the model gate cannot evaluate {folder / config.model}: {exc}") from exc
    # named as gate.json names it (relative to the repository), not by this checkout's absolute path
    named = candidate.evaluation_set.model_copy(update={"manifest": config.labels})
    candidate = candidate.model_copy(update={"evaluation_set": named})
    verdict = Verdict(candidate, record.current if record else None, previous=record.previous if record else None)
    if verdict.current is not None:
        verdict.problems = compare(verdict.current, candidate, config.tolerance_points)
    return verdict


def compare(current: ModelEvaluation, candidate: ModelEvaluation, tolerance: dict[Metric, float]) -> list[str]:
    """Why ``candidate`` may not replace ``current``; empty when it may."""
    if current.evaluation_set.manifest_sha256 != candidate.evaluation_set.manifest_sha256:
        return ["the recorded figures come from another evaluation set: record the current model's figures on "
                "this one first, or --force"]
    if current.protocol != candidate.protocol or current.model.backend != candidate.model.backend:
        return [f"the recorded figures were measured differently (backend {current.model.backend}, "
                f"{current.protocol.to_message()}): not comparable, --force to accept"]
    problems = []
    for old in current.classes:
        new = candidate.figures(old.label)
        if new is None:
            problems.append(f"{old.label}: the new model has no such class")
            continue
        for metric, points in sorted(tolerance.items()):
            before, after = getattr(old, metric), getattr(new, metric)
            if before is None or after is None:
                continue
            change = round(100 * (after - before), 9)  # 49 % - 50 % is -1.0000000000000009 points in floats
            if change < -points:
                problems.append(f"{old.label} {metric}: {100 * before:.1f} -> {100 * after:.1f} "
                                f"({change:+.1f} points, at most -{points:g} allowed)")
    return problems


def figures_lines(title: str, evaluation: ModelEvaluation) -> list[str]:
    model = evaluation.model
    lines = [f"{title}: {model.name} {model.version} (model.json sha256 {model.manifest_sha256[:12]}), "
             f"{model.backend}, {evaluation.ms_per_frame.median_ms:.1f} ms per frame (median), "
             f"evaluated {evaluation.evaluated_at}"]
    for c in evaluation.classes:
        ap = "-" if c.ap50 is None else f"{c.ap50:.3f}"
        lines.append(f"  {c.label}: AP@0.5 {ap}, recall {c.recall:.3f}, precision {c.precision:.3f} "
                     f"({c.true_positives} TP, {c.false_positives} FP, {c.false_negatives} FN of {c.truth})")
    return lines


def report(verdict: Verdict) -> str:
    lines = figures_lines("new model", verdict.candidate)
    lines += figures_lines("current model", verdict.current) if verdict.current else ["current model: none recorded"]
    if verdict.same_model:
        lines.append("the new model is the recorded one")
    lines += [f"worse: {problem}" for problem in verdict.problems]
    return "\n".join(lines)


def record(folder: Path, verdict: Verdict) -> bool:
    """Make the accepted model the recorded one (README too); False when it already is. The same model measured
    another way (a changed evaluation set, forced through) is recorded again, keeping what it replaced."""
    if verdict.same_model and verdict.accepted:
        return False
    replaced = verdict.previous if verdict.same_model else verdict.current
    document = EvaluationRecord(current=verdict.candidate, previous=replaced)
    (folder / RECORD_FILE).write_text(json.dumps(document.to_message(), indent=1) + "\n", encoding="utf-8")
    readme = folder / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    section = readme_section(document)
    if README_BEGIN in text and README_END in text:
        head, rest = text.split(README_BEGIN, 1)
        text = head + section + rest.split(README_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    readme.write_text(text, encoding="utf-8")
    return True


def readme_section(document: EvaluationRecord) -> str:
    current = document.current
    lines = [README_BEGIN, "## Evaluation (the publish gate's record)", "",
             f"On `{current.evaluation_set.manifest}` ({current.evaluation_set.images} images, "
             f"{current.evaluation_set.boxes} boxes), precision and recall at score >= "
             f"{current.protocol.score_threshold}, AP@0.5 VOC all-point from score >= {current.protocol.ap_min_score} "
             f"(`evaluation.json` has every figure):", "",
             "| model | class | AP@0.5 | recall | precision | ms/frame |", "|---|---|---|---|---|---|"]
    for role, evaluation in (("current", current), ("previous", document.previous)):
        if evaluation is None:
            continue
        for c in evaluation.classes:
            ap = "-" if c.ap50 is None else f"{c.ap50:.3f}"
            lines.append(f"| {role}: {evaluation.model.name} {evaluation.model.version} ({evaluation.model.backend}) "
                         f"| {c.label} | {ap} | {c.recall:.3f} | {c.precision:.3f} | "
                         f"{evaluation.ms_per_frame.median_ms:.1f} |")
    return "\n".join([*lines, README_END])
