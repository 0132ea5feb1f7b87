"""Drift statistics between a reference and a current column, vectorised with numpy and scipy.

Each test computes what Evidently's stattest of the same name computes (same binning, same
handling of empty bins, same special cases), so the numbers match what users know from it.
Numbers arrive finite and sorted, once: the sort is shared by every statistic, the
histograms and the summaries, which is what keeps a check over a million rows fast.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import stats
from scipy.spatial import distance

from .drift_bins import HISTOGRAM_MIN_DISTINCT, histogram_counts, sturges_edges
from .drift_catalog import STAT_TESTS


@dataclass(frozen=True)
class CountTable:
    """Counts per value over the union of both columns' values, keys in ascending order."""

    keys: np.ndarray
    reference: np.ndarray  # int64, one per key
    current: np.ndarray


def _runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values and their counts of a sorted array."""
    if values.size == 0:
        return values, np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
    return values[starts], np.diff(np.append(starts, values.size))


def _aligned(keys: np.ndarray, own_keys: np.ndarray, own_counts: np.ndarray) -> np.ndarray:
    counts = np.zeros(keys.size, dtype=np.int64)
    counts[np.searchsorted(keys, own_keys)] = own_counts
    return counts


@dataclass(frozen=True)
class NumericPair:
    """Finite numbers of both sides, each sorted ascending."""

    reference: np.ndarray
    current: np.ndarray
    # Integer-typed features: numpy (and so Evidently) makes their histogram bins at least 1 wide.
    integer: bool = False
    kind = "numerical"

    @cached_property
    def _reference_runs(self) -> tuple[np.ndarray, np.ndarray]:
        return _runs(self.reference)

    @cached_property
    def _current_runs(self) -> tuple[np.ndarray, np.ndarray]:
        return _runs(self.current)

    @property
    def reference_distinct(self) -> int:
        return int(self._reference_runs[0].size)

    @cached_property
    def distinct(self) -> int:
        """Distinct values of both sides together."""
        ref_keys, cur_keys = self._reference_runs[0], self._current_runs[0]
        at = np.searchsorted(cur_keys, ref_keys)
        found = at < cur_keys.size
        found[found] = cur_keys[at[found]] == ref_keys[found]
        return int(cur_keys.size + np.count_nonzero(~found))

    def counts(self) -> CountTable:
        (ref_keys, ref_counts), (cur_keys, cur_counts) = self._reference_runs, self._current_runs
        keys = np.union1d(ref_keys, cur_keys)
        return CountTable(keys, _aligned(keys, ref_keys, ref_counts), _aligned(keys, cur_keys, cur_counts))


@dataclass(frozen=True)
class CategoryPair:
    """Counts of the non-null categories of both sides."""

    table: CountTable
    kind = "categorical"

    @property
    def reference_distinct(self) -> int:
        return int(np.count_nonzero(self.table.reference))

    @property
    def distinct(self) -> int:
        return int(self.table.keys.size)

    def counts(self) -> CountTable:
        return self.table


ColumnPair = NumericPair | CategoryPair


def sizes(pair: ColumnPair) -> tuple[int, int]:
    if isinstance(pair, NumericPair):
        return int(pair.reference.size), int(pair.current.size)
    return int(pair.table.reference.sum()), int(pair.table.current.sum())


@dataclass(frozen=True)
class Outcome:
    score: float
    statistic: float | None = None  # the test statistic behind a p-value (KS D, chi², z)
    note: str | None = None


@dataclass(frozen=True)
class Bins:
    """How a column is binned: histogram `edges` for numbers, or one bin per value in `keys`."""

    edges: np.ndarray | None
    keys: np.ndarray | None
    reference: np.ndarray  # counts per bin
    current: np.ndarray


def evidently_bins(pair: ColumnPair) -> Bins:
    """Evidently's `get_binned_data`: a Sturges histogram over both sides for numbers whose
    reference has more than 20 distinct values, else one bin per value."""
    if isinstance(pair, NumericPair) and pair.reference_distinct > HISTOGRAM_MIN_DISTINCT:
        # Over the concatenation of both sides, as Evidently bins them.
        low, high = min(pair.reference[0], pair.current[0]), max(pair.reference[-1], pair.current[-1])
        edges = sturges_edges(low, high, pair.reference.size + pair.current.size, pair.integer)
        return Bins(edges, None, histogram_counts(pair.reference, edges), histogram_counts(pair.current, edges))
    table = pair.counts()
    return Bins(None, table.keys, table.reference, table.current)


def _fill_empty(shares: np.ndarray) -> np.ndarray:
    """Evidently's `feel_zeroes`: empty bins get a small share so that logarithms are defined."""
    smallest = shares[shares != 0].min()
    return np.where(shares == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001, shares)


