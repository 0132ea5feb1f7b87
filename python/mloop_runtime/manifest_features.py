"""The manifest's `features`: columns with a type and optional value constraints.

Constraints (`min`/`max` for numbers, `categories` for strings) are checked against every
dataset row, so a range typo in the manifest must be caught here, not as thousands of
"bad rows" later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

from .manifest_problems import Problems, describe, is_finite_number

FeatureType = Literal["number", "integer", "string"]

FEATURE_TYPES: tuple[FeatureType, ...] = ("number", "integer", "string")
NUMERIC_TYPES: tuple[FeatureType, ...] = ("number", "integer")
FEATURE_FIELDS = ("name", "type", "min", "max", "categories")


@dataclass(frozen=True)
class Feature:
    name: str
    type: FeatureType
    min: int | float | None = None  # inclusive; number/integer features only
    max: int | float | None = None  # inclusive; number/integer features only
    categories: tuple[str, ...] | None = None  # allowed values; string features only


def _bound(problems: Problems, where: str, key: str, item: dict[Any, Any], numeric: bool | None) -> Any:
    value = item.get(key)
    if value is None:  # absent or null: not set
        return None
    if not is_finite_number(value):
        problems.add(f"{where}.{key}", f"must be a finite number (got {describe(value)})")
        return None
    if numeric is False:
        problems.add(f"{where}.{key}", "only allowed for number and integer features")
        return None
    return value


def _categories(problems: Problems, where: str, item: dict[Any, Any], numeric: bool | None) -> Any:
    value = item.get("categories")
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(c, str) and c != "" for c in value):
        problems.add(
            f"{where}.categories",
            f"must be a non-empty list of non-empty strings (got {describe(value)})",
        )
        return None
    if len(set(value)) != len(value):
        problems.add(f"{where}.categories", "lists a category more than once")
        return None
    if numeric is True:
        problems.add(f"{where}.categories", "only allowed for string features")
        return None
    return tuple(value)


def _feature(problems: Problems, where: str, item: dict[Any, Any], seen: set[str]) -> Feature | None:
    for key in item:
        if key not in FEATURE_FIELDS:
            problems.add(f"{where}.{key}", f"unknown field (allowed: {', '.join(FEATURE_FIELDS)})")
    f_name, f_type = item.get("name"), item.get("type")
    valid = True
    if not isinstance(f_name, str) or not f_name.strip():
        problems.add(f"{where}.name", f"must be a non-empty column name (got {describe(f_name)})")
        valid = False
    elif f_name in seen:
        problems.add(f"{where}.name", f"duplicate feature {describe(f_name)}")
        valid = False
    numeric: bool | None = None  # unknown while the type is invalid
    if f_type not in FEATURE_TYPES:
        problems.add(f"{where}.type", f"must be one of {', '.join(FEATURE_TYPES)} (got {describe(f_type)})")
        valid = False
    else:
        numeric = f_type in NUMERIC_TYPES
    low = _bound(problems, where, "min", item, numeric)
    high = _bound(problems, where, "max", item, numeric)
    if low is not None and high is not None and low > high:
        problems.add(f"{where}.min", f"min {low!r} is greater than max {high!r}")
    categories = _categories(problems, where, item, numeric)
    if not valid:
        return None
    seen.add(cast(str, f_name))
    # Invalid constraints were reported above (so the manifest is rejected); the feature
    # itself still counts, e.g. for "target is also a feature".
    return Feature(cast(str, f_name), cast(FeatureType, f_type), low, high, categories)


def validate_features(raw_features: Any, problems: Problems) -> list[Feature]:
    """Validates the `features` field (reporting into `problems`); returns the valid ones."""
    if raw_features is None:
        return []  # reported as a missing required field by the caller
    if not isinstance(raw_features, list) or not raw_features:
        problems.add("features", f"must be a non-empty list of {{name, type}} (got {describe(raw_features)})")
        return []
    features: list[Feature] = []
    seen: set[str] = set()
    for i, item in enumerate(raw_features):
        where = f"features[{i}]"
        if not isinstance(item, dict):
            problems.add(where, f"must be a mapping with name and type (got {describe(item)})")
            continue
        feature = _feature(problems, where, item, seen)
        if feature is not None:
            features.append(feature)
    return features
