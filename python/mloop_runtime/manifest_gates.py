"""The manifest's `gates`: conditions a candidate's metrics must meet (MLflow
MetricThreshold style). The runtime only validates and echoes them; the engine applies
them, comparing a candidate with a fixed threshold and with the champion."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .manifest_problems import Problems, describe, is_finite_number
from .task_metrics import GREATER_IS_BETTER, METRICS_BY_TASK

CONDITION_FIELDS = ("threshold", "min_absolute_change", "min_relative_change")
GATE_FIELDS = ("metric", *CONDITION_FIELDS, "greater_is_better")


@dataclass(frozen=True)
class Gate:
    metric: str
    threshold: int | float | None
    min_absolute_change: int | float | None
    min_relative_change: int | float | None
    greater_is_better: bool  # filled in from GREATER_IS_BETTER when the manifest omits it

    def to_json(self) -> dict[str, Any]:
        # Unset conditions are left out rather than null: the engine tests for absence,
        # and a null read as 0 would turn "no condition" into "not worse".
        conditions = {key: getattr(self, key) for key in CONDITION_FIELDS}
        return {
            "metric": self.metric,
            **{key: value for key, value in conditions.items() if value is not None},
            "greater_is_better": self.greater_is_better,
        }


def _metric(problems: Problems, where: str, value: Any, task: str | None, reported: Sequence[str] | None) -> str | None:
    if not isinstance(value, str) or not value:
        problems.add(f"{where}.metric", f"must be a metric name (got {describe(value)})")
        return None
    available = METRICS_BY_TASK.get(task) if task is not None else None
    if available is not None and value not in available:
        problems.add(
            f"{where}.metric",
            f"{describe(value)} not available for task {task} (available: {', '.join(available)})",
        )
        return None
    if available is not None and reported is not None and value not in reported:
        # The engine can only gate on what the result reports.
        problems.add(f"{where}.metric", f"{describe(value)} is not in metrics ({', '.join(reported)})")
        return None
    return value


def _condition(problems: Problems, where: str, key: str, item: dict[Any, Any]) -> Any:
    value = item.get(key)
    if value is None:
        return None
    if not is_finite_number(value):
        problems.add(f"{where}.{key}", f"must be a finite number (got {describe(value)})")
        return None
    if key != "threshold" and value < 0:
        # A change is "how much better at least"; 0 means "not worse than the champion".
        problems.add(f"{where}.{key}", f"must be >= 0 (got {value!r})")
        return None
    return value


def _gate(
    problems: Problems, where: str, item: dict[Any, Any], task: str | None, reported: Sequence[str] | None
) -> Gate | None:
    for key in item:
        if key not in GATE_FIELDS:
            problems.add(f"{where}.{key}", f"unknown field (allowed: {', '.join(GATE_FIELDS)})")
    metric = _metric(problems, where, item.get("metric"), task, reported)
    conditions = {key: _condition(problems, where, key, item) for key in CONDITION_FIELDS}
    if all(item.get(key) is None for key in CONDITION_FIELDS):
        problems.add(where, f"needs at least one of {', '.join(CONDITION_FIELDS)}")
    greater = item.get("greater_is_better")
    if greater is not None and not isinstance(greater, bool):
        problems.add(f"{where}.greater_is_better", f"must be true or false (got {describe(greater)})")
        return None
    if metric is None:
        return None
    return Gate(
        metric=metric,
        greater_is_better=GREATER_IS_BETTER[metric] if greater is None else greater,
        **conditions,
    )


def validate_gates(
    raw_gates: Any, task: str | None, reported: Sequence[str] | None, problems: Problems
) -> tuple[Gate, ...]:
    """Validates `gates` (reporting into `problems`).

    `task` is None when the task is invalid, `reported` None when `metrics` is invalid:
    then the checks that need them are skipped (their own problem is reported already).
    """
    if raw_gates is None:
        return ()
    if not isinstance(raw_gates, list):
        problems.add("gates", f"must be a list of {{metric, threshold, ...}} mappings (got {describe(raw_gates)})")
        return ()
    gates: list[Gate] = []
    for i, item in enumerate(raw_gates):
        where = f"gates[{i}]"
        if not isinstance(item, dict):
            problems.add(where, f"must be a mapping with metric and a condition (got {describe(item)})")
            continue
        gate = _gate(problems, where, item, task, reported)
        if gate is None:
            continue
        if any(g.metric == gate.metric for g in gates):
            problems.add(f"{where}.metric", f"a gate for {gate.metric!r} is already defined (combine them)")
            continue
        gates.append(gate)
    return tuple(gates)
