"""Edge cases of a drift check get a clear status, never NaN: constant columns, a single
category, all-null or tiny windows, infinities, values near the float limits, missing
columns, and a reference without usable values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mloop_runtime.drift_config import DriftOverride, MonitoringConfig
from mloop_runtime.drift_data import CurrentWindow
from mloop_runtime.drift_report import build_report
from mloop_runtime.profile_format import ColumnProfile, Profile
from mloop_runtime.profile_stats import category_counts, category_summary, numeric_summary, split_numbers

RNG = np.random.default_rng(7)


def column(name: str, column_type: str, sample: Any) -> ColumnProfile:
    if column_type == "string":
        values = pd.Series(sample, dtype="str")
        counts, nulls = category_counts(values)
        return ColumnProfile(name, column_type, category_summary(counts, nulls), None, values)
    numbers = np.asarray(sample, dtype=np.float64)
    return ColumnProfile(name, column_type, numeric_summary(split_numbers(numbers)), None, numbers)


def profile(*features: ColumnProfile, outputs: tuple[ColumnProfile, ...] = (), **config: Any) -> Profile:
    config.setdefault("min_rows", 100)  # the cases here have a few hundred rows
    return Profile(
        path=Path("/profile.json"),
        model="edge",
        task="regression",
        classes=None,
        training_rows=len(features[0].sample),
        holdout_rows=0,
        features=features,
        outputs=outputs,
        target={"summary": {"min": 0.0, "max": 1.0}},
        monitoring=MonitoringConfig(**config),
    )


def check(p: Profile, current: dict[str, Any], rows: int | None = None) -> dict[str, Any]:
    columns = {name: pd.Series(values) for name, values in current.items()}
    n = rows if rows is not None else max(len(v) for v in columns.values())
    report = build_report(p, CurrentWindow(Path("/current.csv"), n, columns), p.monitoring, {"prediction": "pred"})
    json.dumps(report, allow_nan=False)  # no NaN or infinity anywhere in the report
    return report


def entry(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(e for e in report["features"] + report["outputs"] if e["name"] == name)


def test_constant_column_equal_on_both_sides_is_no_drift() -> None:
    p = profile(column("c", "number", np.full(300, 4.2)))
    e = entry(check(p, {"c": np.full(500, 4.2)}), "c")
    assert (e["status"], e["test"], e["score"]) == ("no_drift", "z", 1.0)


def test_constant_column_moving_to_another_constant_is_drift() -> None:
    p = profile(column("c", "number", np.full(300, 4.2)))
    e = entry(check(p, {"c": np.full(500, 5.0)}), "c")
    assert (e["status"], e["test"]) == ("drift", "z")
    assert e["score"] < 1e-100


def test_large_constant_reference_gets_a_finite_distance() -> None:
    p = profile(column("c", "number", np.full(2000, 1.0)))
    e = entry(check(p, {"c": RNG.normal(1, 1, size=3000)}), "c")
    # Wasserstein normed by max(std, 0.001): a constant reference makes any spread a drift.
    assert (e["status"], e["test"]) == ("drift", "wasserstein")
    assert e["score"] > 100
    same = entry(check(p, {"c": np.full(3000, 1.0)}), "c")
    assert (same["status"], same["test"], same["score"]) == ("no_drift", "jensenshannon", 0.0)


def test_single_category_on_both_sides_is_no_drift() -> None:
    p = profile(column("s", "string", ["only"] * 400))
    e = entry(check(p, {"s": ["only"] * 300}), "s")
    assert (e["status"], e["test"], e["score"]) == ("no_drift", "z", 1.0)
    big = profile(column("s", "string", ["only"] * 4000))
    e = entry(check(big, {"s": ["only"] * 300}), "s")
    assert (e["status"], e["test"], e["score"]) == ("no_drift", "jensenshannon", 0.0)


def test_all_null_current_column_is_insufficient_data_and_a_critical_null_spike() -> None:
    p = profile(column("x", "number", RNG.normal(size=500)), column("y", "number", RNG.normal(size=500)))
    report = check(p, {"x": [None] * 400, "y": RNG.normal(size=400)})
    e = entry(report, "x")
    assert e["status"] == "insufficient_data" and e["drift"] is None and e["score"] is None
    assert e["reason"] == "0 usable value(s), fewer than 100 (400 missing, non-finite or invalid)"
    assert e["current"]["nulls"] == 400
    spikes = [f for f in report["findings"] if f["type"] == "null_spike"]
    assert [(f["subject"], f["severity"]) for f in spikes] == [("x", "critical")]
    # The verdict counts only tested features: y alone, which did not drift.
    assert report["dataset_drift"]["tested_features"] == 1 and report["status"] == "no_drift"


def test_a_tiny_window_gets_insufficient_data_not_a_verdict() -> None:
    p = profile(column("x", "number", RNG.normal(size=500)), min_rows=100)
    report = check(p, {"x": RNG.normal(5, 1, size=99)})
    assert report["status"] == "insufficient_data"
    assert report["dataset_drift"]["drift"] is None and report["dataset_drift"]["share"] is None
    e = entry(report, "x")
    assert e["status"] == "insufficient_data" and e["chart"] is not None
    assert [f["type"] for f in report["findings"]] == ["insufficient_data"]
    assert check(p, {"x": RNG.normal(5, 1, size=100)})["status"] == "drift"  # 100 rows: enough


def test_tiny_samples_with_a_low_minimum_get_a_verdict() -> None:
    p = profile(column("x", "number", [1.0, 2.0, 2.0]), min_rows=1)
    e = entry(check(p, {"x": [2.0, 3.0]}), "x")
    assert e["test"] == "chisquare" and e["status"] in ("drift", "no_drift")
    assert 0 <= e["score"] <= 1


def test_infinities_and_bad_cells_are_dropped_and_counted() -> None:
    p = profile(column("x", "number", RNG.normal(size=500)))
    values = [*RNG.normal(size=300).tolist(), np.inf, -np.inf, None, "abc", "NA"]
    e = entry(check(p, {"x": pd.Series(values, dtype=object)}), "x")
    assert (e["current"]["non_finite"], e["current"]["nulls"], e["current"]["invalid"]) == (2, 2, 1)
    assert e["current_values"] == 300 and e["status"] == "no_drift"


def test_values_near_the_float_limit_give_a_clear_status() -> None:
    p = profile(column("x", "number", np.concatenate([np.full(1500, -1.7e308), np.full(1500, 1.7e308)])))
    current = np.concatenate([np.full(1000, -1.7e308), RNG.uniform(-1, 1, size=1000) * 1e308, np.full(1000, 1.7e308)])
    e = entry(check(p, {"x": current}), "x")
    # The merged CDF's widths overflow: Wasserstein is not a finite number, so no verdict.
    assert (e["status"], e["test"], e["drift"], e["score"]) == ("undefined", "wasserstein", None, None)
    assert e["reason"] == "Wasserstein distance (normed) is not a finite number for these values"
    # Binned tests still work: numpy refuses to bin this range, the check bins its halves.
    binned = profile(*p.features, features={"x": DriftOverride("psi")})
    e = entry(check(binned, {"x": current}), "x")
    assert (e["status"], e["test"]) == ("drift", "psi") and np.isfinite(e["score"])
    assert len(e["chart"]["edges"]) == 15  # ceil(log2(6000) + 1) bins and all(np.isfinite(e["chart"]["edges"]))


def test_missing_column_and_reference_without_values() -> None:
    p = profile(column("x", "number", RNG.normal(size=500)), column("gone", "number", [None] * 500))
    report = check(p, {"gone": RNG.normal(size=300)})
    x, gone = entry(report, "x"), entry(report, "gone")
    assert (x["status"], x["reason"]) == ("missing_column", "the window has no such column")
    assert x["chart"] is not None and x["current"] is None  # the reference is still drawn
    assert gone["status"] == "no_reference"
    assert report["status"] == "insufficient_data" and report["dataset_drift"]["tested_features"] == 0


def test_a_new_category_in_current_is_drift_and_named() -> None:
    p = profile(column("s", "string", ["a"] * 200 + ["b"] * 200))
    e = entry(check(p, {"s": ["a"] * 150 + ["b"] * 150 + ["c"] * 10}), "s")
    assert (e["status"], e["test"], e["score"]) == ("drift", "chisquare", 0.0)
    assert e["statistic"] is None  # infinite chi-square statistic: not a number to show
    assert e["reason"] == "1 value(s) absent from the reference"


def test_overrides_change_test_and_threshold() -> None:
    ref = RNG.normal(size=3000)
    cur = RNG.normal(0.05, 1, size=3000)
    plain = profile(column("x", "number", ref))
    assert entry(check(plain, {"x": cur}), "x")["status"] == "no_drift"
    strict = profile(column("x", "number", ref), features={"x": DriftOverride("psi", 0.001)})
    e = entry(check(strict, {"x": cur}), "x")
    assert (e["test"], e["threshold"], e["status"]) == ("psi", 0.001, "drift")


@pytest.mark.parametrize("share", [0.5, 0.34])
def test_dataset_drift_share_is_at_least_the_configured_share(share: float) -> None:
    features = [column(n, "number", RNG.normal(size=2000)) for n in ("a", "b", "c")]
    p = profile(*features, drift_share=share)
    report = check(p, {"a": RNG.normal(3, 1, size=2000), "b": RNG.normal(size=2000), "c": RNG.normal(size=2000)})
    assert report["dataset_drift"]["share"] == pytest.approx(1 / 3)
    assert report["dataset_drift"]["drift"] is (1 / 3 >= share)
    kinds = {f["type"]: f["severity"] for f in report["findings"]}
    assert kinds["data_drift"] == ("critical" if 1 / 3 >= share else "warning")
