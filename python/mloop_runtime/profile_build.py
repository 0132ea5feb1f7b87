"""The reference profile: what drift checks compare production data with, computed at
training time and stored with the model version.

It holds, for every feature (from the training rows), the target (training rows) and the
model's outputs (its predictions on the holdout): a summary (counts, nulls, moments,
quantiles, distinct values, category frequencies) and histogram bins; plus a fixed-size
seeded sample of the values, which the drift tests run on. The sample is chosen by
hashing the seed and row position (like the holdout), so it is the same on every
machine and library version.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .drift_config import MonitoringConfig, output_kinds
from .holdout import splitmix64
from .manifest import Manifest
from .metrics import PredictOutput
from .profile_stats import (
    as_labels,
    category_counts,
    category_summary,
    numeric_histogram,
    numeric_summary,
    split_numbers,
)

PROFILE_FILENAME = "reference-profile.json"
PROFILE_FORMAT = "mloop.reference-profile/1"
# Keeps the sample's hash stream apart from the holdout's, which hashes the same positions.
_SAMPLE_SALT = 0x6D6C6F6F70_5341  # "mloopSA"


def sample_positions(rows: int, size: int, seed: int) -> np.ndarray:
    """Up to `size` of `rows` positions, ascending: all of them, or those with the smallest
    keys splitmix64(position XOR splitmix64(seed XOR salt))."""
    if rows <= size:
        return np.arange(rows)
    salt = splitmix64(np.array([seed ^ _SAMPLE_SALT], dtype=np.uint64))[0]
    keys = splitmix64(np.arange(rows, dtype=np.uint64) ^ salt)
    return np.sort(np.argsort(keys, kind="stable")[:size])


def _json_numbers(values: np.ndarray, integer: bool) -> list[Any]:
    """Sample values for JSON: integers stay integers; NaN and ±inf become null (the
    summary counts them; drift tests drop them anyway)."""
    if integer:
        return values.astype(np.int64).tolist()
    numbers = values.astype(np.float64)
    cells = numbers.astype(object)
    cells[~np.isfinite(numbers)] = None
    return cells.tolist()


def column_profile(name: str, column_type: str, values: Any, positions: np.ndarray) -> dict[str, Any]:
    """Summary, histogram and the values at `positions` of one column."""
    if column_type == "string":
        labels = values if isinstance(values, pd.Series) else pd.Series(values)
        labels = labels.reset_index(drop=True)
        counts, nulls = category_counts(labels)
        sample = labels.iloc[positions]
        return {
            "name": name,
            "type": column_type,
            "summary": category_summary(counts, nulls),
            "histogram": None,
            "sample": sample.astype(object).where(sample.notna(), None).tolist(),
        }
    integer = column_type == "integer"
    numbers = np.asarray(values, dtype=np.float64)
    split = split_numbers(numbers)
    raw = np.asarray(values)[positions]
    return {
        "name": name,
        "type": column_type,
        "summary": numeric_summary(split),
        "histogram": numeric_histogram(split, integer),
        "sample": _json_numbers(raw, integer),
    }


def _outputs(
    task: str, output: PredictOutput, classes: Sequence[object] | None, size: int, seed: int
) -> list[dict[str, Any]]:
    positions = sample_positions(len(output.predictions), size, seed)
    kinds = output_kinds(task)
    profiles = []
    if kinds["prediction"] == "categorical":
        profiles.append(column_profile("prediction", "string", as_labels(output.predictions), positions))
    else:
        profiles.append(column_profile("prediction", "number", output.predictions.astype(np.float64), positions))
    # The positive class's probability, for binary tasks that predicted probabilities.
    if "probability" in kinds and output.probabilities is not None and classes is not None and len(classes) == 2:
        profiles.append(column_profile("probability", "number", output.probabilities[:, 1], positions))
    return profiles


def build_profile(
    manifest: Manifest,
    x_train: pd.DataFrame,
    y_train: pd.Series,
    holdout_output: PredictOutput,
    classes: Sequence[object] | None,
    seed: int,
) -> dict[str, Any]:
    config: MonitoringConfig = manifest.monitoring
    positions = sample_positions(len(x_train), config.sample_rows, seed)
    features = [column_profile(f.name, f.type, x_train[f.name], positions) for f in manifest.features]
    target_type = "string" if manifest.task == "classification" else "number"
    target_values = as_labels(y_train) if manifest.task == "classification" else y_train.astype(np.float64)
    target = column_profile(manifest.target, target_type, target_values, positions[:0])
    del target["sample"]  # drift checks compare features and outputs; the target is for range checks
    return {
        "format": PROFILE_FORMAT,
        "model": manifest.name,
        "task": manifest.task,
        "classes": None if classes is None else as_labels(list(classes)).tolist(),
        "seed": seed,
        "training_rows": len(x_train),
        "sample_rows": int(positions.size),
        "features": features,
        "target": target,
        "holdout_rows": len(holdout_output.predictions),
        "outputs": _outputs(manifest.task, holdout_output, classes, config.sample_rows, seed),
        "monitoring": config.to_json(),
    }


def write_profile(path: Path, profile: dict[str, Any]) -> None:
    # Compact: the sample makes up most of the file. Python's float repr round-trips exactly.
    path.write_text(json.dumps(profile, allow_nan=False, separators=(",", ":")) + "\n", encoding="utf-8")
