"""Strict validation of mloop.yaml: every problem names the file, the field and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import classification_manifest, write_model_dir
from mloop_runtime.entrypoints import Entrypoint
from mloop_runtime.errors import InvalidManifest
from mloop_runtime.manifest import Feature, load_manifest


def problems_for(tmp_path: Path, manifest: dict | str) -> list[str]:
    model_dir = write_model_dir(tmp_path / "model", manifest)
    with pytest.raises(InvalidManifest) as info:
        load_manifest(model_dir)
    assert info.value.kind == "InvalidManifest" and info.value.exit_code == 2
    assert info.value.message == "\n".join(info.value.problems or [info.value.message])
    return info.value.problems or [info.value.message]


def test_valid_manifest(tmp_path: Path) -> None:
    manifest = load_manifest(write_model_dir(tmp_path / "m", classification_manifest()))

    assert manifest.name == "toy-classifier"
    assert manifest.task == "classification"
    assert manifest.train == Entrypoint("train", "train")
    assert manifest.features[2] == Feature("site", "string")
    assert manifest.target == "label"
    assert manifest.params == {"C": 1.0}
    assert manifest.metrics == ("accuracy", "precision", "recall", "f1", "roc_auc")  # default: all


def test_missing_field(tmp_path: Path) -> None:
    manifest = classification_manifest()
    del manifest["target"]

    path = tmp_path / "model" / "mloop.yaml"
    assert problems_for(tmp_path, manifest) == [f"{path}: field 'target': required field is missing"]


def test_bad_task(tmp_path: Path) -> None:
    path = tmp_path / "model" / "mloop.yaml"
    assert problems_for(tmp_path, classification_manifest(task="clustering")) == [
        f"{path}: field 'task': must be one of classification, regression (got 'clustering')"
    ]


@pytest.mark.parametrize("entrypoint", ["train.train", "train:", ":train", "train:train:x", "my-module:train", 42])
def test_bad_entrypoint_format(tmp_path: Path, entrypoint: object) -> None:
    [problem] = problems_for(tmp_path, classification_manifest(train=entrypoint))
    assert "field 'train': must be \"module:function\"" in problem


def test_entrypoint_module_not_found(tmp_path: Path) -> None:
    [problem] = problems_for(tmp_path, classification_manifest(predict="serving.api:predict"))
    assert "field 'predict': module 'serving.api' not found" in problem
    assert "(looked for serving/api.py or serving/api/__init__.py in " in problem


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    manifest = classification_manifest(
        name="Not A Slug",
        features=[
            {"name": "x1", "type": "float"},
            {"name": "x1", "type": "number"},
            "x3",
            {"name": "x4", "type": "number", "unit": "m"},
        ],
        metrics=["rmse"],
        extra=True,
    )

    problems = problems_for(tmp_path, manifest)

    fields = [p.split(": field ")[1].split(":")[0] for p in problems]
    assert fields == [
        "'extra'",
        "'name'",
        "'features[0].type'",
        "'features[2]'",
        "'features[3].unit'",
        "'metrics'",
    ]
    assert "'rmse' not available for task classification" in problems[-1]


def test_duplicate_feature_names(tmp_path: Path) -> None:
    features = [{"name": "x1", "type": "number"}, {"name": "x1", "type": "number"}]
    [problem] = problems_for(tmp_path, classification_manifest(features=features))
    assert "field 'features[1].name': duplicate feature 'x1'" in problem


def test_target_must_not_be_a_feature(tmp_path: Path) -> None:
    [problem] = problems_for(tmp_path, classification_manifest(target="x1"))
    assert "field 'target': column 'x1' is also listed in features" in problem


def test_duplicate_yaml_keys_are_rejected(tmp_path: Path) -> None:
    text = yaml.safe_dump(classification_manifest(), sort_keys=False) + "task: regression\n"
    [problem] = problems_for(tmp_path, text)
    assert "not valid YAML" in problem and "duplicate key 'task'" in problem


def test_not_yaml_mapping(tmp_path: Path) -> None:
    [problem] = problems_for(tmp_path, "- just\n- a list\n")
    assert problem.endswith("must be a YAML mapping of fields, got list")


def test_missing_manifest_file(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidManifest, match="mloop.yaml: file not found"):
        load_manifest(tmp_path / "empty")
