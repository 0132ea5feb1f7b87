"""Loading the dataset and shaping it into features (X) and target (y).

Every cell of the manifest's columns is converted per its declared type and checked
against the feature's constraints; all bad cells are reported together, by row, instead
of surfacing later as an obscure error inside the user's model code. Reasons name the
problem, never the cell's text: a dataset may hold anything, and errors travel far.

Which cells are empty depends on the declared type, the same for CSV and Parquet: a cell
with no value (null, NaN, or no text) always is; in number and integer columns (and a
regression target) so is text holding one of pandas' missing-value markers (`NA`,
`null`, ...), while in string columns and class labels that text is a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_integer_dtype, is_numeric_dtype

from .bad_rows import BadCells
from .dataset_files import read_cells
from .errors import DatasetInvalid
from .manifest import Feature, Manifest

# How many categories a "not one of" reason lists.
CATEGORIES_IN_REASON = 10

# pandas' default missing-value markers (those of its read_csv), written out so that the
# rule does not move with pandas: text cells of number columns holding one are empty.
MISSING_MARKERS = frozenset(
    {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>"}
    | {"N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
)


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

    def take(self, positions: np.ndarray) -> tuple[pd.DataFrame, pd.Series]:
        """(X, y) of the rows at `positions`, with a fresh 0..n-1 index (plain frames for user code)."""
        return (
            self.features.iloc[positions].reset_index(drop=True),
            self.target.iloc[positions].reset_index(drop=True),
        )


def _is_number_column(raw: pd.Series) -> bool:
    return is_numeric_dtype(raw.dtype) and not is_bool_dtype(raw.dtype)


def _text(raw: pd.Series) -> pd.Series:
    """Cells as text; cells with no value (null, NaN, no text) are NaN."""
    text = raw.astype("str")  # no-op for CSV; Parquet numbers etc. become their text; NaN stays
    return text.mask(text == "")


def _as_numbers(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(empty cells, float64 values): values are NaN where empty and where not a number."""
    if _is_number_column(raw):
        return raw.isna(), raw.astype("float64")
    # Text (CSV) is parsed; other stored types (bool, dates, ...) are judged by their text.
    text = _text(raw)
    numbers = pd.to_numeric(text, errors="coerce").astype("float64")
    empty = text.isna()
    unparsed = numbers.isna() & ~empty  # no marker is a number: only these can be one
    if unparsed.any():
        empty[unparsed] = text[unparsed].isin(MISSING_MARKERS)
    return empty, numbers


def _check_range(bad: BadCells, order: int, feature: Feature, numbers: pd.Series) -> None:
    # NaN compares False, so empty and already-bad cells (NaN here) are not flagged again.
    if feature.min is not None:
        bad.add(order, feature.name, numbers < feature.min, f"below the declared minimum {feature.min!r}")
    if feature.max is not None:
        bad.add(order, feature.name, numbers > feature.max, f"above the declared maximum {feature.max!r}")


def _number_feature(raw: pd.Series, feature: Feature, order: int, bad: BadCells) -> pd.Series:
    empty, numbers = _as_numbers(raw)
    bad.add(order, feature.name, ~empty & numbers.isna(), "not a number")
    _check_range(bad, order, feature, numbers)
    return numbers  # empty cells stay NaN: how to treat them is the model's call


def _integer_feature(raw: pd.Series, feature: Feature, order: int, bad: BadCells) -> pd.Series:
    if is_integer_dtype(raw.dtype):  # Parquet integers: no empty cells, no float round trip
        integers = raw.astype("int64")
        _check_range(bad, order, feature, integers)
        return integers
    empty, numbers = _as_numbers(raw)
    not_number = ~empty & numbers.isna()
    integral = np.isfinite(numbers) & (numbers == np.floor(numbers))
    not_integer = numbers.notna() & ~integral
    too_large = integral & (numbers.abs() >= 2.0**63)  # would wrap around in int64
    bad.add(order, feature.name, empty, "empty, but integer features need a value")
    bad.add(order, feature.name, not_number, "not a number")
    bad.add(order, feature.name, not_integer, "not an integer")
    bad.add(order, feature.name, too_large, "too large for a 64-bit integer")
    good = ~(empty | not_number | not_integer | too_large)
    _check_range(bad, order, feature, numbers.where(good))
    # Bad cells become 0 only to keep the cast quiet; they are reported, so never used.
    return pd.Series(np.where(good, numbers, 0), index=raw.index).astype("int64")


def _string_feature(raw: pd.Series, feature: Feature, order: int, bad: BadCells) -> pd.Series:
    text = _text(raw)
    if feature.categories is not None:
        allowed = ", ".join(map(repr, feature.categories[:CATEGORIES_IN_REASON]))
        if len(feature.categories) > CATEGORIES_IN_REASON:
            allowed += ", ..."
        outside = text.notna() & ~text.isin(feature.categories)
        bad.add(order, feature.name, outside, f"not one of the declared categories {allowed}")
    return text  # empty cells stay NaN; "NA" and the like are text


_CONVERTERS = {"number": _number_feature, "integer": _integer_feature, "string": _string_feature}


def _target(raw: pd.Series, task: str, column: str, order: int, bad: BadCells) -> pd.Series:
    if task == "regression":
        empty, numbers = _as_numbers(raw)
        bad.add(order, column, empty, "empty, but the target needs a value")
        bad.add(order, column, ~empty & numbers.isna(), "not a number")
        return numbers
    # Classification: integer labels when every label is an integer, else text labels.
    if is_integer_dtype(raw.dtype):
        return raw.astype("int64")
    labels = raw if _is_number_column(raw) else _text(raw)
    empty = labels.isna()
    bad.add(order, column, empty, "empty, but the target needs a value")
    # Stored booleans (Parquet) are the classes 1 and 0, as serving answers and shadow tests read them.
    if is_bool_dtype(raw.dtype) or pd.api.types.infer_dtype(raw, skipna=True) == "boolean":
        return raw.astype("boolean").fillna(False).astype("int64")  # empty cells are reported above
    numbers = pd.to_numeric(labels, errors="coerce").astype("float64")
    present = numbers[~empty]
    if present.notna().all() and (np.isfinite(present) & (present == np.floor(present))).all():
        return numbers.fillna(0).astype("int64")  # NaN only where empty, which is reported
    return labels.astype("str")


def load_dataset(path: Path, manifest: Manifest) -> Dataset:
    required = [*manifest.feature_names, manifest.target]
    cells = read_cells(path, required, manifest.path)
    if len(cells) < 2:
        raise DatasetInvalid(f"{path}: needs at least 2 data rows to split off a holdout (has {len(cells)})")

    bad = BadCells()
    features = pd.DataFrame(
        {f.name: _CONVERTERS[f.type](cells[f.name], f, order, bad) for order, f in enumerate(manifest.features)}
    )
    target = _target(cells[manifest.target], manifest.task, manifest.target, len(manifest.features), bad)
    bad.raise_if_any(path)
    target.name = manifest.target

    classes = None
    if manifest.task == "classification":
        classes = tuple(sorted(pd.unique(target).tolist()))
        if len(classes) < 2:
            raise DatasetInvalid(
                f"{path}: column '{manifest.target}': classification needs at least 2 classes, found only one"
            )
    return Dataset(features=features, target=target, classes=classes)
