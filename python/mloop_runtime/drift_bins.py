"""Histogram bins as numpy computes them, for sorted values: shared by drift tests, charts
and the reference profile (which must not need scipy: `train` imports it)."""

from __future__ import annotations

import numpy as np

# Evidently bins numbers into a histogram when the reference has more distinct values.
HISTOGRAM_MIN_DISTINCT = 20


def sturges_edges(low: float, high: float, size: int, integer: bool) -> np.ndarray:
    """numpy's `histogram_bin_edges(values, bins="sturges")` for `size` values from `low` to
    `high`: the same float operations, without needing the values themselves."""
    with np.errstate(over="ignore"):
        span = np.subtract(high, low)
    first, last = (low - 0.5, high + 0.5) if low == high else (low, high)
    if not np.isfinite(span):
        # Wider than the largest float (numpy refuses such data): Sturges' bin count over
        # the halved range, scaled back.
        bins = int(np.ceil(np.log2(size) + 1.0))
        return np.linspace(first / 2, last / 2, bins + 1, endpoint=True) * 2
    width = span / (np.log2(size) + 1.0)
    bins = 1
    if width:
        if integer and width < 1:
            width = 1
        bins = int(np.ceil(np.subtract(last, first) / width))
    return np.linspace(first, last, bins + 1, endpoint=True)


def histogram_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """`np.histogram(values, edges)[0]` for sorted values: the last bin includes its right edge."""
    cumulative = np.concatenate(
        (sorted_values.searchsorted(edges[:-1], "left"), sorted_values.searchsorted(edges[-1:], "right"))
    )
    return np.diff(cumulative)
