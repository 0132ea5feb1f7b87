"""The drift tests mloop knows: their names, what their score is, and when it means drift.

The names, default thresholds and comparison rules follow Evidently's stattests, so users
get the numbers and verdicts they know. This module has no numeric dependencies: the
manifest parser reads it to validate `monitoring:` overrides. The computations are in
drift_stattests.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ScoreKind = Literal["p_value", "distance"]
ColumnKind = Literal["numerical", "categorical"]


@dataclass(frozen=True)
class StatTestInfo:
    name: str
    display_name: str
    score: ScoreKind
    default_threshold: float
    # Drift when the score is at most / below / at least the threshold.
    rule: Literal["at_most", "below", "at_least"]
    numerical_only: bool

    def drifted(self, score: float, threshold: float) -> bool:
        if self.rule == "at_most":
            return score <= threshold
        if self.rule == "below":
            return score < threshold
        return score >= threshold

    def check_threshold(self, threshold: float) -> str | None:
        """Why `threshold` does not fit this test, or None when it does."""
        if self.score == "p_value" and not 0 < threshold < 1:
            return f"a p-value threshold must be strictly between 0 and 1 (got {threshold!r})"
        if self.score == "distance" and threshold <= 0:
            return f"a distance threshold must be greater than 0 (got {threshold!r})"
        return None


STAT_TESTS: dict[str, StatTestInfo] = {
    t.name: t
    for t in (
        StatTestInfo("ks", "K-S p-value", "p_value", 0.05, "at_most", numerical_only=True),
        StatTestInfo("chisquare", "chi-square p-value", "p_value", 0.05, "below", numerical_only=False),
        StatTestInfo("z", "Z-test p-value", "p_value", 0.05, "below", numerical_only=False),
        StatTestInfo("wasserstein", "Wasserstein distance (normed)", "distance", 0.1, "at_least", True),
        StatTestInfo("jensenshannon", "Jensen-Shannon distance", "distance", 0.1, "at_least", False),
        StatTestInfo("psi", "PSI", "distance", 0.1, "at_least", numerical_only=False),
    )
}

# Evidently's size cut: a reference of at most this many non-null values gets the
# statistical tests, a larger one the distances.
SMALL_REFERENCE_ROWS = 1000


def default_test(kind: ColumnKind, reference_rows: int, distinct_values: int) -> StatTestInfo:
    """Evidently's default test selection (`get_default_stattest`).

    `reference_rows` counts the reference's non-null values; `distinct_values` counts the
    distinct values of reference and current together.
    """
    if reference_rows <= SMALL_REFERENCE_ROWS:
        if kind == "numerical" and distinct_values > 5:
            return STAT_TESTS["ks"]
        return STAT_TESTS["chisquare"] if distinct_values > 2 else STAT_TESTS["z"]
    if kind == "numerical" and distinct_values > 5:
        return STAT_TESTS["wasserstein"]
    return STAT_TESTS["jensenshannon"]
