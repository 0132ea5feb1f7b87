"""Feature constraints (min/max/categories) and gates in mloop.yaml: strict validation,
defaults, and the summary the result event echoes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import classification_manifest, regression_manifest, write_model_dir
from mloop_runtime.manifest import Feature, Gate, load_manifest
from test_manifest import problems_for

X1 = {"name": "x1", "type": "number"}
SITE = {"name": "site", "type": "string"}
NON_EMPTY = "must be a non-empty list of non-empty strings"


def with_features(*features: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return classification_manifest(features=list(features), **overrides)


def test_constraints_are_parsed(tmp_path: Path) -> None:
    manifest = load_manifest(
        write_model_dir(
            tmp_path / "m",
            with_features(
                {**X1, "min": -5, "max": 5.5},
                {"name": "n", "type": "integer", "min": 0, "max": None},
                {**SITE, "categories": ["north", "south"]},
            ),
        )
    )

    assert manifest.features == (
        Feature("x1", "number", min=-5, max=5.5),
        Feature("n", "integer", min=0),
        Feature("site", "string", categories=("north", "south")),
    )


@pytest.mark.parametrize(
    ("feature", "field", "reason"),
    [
        ({**X1, "min": 5, "max": 1}, "features[0].min", "min 5 is greater than max 1"),
        ({**X1, "max": "10"}, "features[0].max", "must be a finite number (got '10')"),
        ({**X1, "min": True}, "features[0].min", "must be a finite number (got True (bool))"),
        ({**X1, "max": float("inf")}, "features[0].max", "must be a finite number (got inf (float))"),
        ({**SITE, "min": 0}, "features[0].min", "only allowed for number and integer features"),
        ({**X1, "categories": ["a"]}, "features[0].categories", "only allowed for string features"),
        ({**SITE, "categories": []}, "features[0].categories", f"{NON_EMPTY} (got [] (list))"),
        ({**SITE, "categories": ["a", 1]}, "features[0].categories", f"{NON_EMPTY} (got ['a', 1] (list))"),
        ({**SITE, "categories": ["a", ""]}, "features[0].categories", f"{NON_EMPTY} (got ['a', ''] (list))"),
        ({**SITE, "categories": ["a", "a"]}, "features[0].categories", "lists a category more than once"),
        (
            {**X1, "unit": "m"},
            "features[0].unit",
            "unknown field (allowed: name, type, min, max, categories)",
        ),
    ],
)
def test_invalid_constraints(tmp_path: Path, feature: dict[str, Any], field: str, reason: str) -> None:
    path = tmp_path / "model" / "mloop.yaml"
    assert problems_for(tmp_path, with_features(feature)) == [f"{path}: field '{field}': {reason}"]


def test_gates_are_normalised(tmp_path: Path) -> None:
    manifest = load_manifest(
        write_model_dir(
            tmp_path / "m",
            classification_manifest(
                gates=[
                    {"metric": "roc_auc", "threshold": 0.75, "min_absolute_change": 0.0},
                    {"metric": "accuracy", "min_relative_change": 0.01, "greater_is_better": False},
                ]
            ),
        )
    )

    assert manifest.gates == (
        Gate("roc_auc", 0.75, 0.0, None, greater_is_better=True),
        Gate("accuracy", None, None, 0.01, greater_is_better=False),  # explicit value wins
    )


def test_lower_is_better_metrics_default_to_greater_is_better_false(tmp_path: Path) -> None:
    gates = [{"metric": m, "threshold": 1} for m in ("mae", "rmse", "r2")]
    manifest = load_manifest(write_model_dir(tmp_path / "m", regression_manifest(gates=gates)))

    assert [(g.metric, g.greater_is_better) for g in manifest.gates] == [
        ("mae", False),
        ("rmse", False),
        ("r2", True),
    ]


@pytest.mark.parametrize(
    ("gates", "field", "reason"),
    [
        (
            {"metric": "roc_auc"},
            "gates[0]",
            "needs at least one of threshold, min_absolute_change, min_relative_change",
        ),
        (
            {"metric": "rmse", "threshold": 1},
            "gates[0].metric",
            "'rmse' not available for task classification (available: accuracy, precision, recall, f1, roc_auc)",
        ),
        ({"threshold": 1}, "gates[0].metric", "must be a metric name (got None (NoneType))"),
        (
            {"metric": "f1", "min_absolute_change": -0.01},
            "gates[0].min_absolute_change",
            "must be >= 0 (got -0.01)",
        ),
        (
            {"metric": "f1", "min_relative_change": -1},
            "gates[0].min_relative_change",
            "must be >= 0 (got -1)",
        ),
        ({"metric": "f1", "threshold": "high"}, "gates[0].threshold", "must be a finite number (got 'high')"),
        (
            {"metric": "f1", "threshold": 0.5, "greater_is_better": "yes"},
            "gates[0].greater_is_better",
            "must be true or false (got 'yes')",
        ),
        (
            {"metric": "f1", "threshold": 0.5, "direction": "up"},
            "gates[0].direction",
            "unknown field (allowed: metric, threshold, min_absolute_change, min_relative_change, greater_is_better)",
        ),
        ("f1 > 0.5", "gates[0]", "must be a mapping with metric and a condition (got 'f1 > 0.5')"),
    ],
)
def test_invalid_gates(tmp_path: Path, gates: Any, field: str, reason: str) -> None:
    path = tmp_path / "model" / "mloop.yaml"
    assert problems_for(tmp_path, classification_manifest(gates=[gates])) == [f"{path}: field '{field}': {reason}"]


def test_gate_metric_must_be_reported(tmp_path: Path) -> None:
    manifest = classification_manifest(metrics=["accuracy", "f1"], gates=[{"metric": "roc_auc", "threshold": 0.7}])
    [problem] = problems_for(tmp_path, manifest)
    assert problem.endswith("field 'gates[0].metric': 'roc_auc' is not in metrics (accuracy, f1)")


def test_one_gate_per_metric(tmp_path: Path) -> None:
    gates = [{"metric": "f1", "threshold": 0.5}, {"metric": "f1", "min_absolute_change": 0}]
    [problem] = problems_for(tmp_path, classification_manifest(gates=gates))
    assert problem.endswith("field 'gates[1].metric': a gate for 'f1' is already defined (combine them)")


def test_gates_must_be_a_list(tmp_path: Path) -> None:
    [problem] = problems_for(tmp_path, classification_manifest(gates={"metric": "f1"}))
    assert "field 'gates': must be a list of {metric, threshold, ...} mappings" in problem


def test_name_with_trailing_newline_is_not_a_slug(tmp_path: Path) -> None:
    [problem] = problems_for(tmp_path, classification_manifest(name="toy\n"))
    assert "field 'name': must be a slug" in problem


def test_summary_echoed_in_results(tmp_path: Path) -> None:
    manifest = load_manifest(
        write_model_dir(
            tmp_path / "m",
            classification_manifest(metrics=["roc_auc", "f1"], gates=[{"metric": "roc_auc", "threshold": 0.8}]),
        )
    )

    assert manifest.summary() == {
        "name": "toy-classifier",
        "task": "classification",
        "metrics": ["roc_auc", "f1"],
        "gates": [
            {
                "metric": "roc_auc",
                "threshold": 0.8,
                "greater_is_better": True,
            }
        ],
        "features": ["x1", "x2", "site"],
        "target": "label",
    }
