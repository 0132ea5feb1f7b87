"""The manifest's optional `monitoring:` section: how drift checks judge this model.

```yaml
monitoring:
  min_rows: 500          # a window with fewer rows gets "insufficient_data", not a verdict
  drift_share: 0.5       # dataset drift when at least this share of the features drifted
  sample_rows: 5000      # size of the reference sample kept with the version
  features:              # per-feature test and/or threshold (default: Evidently's choice)
    temperature_c: { test: psi, threshold: 0.2 }
  predictions:           # the same for the model's outputs: prediction, probability
    prediction: { threshold: 0.15 }
  unexpected:            # tolerances of the unexpected-result checks
    null_spike: 0.1               # rise of a feature's share of missing values
    prediction_out_of_range: 0.01 # share of predictions outside the training range
    class_mix: 0.1                # change of a predicted class's share
```

The same parser reads the section from mloop.yaml (at training time, stored with the
reference profile) and the drift command's `--options` (overrides per check).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .drift_catalog import STAT_TESTS, ColumnKind
from .manifest_features import Feature
from .manifest_problems import Problems, describe, is_finite_number

SECTION = "monitoring"
FIELDS = ("min_rows", "drift_share", "sample_rows", "features", "predictions", "unexpected")
OVERRIDE_FIELDS = ("test", "threshold")
UNEXPECTED_FIELDS = ("null_spike", "prediction_out_of_range", "class_mix")
MAX_SAMPLE_ROWS = 100_000  # the sample travels as JSON; larger ones would make profiles huge


@dataclass(frozen=True)
class DriftOverride:
    test: str | None = None
    threshold: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in (("test", self.test), ("threshold", self.threshold)) if value is not None}


@dataclass(frozen=True)
class Tolerances:
    null_spike: float = 0.1
    prediction_out_of_range: float = 0.01
    class_mix: float = 0.1


@dataclass(frozen=True)
class MonitoringConfig:
    # Distances are noisy on small windows: 100 rows drawn from the reference's own distribution
    # reach a normed Wasserstein distance of 0.1 most of the time, 500 rows rarely.
    min_rows: int = 500
    drift_share: float = 0.5
    sample_rows: int = 5000
    features: Mapping[str, DriftOverride] = field(default_factory=dict)
    predictions: Mapping[str, DriftOverride] = field(default_factory=dict)
    unexpected: Tolerances = Tolerances()

    def to_json(self) -> dict[str, Any]:
        return {
            "min_rows": self.min_rows,
            "drift_share": self.drift_share,
            "sample_rows": self.sample_rows,
            "features": {name: o.to_json() for name, o in self.features.items()},
            "predictions": {name: o.to_json() for name, o in self.predictions.items()},
            "unexpected": {key: getattr(self.unexpected, key) for key in UNEXPECTED_FIELDS},
        }


def _integer(problems: Problems, where: str, value: Any, low: int, high: int) -> int | None:
    if isinstance(value, float) and value.is_integer():  # 100.0 is an integer (as in JSON Schema)
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.add(where, f"must be an integer from {low} to {high} (got {describe(value)})")
        return None
    return value


def _share(problems: Problems, where: str, value: Any, allow_zero: bool) -> float | None:
    low = "0" if allow_zero else "greater than 0"
    if not is_finite_number(value) or value > 1 or value < 0 or (value == 0 and not allow_zero):
        problems.add(where, f"must be a number {low} and at most 1 (got {describe(value)})")
        return None
    return float(value)


def _override(problems: Problems, where: str, item: Any, kind: ColumnKind) -> DriftOverride | None:
    if not isinstance(item, dict):
        problems.add(where, f"must be a mapping with test and/or threshold (got {describe(item)})")
        return None
    for key in item:
        if key not in OVERRIDE_FIELDS:
            problems.add(f"{where}.{key}", f"unknown field (allowed: {', '.join(OVERRIDE_FIELDS)})")
    test, threshold = item.get("test"), item.get("threshold")
    valid = True
    info = None
    if test is not None:
        info = STAT_TESTS.get(test) if isinstance(test, str) else None
        if info is None:
            problems.add(f"{where}.test", f"must be one of {', '.join(STAT_TESTS)} (got {describe(test)})")
            valid = False
        elif info.numerical_only and kind != "numerical":
            problems.add(f"{where}.test", f"{test} needs numbers, but this column is categorical")
            valid = False
    if threshold is not None:
        if not is_finite_number(threshold):
            problems.add(f"{where}.threshold", f"must be a finite number (got {describe(threshold)})")
            valid = False
        elif info is not None and (reason := info.check_threshold(float(threshold))) is not None:
            problems.add(f"{where}.threshold", reason)
            valid = False
        elif test is None and not 0 < threshold < 1:
            # It applies to whichever test the check picks, a p-value's or a distance's.
            problems.add(
                f"{where}.threshold",
                f"without a test, must be strictly between 0 and 1 (got {threshold!r}); name the test for others",
            )
            valid = False
    if test is None and threshold is None:
        problems.add(where, "needs test and/or threshold")
        valid = False
    return DriftOverride(test, None if threshold is None else float(threshold)) if valid else None


def _overrides(
    problems: Problems, where: str, value: Any, columns: Mapping[str, ColumnKind]
) -> dict[str, DriftOverride]:
    if not isinstance(value, dict):
        problems.add(where, f"must be a mapping of column name to {{test, threshold}} (got {describe(value)})")
        return {}
    result: dict[str, DriftOverride] = {}
    for name, item in value.items():
        kind = columns.get(name) if isinstance(name, str) else None
        if kind is None:
            problems.add(f"{where}.{name}", f"not one of the columns ({', '.join(columns) or 'none'})")
            continue
        override = _override(problems, f"{where}.{name}", item, kind)
        if override is not None:
            result[name] = override
    return result


def _tolerances(problems: Problems, where: str, value: Any, base: Tolerances) -> Tolerances:
    if not isinstance(value, dict):
        problems.add(where, f"must be a mapping of {', '.join(UNEXPECTED_FIELDS)} (got {describe(value)})")
        return base
    changes: dict[str, float] = {}
    for key, item in value.items():
        if key not in UNEXPECTED_FIELDS:
            problems.add(f"{where}.{key}", f"unknown field (allowed: {', '.join(UNEXPECTED_FIELDS)})")
        elif item is not None:
            share = _share(problems, f"{where}.{key}", item, allow_zero=key == "prediction_out_of_range")
            if share is not None:
                changes[key] = share
    return replace(base, **changes)


def parse_monitoring(
    raw: Any,
    features: Mapping[str, ColumnKind],
    outputs: Mapping[str, ColumnKind],
    problems: Problems,
    base: MonitoringConfig | None = None,
    where: str = SECTION,
) -> MonitoringConfig:
    """Validates a `monitoring` mapping (reporting into `problems`) over `base`'s values.

    `features` and `outputs` name the columns overrides may refer to, with their kinds
    (numerical or categorical), so a test that needs numbers is refused for text. A key
    given as null keeps `base`'s value.
    """
    config = base or MonitoringConfig()
    if raw is None:
        return config
    if not isinstance(raw, dict):
        problems.add(where, f"must be a mapping of {', '.join(FIELDS)} (got {describe(raw)})")
        return config
    for key in raw:
        if key not in FIELDS:
            problems.add(f"{where}.{key}", f"unknown field (allowed: {', '.join(FIELDS)})")
    changes: dict[str, Any] = {}
    if raw.get("min_rows") is not None:
        changes["min_rows"] = _integer(problems, f"{where}.min_rows", raw["min_rows"], 1, 10**9)
    if raw.get("drift_share") is not None:
        changes["drift_share"] = _share(problems, f"{where}.drift_share", raw["drift_share"], allow_zero=False)
    if raw.get("sample_rows") is not None:
        changes["sample_rows"] = _integer(problems, f"{where}.sample_rows", raw["sample_rows"], 100, MAX_SAMPLE_ROWS)
    if raw.get("features") is not None:
        changes["features"] = _overrides(problems, f"{where}.features", raw["features"], features)
    if raw.get("predictions") is not None:
        changes["predictions"] = _overrides(problems, f"{where}.predictions", raw["predictions"], outputs)
    if raw.get("unexpected") is not None:
        changes["unexpected"] = _tolerances(problems, f"{where}.unexpected", raw["unexpected"], config.unexpected)
    return replace(config, **{key: value for key, value in changes.items() if value is not None})


def validate_monitoring(raw: Any, features: Sequence[Feature], task: Any, problems: Problems) -> MonitoringConfig:
    """The manifest's `monitoring` field, checked against its features and task."""
    kinds = {f.name: feature_kind(f.type) for f in features}
    return parse_monitoring(raw, kinds, output_kinds(task if isinstance(task, str) else None), problems)


def feature_kind(feature_type: str) -> ColumnKind:
    return "categorical" if feature_type == "string" else "numerical"


def output_kinds(task: str | None) -> dict[str, ColumnKind]:
    """The model outputs a drift check compares, by task: labels are categories, numbers and
    the positive class's probability are numerical."""
    if task == "classification":
        return {"prediction": "categorical", "probability": "numerical"}
    if task == "regression":
        return {"prediction": "numerical"}
    return {}
