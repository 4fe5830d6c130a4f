"""Publish every component of the repo to AWS IoT Greengrass, like `gdk component publish` per folder.

Idempotent: components whose recipe and artifacts did not change since their latest published version
are not bumped. smartcam.SsdModelStore passes the model gate first (fleet/model_gate.py): a model worse
than the recorded one on the evaluation set is refused unless --force. Examples:
  scripts/publish.py --build                   # build all, then publish what changed
  scripts/publish.py --write-versions recipes/dev.json --write-versions recipes/prod.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
from botocore.exceptions import BotoCoreError, ClientError

from fleet import model_gate
from fleet.aws import Aws, FleetError
from fleet.build import build_all
from fleet.checker import RequestRejected
from fleet.components import REPO_ROOT, discover_projects, load_built
from fleet.documents import write_versions
from fleet.publishing import Publisher, publish_all
from gdk_build.project import BUNDLED_SCHEMAS


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", action="store_true", help="build every component first (GDK CLI if installed)")
    parser.add_argument("--region", help="AWS region (default: the gdk-config.json publish region)")
    parser.add_argument("--profile", help="AWS profile")
    parser.add_argument("--bucket", help="artifact bucket name used verbatim (default <prefix>-<region>-<account>)")
    parser.add_argument("--only", action="append", default=[], metavar="COMPONENT", help="publish only these")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for each version to be DEPLOYABLE")
    parser.add_argument("--write-versions", action="append", default=[], type=Path, metavar="DOCUMENT",
                        help="set the published versions in this deployment document")
    parser.add_argument("--schemas", type=Path, default=Path(os.environ.get("SMARTCAM_GDK_SCHEMAS", BUNDLED_SCHEMAS)),
                        help="GDK's JSON schemas: recipes are validated like GDK does when the folder exists")
    parser.add_argument("--force", action="store_true",
                        help="publish a model the model gate refuses (worse than the recorded one)")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def recipe_schema_check(folder: Path) -> Callable[[dict[str, Any]], str | None] | None:
    """GDK validates recipes against its schema after lower-casing every key; the same check, when the
    schemas are at hand (the repo's build uses the same folder)."""
    if not (folder / "greengrass-recipe.schema.json").is_file():
        logging.getLogger("fleet.publish").warning("no recipe schema in %s: schema check skipped", folder)
        return None
    validator = jsonschema.Draft7Validator(json.loads((folder / "greengrass-recipe.schema.json").read_text()))

    def problem(recipe: dict[str, Any]) -> str | None:
        error = jsonschema.exceptions.best_match(validator.iter_errors(keys_to_lower(recipe)))
        return None if error is None else f"at /{'/'.join(map(str, error.absolute_path))}: {error.message}"

    return problem


def keys_to_lower(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key).lower(): keys_to_lower(item) for key, item in value.items()}
    if isinstance(value, list):
        return [keys_to_lower(item) for item in value]
    return value


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    try:
        projects = [p for p in discover_projects(args.root) if not args.only or p.name in args.only]
        gate = model_gate.run(projects, args.root, force=args.force)  # before the build: it may write figures
        if args.build or (gate is not None and gate.recorded):
            print(f"built with {build_all(args.root)}")
        regions = {p.region for p in projects if p.region}
        if not args.region and len(regions) > 1:
            raise FleetError(f"the components publish to several regions {sorted(regions)}: pass --region")
        aws = Aws.connect(region=args.region or next(iter(regions), None), profile=args.profile)
        aws.require_credentials()
        built = [load_built(project) for project in projects]
        if gate is not None:
            gate.check_artifact(next(b for b in built if b.name == model_gate.MODEL_STORE))
        publisher = Publisher(aws, bucket=args.bucket, wait=not args.no_wait,
                              recipe_problem=recipe_schema_check(args.schemas))
        results = publish_all(publisher, built)
        versions = {result.name: result.version for result in results}
        for document in args.write_versions:
            write_versions(document, versions)
    except (FleetError, RequestRejected, ClientError, BotoCoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps({r.name: {"version": r.version, "action": r.action, "uploaded": r.uploaded} for r in results},
                     indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
