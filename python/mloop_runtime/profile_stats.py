"""Column summaries shared by the reference profile (training rows) and drift reports
(the current window): counts of missing and non-finite values, moments, quantiles,
distinct values, category frequencies and histogram bins."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_integer_dtype, is_numeric_dtype

from .drift_bins import HISTOGRAM_MIN_DISTINCT, histogram_counts, sturges_edges

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
TOP_CATEGORIES = 50  # a summary lists this many of the most frequent categories, then "other"


@dataclass(frozen=True)
class Numbers:
    """A numeric column split into its finite values (sorted) and counts of the rest."""

    finite: np.ndarray
    nulls: int  # empty (NaN) cells
    non_finite: int  # ±inf
    invalid: int = 0  # cells that were not numbers (current data only; counted apart from nulls)

    @property
    def count(self) -> int:
        return int(self.finite.size) + self.nulls + self.non_finite + self.invalid


def split_numbers(values: np.ndarray, invalid: int = 0) -> Numbers:
    """`values` as float64 with NaN for empty cells; `invalid` of those NaNs were not numbers."""
    finite_mask = np.isfinite(values)
    nan_count = int(np.count_nonzero(np.isnan(values)))
    finite = np.sort(values[finite_mask])
    return Numbers(finite, nan_count - invalid, int(values.size - finite.size - nan_count), invalid)


def _finite(value: float) -> float | None:
    """Moments of values near the float limits can overflow: those are unknown, not a number."""
    return float(value) if np.isfinite(value) else None


def numeric_summary(numbers: Numbers) -> dict[str, Any]:
    finite = numbers.finite
    summary: dict[str, Any] = {
        "count": numbers.count,
        "nulls": numbers.nulls,
        "non_finite": numbers.non_finite,
        "invalid": numbers.invalid,
    }
    if finite.size == 0:
        return {**summary, "mean": None, "std": None, "min": None, "max": None, "quantiles": None, "distinct": 0}
    with np.errstate(over="ignore", invalid="ignore"):  # values near ±1.8e308 overflow these
        mean, std = float(np.mean(finite)), float(np.std(finite))
        quantiles = np.quantile(finite, QUANTILES)
    distinct = int(np.count_nonzero(finite[1:] != finite[:-1])) + 1
    return {
        **summary,
        "mean": _finite(mean),
        "std": _finite(std),
        "min": float(finite[0]),
        "max": float(finite[-1]),
        "quantiles": {str(q): _finite(v) for q, v in zip(QUANTILES, quantiles, strict=True)},
        "distinct": distinct,
    }


def numeric_histogram(numbers: Numbers, integer: bool) -> dict[str, Any] | None:
    """Few distinct values: a count per value; else a Sturges histogram, numpy's bins."""
    finite = numbers.finite
    if finite.size == 0:
        return None
    starts = np.flatnonzero(np.concatenate(([True], finite[1:] != finite[:-1])))
    if starts.size <= HISTOGRAM_MIN_DISTINCT:
        counts = np.diff(np.append(starts, finite.size))
        return {"values": finite[starts].tolist(), "counts": counts.tolist()}
    edges = sturges_edges(finite[0], finite[-1], finite.size, integer)
    return {"edges": edges.tolist(), "counts": histogram_counts(finite, edges).tolist()}


def category_counts(values: pd.Series) -> tuple[pd.Series, int]:
    """Counts per category (non-null, most frequent first, ties by text) and the null count."""
    counts = values.value_counts(dropna=True)
    counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
    return counts, int(values.isna().sum())


def category_summary(counts: pd.Series, nulls: int) -> dict[str, Any]:
    top = counts.iloc[:TOP_CATEGORIES]
    return {
        "count": int(counts.sum()) + nulls,
        "nulls": nulls,
        "distinct": int(counts.size),
        "frequencies": {str(k): int(v) for k, v in top.items()},
        "other": int(counts.iloc[TOP_CATEGORIES:].sum()),
    }


def as_labels(values: Any) -> pd.Series:
    """Class labels as text, the same whichever way they arrive: `1`, `1.0`, `True` and
    `"1"` are all the label "1" (JSON and CSV lose the integer/float/text distinction).
    Missing labels stay missing."""
    series = pd.Series(values).reset_index(drop=True)
    if is_bool_dtype(series.dtype) or is_integer_dtype(series.dtype):
        return series.astype("int64").astype("str")
    if not is_numeric_dtype(series.dtype):
        parsed = pd.to_numeric(series, errors="coerce")
        if series.notna().sum() == 0 or parsed.notna().sum() != series.notna().sum():
            return series.astype("str").where(series.notna())
        series = parsed  # every label is a number written as text: "1.0" is the label "1"
    numbers = series.to_numpy(dtype=np.float64, na_value=np.nan)
    integral = np.isfinite(numbers) & (numbers == np.floor(numbers)) & (np.abs(numbers) < 2.0**63)
    text = pd.Series(numbers).astype("str")
    text[integral] = pd.Series(numbers[integral].astype(np.int64)).astype("str").to_numpy()
    return text.where(~np.isnan(numbers))
