"""The published manifest.schema.json agrees with the runtime's validation of mloop.yaml."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from conftest import PYTHON_DIR, classification_manifest, regression_manifest, write_model_dir
from mloop_runtime.errors import InvalidManifest
from mloop_runtime.manifest import FEATURE_TYPES, METRICS_BY_TASK, TASKS, load_manifest

SCHEMA_PATH = PYTHON_DIR / "mloop_runtime" / "manifest.schema.json"
EXAMPLE_MANIFEST = PYTHON_DIR.parent / "examples" / "predictive-maintenance" / "model" / "mloop.yaml"
SCHEMA = json.loads(SCHEMA_PATH.read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def schema_accepts(manifest: dict[str, Any]) -> bool:
    return VALIDATOR.is_valid(manifest)


def runtime_accepts(tmp_path: Path, manifest: dict[str, Any]) -> bool:
    try:
        load_manifest(write_model_dir(tmp_path / "model", manifest))
    except InvalidManifest:
        return False
    return True


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_enums_match_the_runtime_tables() -> None:
    assert SCHEMA["properties"]["task"]["enum"] == list(TASKS)
    assert SCHEMA["$defs"]["feature"]["properties"]["type"]["enum"] == list(FEATURE_TYPES)
    per_task = {
        rule["if"]["properties"]["task"]["const"]: rule["then"]["properties"]["metrics"]["items"]["enum"]
        for rule in SCHEMA["allOf"]
    }
    assert per_task == {task: list(metrics) for task, metrics in METRICS_BY_TASK.items()}


def test_example_manifest_is_valid() -> None:
    VALIDATOR.validate(yaml.safe_load(EXAMPLE_MANIFEST.read_text()))
    assert load_manifest(EXAMPLE_MANIFEST.parent).gates  # and the runtime agrees


VALID = {
    "classification": classification_manifest(),
    "regression": regression_manifest(),
    "constraints and gates": classification_manifest(
        features=[
            {"name": "x1", "type": "number", "min": -10, "max": 10.5},
            {"name": "n", "type": "integer", "min": 0},
            {"name": "site", "type": "string", "categories": ["north", "south"]},
        ],
        gates=[
            {"metric": "roc_auc", "threshold": 0.75, "min_absolute_change": 0.0},
            {"metric": "f1", "min_relative_change": 0.01, "greater_is_better": True},
        ],
    ),
    "nulls mean not set": classification_manifest(
        params=None,
        metrics=None,
        features=[{"name": "x1", "type": "number", "min": None, "categories": None}],
        gates=[{"metric": "accuracy", "threshold": 0.5, "min_absolute_change": None}],
    ),
    "regression gate": regression_manifest(metrics=["rmse"], gates=[{"metric": "rmse", "threshold": 0.5}]),
    "positive class": classification_manifest(positive_class="yes"),
    "integer positive class": classification_manifest(positive_class=2),
}


@pytest.mark.parametrize("manifest", list(VALID.values()), ids=list(VALID))
def test_valid_manifests_pass_both(tmp_path: Path, manifest: dict[str, Any]) -> None:
    VALIDATOR.validate(manifest)
    assert runtime_accepts(tmp_path, manifest)


INVALID = {
    "missing target": {k: v for k, v in classification_manifest().items() if k != "target"},
    "unknown field": classification_manifest(extra=1),
    "bad slug": classification_manifest(name="Toy_Model"),
    "slug with trailing newline": classification_manifest(name="toy\n"),
    "bad task": classification_manifest(task="clustering"),
    "bad entrypoint": classification_manifest(train="train.train"),
    "empty features": classification_manifest(features=[]),
    "bad feature type": classification_manifest(features=[{"name": "x1", "type": "float"}]),
    "min on a string": classification_manifest(features=[{"name": "s", "type": "string", "min": 0}]),
    "categories on a number": classification_manifest(features=[{"name": "x", "type": "number", "categories": ["a"]}]),
    "duplicate category": classification_manifest(features=[{"name": "s", "type": "string", "categories": ["a", "a"]}]),
    "metric of the other task": classification_manifest(metrics=["rmse"]),
    "gate metric of the other task": regression_manifest(gates=[{"metric": "roc_auc", "threshold": 0.5}]),
    "gate without condition": classification_manifest(gates=[{"metric": "f1", "greater_is_better": True}]),
    "negative change": classification_manifest(gates=[{"metric": "f1", "min_absolute_change": -0.1}]),
    "gate unknown key": classification_manifest(gates=[{"metric": "f1", "threshold": 0.5, "op": ">"}]),
    "params not a mapping": classification_manifest(params=[1, 2]),
    "positive class of a regression": regression_manifest(positive_class=1),
    "boolean positive class": classification_manifest(positive_class=True),
    "empty positive class": classification_manifest(positive_class=" "),
}


@pytest.mark.parametrize("manifest", list(INVALID.values()), ids=list(INVALID))
def test_invalid_manifests_fail_both(tmp_path: Path, manifest: dict[str, Any]) -> None:
    assert not schema_accepts(manifest)
    assert not runtime_accepts(tmp_path, manifest)


RUNTIME_ONLY = {
    # Cross-field rules JSON Schema cannot express (listed in the schema's $comment).
    "min above max": classification_manifest(features=[{"name": "x", "type": "number", "min": 2, "max": 1}]),
    "duplicate feature": classification_manifest(
        features=[{"name": "x", "type": "number"}, {"name": "x", "type": "number"}]
    ),
    "target is a feature": classification_manifest(target="x1"),
    "gate metric not reported": classification_manifest(
        metrics=["accuracy"], gates=[{"metric": "f1", "threshold": 0.5}]
    ),
    "two gates on one metric": classification_manifest(
        gates=[{"metric": "f1", "threshold": 0.5}, {"metric": "f1", "min_absolute_change": 0}]
    ),
}


@pytest.mark.parametrize("manifest", list(RUNTIME_ONLY.values()), ids=list(RUNTIME_ONLY))
def test_cross_field_rules_are_checked_by_the_runtime(tmp_path: Path, manifest: dict[str, Any]) -> None:
    assert schema_accepts(manifest)
    assert not runtime_accepts(tmp_path, manifest)
