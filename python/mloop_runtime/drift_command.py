"""The `drift` command: compare a window of production data with a version's reference
profile, and write `report.json` and `report.html` (all or nothing, like `train`)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .drift_config import MonitoringConfig, parse_monitoring
from .drift_data import read_current
from .errors import InvalidManifest, UsageError
from .manifest_problems import Problems
from .output_dir import StagedOutputDir, check_output_target
from .profile_format import Profile, load_profile
from .protocol import ProtocolWriter
from .report_html import render_report

REPORT_FILENAME = "report.json"
HTML_FILENAME = "report.html"


@dataclass(frozen=True)
class DriftOptions:
    profile: Path
    current: Path
    out: Path
    # Overrides of the profile's `monitoring` settings for this check (same shape).
    overrides: dict[str, Any] = field(default_factory=dict)
    prediction_column: str = "prediction"
    probability_column: str = "probability"


def check_config(profile: Profile, overrides: dict[str, Any]) -> MonitoringConfig:
    problems = Problems(Path("--options"))
    try:
        config = parse_monitoring(
            overrides,
            {c.name: c.kind for c in profile.features},
            {c.name: c.kind for c in profile.outputs},
            problems,
            base=profile.monitoring,
        )
        problems.raise_if_any()
    except InvalidManifest as exc:
        raise UsageError(exc.message) from exc
    return config


def _output_columns(profile: Profile, options: DriftOptions) -> dict[str, str]:
    columns = {"prediction": options.prediction_column, "probability": options.probability_column}
    features = {c.name for c in profile.features}
    for output in profile.outputs:
        if columns[output.name] in features:
            raise UsageError(
                f"--{output.name}-column {columns[output.name]!r} is also a feature of the model; "
                "name the window's column holding the model's output"
            )
    return {o.name: columns[o.name] for o in profile.outputs}


def _json(value: Any) -> str:
    # No NaN may reach a report: allow_nan=False turns one into a loud failure, not a null.
    return json.dumps(value, allow_nan=False, indent=1, default=lambda o: o.item()) + "\n"


def run_drift(options: DriftOptions, writer: ProtocolWriter) -> dict[str, Any]:
    check_output_target(options.out)
    profile = load_profile(options.profile)
    config = check_config(profile, options.overrides)
    output_columns = _output_columns(profile, options)

    started = time.monotonic()
    writer.progress("load", "started", file=str(options.current))
    numeric = [c.name for c in profile.features if c.kind == "numerical"]
    numeric += [output_columns[c.name] for c in profile.outputs if c.kind == "numerical"]
    text = [c.name for c in profile.features if c.kind == "categorical"]
    text += [output_columns[c.name] for c in profile.outputs if c.kind == "categorical"]
    window = read_current(options.current, numeric, text)
    writer.progress("load", "done", rows=window.rows, seconds=round(time.monotonic() - started, 3))

    from .drift_report import build_report  # imported late: scipy takes seconds to import

    started = time.monotonic()
    writer.progress("compare", "started", rows=window.rows)
    report = build_report(profile, window, config, output_columns)
    html = render_report(report)
    writer.progress("compare", "done", rows=window.rows, seconds=round(time.monotonic() - started, 3))

    with StagedOutputDir(options.out) as staged:
        assert staged.path is not None
        (staged.path / REPORT_FILENAME).write_text(_json(report), encoding="utf-8")
        (staged.path / HTML_FILENAME).write_text(html, encoding="utf-8")
        staged.commit()

    verdict = report["dataset_drift"]
    return {
        "report": REPORT_FILENAME,
        "html": HTML_FILENAME,
        "status": report["status"],
        "rows": window.rows,
        "dataset_drift": verdict,
        "drifted_features": [e["name"] for e in report["features"] if e["status"] == "drift"],
        "prediction_drift": report["prediction_drift"],
        "findings": report["findings"],
    }
