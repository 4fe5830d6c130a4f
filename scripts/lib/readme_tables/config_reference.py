"""The configuration reference: one table per component, from its recipe and its typed settings model.

It comes from each component's recipe (``DefaultConfiguration``, without ``accessControl``) and its
typed settings model (the class ``main.py`` hands to ``run_component``): types, constraints and model
defaults from ``model_json_schema()``, descriptions from Field descriptions, else the comments beside
the field in ``settings.py``, else the inline comment on the recipe line, else the nested model's docstring.
"""

from __future__ import annotations

import ast
import importlib
import io
import json
import re
import sys
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel

from repo_layout import REPO_ROOT as ROOT

PIPELINE_ORDER = ["Runtime", "CameraIngest", "SsdModelStore", "SsdInference", "DynamoWriter", "EventTracker",
                  "OperatorView"]
RESERVED_KEYS = frozenset({"accessControl"})
LONG_DEFAULT = 60
_MISSING = object()


class ConfigReferenceError(Exception):
    """The recipes and settings models disagree, or a component cannot be read; ``str()`` says where."""


@dataclass(frozen=True)
class Row:
    key: str
    type: str
    default: str
    constraints: str
    description: str


@dataclass(frozen=True)
class ComponentReference:
    name: str
    folder: str
    settings: str  # path of the settings module, from the repository root; "" without configuration
    model: str  # the settings class
    rows: tuple[Row, ...]


# ---------------------------------------------------------------- recipes


def _get_ci(mapping: Any, key: str) -> Any:
    """Recipe keys are case-insensitive for the nucleus."""
    if not isinstance(mapping, dict):
        return None
    return next((value for name, value in mapping.items() if str(name).lower() == key.lower()), None)


def recipe_defaults(recipe_path: Path) -> dict[str, Any]:
    recipe = yaml.safe_load(recipe_path.read_text())
    defaults = _get_ci(_get_ci(recipe, "ComponentConfiguration"), "DefaultConfiguration") or {}
    if not isinstance(defaults, dict):
        raise ConfigReferenceError(f"{recipe_path}: DefaultConfiguration is not a mapping")
    return {key: value for key, value in defaults.items() if key not in RESERVED_KEYS}


def recipe_key_paths(value: Any, prefix: str = "") -> Iterator[str]:
    """Every key path of a DefaultConfiguration: ``ring.frames``, ``cameras[].source.type``."""
    if isinstance(value, dict):
        for key, child in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            yield path
            yield from recipe_key_paths(child, path)
    elif isinstance(value, list):
        for item in value:
            yield from recipe_key_paths(item, f"{prefix}[]")


_RECIPE_KEY_LINE = re.compile(r"^(?P<indent>\s*)(?P<dash>-\s+)?(?P<key>[A-Za-z0-9_]+):(?P<rest>.*)$")
_QUOTED = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'[^']*'")


