"""The tasks mloop knows, the metrics each reports, and which direction is better.

Shared by manifest validation (metrics, gates) and the published JSON Schema.
"""

from __future__ import annotations

from typing import Literal

Task = Literal["classification", "regression"]

TASKS: tuple[Task, ...] = ("classification", "regression")

# Order matters: it is the default order of `metrics` in the result.
METRICS_BY_TASK: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy", "precision", "recall", "f1", "roc_auc"),
    "regression": ("mae", "rmse", "r2"),
}

# Default of a gate's `greater_is_better`: errors shrink as models improve, scores grow.
GREATER_IS_BETTER: dict[str, bool] = {
    "accuracy": True,
    "precision": True,
    "recall": True,
    "f1": True,
    "roc_auc": True,
    "r2": True,
    "mae": False,
    "rmse": False,
}
