"""The model behind `serve`: metadata, and scoring a features frame with the user's predict.

Scoring goes through the same pieces as `evaluate` (call_user, parse_predict_output), so
a served artifact answers what `evaluate` computed its metrics from.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .entrypoints import describe_exception
from .errors import TrainingFailed
from .manifest import Manifest
from .metrics import parse_predict_output
from .serve_request import FEATURE_DATATYPES
from .user_calls import call_user

PLATFORM = "mloop-python"


def _labels(values: np.ndarray) -> np.ndarray:
    """Booleans become 0/1: training labels are integers or text, never booleans (and
    the metrics compare True with 1)."""
    if values.dtype.kind == "b" or (
        values.dtype.kind == "O" and pd.api.types.infer_dtype(values, skipna=False) == "boolean"
    ):
        return values.astype("int64")
    return values


def _datatype(values: np.ndarray) -> str:
    """The tensor datatype of an array of predictions or labels (after _labels)."""
    kind = values.dtype.kind
    if kind in "iu":
        return "INT64"
    if kind == "f":
        return "FP64"
    inferred = pd.api.types.infer_dtype(values, skipna=True)  # object arrays
    if inferred == "integer":
        return "INT64"
    if inferred in ("floating", "mixed-integer-float"):
        return "FP64"
    return "BYTES"


def _tensor_data(values: np.ndarray, datatype: str) -> list[Any]:
    """Plain JSON values; missing ones (None, NaN) become null when the response is written."""
    if datatype != "BYTES":
        return list(values.tolist())
    if values.dtype.kind in "USMm":  # text, bytes, dates, durations
        return list(values.astype(str).tolist())
    # Mixed or unusual labels (say, dates) travel as their text; missing ones as null.
    return [
        v if v is None or isinstance(v, str) else None if isinstance(v, float) and math.isnan(v) else str(v)
        for v in values.tolist()
    ]


def _tensor(name: str, values: np.ndarray, datatype: str | None = None) -> dict[str, Any]:
    datatype = datatype or _datatype(values)
    return {
        "name": name,
        "shape": [len(values)],
        "datatype": datatype,
        "data": _tensor_data(values, datatype),
    }


def _model_classes(model: Any) -> np.ndarray | None:
    """The model's `classes_` (scikit-learn's convention, also on a Pipeline), if usable."""
    try:
        classes = np.asarray(model.classes_)
    except Exception:  # no such attribute, or a property that raises
        return None
    return classes if classes.ndim == 1 and len(classes) >= 2 else None


def _positive_column(manifest: Manifest, classes: np.ndarray | None) -> int:
    """The probability column of a binary model's positive class: the manifest's
    `positive_class` among the model's classes when both are known, else the last one (the
    larger of two sorted classes), as in training (metrics.positive_class)."""
    declared = manifest.positive_class
    if declared is None or classes is None or len(classes) != 2:
        return 1
    labels = _labels(classes).tolist()
    return 0 if labels[0] == declared or str(labels[0]) == str(declared) else 1


def _probability_columns(raw: Any, classes: np.ndarray | None) -> int:
    """How many classes predict's probabilities are for: the model's classes when it
    tells, else the shape of what predict returned (a vector is binary)."""
    if classes is not None:
        return len(classes)
    if isinstance(raw, Mapping) and raw.get("probabilities") is not None:
        try:
            shape = np.shape(raw["probabilities"])
        except ValueError:  # ragged: parse_predict_output reports it
            return 2
        if len(shape) == 2:
            return max(2, int(shape[1]))
    return 2


@dataclass
class ServedModel:
    manifest: Manifest
    model: Any
    predict: Callable[..., Any]
    name: str
    version: str
    # predict runs one call at a time: user code written for `train`/`evaluate` never had
    # to be thread-safe. Parsing requests and writing responses still run in parallel.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._classes = _model_classes(self.model) if self.manifest.task == "classification" else None
        self._positive = _positive_column(self.manifest, self._classes)

    def metadata(self) -> dict[str, Any]:
        classification = self.manifest.task == "classification"
        if not classification:
            predictions_datatype = "FP64"
        elif self._classes is not None:
            predictions_datatype = _datatype(_labels(self._classes))
        else:
            predictions_datatype = "BYTES"  # unknown until predict answers
        outputs = [{"name": "predictions", "datatype": predictions_datatype, "shape": [-1]}]
        if classification and (self._classes is None or len(self._classes) == 2):
            outputs.append({"name": "probabilities", "datatype": "FP64", "shape": [-1]})
        return {
            "name": self.name,
            "versions": [self.version],
            "platform": PLATFORM,
            "inputs": [
                {"name": f.name, "datatype": FEATURE_DATATYPES[f.type], "shape": [-1]} for f in self.manifest.features
            ],
            "outputs": outputs,
        }

    def infer(self, frame: pd.DataFrame) -> list[dict[str, Any]]:
        """The output tensors for the rows of `frame`: one predict call for all of them.

        Raises TrainingFailed when predict raises or breaks its contract.
        """
        rows = len(frame)
        with self._lock:
            raw = call_user("predict", self.manifest.model_dir, self.predict, self.model, frame)
            if self.manifest.task == "regression":
                output = parse_predict_output(raw, rows, None)
                try:
                    predictions = output.predictions.astype("float64")
                except (TypeError, ValueError) as exc:
                    raise TrainingFailed(
                        f"predict contract: regression predictions must be numbers ({describe_exception(exc)})"
                    ) from exc
                return [_tensor("predictions", predictions, "FP64")]
            # Classification: the class labels themselves are not needed, only their number.
            columns = _probability_columns(raw, self._classes)
            output = parse_predict_output(raw, rows, tuple(range(columns)), self._positive)
            tensors = [_tensor("predictions", _labels(np.array(output.predictions)))]
            if output.probabilities is not None and columns == 2:
                positive = np.array(output.probabilities[:, self._positive], dtype="float64")
                tensors.append(_tensor("probabilities", positive, "FP64"))
            return tensors
