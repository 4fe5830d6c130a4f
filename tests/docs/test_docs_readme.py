
"""The README's generated sections are current, cover every recipe key, and its examples are real."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import TypeVar

import pytest
import yaml

from benchmarks.results import (
    RESULT_MODELS,
    BenchResult,
    CaptureResult,
    EventsResult,
    IpcResult,
    PipelineResult,
    PipelineRun,
)
from readme_tables import bench_table, readme
from readme_tables import config_reference as ref
from repo_layout import REPO_ROOT
from smartcam.contracts import CaptureCommand, parse

ROOT = REPO_ROOT
README = ROOT / "README.md"
REGENERATE = ".venv/bin/python scripts/update_readme.py"
R = TypeVar("R", bound=BenchResult)


def _section(text: str, markers: tuple[str, str]) -> str:
    start, end = markers
    assert text.count(start) == 1 and text.count(end) == 1, f"README.md needs one {start} and one {end}"
    return text.split(start, 1)[1].split(end, 1)[0]


def _component_tables(section: str) -> dict[str, set[str]]:
    """``{component: {key path, ...}}`` from the generated tables."""
    tables: dict[str, set[str]] = {}
    current = None
    for line in section.splitlines():
        if line.startswith("### "):
            current = line[4:].strip()
            tables[current] = set()
        elif current and (match := re.match(r"^\| `([^`]+)` \|", line)):
            tables[current].add(match.group(1))
    return tables


def test_the_readme_is_regenerated_from_the_current_recipes_settings_and_benchmarks():
    current = README.read_text()
    assert readme.updated_readme(current) == current, f"README.md is stale: run {REGENERATE}"
    assert readme.main(["--check"]) == 0


def test_every_default_configuration_key_of_every_recipe_is_in_the_reference():
    tables = _component_tables(_section(README.read_text(), readme.CONFIG_MARKERS))
    checked = 0
    for folder in ref.component_folders():
        defaults = ref.recipe_defaults(folder / "recipe.yaml")
        name = ref.component_name(folder)
        if not defaults:
            assert name not in tables
            continue
        missing = [key for key in ref.recipe_key_paths(defaults) if key not in tables.get(name, set())]
        assert not missing, f"{name}: recipe keys missing from the README reference: {missing}"
        checked += len(list(ref.recipe_key_paths(defaults)))
    assert checked >= 30  # the three configurable components, nested keys included
    assert "accessControl" not in "".join(key for keys in tables.values() for key in keys)


def test_the_reference_shows_types_constraints_defaults_and_descriptions_from_the_models():
    rows = {row.key: row for r in ref.all_references() for row in r.rows if r.name == "smartcam.DynamoWriter"}
    assert rows["batchSize"].constraints == "\u2265 1, \u2264 25"
    assert rows["batchSize"].default == "`25`"
    assert rows["overflowPolicy"].type == 'one of `"refuseNewest"`, `"dropOldest"`'
    assert rows["region"].type == "string or null" and rows["region"].default == "`null`"
    assert "AWS_REGION" in rows["region"].description  # a comment beside the field in settings.py
    ingest = {row.key: row for r in ref.all_references() for row in r.rows if r.name == "smartcam.CameraIngest"}
    assert ingest["cameras[].source.type"].type == 'one of `"file"`, `"folder"`, `"stream"`, `"v4l2"`'
    assert ingest["ring"].description.startswith("Per camera")  # the nested model's docstring
    masks = ingest["cameras[].motion.masks"]  # polygons of [x, y] points: tuples in the schema
    assert masks.type == "list of list of [number, number]"
    assert masks.constraints == "0\u201316 items, each: 3\u201364 items, each: \u2265 0, \u2264 1"


def test_the_capture_command_examples_in_the_readme_follow_the_contract():
    text = README.read_text()
    examples = [line for line in text.splitlines() if line.startswith('{"action"')]
    assert len(examples) >= 5
    for line in examples:
        parse(CaptureCommand, line)


def git_ignored(path: str) -> bool:
    return subprocess.run(["git", "check-ignore", "-q", path], check=False, cwd=ROOT).returncode == 0


def test_make_targets_and_repository_paths_named_in_the_readme_exist():
    text = README.read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in set(re.findall(r"(?:^|`)make ([a-z]+)\b", text, re.M)):
        assert re.search(rf"^{target}:", makefile, re.M), f"README names `make {target}`, the Makefile has none"
    paths = set(re.findall(r"(?<![\w./-])((?:scripts|components|docs|infrastructure|recipes|model_packaging|gdk-config)"
                           r"/[\w./-]*[\w])", text))
    placeholders = ("<", "*")
    missing = [p for p in sorted(paths) if not any(c in p for c in placeholders) and not (ROOT / p).exists()]
    # Paths that commands create (build venvs, outputs) are git-ignored; they need not exist in a clone.
    missing = [p for p in missing if not git_ignored(p)]
    assert not missing, f"README names paths that do not exist: {missing}"


# ------------------------------------------------------------------ the generator itself


def _fake_component(root: Path, recipe_defaults: dict, package: str) -> Path:
    folder = root / "components" / "Fake"
    (folder / package).mkdir(parents=True)
    (folder / package / "__init__.py").write_text("")
    (folder / package / "settings.py").write_text(
        "from typing import Annotated\n"
        "from pydantic import Field\n"
        "from smartcam.config import ComponentConfig\n\n\n"
        "class Inner(ComponentConfig):\n"
        '    """What the inner block is for."""\n\n'
        "    depth: Annotated[int, Field(ge=1, le=9)] = 3\n\n\n"
        "class FakeConfig(ComponentConfig):\n"
        "    # How loud the fake is.\n"
        "    volume: Annotated[float, Field(gt=0, le=11)] = 5.0\n"
        '    name: str = Field("fake", description="Shown to people.")\n'
        "    inner: Inner = Inner()\n"
    )
    (folder / "main.py").write_text(
        f"from {package}.settings import FakeConfig\n"
        "from smartcam.component import run_component\n\n\n"
        "def main(client=None, stop=None):\n"
        "    return run_component('fake.Fake', FakeConfig, object, client, stop)\n"
    )
    (folder / "gdk-config.json").write_text(json.dumps({"component": {"fake.Fake": {"version": "1.0.0"}}}))
    recipe = {"RecipeFormatVersion": "2020-01-25", "ComponentName": "{COMPONENT_NAME}",
              "ComponentConfiguration": {"DefaultConfiguration": {**recipe_defaults, "accessControl": {"x": {}}}}}
    (folder / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    return folder


def test_a_fake_component_gets_rows_with_recipe_values_model_defaults_and_descriptions(tmp_path, monkeypatch):
    folder = _fake_component(tmp_path, {"volume": 7, "inner": {"depth": 4}}, "fake_docs_pkg_a")
    monkeypatch.syspath_prepend(str(folder))  # a component's folder is an import root, as the dev venv's .pth makes it
    component = ref.component_reference(folder)
    rows = {row.key: row for row in component.rows}
    assert list(rows) == ["volume", "name", "inner", "inner.depth"]
    assert rows["volume"].default == "`7` (if omitted: `5.0`)"
    assert rows["volume"].constraints == "> 0, \u2264 11"
    assert rows["volume"].description == "How loud the fake is."
    assert rows["name"].default == '`"fake"`' and rows["name"].description == "Shown to people."
    assert rows["inner"].description == "What the inner block is for."
    assert rows["inner.depth"].default == "`4` (if omitted: `3`)"
    rendered = ref.render_config_reference([component])
    assert "### fake.Fake" in rendered and "accessControl" not in rendered.split("|", 1)[1]


def test_a_recipe_key_the_settings_model_does_not_know_stops_the_generator(tmp_path, monkeypatch):
    folder = _fake_component(tmp_path, {"volume": 7, "volumeTypo": 1}, "fake_docs_pkg_b")
    monkeypatch.syspath_prepend(str(folder))
    with pytest.raises(ref.ConfigReferenceError, match="volumeTypo"):
        ref.component_reference(folder)


def test_check_reports_a_stale_readme_without_touching_it_and_a_run_fixes_it(tmp_path):
    stale = tmp_path / "README.md"
    text = README.read_text().replace("| `batchSize` |", "| `batchSizeOld` |")
    stale.write_text(text)
    assert readme.main(["--check", "--readme", str(stale)]) == 1
    assert stale.read_text() == text
    assert readme.main(["--readme", str(stale)]) == 0
    assert stale.read_text() == readme.updated_readme(README.read_text())
    assert "| `batchSize` |" in stale.read_text()


def test_a_readme_without_the_markers_is_a_clear_error(tmp_path, capsys):
    bare = tmp_path / "README.md"
    bare.write_text("# nothing generated here\n")
    assert readme.main(["--check", "--readme", str(bare)]) == 2
    assert "config-reference:start" in capsys.readouterr().err


def _committed(model: type[R], name: str) -> R:
    return model.read(ROOT / "docs" / "bench" / name)


def _pipeline_run(**changes: object) -> PipelineRun:
    return _committed(PipelineResult, "pipeline.json").runs[0].model_copy(update=changes)


def test_the_benchmark_table_leaves_out_missing_broken_and_other_shaped_files(tmp_path):
    assert "No benchmark results yet" in bench_table.render_bench_table(tmp_path)
    bench = tmp_path / "docs" / "bench"
    bench.mkdir(parents=True)
    (bench / "ipc.json").write_text("{not json")
    (bench / "writer.json").write_text(json.dumps({"results": {}}))
    renamed = json.loads((ROOT / "docs" / "bench" / "inference.json").read_text())
    renamed["target"] = renamed.pop("targets")  # a key renamed on one side only
    (bench / "inference.json").write_text(json.dumps(renamed))
    pipeline = _committed(PipelineResult, "pipeline.json")
    pipeline.model_copy(update={
        "command": "scripts/bench.py pipeline",
        "targets": pipeline.targets.model_copy(update={"e2e_p50_target_ms": 47.0}),
        "runs": [_pipeline_run(input_fps=10.0, pipeline_fps=9.8, e2e_ms_p50=60.0, e2e_ms_p99=90.0)],
    }).write(bench / "pipeline.json")
    capture = _committed(CaptureResult, "capture.json")
    vga = capture.results["640x480"]
    capture.model_copy(update={"results": {"640x480": vga.model_copy(update={
        "sustained": vga.sustained.model_copy(update={"requested_fps": 30.0, "achieved_fps": 29.9, "cpu_cores": 0.1})
    })}}).write(bench / "capture.json")
    table = bench_table.render_bench_table(tmp_path)
    assert ("| pipeline | 10 fps in: stored fps; capture->stored p50 / p99 | 9.8 fps; 60 ms / 90 ms | p50 ≤ 47 ms |"
            in table)
    assert "| capture | 640x480: sustained at 30 fps | 29.9 fps, 0.10 cores | 30 fps under 0.5 core |" in table
    assert "| ipc |" not in table and "| writer |" not in table and "| inference |" not in table
    assert f"`docs/bench/pipeline.json`, {pipeline.when}: `scripts/bench.py pipeline`" in table


def test_a_variant_run_of_a_benchmark_is_read_like_the_benchmark(tmp_path):
    bench = tmp_path / "docs" / "bench"
    bench.mkdir(parents=True)
    pipeline = _committed(PipelineResult, "pipeline.json")
    pipeline.model_copy(update={
        "command": "scripts/bench.py pipeline --threads 1",
        "model": pipeline.model.model_copy(update={"backend": "dlr", "threads": 1, "fps": 29.5}),
        "runs": [_pipeline_run(input_fps=45.0, cpu_ms_per_stored_frame={
            "smartcam.SsdInference": 41.25, "DynamoDB Local (stand-in)": 3.8})],
    }).write(bench / "pipeline-threads1.json")
    _committed(CaptureResult, "capture.json").write(bench / "capture.json")
    table = bench_table.render_bench_table(tmp_path)
    assert "| pipeline-threads1 | standalone model (dlr, 1 threads) | 29.5 fps |  |" in table
    assert ("| pipeline-threads1 | CPU per stored frame at 45 fps in | SsdInference 41.2 ms, "
            "DynamoDB Local (stand-in) 3.8 ms |  |") in table
    assert table.index("| capture |") < table.index("| pipeline-threads1 |")  # ordered as the pipeline benchmark
    assert f"`docs/bench/pipeline-threads1.json`, {pipeline.when}: `scripts/bench.py pipeline --threads 1`" in table


def test_the_events_rows_show_the_ratio_the_targets_and_events_not_stored_once(tmp_path):
    bench = tmp_path / "docs" / "bench"
    bench.mkdir(parents=True)
    events = _committed(EventsResult, "events.json")
    multi = events.multi_camera
    events.model_copy(update={
        "targets": events.targets.model_copy(update={"scene_items_ratio": 0.025}),
        "multi_camera": multi.model_copy(update={"cameras": [
            multi.cameras[0].model_copy(update={"events_stored_once_as_ended": False}), *multi.cameras[1:]]}),
    }).write(bench / "events.json")
    table = bench_table.render_bench_table(tmp_path)
    assert " = 1/40 | ≤ 1/50 |" in table
    assert "(not each once as ended)" in table
    assert "| events | still frame + sensor noise: events from noise (started; objects in the still) |" in table


@pytest.mark.parametrize("path", sorted((ROOT / "docs" / "bench").glob("*.json")), ids=lambda p: p.name)
def test_each_committed_benchmark_result_parses_with_its_benchmarks_model(path):
    model = RESULT_MODELS[path.stem.split("-", 1)[0]]
    result = model.read(path)
    assert result.to_json() == path.read_text()  # what the benchmark would write for it, to the byte
    assert bench_table.BENCH_READERS[path.stem.split("-", 1)[0]](path.read_text())[1]  # and it has rows


def test_a_result_file_with_an_unknown_or_mistyped_key_is_refused():
    text = (ROOT / "docs" / "bench" / "ipc.json").read_text()
    IpcResult.parse(text)
    with pytest.raises(ValueError, match="p50_rtt_ms"):
        IpcResult.parse(text.replace('"p50_ms"', '"p50_rtt_ms"'))
    with pytest.raises(ValueError, match="messages_per_s"):
        IpcResult.parse(text.replace('"messages_per_s": 5573', '"messages_per_s": "5573"'))