def ks(pair: ColumnPair) -> Outcome:
    assert isinstance(pair, NumericPair)
    result = stats.ks_2samp(pair.reference, pair.current)
    return Outcome(float(result.pvalue), float(result.statistic))


def chisquare(pair: ColumnPair) -> Outcome:
    table = pair.counts()
    if table.keys.size < 2:  # one value on both sides: nothing can differ (scipy would give NaN)
        return Outcome(1.0, 0.0, "a single value on both sides")
    n_ref, n_cur = sizes(pair)
    expected = table.reference * (n_cur / n_ref)
    with np.errstate(divide="ignore"):  # a value new in current: expected 0, statistic inf, p 0
        result = stats.chisquare(table.current, expected)
    unseen = int(np.count_nonzero(table.reference == 0))
    note = f"{unseen} value(s) absent from the reference" if unseen else None
    return Outcome(float(result.pvalue), float(result.statistic), note)


def z(pair: ColumnPair) -> Outcome:
    """Two-proportion Z-test of the first value (in sorted order) against all others."""
    table = pair.counts()
    if table.keys.size < 2:
        return Outcome(1.0, 0.0, "a single value on both sides")
    n_ref, n_cur = sizes(pair)
    p_ref = (n_ref - int(table.reference[0])) / n_ref
    p_cur = (n_cur - int(table.current[0])) / n_cur
    pooled = (p_ref * n_ref + p_cur * n_cur) / (n_ref + n_cur)
    statistic = (p_ref - p_cur) / math.sqrt(pooled * (1 - pooled) * (1.0 / n_ref + 1.0 / n_cur))
    # 2·sf(|z|) is Evidently's 2·(1 − cdf(|z|)) without its cancellation for large |z|.
    return Outcome(float(2 * stats.norm.sf(abs(statistic))), statistic)


def cdf_distance(u: np.ndarray, v: np.ndarray) -> float:
    """The first Wasserstein distance of two sorted samples: scipy's `_cdf_distance(1, u, v)`
    (∫|U − V|), computed from one merge of the sorted inputs instead of sorting again."""
    n_u, n_v = u.size, v.size
    at = np.arange(n_u) + np.searchsorted(v, u, side="left")  # where u's values go in the merge
    from_u = np.zeros(n_u + n_v, dtype=bool)
    from_u[at] = True
    merged = np.empty(n_u + n_v, dtype=np.float64)
    merged[at] = u
    merged[~from_u] = v
    # Between merged[i] and merged[i+1] each CDF counts the values up to index i; within a
    # run of equal values the interval is empty, so the order inside the run does not matter.
    u_counts = np.cumsum(from_u[:-1])
    v_counts = np.arange(1, n_u + n_v) - u_counts
    return float(np.dot(np.abs(u_counts / n_u - v_counts / n_v), np.diff(merged)))


def wasserstein(pair: ColumnPair) -> Outcome:
    assert isinstance(pair, NumericPair)
    norm = max(float(np.std(pair.reference)), 0.001)
    return Outcome(cdf_distance(pair.reference, pair.current) / norm)


def jensenshannon(pair: ColumnPair) -> Outcome:
    bins = evidently_bins(pair)
    n_ref, n_cur = sizes(pair)
    with np.errstate(invalid="ignore"):  # the root of a tiny negative number, handled below
        value = float(distance.jensenshannon(bins.reference / n_ref, bins.current / n_cur))
    if math.isnan(value):
        # Rounding put the divergence a hair below 0 (scipy then takes the root of a negative
        # number): the shares are equal to within what the computation resolves.
        return Outcome(0.0, note="the distributions are equal to rounding")
    return Outcome(value)


def psi(pair: ColumnPair) -> Outcome:
    bins = evidently_bins(pair)
    n_ref, n_cur = sizes(pair)
    ref, cur = _fill_empty(bins.reference / n_ref), _fill_empty(bins.current / n_cur)
    return Outcome(float(np.sum((ref - cur) * np.log(ref / cur))))


IMPLEMENTATIONS: dict[str, Callable[[ColumnPair], Outcome]] = {
    "ks": ks,
    "chisquare": chisquare,
    "z": z,
    "wasserstein": wasserstein,
    "jensenshannon": jensenshannon,
    "psi": psi,
}
assert IMPLEMENTATIONS.keys() == STAT_TESTS.keys()
