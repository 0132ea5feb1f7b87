"""Builders for small synthetic model directories and CSVs, and ways to run the runtime."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from mloop_runtime.cli import main

PYTHON_DIR = Path(__file__).resolve().parents[1]

CLASSIFIER_TRAIN = """
from sklearn.linear_model import LogisticRegression

def train(X, y, params):
    print("training on", len(X), "rows with C =", params["C"])
    return LogisticRegression(C=params["C"], max_iter=200).fit(X[["x1", "x2"]], y)
"""

CLASSIFIER_PREDICT = """
def predict(model, X):
    X = X[["x1", "x2"]]
    return {"predictions": model.predict(X), "probabilities": model.predict_proba(X)}
"""

REGRESSOR_TRAIN = """
from sklearn.linear_model import Ridge

def train(X, y, params):
    return Ridge(alpha=params.get("alpha", 1.0)).fit(X, y)
"""

REGRESSOR_PREDICT = """
def predict(model, X):
    return model.predict(X)
"""


def classification_manifest(**overrides: Any) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "name": "toy-classifier",
        "task": "classification",
        "train": "train:train",
        "predict": "predict:predict",
        "features": [
            {"name": "x1", "type": "number"},
            {"name": "x2", "type": "number"},
            {"name": "site", "type": "string"},
        ],
        "target": "label",
        "params": {"C": 1.0},
    }
    manifest.update(overrides)
    return manifest


def regression_manifest(**overrides: Any) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "name": "toy-regressor",
        "task": "regression",
        "train": "train:train",
        "predict": "predict:predict",
        "features": [{"name": "a", "type": "number"}, {"name": "b", "type": "integer"}],
        "target": "y",
    }
    manifest.update(overrides)
    return manifest


def write_model_dir(
    root: Path,
    manifest: dict[str, Any] | str,
    train_py: str = CLASSIFIER_TRAIN,
    predict_py: str = CLASSIFIER_PREDICT,
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    text = manifest if isinstance(manifest, str) else yaml.safe_dump(manifest, sort_keys=False)
    (root / "mloop.yaml").write_text(text)
    (root / "train.py").write_text(textwrap.dedent(train_py))
    (root / "predict.py").write_text(textwrap.dedent(predict_py))
    return root


def write_classification_csv(path: Path, rows: int = 200) -> Path:
    rng = np.random.default_rng(5)
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    label = (x1 + 0.5 * x2 + rng.normal(scale=0.5, size=rows) > 0).astype(int)
    pd.DataFrame(
        {
            "id": [f"R-{i:04d}" for i in range(rows)],  # extra column: must be ignored
            "x1": x1.round(4),
            "x2": x2.round(4),
            "site": rng.choice(["north", "south"], size=rows),
            "label": label,
        }
    ).to_csv(path, index=False)
    return path


def write_regression_csv(path: Path, rows: int = 200) -> Path:
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=rows), rng.integers(0, 10, size=rows)
    y = 3 * a + 0.5 * b + rng.normal(scale=0.1, size=rows)
    pd.DataFrame({"a": a.round(4), "b": b, "y": y.round(4)}).to_csv(path, index=False)
    return path


@dataclass
class Run:
    exit_code: int
    events: list[dict[str, Any]]
    stderr: str = ""

    @property
    def last(self) -> dict[str, Any]:
        return self.events[-1]

    def of(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == event]


def train_args(model_dir: Path, dataset: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--model-dir", str(model_dir), "--dataset", str(dataset), "--out", str(out), *extra]


def evaluate_args(model_dir: Path, artifact: Path, dataset: Path, seed: int = 0, fraction: float = 0.2) -> list[str]:
    return [
        "evaluate",
        "--model-dir",
        str(model_dir),
        "--artifact",
        str(artifact),
        "--dataset",
        str(dataset),
        "--seed",
        str(seed),
        "--holdout-fraction",
        str(fraction),
    ]


def run_in_process(args: list[str]) -> Run:
    stream = io.StringIO()
    exit_code = main(args, stream)
    return Run(exit_code, [json.loads(line) for line in stream.getvalue().splitlines()])


def run_subprocess(args: list[str]) -> Run:
    env = {**os.environ, "PYTHONPATH": str(PYTHON_DIR)}
    env.pop("PYTHONHASHSEED", None)  # exercise the runtime's own re-exec
    proc = subprocess.run(
        [sys.executable, "-m", "mloop_runtime", *args], capture_output=True, text=True, env=env, timeout=120
    )
    # Every stdout line must be a JSON event: that is the protocol.
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    return Run(proc.returncode, events, proc.stderr)


@pytest.fixture
def classifier_dir(tmp_path: Path) -> Path:
    return write_model_dir(tmp_path / "model", classification_manifest())


@pytest.fixture
def classification_csv(tmp_path: Path) -> Path:
    return write_classification_csv(tmp_path / "classification.csv")


@pytest.fixture
def regressor_dir(tmp_path: Path) -> Path:
    return write_model_dir(tmp_path / "model", regression_manifest(), REGRESSOR_TRAIN, REGRESSOR_PREDICT)


@pytest.fixture
def regression_csv(tmp_path: Path) -> Path:
    return write_regression_csv(tmp_path / "regression.csv")
