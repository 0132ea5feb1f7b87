"""Loading the training CSV and shaping it into features (X) and target (y).

Every column is read as text first and converted per the manifest's declared type, so
bad values are reported with their line number instead of surfacing later as an obscure
error inside the user's model code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DatasetInvalid
from .manifest import Manifest

# How many offending values an error message quotes.
EXAMPLES_IN_MESSAGE = 3


@dataclass(frozen=True)
class Dataset:
    features: pd.DataFrame  # only the manifest's features, in manifest order
    target: pd.Series
    # Sorted distinct target values (classification only): the class order that
    # probability columns follow.
    classes: tuple[object, ...] | None

    @property
    def rows(self) -> int:
        return len(self.features)


def _csv_line(row_position: int) -> int:
    return row_position + 2  # line 1 is the header


def _bad_values_message(path: Path, column: str, raw: pd.Series, bad: pd.Series, expected: str) -> str:
    positions = np.flatnonzero(bad.to_numpy())
    examples = ", ".join(
        f"line {_csv_line(p)}: {raw.iloc[p]!r}" if pd.notna(raw.iloc[p]) else f"line {_csv_line(p)}: empty"
        for p in positions[:EXAMPLES_IN_MESSAGE]
    )
    more = (
        f" (and {len(positions) - EXAMPLES_IN_MESSAGE} more)" if len(positions) > EXAMPLES_IN_MESSAGE else ""
    )
    return f"{path}: column '{column}': {len(positions)} value(s) {expected}: {examples}{more}"


def _to_number(path: Path, column: str, raw: pd.Series, allow_missing: bool) -> pd.Series:
    numbers = pd.to_numeric(raw, errors="coerce").astype("float64")
    not_numeric = raw.notna() & numbers.isna()
    if not_numeric.any():
        raise DatasetInvalid(_bad_values_message(path, column, raw, not_numeric, "are not numbers"))
    if not allow_missing and raw.isna().any():
        raise DatasetInvalid(_bad_values_message(path, column, raw, raw.isna(), "are missing"))
    return numbers


def _to_integer(path: Path, column: str, raw: pd.Series) -> pd.Series:
    numbers = _to_number(path, column, raw, allow_missing=False)
    fractional = numbers != np.floor(numbers)
    if fractional.any():
        raise DatasetInvalid(_bad_values_message(path, column, raw, fractional, "are not integers"))
    return numbers.astype("int64")


def _convert_feature(path: Path, column: str, raw: pd.Series, feature_type: str) -> pd.Series:
    if feature_type == "number":
        return _to_number(path, column, raw, allow_missing=True)  # NaN is the model's call
    if feature_type == "integer":
        return _to_integer(path, column, raw)
    return raw  # string: text as read, missing values stay NaN


def _convert_target(path: Path, column: str, raw: pd.Series, task: str) -> pd.Series:
    if raw.isna().any():
        raise DatasetInvalid(_bad_values_message(path, column, raw, raw.isna(), "are missing in the target"))
    if task == "regression":
        return _to_number(path, column, raw, allow_missing=False)
    # Classification: integer labels when every label is an integer, else text labels.
    numbers = pd.to_numeric(raw, errors="coerce")
    if numbers.notna().all() and (numbers == np.floor(numbers)).all():
        return numbers.astype("int64")
    return raw


def load_dataset(path: Path, manifest: Manifest) -> Dataset:
    if not path.is_file():
        raise DatasetInvalid(f"{path}: dataset file not found")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=True, skipinitialspace=True)
    except pd.errors.EmptyDataError as exc:
        raise DatasetInvalid(f"{path}: dataset is empty (no header row)") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DatasetInvalid(f"{path}: not a readable CSV file: {exc}") from exc

    required = [*manifest.feature_names, manifest.target]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DatasetInvalid(
            f"{path}: missing required column(s) {', '.join(map(repr, missing))} "
            f"(columns in file: {', '.join(map(repr, frame.columns))}; required by {manifest.path})"
        )
    if len(frame) < 2:
        raise DatasetInvalid(f"{path}: needs at least 2 data rows to split off a holdout (has {len(frame)})")

    features = pd.DataFrame(
        {f.name: _convert_feature(path, f.name, frame[f.name], f.type) for f in manifest.features}
    )
    target = _convert_target(path, manifest.target, frame[manifest.target], manifest.task)
    target.name = manifest.target

    classes = None
    if manifest.task == "classification":
        classes = tuple(sorted(pd.unique(target).tolist()))
        if len(classes) < 2:
            raise DatasetInvalid(
                f"{path}: column '{manifest.target}': classification needs at least 2 classes, "
                f"found only {classes[0]!r}"
            )
    return Dataset(features=features, target=target, classes=classes)
