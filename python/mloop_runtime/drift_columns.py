"""Comparing one column (a feature or a model output) of the current window with its
reference sample: clean both sides, pick the test (Evidently's default or the manifest's
override), compute it, and describe the result with a clear status, never a NaN.

Statuses: `drift` / `no_drift` (tested); `insufficient_data` (fewer usable current values
than `min_rows`, or a window too small as a whole); `missing_column` (the window lacks
the column); `no_reference` (the reference sample has no usable value); `undefined` (the
statistic is not a finite number, e.g. values near the float limits).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .drift_bins import histogram_counts, sturges_edges
from .drift_catalog import STAT_TESTS, StatTestInfo, default_test
from .drift_config import DriftOverride
from .drift_data import to_numbers, to_text
from .drift_stattests import IMPLEMENTATIONS, CategoryPair, ColumnPair, CountTable, NumericPair, sizes
from .profile_format import ColumnProfile
from .profile_stats import as_labels, category_counts, category_summary, numeric_summary, split_numbers

CHART_MAX_BARS = 20  # more categories are drawn as the most frequent ones plus "other"


@dataclass(frozen=True)
class Prepared:
    """Both sides of a column, cleaned, with the current side's summary."""

    pair: ColumnPair
    current_summary: dict[str, Any]
    reference_values: int
    current_values: int


def _category_table(reference: pd.Series, current: pd.Series) -> CountTable:
    both = pd.concat([reference.rename("reference"), current.rename("current")], axis=1).fillna(0)
    both = both.sort_index()
    return CountTable(
        both.index.to_numpy(dtype=object),
        both["reference"].to_numpy(dtype=np.int64),
        both["current"].to_numpy(dtype=np.int64),
    )


def prepare(column: ColumnProfile, raw: pd.Series, labels: bool) -> Prepared:
    """`labels`: the column holds class labels, compared by their text (`1` is `"1"`)."""
    if column.kind == "numerical":
        values, invalid = to_numbers(raw)
        current = split_numbers(values, invalid)
        reference = split_numbers(np.asarray(column.sample, dtype=np.float64))
        pair = NumericPair(reference.finite, current.finite, integer=column.type == "integer")
        return Prepared(pair, numeric_summary(current), int(reference.finite.size), int(current.finite.size))
    text = as_labels(raw) if labels else to_text(raw)
    current_counts, nulls = category_counts(text)
    reference_counts, _ = category_counts(pd.Series(column.sample))
    pair = CategoryPair(_category_table(reference_counts, current_counts))
    summary = category_summary(current_counts, nulls)
    return Prepared(pair, summary, int(reference_counts.sum()), int(current_counts.sum()))


def _shares(counts: np.ndarray, total: int) -> list[float]:
    return (counts / total).tolist() if total else [0.0] * len(counts)


def chart(pair: ColumnPair) -> dict[str, Any]:
    """Reference and current shares on common bins: a histogram for many distinct numbers,
    bars per value otherwise (the most frequent ones, then the rest together)."""
    n_ref, n_cur = sizes(pair)
    if isinstance(pair, NumericPair) and pair.distinct > CHART_MAX_BARS:
        sides = [s for s in (pair.reference, pair.current) if s.size]
        low, high = min(s[0] for s in sides), max(s[-1] for s in sides)
        edges = sturges_edges(low, high, n_ref + n_cur, pair.integer)
        return {
            "type": "histogram",
            "edges": edges.tolist(),
            "reference": _shares(histogram_counts(pair.reference, edges), n_ref),
            "current": _shares(histogram_counts(pair.current, edges), n_cur),
        }
    table = pair.counts()
    order = np.argsort(-(table.reference + table.current), kind="stable")
    shown, rest = order[:CHART_MAX_BARS], order[CHART_MAX_BARS:]
    labels = [_label(k) for k in table.keys[shown]]
    ref, cur = table.reference[shown], table.current[shown]
    if rest.size:
        labels.append(f"other ({rest.size})")
        ref = np.append(ref, table.reference[rest].sum())
        cur = np.append(cur, table.current[rest].sum())
    return {"type": "bars", "labels": labels, "reference": _shares(ref, n_ref), "current": _shares(cur, n_cur)}


