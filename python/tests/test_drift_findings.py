"""The unexpected-result checks are plain functions of the profile and the window:
predictions outside the training range, a changed or unknown class mix, a spike in nulls."""

from __future__ import annotations

import numpy as np
from mloop_runtime.drift_findings import class_mix, null_spike, prediction_out_of_range
from mloop_runtime.drift_stattests import CategoryPair, CountTable, NumericPair

TARGET = {"min": 0.0, "max": 10.0}


def predictions(values: list[float]) -> NumericPair:
    return NumericPair(np.array([1.0]), np.sort(np.array(values, dtype=np.float64)))


def test_predictions_inside_the_training_range_are_fine_including_its_ends() -> None:
    assert prediction_out_of_range(predictions([0.0, 5.0, 10.0] * 100), 0, TARGET, 0.0) is None


def test_predictions_outside_the_range_beyond_the_tolerance() -> None:
    values = [5.0] * 97 + [-0.5, 10.5, 11.0]
    assert prediction_out_of_range(predictions(values), 0, TARGET, 0.03) is None  # 3 %: at the tolerance
    found = prediction_out_of_range(predictions(values), 0, TARGET, 0.02)
    assert found is not None
    assert (found["type"], found["severity"], found["subject"]) == ("prediction_out_of_range", "warning", "prediction")
    assert found["details"]["outside"] == 3 and found["details"]["share"] == 0.03
    assert found["message"] == "3.0% of the predictions are outside the training range [0, 10]"


def test_non_finite_predictions_count_as_outside_and_a_majority_is_critical() -> None:
    found = prediction_out_of_range(predictions([5.0] * 4), 6, TARGET, 0.01)
    assert found is not None and found["severity"] == "critical"
    assert found["details"] == {**found["details"], "outside": 6, "predictions": 10, "share": 0.6}


def table(keys: list[str], reference: list[int], current: list[int]) -> CategoryPair:
    return CategoryPair(CountTable(np.array(keys, dtype=object), np.array(reference), np.array(current)))


def test_class_mix_shift_names_the_class_that_moved_most() -> None:
    mix = table(["0", "1"], [900, 100], [700, 300])
    found = class_mix(mix, ("0", "1"), 0.1)
    assert [(f["type"], f["severity"]) for f in found] == [("class_mix_shift", "warning")]
    assert found[0]["message"] == "predicted class '0' went from 90.0% to 70.0% of the predictions"
    assert found[0]["details"]["shares"]["1"] == {"reference": 0.1, "current": 0.3}
    assert class_mix(table(["0", "1"], [900, 100], [850, 150]), ("0", "1"), 0.1) == []


def test_a_class_unknown_to_training_is_critical() -> None:
    found = class_mix(table(["0", "1", "2"], [900, 100, 0], [880, 100, 20]), ("0", "1"), 0.1)
    assert [(f["type"], f["severity"]) for f in found] == [("unknown_class", "critical")]
    assert found[0]["details"]["classes"] == ["2"]


def test_class_mix_of_an_empty_window_finds_nothing() -> None:
    assert class_mix(table(["0", "1"], [900, 100], [0, 0]), ("0", "1"), 0.1) == []


def summary(count: int, nulls: int, non_finite: int = 0, invalid: int = 0) -> dict[str, int]:
    return {"count": count, "nulls": nulls, "non_finite": non_finite, "invalid": invalid}


def test_null_spike_counts_missing_non_finite_and_invalid_cells() -> None:
    reference = summary(1000, 20)  # 2 %
    assert null_spike("x", reference, summary(100, 12), 0.1) is None  # +10 points: at the tolerance
    found = null_spike("x", reference, summary(100, 5, non_finite=3, invalid=5), 0.1)
    assert found is not None and (found["subject"], found["severity"]) == ("x", "warning")
    assert found["message"] == "x: 13.0% of the values are missing or unusable (training: 2.0%)"


def test_null_spike_of_a_column_with_nothing_usable_is_critical_and_empty_windows_are_skipped() -> None:
    found = null_spike("x", summary(1000, 0), summary(50, 50), 0.1)
    assert found is not None and found["severity"] == "critical"
    assert null_spike("x", summary(1000, 0), summary(0, 0), 0.1) is None
