"""`train` writes the reference profile next to the artifact: per-feature statistics of
the training rows, histogram bins, a reproducible seeded sample, and the model's outputs
on the holdout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import (
    REGRESSOR_PREDICT,
    REGRESSOR_TRAIN,
    classification_manifest,
    regression_manifest,
    run_in_process,
    train_args,
    write_classification_csv,
    write_model_dir,
    write_regression_csv,
)
from mloop_runtime.holdout import split_holdout
from mloop_runtime.profile_build import PROFILE_FORMAT, sample_positions
from mloop_runtime.profile_format import load_profile


def train(tmp_path: Path, model_dir: Path, dataset: Path, name: str = "out", *extra: str) -> dict[str, Any]:
    out = tmp_path / name
    run = run_in_process(train_args(model_dir, dataset, out, *extra))
    assert run.exit_code == 0, run.last
    assert run.last["profile"] == "reference-profile.json"
    return json.loads((out / "reference-profile.json").read_text())


def test_classification_profile_summarises_the_training_rows(tmp_path: Path) -> None:
    model_dir = write_model_dir(tmp_path / "model", classification_manifest())
    dataset = write_classification_csv(tmp_path / "data.csv", rows=500)
    profile = train(tmp_path, model_dir, dataset)

    frame = pd.read_csv(dataset)
    train_positions, holdout_positions = split_holdout(len(frame), 0.2, 0)
    rows = frame.iloc[train_positions]
    assert profile["format"] == PROFILE_FORMAT
    assert (profile["training_rows"], profile["holdout_rows"]) == (400, 100)
    x1 = next(f for f in profile["features"] if f["name"] == "x1")
    s = x1["summary"]
    assert (s["count"], s["nulls"], s["non_finite"]) == (400, 0, 0)
    assert s["mean"] == pytest.approx(rows["x1"].mean(), abs=1e-12)
    assert s["std"] == pytest.approx(rows["x1"].std(ddof=0), abs=1e-12)
    assert (s["min"], s["max"]) == (rows["x1"].min(), rows["x1"].max())
    assert s["quantiles"]["0.5"] == pytest.approx(rows["x1"].median(), abs=1e-12)
    assert s["distinct"] == rows["x1"].nunique()
    edges = np.histogram_bin_edges(rows["x1"], bins="sturges")
    assert x1["histogram"] == {"edges": edges.tolist(), "counts": np.histogram(rows["x1"], edges)[0].tolist()}

    site = next(f for f in profile["features"] if f["name"] == "site")
    assert site["summary"]["frequencies"] == rows["site"].value_counts().to_dict()
    assert site["summary"]["distinct"] == 2 and site["histogram"] is None

    # Every training row is in the sample when there are at most sample_rows of them.
    assert profile["sample_rows"] == 400 and x1["sample"] == rows["x1"].tolist()
    assert profile["classes"] == ["0", "1"]
    assert [o["name"] for o in profile["outputs"]] == ["prediction", "probability"]
    prediction = profile["outputs"][0]
    assert prediction["type"] == "string" and len(prediction["sample"]) == 100
    assert sum(prediction["summary"]["frequencies"].values()) == 100
    assert profile["target"]["summary"]["frequencies"].keys() <= {"0", "1"}
    assert profile["monitoring"]["sample_rows"] == 5000


def test_the_sample_is_seeded_reproducible_and_bounded(tmp_path: Path) -> None:
    manifest = classification_manifest(monitoring={"sample_rows": 150})
    model_dir = write_model_dir(tmp_path / "model", manifest)
    dataset = write_classification_csv(tmp_path / "data.csv", rows=500)
    first = train(tmp_path, model_dir, dataset, "a")
    train(tmp_path, model_dir, dataset, "b")
    other_seed = train(tmp_path, model_dir, dataset, "c", "--seed", "9")
    assert (tmp_path / "a" / "reference-profile.json").read_bytes() == (
        tmp_path / "b" / "reference-profile.json"
    ).read_bytes()
    assert first["sample_rows"] == 150 and len(first["features"][0]["sample"]) == 150
    assert first["features"][0]["sample"] != other_seed["features"][0]["sample"]
    assert len(first["outputs"][0]["sample"]) == 100  # the whole holdout: fewer rows than the sample


def test_sample_positions_are_a_fixed_function_of_rows_size_and_seed() -> None:
    positions = sample_positions(10_000, 5000, seed=3)
    assert positions.size == 5000 and np.all(np.diff(positions) > 0)
    assert np.array_equal(positions, sample_positions(10_000, 5000, seed=3))
    # Pinned values: a change of the hashing would silently change every future profile.
    assert positions[:8].tolist() == [0, 3, 4, 5, 7, 11, 13, 14]
    assert sample_positions(20, 3, seed=0).tolist() == [7, 8, 15]
    assert not np.array_equal(positions, sample_positions(10_000, 5000, seed=4))
    assert np.array_equal(sample_positions(7, 5000, seed=3), np.arange(7))


def test_regression_profile_keeps_target_range_and_numeric_predictions(tmp_path: Path) -> None:
    model_dir = write_model_dir(tmp_path / "model", regression_manifest(), REGRESSOR_TRAIN, REGRESSOR_PREDICT)
    dataset = write_regression_csv(tmp_path / "data.csv", rows=300)
    profile = train(tmp_path, model_dir, dataset)
    frame = pd.read_csv(dataset)
    train_positions, _ = split_holdout(len(frame), 0.2, 0)
    assert profile["target"]["summary"]["min"] == frame["y"].iloc[train_positions].min()
    assert [(o["name"], o["type"]) for o in profile["outputs"]] == [("prediction", "number")]
    b = next(f for f in profile["features"] if f["name"] == "b")
    assert b["type"] == "integer" and all(isinstance(v, int) for v in b["sample"])
    assert b["histogram"]["values"] == sorted(set(frame["b"].iloc[train_positions]))  # few values: one bin each
    assert profile["classes"] is None


def test_missing_and_infinite_training_values_are_counted_and_null_in_the_sample(tmp_path: Path) -> None:
    model_dir = write_model_dir(
        tmp_path / "model",
        regression_manifest(features=[{"name": "a", "type": "number"}]),
        REGRESSOR_TRAIN.replace("fit(X, y)", "fit(X.fillna(0).clip(-1e9, 1e9), y)"),
        "def predict(model, X):\n    return model.predict(X.fillna(0).clip(-1e9, 1e9))\n",
    )
    dataset = tmp_path / "data.csv"
    a = [1.0, None, float("inf"), 2.0, -float("inf"), 3.0] * 20
    pd.DataFrame({"a": a, "y": range(120)}).to_csv(dataset, index=False)
    profile = train(tmp_path, model_dir, dataset)
    s = profile["features"][0]["summary"]
    train_positions, _ = split_holdout(120, 0.2, 0)
    rows = pd.Series(a).iloc[train_positions]
    assert s["count"] == 96
    assert (s["nulls"], s["non_finite"]) == (rows.isna().sum(), np.isinf(rows).sum())
    assert (s["min"], s["max"], s["distinct"]) == (1.0, 3.0, 3)
    assert {v for v in profile["features"][0]["sample"]} == {1.0, 2.0, 3.0, None}
    assert load_profile(tmp_path / "out" / "reference-profile.json").features[0].sample.size == 96