def _label(key: Any) -> str:
    if isinstance(key, float):
        return str(int(key)) if key.is_integer() and abs(key) < 2**53 else repr(key)
    return str(key)


def _choose(column: ColumnProfile, prepared: Prepared, override: DriftOverride | None) -> tuple[StatTestInfo, float]:
    if override is not None and override.test is not None:
        info = STAT_TESTS[override.test]
    else:
        info = default_test(column.kind, prepared.reference_values, prepared.pair.distinct)
    threshold = override.threshold if override is not None and override.threshold is not None else None
    return info, info.default_threshold if threshold is None else threshold


def _base(column: ColumnProfile) -> dict[str, Any]:
    return {"name": column.name, "type": column.type, "kind": column.kind, "reference": column.summary}


def _untested(entry: dict[str, Any], status: str, reason: str) -> dict[str, Any]:
    return {
        **entry,
        "status": status,
        "drift": None,
        "test": None,
        "test_name": None,
        "score": None,
        "statistic": None,
        "threshold": None,
        "reason": reason,
    }


def compare_column(
    column: ColumnProfile,
    raw: pd.Series | None,
    override: DriftOverride | None,
    min_rows: int,
    window_too_small: bool,
    labels: bool = False,
) -> tuple[dict[str, Any], Prepared | None]:
    """The report entry of one column, and its cleaned values (None when the window lacks
    it). `window_too_small`: the window as a whole has fewer than `min_rows` records, so no
    column gets a verdict (but each still gets its chart)."""
    entry = _base(column)
    if raw is None:
        reference_only = prepare(column, pd.Series([], dtype=object), labels)
        missing = {
            **entry,
            "current": None,
            "reference_values": reference_only.reference_values,
            "current_values": None,
            "chart": chart(reference_only.pair) if reference_only.reference_values else None,
        }
        return _untested(missing, "missing_column", "the window has no such column"), None
    prepared = prepare(column, raw, labels)
    return _judge(column, prepared, entry, override, min_rows, window_too_small), prepared


def _judge(
    column: ColumnProfile,
    prepared: Prepared,
    entry: dict[str, Any],
    override: DriftOverride | None,
    min_rows: int,
    window_too_small: bool,
) -> dict[str, Any]:
    entry.update(
        current=prepared.current_summary,
        reference_values=prepared.reference_values,
        current_values=prepared.current_values,
        chart=chart(prepared.pair) if prepared.reference_values or prepared.current_values else None,
    )
    if prepared.reference_values == 0:
        return _untested(entry, "no_reference", "the reference sample has no usable value of this column")
    if window_too_small:
        return _untested(entry, "insufficient_data", f"the window has fewer than {min_rows} records")
    if prepared.current_values < min_rows:
        unusable = prepared.current_summary["count"] - prepared.current_values
        return _untested(
            entry,
            "insufficient_data",
            f"{prepared.current_values} usable value(s), fewer than {min_rows} "
            f"({unusable} missing, non-finite or invalid)",
        )
    info, threshold = _choose(column, prepared, override)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # e.g. scipy's divide-by-zero for categories new in current
        outcome = IMPLEMENTATIONS[info.name](prepared.pair)
    tested = {
        **entry,
        "test": info.name,
        "test_name": info.display_name,
        "threshold": threshold,
        "statistic": outcome.statistic if outcome.statistic is not None and math.isfinite(outcome.statistic) else None,
    }
    if not math.isfinite(outcome.score):
        return {
            **_untested(tested, "undefined", f"{info.display_name} is not a finite number for these values"),
            "test": info.name,
            "test_name": info.display_name,
            "threshold": threshold,
        }
    drift = info.drifted(outcome.score, threshold)
    return {
        **tested,
        "status": "drift" if drift else "no_drift",
        "drift": drift,
        "score": outcome.score,
        "reason": outcome.note,
    }
