"""The predict contract and holdout metrics.

`predict(model, X)` returns either
  * an array-like of n predictions (labels for classification, numbers for regression), or
  * a mapping {"predictions": n predictions, "probabilities": ...} where probabilities
    (classification only, optional) is an (n, k) array with one column per class in
    sorted class order, or for a binary task an n-vector of the positive class's
    probability (see `positive_class`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .entrypoints import describe_exception
from .errors import DatasetInvalid, TrainingFailed


@dataclass(frozen=True)
class PredictOutput:
    predictions: np.ndarray
    probabilities: np.ndarray | None  # (n, k); None when predict gave none


def _as_array(value: Any, what: str, dtype: str | None = None) -> np.ndarray:
    # Ragged lists or non-numeric probabilities make numpy raise: that is the user's
    # contract violation, not a runtime bug.
    try:
        return np.asarray(value.to_numpy() if isinstance(value, (pd.Series, pd.DataFrame)) else value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TrainingFailed(f"predict contract: {what} is not a proper array ({describe_exception(exc)})") from exc


def _as_1d(value: Any, what: str, rows: int) -> np.ndarray:
    array = _as_array(value, what)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]  # a single-column frame/array is a vector
    if array.ndim != 1 or len(array) != rows:
        raise TrainingFailed(f"predict contract: {what} must have one value per row ({rows}), got shape {array.shape}")
    return array


def positive_class(classes: Sequence[object], declared: str | int | None, where: str) -> object | None:
    """The class that precision, recall, f1 and roc_auc are of in a binary task.

    The manifest's `positive_class` when it names one (matched by value or by text, so
    `"1"` names the integer class 1), else the larger of the two classes in sorted order:
    1 of 0/1, 2 of 1/2, "yes" of "no"/"yes". None for more than two classes, whose scores
    are macro averages. Stored booleans are the classes 1 and 0 (see dataset._target).
    The engine records the result with the model version, and shadow tests score the same
    class. `where` names the manifest field in errors.
    """
    if len(classes) != 2:
        if declared is not None:
            raise DatasetInvalid(
                f"{where}: {declared!r} needs a target with two classes, but it has {len(classes)} "
                "(precision, recall and f1 of more classes are macro averages)"
            )
        return None
    if declared is None:
        return classes[-1]
    for c in classes:
        if c == declared or str(c) == str(declared):
            return c
    raise DatasetInvalid(
        f"{where}: {declared!r} is not a class of the target (its classes are {classes[0]!r} and {classes[1]!r})"
    )


def parse_predict_output(
    raw: Any, rows: int, classes: Sequence[object] | None, positive: object | None = None
) -> PredictOutput:
    """Checks predict's result against its contract; `positive` (default: the last class)
    is the class whose probability a binary task's n-vector gives."""
    probabilities_raw = None
    if isinstance(raw, Mapping):
        unknown = set(raw) - {"predictions", "probabilities"}
        if "predictions" not in raw or unknown:
            raise TrainingFailed(
                "predict contract: a mapping result must have the key 'predictions' and optionally "
                f"'probabilities' (got keys {sorted(map(str, raw))})"
            )
        predictions_raw, probabilities_raw = raw["predictions"], raw.get("probabilities")
    elif raw is None or isinstance(raw, (str, bytes)):
        raise TrainingFailed(f"predict contract: expected an array of predictions, got {type(raw).__name__}")
    else:
        predictions_raw = raw
    predictions = _as_1d(predictions_raw, "predictions", rows)

    probabilities = None
    if probabilities_raw is not None:
        if classes is None:
            raise TrainingFailed("predict contract: 'probabilities' is only meaningful for classification")
        array = _as_array(probabilities_raw, "probabilities", dtype="float64")
        if array.ndim == 1 and len(classes) == 2 and len(array) == rows:
            # The positive class's probability: the other column is its complement.
            first = positive is not None and positive == classes[0]
            array = np.column_stack([array, 1.0 - array] if first else [1.0 - array, array])
        if array.ndim != 2 or array.shape != (rows, len(classes)):
            raise TrainingFailed(
                f"predict contract: probabilities must have shape ({rows}, {len(classes)}) "
                f"(one column per class {list(classes)}), got {array.shape}"
            )
        probabilities = array
    return PredictOutput(predictions, probabilities)


