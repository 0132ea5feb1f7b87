"""A drift check's report: every feature and model output compared with the reference
profile, the dataset verdict, and the findings (drift and unexpected results)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .drift_columns import Prepared, compare_column
from .drift_config import MonitoringConfig
from .drift_data import CurrentWindow
from .drift_findings import (
    Finding,
    class_mix,
    data_drift,
    insufficient_data,
    null_spike,
    prediction_drift,
    prediction_out_of_range,
)
from .drift_stattests import CategoryPair, NumericPair
from .profile_format import Profile

REPORT_FORMAT = "mloop.drift-report/1"
TESTED = ("drift", "no_drift")


def dataset_verdict(entries: list[dict[str, Any]], drift_share: float) -> dict[str, Any]:
    """Dataset drift when at least `drift_share` of the tested features drifted. Features
    without a verdict (missing, too few values, a window too small) are not counted either way."""
    tested = [e for e in entries if e["status"] in TESTED]
    drifted = sum(1 for e in tested if e["drift"])
    share = drifted / len(tested) if tested else None
    status = "insufficient_data" if share is None else ("drift" if share >= drift_share else "no_drift")
    return {
        "status": status,
        "drift": None if status == "insufficient_data" else status == "drift",
        "share": share,
        "drift_share": drift_share,
        "drifted_features": drifted,
        "tested_features": len(tested),
        "features": len(entries),
    }


def _output_findings(
    profile: Profile, outputs: list[tuple[dict[str, Any], Prepared | None]], config: MonitoringConfig
) -> list[Finding]:
    found: list[Finding] = []
    for entry, prepared in outputs:
        if prepared is None or entry["name"] != "prediction":
            continue
        if isinstance(prepared.pair, NumericPair):
            non_finite = entry["current"]["non_finite"]
            item = prediction_out_of_range(
                prepared.pair, non_finite, profile.target["summary"], config.unexpected.prediction_out_of_range
            )
            found.extend([item] if item else [])
        elif isinstance(prepared.pair, CategoryPair):
            found.extend(class_mix(prepared.pair, profile.classes, config.unexpected.class_mix))
    return found


def build_report(
    profile: Profile,
    window: CurrentWindow,
    config: MonitoringConfig,
    output_columns: Mapping[str, str],
) -> dict[str, Any]:
    """`output_columns` maps each model output (prediction, probability) to the window's
    column holding it."""
    too_small = window.rows < config.min_rows
    # Only the entries are kept: a feature's cleaned values (a sorted copy of the column) go at once.
    feature_entries = [
        compare_column(c, window.columns.get(c.name), config.features.get(c.name), config.min_rows, too_small)[0]
        for c in profile.features
    ]
    outputs = [
        compare_column(
            c,
            window.columns.get(output_columns[c.name]),
            config.predictions.get(c.name),
            config.min_rows,
            too_small,
            labels=c.kind == "categorical",
        )
        for c in profile.outputs
    ]
    output_entries = [entry for entry, _ in outputs]
    verdict = dataset_verdict(feature_entries, config.drift_share)

    findings: list[Finding] = []
    if too_small:
        findings.append(insufficient_data(window.rows, config.min_rows))
    else:
        findings.extend(filter(None, [data_drift(feature_entries, verdict), prediction_drift(output_entries)]))
        for entry in feature_entries:
            if entry["current"] is not None:
                spike = null_spike(entry["name"], entry["reference"], entry["current"], config.unexpected.null_spike)
                findings.extend([spike] if spike else [])
        findings.extend(_output_findings(profile, outputs, config))

    return {
        "format": REPORT_FORMAT,
        "model": profile.model,
        "task": profile.task,
        "status": verdict["status"],
        "dataset_drift": verdict,
        "prediction_drift": any(e["status"] == "drift" for e in output_entries),
        "window": {"file": str(window.path), "rows": window.rows},
        "reference": {
            "training_rows": profile.training_rows,
            "holdout_rows": profile.holdout_rows,
        },
        "features": feature_entries,
        "outputs": [{**entry, "column": output_columns[entry["name"]]} for entry in output_entries],
        "findings": findings,
        "options": config.to_json(),
    }
