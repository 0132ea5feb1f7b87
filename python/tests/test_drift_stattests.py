"""Drift statistics equal scipy's (and Evidently's binning built straight from numpy) to
1e-9, on vectors generated here: continuous values, ties, tiny samples, a single category
and a constant column. And the default test selection follows Evidently's rules."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mloop_runtime.drift_bins import histogram_counts, sturges_edges
from mloop_runtime.drift_catalog import STAT_TESTS, default_test
from mloop_runtime.drift_stattests import (
    CategoryPair,
    CountTable,
    NumericPair,
    cdf_distance,
    chisquare,
    evidently_bins,
    jensenshannon,
    ks,
    psi,
    wasserstein,
    z,
)
from scipy import stats
from scipy.spatial import distance

TOLERANCE = 1e-9
RNG = np.random.default_rng(20240611)


def numeric_cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {
        "continuous": (RNG.normal(size=1500), RNG.normal(0.3, 1.2, size=2500)),
        "small": (RNG.normal(size=40), RNG.normal(0.5, 1, size=35)),
        "ties": (RNG.integers(0, 8, size=600).astype(float), RNG.integers(0, 9, size=700).astype(float)),
        "rounded ties": (RNG.normal(size=900).round(1), RNG.normal(0.1, 1, size=800).round(1)),
        "tiny": (np.array([1.0, 2.0, 2.0]), np.array([2.0, 3.0])),
        "one value each": (np.array([5.0]), np.array([7.0])),
        "constant column": (np.full(300, 4.2), np.full(200, 4.2)),
        "constant reference": (np.full(300, 4.2), RNG.normal(4.2, 1, size=200)),
        "huge range": (RNG.normal(0, 1e150, size=300), RNG.normal(0, 2e150, size=300)),
    }


def pair(ref: np.ndarray, cur: np.ndarray, integer: bool = False) -> NumericPair:
    return NumericPair(np.sort(ref), np.sort(cur), integer)


def close(ours: float, theirs: float) -> bool:
    return math.isclose(ours, theirs, rel_tol=TOLERANCE, abs_tol=TOLERANCE)


@pytest.mark.parametrize("case", list(numeric_cases()))
def test_ks_equals_scipy(case: str) -> None:
    ref, cur = numeric_cases()[case]
    expected = stats.ks_2samp(ref, cur)  # on the unsorted input
    outcome = ks(pair(ref, cur))
    assert close(outcome.score, float(expected.pvalue)), (outcome, expected)
    assert close(outcome.statistic or 0.0, float(expected.statistic))


@pytest.mark.parametrize("case", list(numeric_cases()))
def test_wasserstein_equals_scipy_normed_by_the_reference_std(case: str) -> None:
    ref, cur = numeric_cases()[case]
    raw = stats.wasserstein_distance(ref, cur)
    assert close(cdf_distance(np.sort(ref), np.sort(cur)), raw)
    expected = raw / max(float(np.std(ref)), 0.001)  # Evidently's normalisation
    assert close(wasserstein(pair(ref, cur)).score, expected)


def test_wasserstein_is_symmetric_in_its_merge() -> None:
    ref, cur = numeric_cases()["rounded ties"]
    assert close(cdf_distance(np.sort(ref), np.sort(cur)), cdf_distance(np.sort(cur), np.sort(ref)))


def evidently_shares(ref: Any, cur: Any, numeric: bool) -> tuple[np.ndarray, np.ndarray]:
    """Evidently's get_binned_data, written out with numpy and Counter as reference."""
    ref_s, cur_s = pd.Series(ref), pd.Series(cur)
    if numeric and ref_s.nunique() > 20:
        edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
        return np.histogram(ref, edges)[0] / len(ref), np.histogram(cur, edges)[0] / len(cur)
    keys = sorted(set(ref_s) | set(cur_s))
    ref_c, cur_c = Counter(ref_s), Counter(cur_s)
    return (
        np.array([ref_c[k] / len(ref) for k in keys]),
        np.array([cur_c[k] / len(cur) for k in keys]),
    )


def categories(ref: list[str], cur: list[str]) -> CategoryPair:
    keys = sorted(set(ref) | set(cur))
    ref_c, cur_c = Counter(ref), Counter(cur)
    return CategoryPair(
        CountTable(
            np.array(keys, dtype=object),
            np.array([ref_c[k] for k in keys], dtype=np.int64),
            np.array([cur_c[k] for k in keys], dtype=np.int64),
        )
    )


