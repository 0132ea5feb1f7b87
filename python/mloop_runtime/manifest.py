"""Loading and strictly validating the model repository's `mloop.yaml`.

Every problem is reported (not just the first), each as
`<manifest path>: field '<field>': <reason>`, so a user can fix them in one go.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from .drift_config import MonitoringConfig, validate_monitoring
from .entrypoints import Entrypoint
from .errors import InvalidManifest
from .manifest_features import FEATURE_TYPES, Feature, FeatureType, validate_features
from .manifest_gates import Gate, validate_gates
from .manifest_problems import Problems, describe
from .manifest_yaml import read_manifest_yaml
from .task_metrics import METRICS_BY_TASK, TASKS, Task

__all__ = [
    "FEATURE_TYPES",
    "METRICS_BY_TASK",
    "TASKS",
    "Feature",
    "FeatureType",
    "Gate",
    "Manifest",
    "Task",
    "load_manifest",
    "validate_manifest",
]

MANIFEST_FILENAME = "mloop.yaml"

# A slug doubles as a docker image / service name later, hence lowercase and short.
SLUG_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")  # used with fullmatch
SLUG_MAX_LENGTH = 63

REQUIRED_FIELDS = ("name", "task", "train", "predict", "features", "target")
OPTIONAL_FIELDS = ("params", "metrics", "gates", "positive_class", "monitoring")


@dataclass(frozen=True)
class Manifest:
    path: Path
    name: str
    task: Task
    train: Entrypoint
    predict: Entrypoint
    features: tuple[Feature, ...]
    target: str
    params: dict[str, Any] = field(default_factory=dict)
    # The metrics to report; defaults to every metric of the task.
    metrics: tuple[str, ...] = ()
    gates: tuple[Gate, ...] = ()
    # Binary classification: the class precision, recall, f1 and roc_auc are of; default the
    # larger of the two (see metrics.positive_class).
    positive_class: str | int | None = None
    # How drift checks judge this model (drift_config.py); stored with the reference profile.
    monitoring: MonitoringConfig = MonitoringConfig()

    @property
    def model_dir(self) -> Path:
        return self.path.parent

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    def summary(self) -> dict[str, Any]:
        """What the result event echoes: enough for the engine to apply the gates and
        to know which columns this model version reads."""
        return {
            "name": self.name,
            "task": self.task,
            "metrics": list(self.metrics),
            "gates": [g.to_json() for g in self.gates],
            "features": self.feature_names,
            "target": self.target,
        }


def _is_json_value(value: Any) -> bool:
    """Params travel to the engine as JSON, so they must be plain JSON values."""
    if value is None or isinstance(value, (str, bool, int)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_is_json_value(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json_value(v) for k, v in value.items())
    return False


def _positive_class(raw: Any, task: Any, problems: Problems) -> str | int | None:
    if raw is None:
        return None
    if task == "regression":
        problems.add("positive_class", "applies to classification only")
    elif isinstance(raw, bool):
        # YAML reads unquoted yes/no/true/false as booleans; a class is never one.
        problems.add("positive_class", f'must be a class: text or an integer (got {raw}; quote a label, e.g. "yes")')
    elif isinstance(raw, float) and raw.is_integer():
        return int(raw)
    elif isinstance(raw, int) or (isinstance(raw, str) and raw.strip()):
        return raw
    else:
        problems.add("positive_class", f"must be a class: text or an integer (got {describe(raw)})")
    return None


def load_manifest(model_dir: Path) -> Manifest:
    path = model_dir / MANIFEST_FILENAME
    if not model_dir.is_dir():
        raise InvalidManifest(f"{path}: model directory {model_dir} does not exist")
    if not path.is_file():
        raise InvalidManifest(f"{path}: file not found (every model directory needs an {MANIFEST_FILENAME})")
    if not path.resolve().is_relative_to(model_dir.resolve()):
        raise InvalidManifest(f"{path}: a symlink leading out of the model directory; the manifest must be in it")
    raw = read_manifest_yaml(path)
    if not isinstance(raw, dict):
        raise InvalidManifest(f"{path}: must be a YAML mapping of fields, got {type(raw).__name__}")
    return validate_manifest(raw, path)


def validate_manifest(raw: dict[Any, Any], path: Path) -> Manifest:
    problems = Problems(path)

    for key in raw:
        if key not in REQUIRED_FIELDS + OPTIONAL_FIELDS:
            problems.add(str(key), f"unknown field (allowed: {', '.join(REQUIRED_FIELDS + OPTIONAL_FIELDS)})")
    for key in REQUIRED_FIELDS:
        if key not in raw or raw[key] is None:
            problems.add(key, "required field is missing")

    name = raw.get("name")
    if name is not None and (
        not isinstance(name, str) or not SLUG_PATTERN.fullmatch(name) or len(name) > SLUG_MAX_LENGTH
    ):
        problems.add(
            "name",
            f"must be a slug: lowercase letters, digits and single dashes, at most "
            f"{SLUG_MAX_LENGTH} characters (got {describe(name)})",
        )

    task = raw.get("task")
    if task is not None and task not in TASKS:
        problems.add("task", f"must be one of {', '.join(TASKS)} (got {describe(task)})")

    entrypoints: dict[str, Entrypoint] = {}
    for role in ("train", "predict"):
        value = raw.get(role)
        if value is None:
            continue
        parsed = Entrypoint.parse(value) if isinstance(value, str) else None
        if parsed is None:
            problems.add(role, f'must be "module:function", e.g. "{role}:{role}" (got {describe(value)})')
            continue
        candidates = parsed.candidate_files(path.parent)
        if not any(c.is_file() for c in candidates):
            looked = " or ".join(str(c.relative_to(path.parent)) for c in candidates)
            problems.add(role, f"module '{parsed.module}' not found (looked for {looked} in {path.parent})")
            continue
        entrypoints[role] = parsed

    features = validate_features(raw.get("features"), problems)

    target = raw.get("target")
    if target is not None:
        if not isinstance(target, str) or not target.strip():
            problems.add("target", f"must be a non-empty column name (got {describe(target)})")
        elif any(f.name == target for f in features):
            problems.add("target", f"column {describe(target)} is also listed in features")

    params = raw.get("params")
    if params is None:
        params = {}
    elif not isinstance(params, dict):
        problems.add("params", f"must be a mapping of parameter name to value (got {describe(params)})")
    elif not _is_json_value(params):
        problems.add("params", "values must be strings, numbers, booleans, null, lists or mappings")

    metrics: tuple[str, ...] = METRICS_BY_TASK.get(task, ()) if isinstance(task, str) else ()
    metrics_valid = True
    raw_metrics = raw.get("metrics")
    if raw_metrics is not None:
        allowed = METRICS_BY_TASK.get(task) if isinstance(task, str) else None
        if not isinstance(raw_metrics, list) or not raw_metrics or not all(isinstance(m, str) for m in raw_metrics):
            problems.add("metrics", f"must be a non-empty list of metric names (got {describe(raw_metrics)})")
            metrics_valid = False
        elif len(set(raw_metrics)) != len(raw_metrics):
            problems.add("metrics", "lists a metric more than once")
            metrics_valid = False
        elif allowed is not None:
            unknown = [m for m in raw_metrics if m not in allowed]
            if unknown:
                metrics_valid = False
                problems.add(
                    "metrics",
                    f"{', '.join(map(describe, unknown))} not available for task {task} "
                    f"(available: {', '.join(allowed)})",
                )
            else:
                metrics = tuple(raw_metrics)

    gates = validate_gates(
        raw.get("gates"),
        task if task in TASKS else None,
        metrics if metrics_valid else None,
        problems,
    )

    positive = _positive_class(raw.get("positive_class"), task, problems)
    monitoring = validate_monitoring(raw.get("monitoring"), features, task, problems)

    problems.raise_if_any()
    # Every value below has been validated above (else raise_if_any raised).
    return Manifest(
        path=path,
        name=cast(str, name),
        task=cast(Task, task),
        train=entrypoints["train"],
        predict=entrypoints["predict"],
        features=tuple(features),
        target=cast(str, target),
        params=dict(params),
        metrics=metrics,
        gates=gates,
        positive_class=positive,
        monitoring=monitoring,
    )
