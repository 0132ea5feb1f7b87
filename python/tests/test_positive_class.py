"""One positive class for training, evaluation and shadow tests (metrics.positive_class):
the manifest's `positive_class`, else the larger of the two classes; recorded in the result
so that the engine keeps it with the version."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import (
    REGRESSOR_PREDICT,
    REGRESSOR_TRAIN,
    classification_manifest,
    evaluate_args,
    regression_manifest,
    run_in_process,
    train_args,
    write_model_dir,
)
from mloop_runtime.errors import DatasetInvalid, InvalidManifest
from mloop_runtime.holdout import split_holdout
from mloop_runtime.manifest import load_manifest
from mloop_runtime.metrics import PredictOutput, positive_class, regression_metrics
from mloop_runtime.serve_model import ServedModel
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression

WHERE = "mloop.yaml: field 'positive_class'"


@pytest.mark.parametrize(
    ("classes", "declared", "expected"),
    [
        ((0, 1), None, 1),
        ((1, 2), None, 2),
        (("no", "yes"), None, "yes"),
        (("fail", "ok"), "fail", "fail"),
        ((0, 1), "1", 1),  # a manifest may quote the integer class
        ((0, 1), 0, 0),
        (("a", "b", "c"), None, None),  # macro averages
    ],
)
def test_the_rule(classes: tuple[object, ...], declared: str | int | None, expected: object) -> None:
    assert positive_class(classes, declared, WHERE) == expected


def test_a_positive_class_that_is_no_class_is_refused_naming_the_field() -> None:
    with pytest.raises(DatasetInvalid, match=r"field 'positive_class': 'Yes' is not a class of the target"):
        positive_class(("no", "yes"), "Yes", WHERE)
    with pytest.raises(DatasetInvalid, match=r"'a' needs a target with two classes, but it has 3"):
        positive_class(("a", "b", "c"), "a", WHERE)


def _yes_no_csv(path: Path, rows: int = 200) -> Path:
    rng = np.random.default_rng(11)
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    label = np.where(x1 + 0.5 * x2 + rng.normal(scale=0.8, size=rows) > 0.3, "yes", "no")
    pd.DataFrame({"x1": x1.round(4), "x2": x2.round(4), "site": "n", "label": label}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("declared", "positive"), [(None, "yes"), ("no", "no")])
def test_train_and_evaluate_score_and_report_the_positive_class(
    tmp_path: Path, declared: str | None, positive: str
) -> None:
    csv = _yes_no_csv(tmp_path / "yes-no.csv")
    extra = {} if declared is None else {"positive_class": declared}
    model_dir = write_model_dir(tmp_path / "model", classification_manifest(**extra))

    run = run_in_process(train_args(model_dir, csv, tmp_path / "out"))
    assert run.exit_code == 0, run.events
    result = run.last
    assert result["positive_class"] == positive

    # The same figures computed directly with scikit-learn, positive class named explicitly.
    model = joblib.load(tmp_path / "out" / "model.joblib")
    holdout = pd.read_csv(csv).iloc[split_holdout(200, 0.2, 0)[1]]
    truth, predicted = holdout["label"].to_numpy(), model.predict(holdout[["x1", "x2"]])
    assert result["metrics"]["precision"] == pytest.approx(skm.precision_score(truth, predicted, pos_label=positive))
    assert result["metrics"]["recall"] == pytest.approx(skm.recall_score(truth, predicted, pos_label=positive))
    assert result["metrics"]["f1"] == pytest.approx(skm.f1_score(truth, predicted, pos_label=positive))
    scores = model.predict_proba(holdout[["x1", "x2"]])[:, list(model.classes_).index(positive)]
    assert result["metrics"]["roc_auc"] == pytest.approx(skm.roc_auc_score(truth == positive, scores))

    evaluated = run_in_process(evaluate_args(model_dir, tmp_path / "out" / "model.joblib", csv))
    assert evaluated.exit_code == 0, evaluated.events
    assert evaluated.last["positive_class"] == positive
    assert evaluated.last["metrics"] == result["metrics"]


def test_a_positive_class_the_dataset_lacks_fails_before_training(tmp_path: Path) -> None:
    csv = _yes_no_csv(tmp_path / "yes-no.csv")
    model_dir = write_model_dir(tmp_path / "model", classification_manifest(positive_class="Yes"))

    run = run_in_process(train_args(model_dir, csv, tmp_path / "out"))

    assert run.exit_code == 3
    assert "field 'positive_class': 'Yes' is not a class of the target" in run.last["message"]
    assert not [e for e in run.of("progress") if e["phase"] == "train"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("positive_class: yes\n", 'must be a class: text or an integer (got True; quote a label, e.g. "yes")'),
        ("positive_class: [1]\n", "must be a class: text or an integer"),
        ("positive_class: 0.5\n", "must be a class: text or an integer"),
    ],
)
def test_manifest_positive_class_must_be_a_class(tmp_path: Path, text: str, problem: str) -> None:
    manifest = yaml.safe_dump(classification_manifest(), sort_keys=False) + text
    with pytest.raises(InvalidManifest, match=re.escape(problem)):
        load_manifest(write_model_dir(tmp_path / "model", manifest))


def test_manifest_positive_class_is_for_classification_only(tmp_path: Path) -> None:
    with pytest.raises(InvalidManifest, match="field 'positive_class': applies to classification only"):
        manifest = regression_manifest(positive_class=1)
        load_manifest(write_model_dir(tmp_path / "m", manifest, REGRESSOR_TRAIN, REGRESSOR_PREDICT))
    integral = classification_manifest(positive_class=1.0)
    assert load_manifest(write_model_dir(tmp_path / "c", integral)).positive_class == 1


def test_boolean_parquet_targets_are_the_classes_1_and_0(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    x1 = rng.normal(size=120)
    frame = pd.DataFrame({"x1": x1, "x2": rng.normal(size=120), "site": "n", "label": x1 > 0})
    frame.to_parquet(tmp_path / "bool.parquet")
    model_dir = write_model_dir(tmp_path / "model", classification_manifest())

    run = run_in_process(train_args(model_dir, tmp_path / "bool.parquet", tmp_path / "out"))

    assert run.exit_code == 0, run.events
    assert run.last["positive_class"] == 1
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["accuracy"] > 0.8


def test_rmse_of_a_diverging_prediction_is_its_size_not_missing() -> None:
    output = PredictOutput(np.array([1e200, 0.0, 0.0, 0.0]), None)
    metrics = regression_metrics(["mae", "rmse"], np.zeros(4), output)
    assert metrics["mae"] == 2.5e199
    assert metrics["rmse"] == pytest.approx(5e199, rel=1e-12)
    beyond = regression_metrics(["rmse"], np.array([-1.5e308]), PredictOutput(np.array([1.5e308]), None))
    assert beyond["rmse"] is None  # beyond the double range: JSON has no inf


def test_serving_answers_the_probability_of_the_declared_positive_class(tmp_path: Path) -> None:
    csv = _yes_no_csv(tmp_path / "yes-no.csv")
    frame = pd.read_csv(csv)
    for declared, column in ((None, 1), ("no", 0)):
        extra = {} if declared is None else {"positive_class": declared}
        manifest = load_manifest(write_model_dir(tmp_path / f"m-{declared}", classification_manifest(**extra)))
        model = LogisticRegression().fit(frame[["x1", "x2"]], frame["label"])

        def predict(m: Any, x: pd.DataFrame) -> dict[str, Any]:
            return {"predictions": m.predict(x[["x1", "x2"]]), "probabilities": m.predict_proba(x[["x1", "x2"]])}

        served = ServedModel(manifest=manifest, model=model, predict=predict, name="m", version="1")
        outputs = {t["name"]: t["data"] for t in served.infer(frame.head(5))}
        assert outputs["probabilities"] == model.predict_proba(frame.head(5)[["x1", "x2"]])[:, column].tolist()
