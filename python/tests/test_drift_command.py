"""`python -m mloop_runtime drift`: a trained version's profile against windows of current
data, end to end: drift on exactly the shifted features, none without a shift, every
input format, overrides per check, and clear errors with nothing half-written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from conftest import (
    Run,
    classification_manifest,
    run_in_process,
    run_subprocess,
    train_args,
    write_classification_csv,
    write_model_dir,
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A classifier trained on 3000 rows: its reference sample has 2400 rows (> 1000)."""
    root = tmp_path_factory.mktemp("trained")
    model_dir = write_model_dir(root / "model", classification_manifest())
    dataset = write_classification_csv(root / "data.csv", rows=3000)
    run = run_in_process(train_args(model_dir, dataset, root / "out"))
    assert run.exit_code == 0, run.last
    return root / "out"


def window(trained: Path, rows: int = 3000, seed: int = 11, shift_x1: float = 0.0, sites: Any = None) -> pd.DataFrame:
    """Rows like the training data (conftest's generator), optionally shifted, with the
    model's own predictions on them."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x1": rng.normal(size=rows) + shift_x1,
            "x2": rng.normal(size=rows),
            "site": rng.choice(sites or ["north", "south"], size=rows),
        }
    )
    model = joblib.load(trained / "model.joblib")
    frame["prediction"] = model.predict(frame[["x1", "x2"]])
    frame["probability"] = model.predict_proba(frame[["x1", "x2"]])[:, 1]
    return frame


def drift(trained: Path, current: Path, out: Path, *extra: str) -> Run:
    profile = trained / "reference-profile.json"
    return run_in_process(["drift", "--profile", str(profile), "--current", str(current), "--out", str(out), *extra])


def report_of(out: Path) -> dict[str, Any]:
    return json.loads((out / "report.json").read_text())


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["status"] for e in report["features"] + report["outputs"]}


def test_unshifted_data_gives_no_drift_and_no_finding(trained: Path, tmp_path: Path) -> None:
    current = tmp_path / "current.csv"
    window(trained).to_csv(current, index=False)
    run = drift(trained, current, tmp_path / "report")
    assert run.exit_code == 0, run.last
    assert (run.last["status"], run.last["drifted_features"], run.last["findings"]) == ("no_drift", [], [])
    report = report_of(tmp_path / "report")
    assert statuses(report) == dict.fromkeys(["x1", "x2", "site", "prediction", "probability"], "no_drift")
    tests = {e["name"]: e["test"] for e in report["features"] + report["outputs"]}
    # 2400 reference rows: Evidently's distances; the 600-row holdout outputs: its tests.
    assert tests == {
        "x1": "wasserstein",
        "x2": "wasserstein",
        "site": "jensenshannon",
        "prediction": "z",
        "probability": "ks",
    }
    assert report["window"]["rows"] == 3000 and report["dataset_drift"]["share"] == 0.0


def test_shifted_features_drift_and_only_they_do(trained: Path, tmp_path: Path) -> None:
    current = tmp_path / "current.csv"
    window(trained, shift_x1=1.0, sites=["north", "south", "east"]).to_csv(current, index=False)
    run = drift(trained, current, tmp_path / "report")
    assert run.exit_code == 0, run.last
    assert run.last["drifted_features"] == ["x1", "site"]
    report = report_of(tmp_path / "report")
    assert statuses(report)["x2"] == "no_drift"
    assert report["status"] == "drift" and report["dataset_drift"]["share"] == pytest.approx(2 / 3)
    assert report["prediction_drift"] is True  # the shift in x1 moves the model's outputs
    kinds = [(f["type"], f["severity"]) for f in run.last["findings"]]
    assert ("data_drift", "critical") in kinds and ("prediction_drift", "critical") in kinds


def json_lines(frame: pd.DataFrame) -> str:
    """Records as JSON lines with exact floats (pandas' to_json rounds them to 10 digits)."""
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return "".join(json.dumps(r, allow_nan=False) + "\n" for r in records)


def test_the_three_formats_give_the_same_report(trained: Path, tmp_path: Path) -> None:
    frame = window(trained, shift_x1=0.4)
    frame.loc[:40, "x2"] = np.nan
    reports = []
    for name, write in (
        ("w.csv", lambda p: frame.to_csv(p, index=False)),
        ("w.parquet", lambda p: frame.to_parquet(p, index=False)),
        ("w.jsonl", lambda p: p.write_text(json_lines(frame))),
    ):
        path = tmp_path / name
        write(path)
        assert drift(trained, path, tmp_path / f"out-{name}").exit_code == 0
        report = report_of(tmp_path / f"out-{name}")
        del report["window"]["file"]
        reports.append(report)
    assert reports[0] == reports[1] == reports[2]
    assert reports[0]["features"][1]["current"]["nulls"] == 41


def test_a_small_reference_gets_the_statistical_tests(tmp_path: Path) -> None:
    model_dir = write_model_dir(tmp_path / "model", classification_manifest())
    dataset = write_classification_csv(tmp_path / "data.csv", rows=1000)
    assert run_in_process(train_args(model_dir, dataset, tmp_path / "small")).exit_code == 0
    current = tmp_path / "current.csv"
    window(tmp_path / "small", rows=500, shift_x1=0.5).to_csv(current, index=False)
    assert drift(tmp_path / "small", current, tmp_path / "report").exit_code == 0
    report = report_of(tmp_path / "report")
    tests = {e["name"]: (e["test"], e["status"]) for e in report["features"]}
    assert tests == {"x1": ("ks", "drift"), "x2": ("ks", "no_drift"), "site": ("z", "no_drift")}


def test_options_override_the_profile_for_one_check(trained: Path, tmp_path: Path) -> None:
    current = tmp_path / "current.csv"
    window(trained, shift_x1=1.0).to_csv(current, index=False)
    options = {"drift_share": 0.3, "features": {"x2": {"test": "psi", "threshold": 0.5}}, "min_rows": 3001}
    assert drift(trained, current, tmp_path / "a", "--options", json.dumps(options)).exit_code == 0
    report = report_of(tmp_path / "a")
    assert report["status"] == "insufficient_data"  # 3000 rows < min_rows 3001
    assert report["options"]["drift_share"] == 0.3 and report["options"]["features"]["x2"]["test"] == "psi"
    del options["min_rows"]
    assert drift(trained, current, tmp_path / "b", "--options", json.dumps(options)).exit_code == 0
    report = report_of(tmp_path / "b")
    assert report["features"][1]["test"] == "psi"
    # One of three features drifted: dataset drift at a share of 0.3, not at the default 0.5.
    assert report["dataset_drift"]["share"] == pytest.approx(1 / 3) and report["dataset_drift"]["drift"] is True
    assert drift(trained, current, tmp_path / "c").exit_code == 0
    assert report_of(tmp_path / "c")["dataset_drift"]["drift"] is False


def test_the_process_speaks_the_protocol(trained: Path, tmp_path: Path) -> None:
    current = tmp_path / "current.parquet"
    window(trained, rows=500).to_parquet(current)
    profile = trained / "reference-profile.json"
    out = tmp_path / "report"
    run = run_subprocess(["drift", "--profile", str(profile), "--current", str(current), "--out", str(out)])
    assert run.exit_code == 0, run.stderr
    phases = [(e["phase"], e["status"]) for e in run.of("progress")]
    assert phases == [("load", "started"), ("load", "done"), ("compare", "started"), ("compare", "done")]
    assert run.last["event"] == "result" and run.last["rows"] == 500
    assert (run.last["report"], run.last["html"]) == ("report.json", "report.html")
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.json"]


def error_of(run: Run) -> tuple[int, str, str]:
    assert run.last["event"] == "error"
    return run.exit_code, run.last["kind"], run.last["message"]


def test_bad_inputs_are_named_and_nothing_is_written(trained: Path, tmp_path: Path) -> None:
    current = tmp_path / "current.csv"
    window(trained, rows=200).to_csv(current, index=False)
    out = tmp_path / "out"

    code, kind, message = error_of(drift(tmp_path, current, out))  # no profile there
    assert (code, kind) == (3, "DatasetInvalid")
    assert message.endswith("reference-profile.json: reference profile not found")

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "reference-profile.json").write_text('{"format": "mloop.reference-profile/1", "features": 3}')
    code, kind, message = error_of(drift(broken, current, out))
    assert (code, kind) == (3, "DatasetInvalid")
    assert message.endswith("not a valid reference profile: field 'features': has the wrong type (int)")

    code, kind, message = error_of(drift(trained, tmp_path / "current.xlsx", out))
    assert (code, kind) == (3, "DatasetInvalid") and "unsupported file extension '.xlsx'" in message

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"x1": 1}\nnot json\n')
    code, kind, message = error_of(drift(trained, bad, out))
    assert (code, kind) == (3, "DatasetInvalid") and "not a readable JSON-lines file" in message

    dup = tmp_path / "dup.csv"
    dup.write_text("x1,x1,x2,site\n1,2,3,north\n")
    code, kind, message = error_of(drift(trained, dup, out))
    assert (code, message) == (3, f"{dup}: column(s) 'x1' appear more than once")

    code, kind, message = error_of(drift(trained, current, out, "--options", '{"drift_share": 0, "nope": 1}'))
    assert (code, kind) == (64, "UsageError")
    assert message.splitlines() == [
        "--options: field 'monitoring.nope': unknown field (allowed: min_rows, drift_share, sample_rows, "
        "features, predictions, unexpected)",
        "--options: field 'monitoring.drift_share': must be a number greater than 0 and at most 1 (got 0 (int))",
    ]

    code, kind, message = error_of(drift(trained, current, out, "--prediction-column", "x1"))
    assert (code, kind) == (64, "UsageError") and "'x1' is also a feature of the model" in message
    assert not out.exists()

    out.mkdir()
    (out / "old").write_text("x")
    code, kind, message = error_of(drift(trained, current, out))
    assert (code, message) == (64, f"--out {out} already exists and is not empty")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")] == []  # no partial output


def test_missing_columns_and_an_empty_window(trained: Path, tmp_path: Path) -> None:
    current = tmp_path / "current.csv"
    window(trained, rows=600)[["x1", "site"]].to_csv(current, index=False)
    assert drift(trained, current, tmp_path / "a").exit_code == 0
    found = statuses(report_of(tmp_path / "a"))
    assert found == {
        "x1": "no_drift",
        "x2": "missing_column",
        "site": "no_drift",
        "prediction": "missing_column",
        "probability": "missing_column",
    }
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert drift(trained, empty, tmp_path / "b").exit_code == 0
    report = report_of(tmp_path / "b")
    assert report["status"] == "insufficient_data" and report["window"]["rows"] == 0