def category_cases() -> dict[str, tuple[list[str], list[str]]]:
    return {
        "three sites": (
            list(RNG.choice(["north", "south", "east"], size=800, p=[0.5, 0.3, 0.2])),
            list(RNG.choice(["north", "south", "east"], size=900, p=[0.4, 0.4, 0.2])),
        ),
        "new category in current": (["a"] * 50 + ["b"] * 50, ["a"] * 40 + ["b"] * 40 + ["c"] * 20),
        "category gone from current": (["a"] * 50 + ["b"] * 30 + ["c"] * 20, ["a"] * 60 + ["b"] * 40),
        "binary": (["yes"] * 70 + ["no"] * 30, ["yes"] * 55 + ["no"] * 45),
        "single category": (["only"] * 30, ["only"] * 12),
        "tiny": (["a", "b"], ["b"]),
    }


@pytest.mark.parametrize("case", list(numeric_cases()))
def test_jensenshannon_on_numbers_equals_scipy_on_evidently_bins(case: str) -> None:
    ref, cur = numeric_cases()[case]
    p, q = evidently_shares(ref, cur, numeric=True)
    expected = distance.jensenshannon(p, q)
    assert close(jensenshannon(pair(ref, cur)).score, 0.0 if math.isnan(expected) else float(expected))


@pytest.mark.parametrize("case", list(category_cases()))
def test_jensenshannon_on_categories_equals_scipy(case: str) -> None:
    ref, cur = category_cases()[case]
    p, q = evidently_shares(ref, cur, numeric=False)
    assert close(jensenshannon(categories(ref, cur)).score, float(distance.jensenshannon(p, q)))


def test_jensenshannon_of_shares_equal_to_rounding_is_zero_where_scipy_gives_nan() -> None:
    ref, cur = np.array([3615, 3614]), np.array([162674, 162629])  # found by search: shares ~1e-9 apart
    with np.errstate(invalid="ignore"):
        assert math.isnan(distance.jensenshannon(ref / ref.sum(), cur / cur.sum()))
    keys = np.array(["a", "b"], dtype=object)
    outcome = jensenshannon(CategoryPair(CountTable(keys, ref, cur)))
    assert outcome.score == 0.0 and outcome.note == "the distributions are equal to rounding"


def chisquare_expected(ref: Any, cur: Any) -> float:
    keys = sorted(set(ref) | set(cur))
    ref_c, cur_c = Counter(ref), Counter(cur)
    f_exp = [ref_c[k] * len(cur) / len(ref) for k in keys]
    with np.errstate(divide="ignore"):
        return float(stats.chisquare([cur_c[k] for k in keys], f_exp).pvalue)


@pytest.mark.parametrize("case", [c for c in category_cases() if c != "single category"])
def test_chisquare_on_categories_equals_scipy(case: str) -> None:
    ref, cur = category_cases()[case]
    assert close(chisquare(categories(ref, cur)).score, chisquare_expected(ref, cur))


@pytest.mark.parametrize("case", ["ties", "rounded ties", "tiny", "one value each", "constant reference"])
def test_chisquare_on_numbers_equals_scipy(case: str) -> None:
    ref, cur = numeric_cases()[case]
    assert close(chisquare(pair(ref, cur)).score, chisquare_expected(list(ref), list(cur)))


def test_a_category_new_in_current_is_drift_with_p_zero() -> None:
    ref, cur = category_cases()["new category in current"]
    outcome = chisquare(categories(ref, cur))
    assert outcome.score == 0.0 and STAT_TESTS["chisquare"].drifted(outcome.score, 0.05)
    assert outcome.note == "1 value(s) absent from the reference"


def test_single_category_gives_p_one_where_scipy_gives_nan() -> None:
    ref, cur = category_cases()["single category"]
    assert math.isnan(chisquare_expected(ref, cur))  # scipy: zero degrees of freedom
    assert chisquare(categories(ref, cur)).score == 1.0
    assert z(categories(ref, cur)).score == 1.0
    assert jensenshannon(categories(ref, cur)).score == 0.0
    assert psi(categories(ref, cur)).score == 0.0
    constant = pair(*numeric_cases()["constant column"])
    assert chisquare(constant).score == 1.0 and z(constant).score == 1.0


def z_expected(ref: list[Any], cur: list[Any]) -> float:
    """Evidently's proportions Z-test, with its 2·(1 − Φ(|z|))."""
    first = sorted(set(ref) | set(cur))[0]
    r = np.array([0 if v == first else 1 for v in ref])
    c = np.array([0 if v == first else 1 for v in cur])
    p1, p2 = r.mean(), c.mean()
    pooled = (p1 * len(r) + p2 * len(c)) / (len(r) + len(c))
    statistic = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / len(r) + 1 / len(c)))
    return float(2 * (1 - stats.norm.cdf(abs(statistic))))


@pytest.mark.parametrize("case", ["binary", "tiny"])
def test_z_on_categories_equals_the_formula(case: str) -> None:
    ref, cur = category_cases()[case]
    assert close(z(categories(ref, cur)).score, z_expected(ref, cur))