def _finite_or_none(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def classification_metrics(
    names: Sequence[str],
    y_true: np.ndarray,
    output: PredictOutput,
    classes: Sequence[object],
    positive: object | None,
) -> dict[str, float | None]:
    from sklearn import (
        metrics as skm,
    )  # imported late: it is slow, and failures before evaluation don't need it

    binary = len(classes) == 2 and positive is not None
    # Binary: scores of the positive class; otherwise macro-average over all classes.
    averaging: dict[str, Any] = (
        {"average": "binary", "pos_label": positive} if binary else {"average": "macro", "labels": list(classes)}
    )
    y_pred = output.predictions
    results: dict[str, float | None] = {}
    for name in names:
        if name == "accuracy":
            results[name] = _finite_or_none(skm.accuracy_score(y_true, y_pred))
        elif name == "precision":
            results[name] = _finite_or_none(skm.precision_score(y_true, y_pred, zero_division=0, **averaging))
        elif name == "recall":
            results[name] = _finite_or_none(skm.recall_score(y_true, y_pred, zero_division=0, **averaging))
        elif name == "f1":
            results[name] = _finite_or_none(skm.f1_score(y_true, y_pred, zero_division=0, **averaging))
        elif name == "roc_auc":
            # Needs binary classes, probabilities, and both classes in the holdout.
            probabilities = output.probabilities
            scores = probabilities[:, list(classes).index(positive)] if binary and probabilities is not None else None
            defined = scores is not None and len(np.unique(y_true)) == 2
            results[name] = _finite_or_none(skm.roc_auc_score(y_true == positive, scores)) if defined else None
    return results


def _root_mean_square_error(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """sqrt(mean((pred - true)^2)) without squaring in float64: a prediction of 1e200 has a
    finite rmse, not an overflowed square (None). Errors are taken as halves, so that even
    predictions near +-1.5e308 give their error; only an rmse beyond the range is inf."""
    half = np.abs(y_pred / 2 - np.asarray(y_true, dtype="float64") / 2)
    scale = float(half.max()) if len(half) else 0.0
    if scale == 0.0 or not math.isfinite(scale):
        return 2 * scale
    return 2 * scale * math.sqrt(float(np.mean((half / scale) ** 2)))


def regression_metrics(names: Sequence[str], y_true: np.ndarray, output: PredictOutput) -> dict[str, float | None]:
    from sklearn import metrics as skm  # imported late, see classification_metrics

    try:
        y_pred = output.predictions.astype("float64")
    except (TypeError, ValueError) as exc:
        raise TrainingFailed(
            f"predict contract: regression predictions must be numbers ({describe_exception(exc)})"
        ) from exc
    results: dict[str, float | None] = {}
    for name in names:
        if name == "mae":
            results[name] = _finite_or_none(skm.mean_absolute_error(y_true, y_pred))
        elif name == "rmse":
            results[name] = _finite_or_none(_root_mean_square_error(y_true, y_pred))
        elif name == "r2":
            # r2 is undefined for fewer than two holdout rows (sklearn warns and gives NaN).
            results[name] = _finite_or_none(skm.r2_score(y_true, y_pred)) if len(y_true) >= 2 else None
    return results


def compute_metrics(
    task: str,
    names: Sequence[str],
    y_true: pd.Series,
    output: PredictOutput,
    classes: Sequence[object] | None,
    positive: object | None,
) -> dict[str, float | None]:
    """The metrics `names` on the holdout; `positive` is the binary task's positive class
    (see `positive_class`), None otherwise."""
    truth = y_true.to_numpy()
    try:
        if task == "classification":
            assert classes is not None
            return classification_metrics(names, truth, output, classes, positive)
        return regression_metrics(names, truth, output)
    except TrainingFailed:
        raise
    except (TypeError, ValueError) as exc:
        # e.g. predictions that are strings while the labels are integers
        raise TrainingFailed(
            f"predict contract: cannot compare predictions with the target: {describe_exception(exc)}"
        ) from exc
