"""The real process contract: `python -m mloop_runtime train`, JSON lines, exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import joblib
import pandas as pd
from conftest import (
    CLASSIFIER_PREDICT,
    PYTHON_DIR,
    classification_manifest,
    run_subprocess,
    train_args,
    write_model_dir,
)

NOISY_TRAIN = """
import os, sys, warnings
from sklearn.linear_model import LogisticRegression

def train(X, y, params):
    print("hello from train")
    print("no newline at the end", end="", flush=True)
    print()
    sys.stderr.write("to stderr\\n")
    warnings.warn("careful")
    os.write(1, b"native write to fd 1\\n")  # must not reach the protocol stream
    return LogisticRegression().fit(X[["x1", "x2"]], y)
"""

FAILING_TRAIN = """
def helper(params):
    raise ValueError("boom: learning rate " + str(params["C"]))

def train(X, y, params):
    return helper(params)
"""


def test_classification_happy_path(tmp_path: Path, classification_csv: Path) -> None:
    model_dir = write_model_dir(tmp_path / "model", classification_manifest(), NOISY_TRAIN, CLASSIFIER_PREDICT)
    out = tmp_path / "runs" / "run-1"  # parent does not exist yet

    run = run_subprocess(train_args(model_dir, classification_csv, out, "--seed", "3"))

    assert run.exit_code == 0, run.events
    phases = [(e["phase"], e["status"]) for e in run.of("progress")]
    assert phases == [
        ("load", "started"),
        ("load", "done"),
        ("split", "done"),
        ("train", "started"),
        ("train", "done"),
        ("evaluate", "started"),
        ("evaluate", "done"),
        ("profile", "started"),
        ("profile", "done"),
        ("save", "started"),
        ("save", "done"),
    ]
    logs = [(e["stream"], e["line"]) for e in run.of("log")]
    assert ("stdout", "hello from train") in logs
    assert ("stdout", "no newline at the end") in logs
    assert ("stderr", "to stderr") in logs
    assert any(stream == "stderr" and "UserWarning: careful" in line for stream, line in logs)
    assert "native write to fd 1" in run.stderr

    result = run.last
    assert result["event"] == "result"
    assert result["artifact"] == "model.joblib"
    assert result["rows"] == {"train": 160, "holdout": 40}
    assert result["params"] == {"C": 1.0}
    assert set(result["metrics"]) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
    assert result["metrics"]["roc_auc"] > 0.8
    assert json.loads((out / "metrics.json").read_text()) == result["metrics"]
    model = joblib.load(out / "model.joblib")
    assert len(model.predict(pd.DataFrame({"x1": [2.0, -2.0], "x2": [0.0, 0.0]}))) == 2
    assert sorted(p.name for p in out.parent.iterdir()) == ["run-1"]  # no temp dir left


SET_HOLDING_TRAIN = """
from sklearn.linear_model import LogisticRegression

def train(X, y, params):
    # A set of strings pickles in hash order, so this checks the fixed hash seed too.
    vocabulary = {f"{site}-{i}" for site in X["site"].unique() for i in range(20)}
    return {"clf": LogisticRegression().fit(X[["x1", "x2"]], y), "vocabulary": vocabulary}
"""

DICT_MODEL_PREDICT = """
def predict(model, X):
    return model["clf"].predict(X[["x1", "x2"]])
"""


def test_two_runs_give_byte_identical_artifacts(tmp_path: Path, classification_csv: Path) -> None:
    model_dir = write_model_dir(tmp_path / "model", classification_manifest(), SET_HOLDING_TRAIN, DICT_MODEL_PREDICT)
    first, second = tmp_path / "first", tmp_path / "second"

    with ThreadPoolExecutor(max_workers=2) as pool:  # two separate processes, side by side
        runs = list(
            pool.map(
                run_subprocess,
                [train_args(model_dir, classification_csv, o, "--seed", "9") for o in (first, second)],
            )
        )

    assert [r.exit_code for r in runs] == [0, 0]

    assert (first / "model.joblib").read_bytes() == (second / "model.joblib").read_bytes()
    assert (first / "metrics.json").read_bytes() == (second / "metrics.json").read_bytes()


def test_sigterm_stops_cleanly(tmp_path: Path, classification_csv: Path) -> None:
    slow_train = "import time\n\ndef train(X, y, params):\n    print('ready', flush=True)\n    time.sleep(60)\n"
    model_dir = write_model_dir(tmp_path / "model", classification_manifest(), slow_train)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(PYTHON_DIR)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mloop_runtime", *train_args(model_dir, classification_csv, out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if json.loads(line) == {"event": "log", "stream": "stdout", "line": "ready"}:
                break
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
    finally:
        proc.kill()
    assert not out.exists()


def test_user_code_raising_reports_traceback_and_leaves_no_output(tmp_path: Path, classification_csv: Path) -> None:
    model_dir = write_model_dir(tmp_path / "model", classification_manifest(), FAILING_TRAIN, CLASSIFIER_PREDICT)
    out = tmp_path / "out"

    run = run_subprocess(train_args(model_dir, classification_csv, out))

    assert run.exit_code == 4
    error = run.last
    assert error["event"] == "error"
    assert error["kind"] == "TrainingFailed"
    assert error["message"] == "train entrypoint 'train:train' raised ValueError: boom: learning rate 1.0"
    tail = error["traceback_tail"]
    assert 'train.py", line 3, in helper' in tail
    assert tail.splitlines()[-1] == "ValueError: boom: learning rate 1.0"
    assert "mloop_runtime" not in tail  # starts at the user's frame
    assert len(tail.splitlines()) <= 20
    assert not out.exists()
    assert sorted(tmp_path.iterdir()) == sorted([model_dir, classification_csv])  # no temp dir left


def test_invalid_manifest_exit_code(tmp_path: Path, classification_csv: Path) -> None:
    model_dir = write_model_dir(tmp_path / "model", classification_manifest(task="clustering"))

    run = run_subprocess(train_args(model_dir, classification_csv, tmp_path / "out"))

    assert run.exit_code == 2
    assert run.last["kind"] == "InvalidManifest"
    assert run.last["traceback_tail"] is None
    assert "field 'task'" in run.last["message"]
    assert not (tmp_path / "out").exists()


def test_usage_error_is_not_confused_with_invalid_manifest(tmp_path: Path) -> None:
    run = run_subprocess(["train", "--model-dir", str(tmp_path)])

    assert run.exit_code == 64
    assert run.last["kind"] == "UsageError"
    assert "--dataset" in run.last["message"]
