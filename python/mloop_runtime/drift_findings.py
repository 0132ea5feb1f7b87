"""Findings of a drift check: the drift verdicts and the unexpected-result checks, as
plain functions of the reference profile and the current window's cleaned columns.

Each finding is `{"type", "severity", "subject", "message", "details"}`; the types and
severities are mirrored by the engine's alert types (core/monitoring/alerts.ts), which
publishes them. Severities: `info` (nothing to act on yet), `warning`, `critical`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .drift_stattests import CategoryPair, NumericPair

Finding = dict[str, Any]
# Past this share of out-of-range predictions the model is answering outside what it knows.
OUT_OF_RANGE_CRITICAL_SHARE = 0.5


def finding(kind: str, severity: str, subject: str, message: str, **details: Any) -> Finding:
    return {"type": kind, "severity": severity, "subject": subject, "message": message, "details": details}


def _missing_share(summary: dict[str, Any]) -> float | None:
    count = summary.get("count") or 0
    if count == 0:
        return None
    missing = summary.get("nulls", 0) + summary.get("non_finite", 0) + summary.get("invalid", 0)
    return missing / count


def null_spike(name: str, reference: dict[str, Any], current: dict[str, Any], tolerance: float) -> Finding | None:
    """More missing (empty, non-finite or invalid) values than in training, by more than
    `tolerance` of the rows; critical when nothing usable is left."""
    before, now = _missing_share(reference), _missing_share(current)
    if before is None or now is None or now - before <= tolerance:
        return None
    severity = "critical" if now == 1.0 else "warning"
    return finding(
        "null_spike",
        severity,
        name,
        f"{name}: {now:.1%} of the values are missing or unusable (training: {before:.1%})",
        current_share=now,
        reference_share=before,
        tolerance=tolerance,
    )


def prediction_out_of_range(
    predictions: NumericPair, non_finite: int, target: dict[str, Any], tolerance: float
) -> Finding | None:
    """Regression: predictions outside the training target's range (non-finite ones count as
    outside), when their share exceeds `tolerance`."""
    low, high = target.get("min"), target.get("max")
    values = predictions.current
    total = values.size + non_finite
    if low is None or high is None or total == 0:
        return None
    outside = int(values.searchsorted(low, "left") + (values.size - values.searchsorted(high, "right"))) + non_finite
    share = outside / total
    if share <= tolerance:
        return None
    severity = "critical" if share >= OUT_OF_RANGE_CRITICAL_SHARE else "warning"
    return finding(
        "prediction_out_of_range",
        severity,
        "prediction",
        f"{share:.1%} of the predictions are outside the training range [{low:g}, {high:g}]",
        share=share,
        outside=outside,
        predictions=total,
        range=[low, high],
        tolerance=tolerance,
    )


def class_mix(predictions: CategoryPair, classes: Sequence[str] | None, tolerance: float) -> list[Finding]:
    """Classification: predicted classes unknown to training (critical), and a class whose
    share moved more than `tolerance` from its share on the holdout (warning)."""
    table = predictions.table
    n_ref, n_cur = int(table.reference.sum()), int(table.current.sum())
    if n_cur == 0 or n_ref == 0:
        return []
    found: list[Finding] = []
    labels = [str(k) for k in table.keys]
    if classes is not None:
        unknown = [label for label, count in zip(labels, table.current, strict=True) if count and label not in classes]
        if unknown:
            found.append(
                finding(
                    "unknown_class",
                    "critical",
                    "prediction",
                    f"predicted class(es) {', '.join(map(repr, unknown))} never seen in training",
                    classes=unknown,
                    training_classes=list(classes),
                )
            )
    change = table.current / n_cur - table.reference / n_ref
    worst = int(np.argmax(np.abs(change)))
    if abs(change[worst]) > tolerance:
        found.append(
            finding(
                "class_mix_shift",
                "warning",
                "prediction",
                f"predicted class {labels[worst]!r} went from {table.reference[worst] / n_ref:.1%} "
                f"to {table.current[worst] / n_cur:.1%} of the predictions",
                shares={
                    label: {"reference": float(r / n_ref), "current": float(c / n_cur)}
                    for label, r, c in zip(labels, table.reference, table.current, strict=True)
                },
                tolerance=tolerance,
            )
        )
    return found


def data_drift(entries: Sequence[dict[str, Any]], verdict: dict[str, Any]) -> Finding | None:
    """One finding for all drifted features: critical when the dataset drifted."""
    drifted = [e["name"] for e in entries if e["status"] == "drift"]
    if not drifted:
        return None
    severity = "critical" if verdict["drift"] else "warning"
    return finding(
        "data_drift",
        severity,
        "features",
        f"drift in {len(drifted)} of {verdict['tested_features']} feature(s): {', '.join(drifted)}",
        features=drifted,
        share=verdict["share"],
        drift_share=verdict["drift_share"],
        dataset_drift=verdict["drift"],
    )


def prediction_drift(entries: Sequence[dict[str, Any]]) -> Finding | None:
    drifted = [e["name"] for e in entries if e["status"] == "drift"]
    if not drifted:
        return None
    return finding(
        "prediction_drift",
        "critical",
        "outputs",
        f"the model's {' and '.join(drifted)} drifted from the holdout's",
        outputs=drifted,
    )


def insufficient_data(rows: int, min_rows: int) -> Finding:
    return finding(
        "insufficient_data",
        "info",
        "window",
        f"the window has {rows} record(s), fewer than the {min_rows} a verdict needs",
        rows=rows,
        min_rows=min_rows,
    )