def recipe_inline_comments(recipe_text: str) -> dict[str, str]:
    """``{key path: comment}`` for DefaultConfiguration keys with a comment at the end of their line."""
    lines = recipe_text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "DefaultConfiguration:"), None)
    if start is None:
        return {}
    base = len(lines[start]) - len(lines[start].lstrip())
    comments: dict[str, str] = {}
    stack: list[tuple[int, str]] = []  # (indent, path) of the open keys and list items
    for line in lines[start + 1 :]:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        if indent <= base:
            break
        match = _RECIPE_KEY_LINE.match(line)
        if match is None:
            continue
        if match["dash"]:
            while stack and (stack[-1][0] > indent or (stack[-1][0] == indent and stack[-1][1].endswith("[]"))):
                stack.pop()
            stack.append((indent, (stack[-1][1] if stack else "") + "[]"))
            indent += len(match["dash"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = f"{stack[-1][1]}.{match['key']}" if stack else match["key"]
        stack.append((indent, path))
        comment = re.search(r"(?:^|\s)#\s?(.*)$", _QUOTED.sub('""', match["rest"]))
        if comment and comment.group(1).strip():
            comments[path] = comment.group(1).strip()
    return {path: text for path, text in comments.items() if re.split(r"[.\[]", path)[0] not in RESERVED_KEYS}


# ---------------------------------------------------------------- settings models


def settings_model(folder: Path) -> type[BaseModel] | None:
    """The class ``main.py`` passes to ``run_component``, imported the way pytest's pythonpath does."""
    main = folder / "main.py"
    if not main.is_file():
        return None
    tree = ast.parse(main.read_text(), filename=str(main))
    imported = {
        alias.asname or alias.name: node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "run_component"
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Name)):
            class_name = node.args[1].id
            module_name = imported.get(class_name)
            if module_name is None:
                raise ConfigReferenceError(f"{main}: {class_name} is not imported with 'from ... import'")
            try:
                return getattr(importlib.import_module(module_name), class_name)
            except (ImportError, AttributeError) as exc:
                raise ConfigReferenceError(f"{main}: cannot load {module_name}.{class_name}: {exc}") from exc
    raise ConfigReferenceError(f"{main}: no run_component(name, ConfigModel, ...) call found")


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in get_args(annotation):
        yield from _models_in(arg)


def reachable_models(root: type[BaseModel]) -> dict[str, type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    pending = [root]
    while pending:
        model = pending.pop()
        if model.__name__ in found:
            continue
        found[model.__name__] = model
        for field in model.model_fields.values():
            pending.extend(_models_in(field.annotation))
    return found


class SourceComments:
    """Comments next to each field of a model class: on the field's lines, or directly above it."""

    def __init__(self) -> None:
        self._files: dict[Path, tuple[ast.Module, dict[int, str], list[str]]] = {}

    def _load(self, path: Path) -> tuple[ast.Module, dict[int, str], list[str]]:
        if path not in self._files:
            text = path.read_text()
            by_line = {
                token.start[0]: token.string.lstrip("#").strip()
                for token in tokenize.generate_tokens(io.StringIO(text).readline)
                if token.type == tokenize.COMMENT
            }
            self._files[path] = (ast.parse(text), by_line, text.splitlines())
        return self._files[path]

    def field_comment(self, model: type[BaseModel], field_name: str) -> str:
        source = sys.modules[model.__module__].__file__
        if source is None:
            return ""
        tree, comments, lines = self._load(Path(source))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.ClassDef) and node.name == model.__name__):
                continue
            for statement in node.body:
                if (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)
                        and statement.target.id == field_name):
                    end = statement.end_lineno or statement.lineno
                    above: list[str] = []
                    line = statement.lineno - 1
                    while line >= 1 and lines[line - 1].lstrip().startswith("#"):
                        above.insert(0, comments.get(line, ""))
                        line -= 1
                    trailing = [comments[n] for n in range(statement.lineno, end + 1) if n in comments]
                    return " ".join(part for part in [*above, *trailing] if part)
        return ""


# ---------------------------------------------------------------- schema -> rows

GE, LE, EN_DASH, TIMES = "\u2265", "\u2264", "\u2013", "\u00d7"


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value)


def _value(value: Any) -> str:
    text = json.dumps(value, separators=(", ", ": "))
    if len(text) > LONG_DEFAULT:
        if isinstance(value, list):
            return f"{len(value)} entr{'y' if len(value) == 1 else 'ies'}, see the recipe"
        return "see the recipe"
    return f"`{text}`"


def _one_of(values: list[Any]) -> str:
    return ", ".join(f"`{json.dumps(v)}`" for v in values)


def _range(low: Any, high: Any, unit: str) -> str:
    if high is None:
        return f"{GE} {low} {unit}".strip()
    return f"{low if low is not None else 0}{EN_DASH}{high} {unit}".strip()


