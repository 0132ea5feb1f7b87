"""Scoring a model on the holdout with the user's predict: one code path for `train`
and `evaluate`, so a candidate's and the champion's metrics are comparable."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .dataset_split import SplitDataset
from .manifest import Manifest
from .metrics import PredictOutput, compute_metrics, parse_predict_output, positive_class
from .protocol import ProtocolWriter
from .user_calls import call_user, seed_global_rngs


def split_positive_class(manifest: Manifest, split: SplitDataset) -> object | None:
    """The positive class of a binary task (see metrics.positive_class); None otherwise.
    Call it before training, so that a `positive_class` that is no class fails early."""
    classes = split.dataset.classes
    if classes is None:
        return None
    return positive_class(classes, manifest.positive_class, f"{manifest.path}: field 'positive_class'")


def score_holdout(
    manifest: Manifest,
    predict: Callable[..., Any],
    model: Any,
    split: SplitDataset,
    seed: int,
    writer: ProtocolWriter,
) -> dict[str, float | None]:
    """Emits the `evaluate` progress events; returns the metrics named in the manifest."""
    return score_holdout_with_output(manifest, predict, model, split, seed, writer)[0]


def score_holdout_with_output(
    manifest: Manifest,
    predict: Callable[..., Any],
    model: Any,
    split: SplitDataset,
    seed: int,
    writer: ProtocolWriter,
) -> tuple[dict[str, float | None], PredictOutput]:
    """`score_holdout`, also returning predict's output (train keeps it in the reference profile)."""
    x_holdout, y_holdout = split.dataset.take(split.holdout_positions)
    started = time.monotonic()
    writer.progress("evaluate", "started", rows=len(x_holdout))
    # Same RNG state before predict in train and evaluate: even a predict that draws from
    # the global RNGs gives the same metrics for the same artifact.
    seed_global_rngs(seed)
    raw_output = call_user(f"predict entrypoint '{manifest.predict}'", manifest.model_dir, predict, model, x_holdout)
    classes = split.dataset.classes
    positive = split_positive_class(manifest, split)
    output = parse_predict_output(raw_output, len(x_holdout), classes, positive)
    metrics = compute_metrics(manifest.task, manifest.metrics, y_holdout, output, classes, positive)
    writer.progress("evaluate", "done", rows=len(x_holdout), seconds=round(time.monotonic() - started, 3))
    return metrics, output
