"""Build components like ``gdk component build`` (zip): check everything first, then write atomically.

For each component folder the output is what GDK 1.6.2 writes there:

    zip-build/<folder>/                     the shipped files (excludes applied)
    zip-build/<archive>.zip                 those files zipped, paths relative to the folder
    greengrass-build/artifacts/<ComponentName>/<version>/<every file an s3 URI names>
    greengrass-build/recipes/recipe.yaml    (or recipe.json) the transformed recipe

Every component is planned (config, recipe, files, imports, recipe transform and schema) before
anything is written, so a failure leaves every component's previous output untouched. Each
component's new output is assembled in a hidden staging folder (.gdk-build-*) and swapped into place.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from gdk_build.errors import BuildError
from gdk_build.imports import check_imports
from gdk_build.project import CONFIG_FILE, RECIPE_FILES, ComponentProject, Schemas, load_project
from gdk_build.recipe import build_recipe, serialize
from gdk_build.zipbuild import STAGING_PREFIX, Selection, copy_selection, exclude_patterns, select, write_zip

GREENGRASS_BUILD = "greengrass-build"
ZIP_BUILD = "zip-build"
RUNTIME_REQUIREMENTS = Path("Runtime") / "requirements.txt"


@dataclass
class BuildPlan:
    project: ComponentProject
    selection: Selection
    recipe_text: str
    artifact_files: list[str]

    @property
    def zip_file_name(self) -> str:
        return f"{self.project.archive_name}.zip"


def discover(components_dir: Path, only: list[str] | None = None) -> list[Path]:
    """Component folders (a gdk-config.json or a recipe in them), optionally just the named ones."""
    if not components_dir.is_dir():
        raise BuildError(components_dir, "not a folder of components")
    if only:
        folders = [components_dir / name for name in only]
        for folder in folders:
            if not folder.is_dir():
                raise BuildError(folder, "no such component folder")
        return folders
    markers = (CONFIG_FILE, *RECIPE_FILES)
    return sorted(f for f in components_dir.iterdir() if f.is_dir() and any((f / m).is_file() for m in markers))


def dependency_order(projects: list[ComponentProject]) -> list[ComponentProject]:
    """Dependencies first (ComponentDependencies among these projects); ties by folder name."""
    by_name = {p.name: p for p in projects}
    pending = {p.name: {d for d in p.dependencies if d in by_name and d != p.name} for p in projects}
    ordered: list[ComponentProject] = []
    while pending:
        ready = sorted((n for n, deps in pending.items() if not deps), key=lambda n: by_name[n].folder.name)
        if not ready:
            cycle = sorted(pending)
            raise BuildError(by_name[cycle[0]].recipe_file, f"ComponentDependencies form a cycle among {cycle}")
        for name in ready:
            ordered.append(by_name[name])
            del pending[name]
        for deps in pending.values():
            deps.difference_update(ready)
    return ordered


def plan(project: ComponentProject, schemas: Schemas, runtime_requirements: Path) -> BuildPlan:
    selection = select(project.folder, exclude_patterns(project.build_options, project.recipe_file.name))
    problems = check_imports(project.folder, selection.files, runtime_requirements)
    if problems:
        raise ExceptionGroup(f"{project.name}: imports", problems)
    # After the zip build, zip-build/ holds exactly one file: the archive (and the copied folder).
    recipe, artifact_files = build_recipe(project, {f"{project.archive_name}.zip"}, schemas)
    return BuildPlan(project, selection, serialize(recipe, project.recipe_file.suffix), artifact_files)


def write(plan: BuildPlan) -> Path:
    """Write one component's build output; returns its greengrass-build folder."""
    project = plan.project
    folder = project.folder
    for leftover in folder.glob(f"{STAGING_PREFIX}*"):
        if _older_than_an_hour(leftover):  # from a build that was killed; a running one is younger
            _remove(leftover)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=folder))
    try:
        zip_build = staging / ZIP_BUILD
        copy = zip_build / folder.name
        copy_selection(folder, plan.selection, copy)
        write_zip(copy, plan.selection, zip_build / plan.zip_file_name)
        artifacts = staging / GREENGRASS_BUILD / "artifacts" / project.name / project.version
        recipes = staging / GREENGRASS_BUILD / "recipes"
        artifacts.mkdir(parents=True)
        recipes.mkdir(parents=True)
        for file_name in plan.artifact_files:
            shutil.copyfile(zip_build / file_name, artifacts / file_name)
        (recipes / project.recipe_file.name).write_text(plan.recipe_text, encoding="utf-8")
        _swap_in(folder, staging, (ZIP_BUILD, GREENGRASS_BUILD))
    except OSError as exc:
        raise BuildError(folder, f"could not write the build output: {exc}") from None
    finally:
        _remove(staging)
    return folder / GREENGRASS_BUILD


def _swap_in(folder: Path, staging: Path, names: tuple[str, ...]) -> None:
    old = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=folder))
    for name in names:
        target = folder / name
        if target.exists() or target.is_symlink():
            os.replace(target, old / name)
        os.replace(staging / name, target)
    _remove(old)


def _older_than_an_hour(path: Path) -> bool:
    try:
        return time.time() - path.lstat().st_mtime > 3600
    except FileNotFoundError:
        return False


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def build_all(components_dir: Path, schemas: Schemas, only: list[str] | None = None) -> list[BuildPlan]:
    """Plan every component, then write them in dependency order. Raises BuildError/ExceptionGroup."""
    errors: list[Exception] = []
    projects = []
    for folder in discover(components_dir, only):
        try:
            projects.append(load_project(folder, schemas))
        except BuildError as exc:
            errors.append(exc)
    if errors:
        raise ExceptionGroup("component projects", errors)
    plans = []
    for project in dependency_order(projects):
        try:
            plans.append(plan(project, schemas, components_dir / RUNTIME_REQUIREMENTS))
        except (BuildError, ExceptionGroup) as exc:
            errors.append(exc)
    if errors:
        raise ExceptionGroup("builds", errors)
    for each in plans:
        write(each)
    return plans