class _Walker:
    """Turns one settings model's JSON schema, with the recipe's values, into reference rows."""

    def __init__(self, model: type[BaseModel], defaults: dict[str, Any], recipe_comments: dict[str, str]) -> None:
        self.schema = model.model_json_schema(by_alias=True)
        self.defs = self.schema.get("$defs", {})
        self.models = reachable_models(model)
        self.root = model
        self.defaults = defaults
        self.recipe_comments = recipe_comments
        self.sources = SourceComments()
        self.rows: list[Row] = []

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target = self.defs[node["$ref"].rsplit("/", 1)[-1]]
            node = {**target, **{k: v for k, v in node.items() if k not in ("$ref", "title")}}
        return node

    def without_null(self, node: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """``X | None`` -> (X, True); anything else unchanged."""
        branches = node.get("anyOf") or []
        rest = [b for b in branches if b.get("type") != "null"]
        if len(rest) == 1 and len(rest) < len(branches):
            outer = {k: v for k, v in node.items() if k != "anyOf"}
            return {**self.resolve(rest[0]), **outer}, True
        return node, False

    def type_name(self, node: dict[str, Any]) -> str:
        node = self.resolve(node)
        if "const" in node:
            return f"`{json.dumps(node['const'])}`"
        if "enum" in node:
            return f"one of {_one_of(node['enum'])}"
        for union in ("anyOf", "oneOf"):
            if union in node:
                return " or ".join(self.type_name(branch) for branch in node[union])
        if "prefixItems" in node:  # a tuple, e.g. an [x, y] point
            return "[" + ", ".join(self.type_name(item) for item in node["prefixItems"]) + "]"
        if node.get("type") == "array":
            return f"list of {self.type_name(node.get('items', {}))}"
        return str(node.get("type", "any"))

    def constraints(self, node: dict[str, Any]) -> str:
        node = self.resolve(node)
        parts = [f"{symbol} {_number(node[key])}" for key, symbol in
                 (("minimum", GE), ("exclusiveMinimum", ">"), ("maximum", LE), ("exclusiveMaximum", "<"))
                 if key in node]
        if "minLength" in node or "maxLength" in node:
            parts.append("length " + _range(node.get("minLength"), node.get("maxLength"), ""))
        if "pattern" in node:
            parts.append(f"pattern `{node['pattern']}`")
        if "prefixItems" in node:  # a tuple: its length is in its type; say what its items take, if alike
            inner = {self.constraints(item) for item in node["prefixItems"]}
            if len(inner) == 1 and "" not in inner:
                parts.append(inner.pop())
        elif "minItems" in node or "maxItems" in node:
            parts.append(_range(node.get("minItems"), node.get("maxItems"), "items"))
        if node.get("type") == "array" and "items" in node:
            inner = self.constraints(node["items"])
            if inner:
                parts.append(f"each: {inner}")
        for union in ("anyOf", "oneOf"):
            parts += [inner for branch in node.get(union, []) if (inner := self.constraints(branch))]
        return ", ".join(parts)

    def describe(self, owner: type[BaseModel] | None, field_name: str | None, key: str,
                 resolved: dict[str, Any]) -> str:
        field = owner.model_fields.get(field_name) if owner is not None and field_name else None
        if field is not None and field.description:
            return field.description
        if owner is not None and field_name:
            comment = self.sources.field_comment(owner, field_name)
            if comment:
                return comment
        if key in self.recipe_comments:
            return self.recipe_comments[key]
        if resolved.get("type") == "object" and resolved.get("description"):
            return str(resolved["description"])  # the nested model's docstring
        return ""

    @staticmethod
    def default(prop: dict[str, Any], recipe_value: Any, container: bool, required: bool) -> str:
        model_default = prop.get("default", _MISSING)
        if container:  # objects: their keys carry the defaults
            return "required" if required and recipe_value is _MISSING else ""
        if recipe_value is not _MISSING:
            shown = _value(recipe_value)
            if model_default is not _MISSING and model_default != recipe_value:
                shown += f" (if omitted: {_value(model_default)})"
            return shown
        if model_default is not _MISSING:
            return _value(model_default)
        return "required" if required else ""

    def walk_object(self, model: type[BaseModel] | None, node: dict[str, Any], prefix: str, *, recipe: Any,
                    note: str = "", skip: str | None = None) -> None:
        required = set(node.get("required", []))
        field_names = {(info.alias or name): name for name, info in model.model_fields.items()} if model else {}
        for alias, prop in node.get("properties", {}).items():
            if alias == skip:
                continue
            value = recipe.get(alias, _MISSING) if isinstance(recipe, dict) else _MISSING
            key = f"{prefix}.{alias}" if prefix else alias
            self.walk_property(model, field_names.get(alias), prop, key=key, recipe_value=value,
                               required=alias in required, note=note)

    def walk_property(self, owner: type[BaseModel] | None, field_name: str | None, prop: dict[str, Any], *,
                      key: str, recipe_value: Any, required: bool, note: str) -> None:
        resolved, nullable = self.without_null(self.resolve(prop))
        union = resolved.get("discriminator")
        is_object = resolved.get("type") == "object" and "properties" in resolved
        items = self.resolve(resolved.get("items", {})) if resolved.get("type") == "array" else {}
        list_of_objects = items.get("type") == "object" and "properties" in items
        if union:
            type_text, constraints = f"object, by `{union['propertyName']}`", ""
        elif is_object:
            type_text, constraints = "object", ""
        elif list_of_objects:
            type_text = "list of objects"
            constraints = (_range(resolved.get("minItems"), resolved.get("maxItems"), "items")
                           if "minItems" in resolved or "maxItems" in resolved else "")
        else:
            type_text, constraints = self.type_name(resolved), self.constraints(resolved)
        if nullable:
            type_text += " or null"
        description = f"{note} {self.describe(owner, field_name, key, resolved)}".strip()
        default = self.default(prop, recipe_value, bool(union) or is_object or list_of_objects, required)
        if list_of_objects and recipe_value is not _MISSING:
            default = _value(recipe_value)
        self.rows.append(Row(key, type_text, default, constraints, description))
        if union:
            self.walk_union(resolved, key, recipe_value)
        elif is_object:
            self.walk_object(self.models.get(resolved.get("title", "")), resolved, key, recipe=recipe_value, note=note)
        elif list_of_objects:  # the recipe's entries are examples, not per-entry defaults
            self.walk_object(self.models.get(items.get("title", "")), items, f"{key}[]", recipe=_MISSING, note=note)

    def walk_union(self, node: dict[str, Any], key: str, recipe_value: Any) -> None:
        tag = node["discriminator"]["propertyName"]
        mapping: dict[str, str] = node["discriminator"]["mapping"]
        self.rows.append(Row(f"{key}.{tag}", f"one of {_one_of(list(mapping))}", "required", "",
                             f"Which kind of `{key.rsplit('.', 1)[-1]}`; the keys below depend on it."))
        for value, ref in mapping.items():
            name = ref.rsplit("/", 1)[-1]
            chosen = isinstance(recipe_value, dict) and recipe_value.get(tag) == value
            self.walk_object(self.models.get(name), self.resolve({"$ref": ref}), key,
                             recipe=recipe_value if chosen else _MISSING, note=f"*{tag} `{value}`:*", skip=tag)

    def run(self) -> list[Row]:
        self.walk_object(self.root, self.schema, "", recipe=self.defaults)
        return self.rows


def component_name(folder: Path) -> str:
    config = json.loads((folder / "gdk-config.json").read_text())
    return next(iter(config["component"]))


def component_folders(root: Path = ROOT) -> list[Path]:
    folders = [p.parent for p in (root / "components").glob("*/recipe.yaml")]
    return sorted(folders, key=lambda p: (PIPELINE_ORDER.index(p.name) if p.name in PIPELINE_ORDER else 99, p.name))


def component_reference(folder: Path) -> ComponentReference:
    recipe = folder / "recipe.yaml"
    defaults = recipe_defaults(recipe)
    name = component_name(folder)
    if not defaults:
        return ComponentReference(name, folder.name, "", "", ())
    model = settings_model(folder)
    if model is None:
        raise ConfigReferenceError(f"{recipe}: DefaultConfiguration without a main.py settings model")
    rows = _Walker(model, defaults, recipe_inline_comments(recipe.read_text())).run()
    known = {row.key for row in rows}
    unknown = [path for path in recipe_key_paths(defaults) if path not in known]
    if unknown:
        raise ConfigReferenceError(f"{recipe}: keys not in {model.__name__}: {', '.join(unknown)}")
    source = Path(sys.modules[model.__module__].__file__ or "").resolve()
    try:
        settings = source.relative_to(folder.resolve().parent.parent).as_posix()
    except ValueError:
        settings = source.as_posix()
    return ComponentReference(name, folder.name, settings, model.__name__, tuple(rows))


def all_references(root: Path = ROOT) -> list[ComponentReference]:
    return [component_reference(folder) for folder in component_folders(root)]


def render_config_reference(references: list[ComponentReference]) -> str:
    out = [
        "<!-- Generated by scripts/update_readme.py from components/*/recipe.yaml and the settings models."
        " Do not edit by hand. -->",
        "",
        "*default*: the value in the recipe's `DefaultConfiguration`, which a deployment gets; *if omitted*: the "
        "settings model's own default, used when the key is absent. Keys are camelCase; unknown keys are refused. "
        "`accessControl` is left out (see each recipe).",
    ]
    for ref in references:
        if not ref.rows:
            continue
        out += ["", f"### {ref.name}", "",
                f"From `components/{ref.folder}/recipe.yaml` and `{ref.model}` in `{ref.settings}`.", "",
                "| key | type | default | constraints | description |", "|---|---|---|---|---|"]
        out += [f"| `{cell(r.key)}` | {cell(r.type)} | {cell(r.default)} | {cell(r.constraints)} "
                f"| {cell(r.description)} |" for r in ref.rows]
    plain = [f"`{ref.name}`" for ref in references if not ref.rows]
    if plain:
        out += ["", f"No configuration: {', '.join(plain)}."]
    return "\n".join(out)


def missing_descriptions(references: list[ComponentReference]) -> list[str]:
    return [f"{ref.name}: {row.key}" for ref in references for row in ref.rows if not row.description]