def test_z_on_two_numbers_and_one_value_each_side() -> None:
    ref = RNG.integers(0, 2, size=500).astype(float)
    cur = (RNG.random(400) < 0.6).astype(float)
    assert close(z(pair(ref, cur)).score, z_expected(list(ref), list(cur)))
    ref, cur = numeric_cases()["one value each"]
    assert close(z(pair(ref, cur)).score, z_expected(list(ref), list(cur)))


def psi_expected(ref: Any, cur: Any, numeric: bool) -> float:
    p, q = evidently_shares(ref, cur, numeric)
    for shares in (p, q):  # Evidently's feel_zeroes
        smallest = shares[shares != 0].min()
        shares[shares == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return float(np.sum((p - q) * np.log(p / q)))


@pytest.mark.parametrize("case", ["continuous", "ties", "rounded ties", "tiny", "constant reference"])
def test_psi_on_numbers_equals_the_formula(case: str) -> None:
    ref, cur = numeric_cases()[case]
    assert close(psi(pair(ref, cur)).score, psi_expected(ref, cur, numeric=True))


@pytest.mark.parametrize("case", ["three sites", "new category in current", "category gone from current"])
def test_psi_on_categories_equals_the_formula(case: str) -> None:
    ref, cur = category_cases()[case]
    assert close(psi(categories(ref, cur)).score, psi_expected(ref, cur, numeric=False))


@pytest.mark.parametrize("case", list(numeric_cases()))
def test_sturges_edges_and_counts_are_numpys_exactly(case: str) -> None:
    ref, cur = numeric_cases()[case]
    combined = np.concatenate([ref, cur])
    edges = sturges_edges(combined.min(), combined.max(), combined.size, integer=False)
    expected = np.histogram_bin_edges(combined, bins="sturges")
    assert np.array_equal(edges, expected)
    assert np.array_equal(histogram_counts(np.sort(cur), edges), np.histogram(cur, expected)[0])


def test_sturges_edges_of_integers_are_at_least_one_wide_like_numpys() -> None:
    # 21 values over 600,000 rows: Sturges' width 20 / (log2(600000) + 1) is below 1.
    ref, cur = RNG.integers(0, 21, size=300_000), RNG.integers(0, 21, size=300_000)
    combined = np.concatenate([ref, cur])  # int64: numpy's integer rule applies
    edges = sturges_edges(combined.min(), combined.max(), combined.size, integer=True)
    assert np.array_equal(edges, np.histogram_bin_edges(combined, bins="sturges"))
    bins = evidently_bins(pair(ref.astype(float), cur.astype(float), integer=True))
    assert bins.edges is not None and np.array_equal(bins.edges, edges)


def test_distinct_values_count_both_sides_together() -> None:
    p = pair(np.array([1.0, 1.0, 2.0]), np.array([2.0, 3.0, 3.0, 4.0]))
    assert p.distinct == 4 and p.reference_distinct == 2
    assert p.distinct == pd.concat([pd.Series(p.reference), pd.Series(p.current)]).nunique()


def test_numbers_with_nothing_in_common_and_big_samples() -> None:
    ref, cur = RNG.normal(size=20000), RNG.normal(50, 1, size=30000)
    assert close(cdf_distance(np.sort(ref), np.sort(cur)), stats.wasserstein_distance(ref, cur))
    assert close(ks(pair(ref, cur)).score, float(stats.ks_2samp(ref, cur).pvalue))


# Evidently's get_default_stattest, case by case: (kind, reference rows, distinct values) -> test.
SELECTION = [
    ("numerical", 1000, 6, "ks"),
    ("numerical", 1000, 5, "chisquare"),
    ("numerical", 1000, 3, "chisquare"),
    ("numerical", 1000, 2, "z"),
    ("numerical", 1000, 1, "z"),
    ("categorical", 1000, 3, "chisquare"),
    ("categorical", 1000, 2, "z"),
    ("numerical", 1001, 6, "wasserstein"),
    ("numerical", 1001, 5, "jensenshannon"),
    ("numerical", 1001, 2, "jensenshannon"),
    ("categorical", 1001, 2, "jensenshannon"),
    ("categorical", 5000, 40, "jensenshannon"),
]


@pytest.mark.parametrize(("kind", "rows", "distinct", "expected"), SELECTION)
def test_default_selection_follows_evidently(kind: str, rows: int, distinct: int, expected: str) -> None:
    assert default_test(kind, rows, distinct).name == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("test", "score", "drift"),
    [
        ("ks", 0.05, True),  # K-S: p <= threshold
        ("chisquare", 0.05, False),  # chi-square and Z: p < threshold
        ("z", 0.05, False),
        ("wasserstein", 0.1, True),  # distances: >= threshold
        ("jensenshannon", 0.1, True),
        ("psi", 0.0999, False),
    ],
)
def test_thresholds_compare_like_evidently(test: str, score: float, drift: bool) -> None:
    info = STAT_TESTS[test]
    assert info.drifted(score, info.default_threshold) is drift
