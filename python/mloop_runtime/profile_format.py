"""Reading a reference profile (written by profile_build.py) back for a drift check.

The file comes from the artifact store, but it is checked as carefully as user input: a
profile that is not what `train` writes is refused naming the field, never half-used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .drift_catalog import ColumnKind
from .drift_config import MonitoringConfig, feature_kind, parse_monitoring
from .errors import DatasetInvalid, InvalidManifest
from .manifest_problems import Problems
from .profile_build import PROFILE_FORMAT

COLUMN_TYPES = ("number", "integer", "string")


@dataclass(frozen=True)
class ColumnProfile:
    name: str
    type: str  # number, integer or string
    summary: dict[str, Any]
    histogram: dict[str, Any] | None
    # The reference sample: float64 with NaN for missing numbers, text with NaN otherwise.
    sample: np.ndarray | pd.Series

    @property
    def kind(self) -> ColumnKind:
        return feature_kind(self.type)


@dataclass(frozen=True)
class Profile:
    path: Path
    model: str
    task: str
    classes: tuple[str, ...] | None
    training_rows: int
    holdout_rows: int
    features: tuple[ColumnProfile, ...]
    outputs: tuple[ColumnProfile, ...]  # the model's outputs on the holdout
    target: dict[str, Any]  # the training target's summary (and histogram)
    monitoring: MonitoringConfig


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, reason: str) -> DatasetInvalid:
        return DatasetInvalid(f"{self.path}: not a valid reference profile: field '{where}': {reason}")

    def take(self, raw: Any, where: str, key: str, kind: type | tuple[type, ...]) -> Any:
        if not isinstance(raw, dict) or key not in raw:
            raise self.fail(f"{where}{key}", "missing")
        value = raw[key]
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            raise self.fail(f"{where}{key}", f"has the wrong type ({type(value).__name__})")
        return value

    def sample(self, where: str, column_type: str, values: Any) -> np.ndarray | pd.Series:
        if not isinstance(values, list):
            raise self.fail(f"{where}sample", "must be a list")
        if column_type == "string":
            if not all(v is None or isinstance(v, str) for v in values):
                raise self.fail(f"{where}sample", "must hold only text and null")
            return pd.Series(values, dtype="str")
        if not all(v is None or isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise self.fail(f"{where}sample", "must hold only numbers and null")
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

    def column(self, raw: Any, where: str) -> ColumnProfile:
        name = self.take(raw, where, "name", str)
        column_type = self.take(raw, where, "type", str)
        if column_type not in COLUMN_TYPES:
            raise self.fail(f"{where}type", f"must be one of {', '.join(COLUMN_TYPES)} (got {column_type!r})")
        summary = self.take(raw, where, "summary", dict)
        histogram = raw.get("histogram")
        if histogram is not None and not isinstance(histogram, dict):
            raise self.fail(f"{where}histogram", "must be a mapping or null")
        sample = self.sample(where, column_type, raw.get("sample"))
        return ColumnProfile(name, column_type, summary, histogram, sample)

    def columns(self, raw: Any, key: str, allow_empty: bool) -> tuple[ColumnProfile, ...]:
        items = self.take(raw, "", key, list)
        if not items and not allow_empty:
            raise self.fail(key, "must not be empty")
        columns = tuple(self.column(item, f"{key}[{i}].") for i, item in enumerate(items))
        names = [c.name for c in columns]
        if len(set(names)) != len(names):
            raise self.fail(key, "names a column twice")
        return columns


def load_profile(path: Path) -> Profile:
    reader = _Reader(path)
    if not path.is_file():
        raise DatasetInvalid(f"{path}: reference profile not found")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetInvalid(f"{path}: reference profile is not JSON: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("format") != PROFILE_FORMAT:
        found = raw.get("format") if isinstance(raw, dict) else None
        raise reader.fail("format", f"must be {PROFILE_FORMAT!r} (got {found!r})")
    features = reader.columns(raw, "features", allow_empty=False)
    outputs = reader.columns(raw, "outputs", allow_empty=True)
    task = reader.take(raw, "", "task", str)
    classes = raw.get("classes")
    if classes is not None and not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
        raise reader.fail("classes", "must be a list of text labels or null")
    problems = Problems(path)
    try:
        monitoring = parse_monitoring(
            reader.take(raw, "", "monitoring", dict),
            {c.name: c.kind for c in features},
            {c.name: c.kind for c in outputs},
            problems,
        )
        problems.raise_if_any()
    except InvalidManifest as exc:
        raise DatasetInvalid(f"not a valid reference profile: {exc.message}") from exc
    return Profile(
        path=path,
        model=reader.take(raw, "", "model", str),
        task=task,
        classes=None if classes is None else tuple(classes),
        training_rows=reader.take(raw, "", "training_rows", int),
        holdout_rows=reader.take(raw, "", "holdout_rows", int),
        features=features,
        outputs=outputs,
        target=reader.take(raw, "", "target", dict),
        monitoring=monitoring,
    )
