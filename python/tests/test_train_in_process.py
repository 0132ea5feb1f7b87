"""The train command called in-process (fast): results, determinism and failure modes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import (
    CLASSIFIER_TRAIN,
    REGRESSOR_PREDICT,
    REGRESSOR_TRAIN,
    classification_manifest,
    regression_manifest,
    run_in_process,
    train_args,
    write_model_dir,
)


def test_regression_happy_path(tmp_path: Path, regressor_dir: Path, regression_csv: Path) -> None:
    out = tmp_path / "out"

    run = run_in_process(train_args(regressor_dir, regression_csv, out, "--holdout-fraction", "0.25"))

    assert run.exit_code == 0, run.events
    assert run.last["event"] == "result"
    assert run.last["rows"] == {"train": 150, "holdout": 50}
    metrics = run.last["metrics"]
    assert list(metrics) == ["mae", "rmse", "r2"]
    assert metrics["r2"] > 0.95
    assert 0 < metrics["mae"] <= metrics["rmse"] < 0.5
    assert json.loads((out / "metrics.json").read_text()) == metrics


def test_same_inputs_give_byte_identical_artifacts_in_process(
    tmp_path: Path, classifier_dir: Path, classification_csv: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"

    assert run_in_process(train_args(classifier_dir, classification_csv, first, "--seed", "11")).exit_code == 0
    assert run_in_process(train_args(classifier_dir, classification_csv, second, "--seed", "11")).exit_code == 0

    assert (first / "model.joblib").read_bytes() == (second / "model.joblib").read_bytes()
    assert (first / "metrics.json").read_bytes() == (second / "metrics.json").read_bytes()


def test_seed_changes_the_holdout(tmp_path: Path, classifier_dir: Path, classification_csv: Path) -> None:
    a = run_in_process(train_args(classifier_dir, classification_csv, tmp_path / "a", "--seed", "1"))
    b = run_in_process(train_args(classifier_dir, classification_csv, tmp_path / "b", "--seed", "2"))

    assert (tmp_path / "a" / "model.joblib").read_bytes() != (tmp_path / "b" / "model.joblib").read_bytes()
    assert a.last["metrics"] != b.last["metrics"]


def test_params_override_is_merged_over_manifest_defaults(tmp_path: Path, classification_csv: Path) -> None:
    model_dir = write_model_dir(tmp_path / "model", classification_manifest(params={"C": 1.0, "keep": "me"}))

    run = run_in_process(train_args(model_dir, classification_csv, tmp_path / "out", "--params", '{"C": 0.25}'))

    assert run.exit_code == 0, run.events
    assert run.last["params"] == {"C": 0.25, "keep": "me"}
    assert {"event": "log", "stream": "stdout", "line": "training on 160 rows with C = 0.25"} in run.events


def test_manifest_metrics_select_what_is_reported(tmp_path: Path, classification_csv: Path) -> None:
    model_dir = write_model_dir(tmp_path / "model", classification_manifest(metrics=["f1", "accuracy"]))

    run = run_in_process(train_args(model_dir, classification_csv, tmp_path / "out"))

    assert list(run.last["metrics"]) == ["f1", "accuracy"]


def test_labels_only_predict_gives_null_roc_auc(tmp_path: Path, classification_csv: Path) -> None:
    predict_labels = "def predict(model, X):\n    return model.predict(X[['x1', 'x2']])\n"
    model_dir = write_model_dir(tmp_path / "model", classification_manifest(), CLASSIFIER_TRAIN, predict_labels)

    run = run_in_process(train_args(model_dir, classification_csv, tmp_path / "out"))

    assert run.exit_code == 0, run.events
    assert run.last["metrics"]["roc_auc"] is None
    assert run.last["metrics"]["accuracy"] > 0.7
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["roc_auc"] is None


def test_missing_dataset_column(tmp_path: Path, classifier_dir: Path) -> None:
    csv = tmp_path / "data.csv"
    csv.write_text("x1,site,label\n1,a,0\n2,b,1\n3,a,0\n")
    out = tmp_path / "out"

    run = run_in_process(train_args(classifier_dir, csv, out))

    assert run.exit_code == 3
    assert run.last["kind"] == "DatasetInvalid"
    assert "missing required column(s) 'x2'" in run.last["message"]
    assert str(csv) in run.last["message"]
    assert not out.exists()


def test_non_numeric_value_is_reported_with_its_row(tmp_path: Path, regressor_dir: Path) -> None:
    csv = tmp_path / "data.csv"
    csv.write_text("a,b,y\n1.0,1,2.0\noops,2,3.0\n2.5,3,4.0\n")

    run = run_in_process(train_args(regressor_dir, csv, tmp_path / "out"))

    assert run.exit_code == 3
    # Row 2 is the second data row (line 3 of the file: the header is not a row).
    assert run.last["message"] == f"{csv}: 1 bad row: row 2 column 'a': not a number"
    assert run.last["rows"] == [{"row": 2, "column": "a", "reason": "not a number"}]


def test_missing_dataset_file(tmp_path: Path, classifier_dir: Path) -> None:
    run = run_in_process(train_args(classifier_dir, tmp_path / "nope.csv", tmp_path / "out"))

    assert run.exit_code == 3
    assert "dataset file not found" in run.last["message"]


@pytest.mark.parametrize(
    ("predict_py", "message"),
    [
        ("def predict(model, X):\n    return [0]\n", "predictions must have one value per row (40)"),
        ("def predict(model, X):\n    return {'labels': [0]}\n", "must have the key 'predictions'"),
        (
            "def predict(model, X):\n"
            "    labels = model.predict(X[['x1', 'x2']])\n"
            "    return {'predictions': labels, 'probabilities': [[1, 0, 0]] * len(X)}\n",
            "probabilities must have shape (40, 2)",
        ),
    ],
)
def test_predict_contract_violations(tmp_path: Path, classification_csv: Path, predict_py: str, message: str) -> None:
    model_dir = write_model_dir(tmp_path / "model", classification_manifest(), CLASSIFIER_TRAIN, predict_py)
    out = tmp_path / "out"

    run = run_in_process(train_args(model_dir, classification_csv, out))

    assert run.exit_code == 4
    assert run.last["kind"] == "TrainingFailed"
    assert message in run.last["message"]
    assert not out.exists()


def test_train_returning_none(tmp_path: Path, classification_csv: Path) -> None:
    model_dir = write_model_dir(tmp_path / "model", classification_manifest(), "def train(X, y, params):\n    pass\n")

    run = run_in_process(train_args(model_dir, classification_csv, tmp_path / "out"))

    assert run.exit_code == 4
    assert "returned None" in run.last["message"]


def test_sys_exit_in_user_code_is_a_training_failure(tmp_path: Path, classification_csv: Path) -> None:
    exiting = "import sys\n\ndef train(X, y, params):\n    sys.exit(3)\n"
    model_dir = write_model_dir(tmp_path / "model", classification_manifest(), exiting)

    run = run_in_process(train_args(model_dir, classification_csv, tmp_path / "out"))

    assert run.exit_code == 4
    assert "SystemExit(3)" in run.last["message"]


def test_import_error_in_user_module(tmp_path: Path, classification_csv: Path) -> None:
    model_dir = write_model_dir(tmp_path / "model", classification_manifest(), "import not_a_real_package\n")

    run = run_in_process(train_args(model_dir, classification_csv, tmp_path / "out"))

    assert run.exit_code == 4
    assert run.last["message"] == (
        "importing module 'train' of the train entrypoint failed: "
        "ModuleNotFoundError: No module named 'not_a_real_package'"
    )
    assert 'train.py", line 1' in run.last["traceback_tail"]


def test_missing_entrypoint_function(tmp_path: Path, classification_csv: Path) -> None:
    model_dir = write_model_dir(tmp_path / "model", classification_manifest(train="train:fit"))

    run = run_in_process(train_args(model_dir, classification_csv, tmp_path / "out"))

    assert run.exit_code == 2
    assert run.last["message"] == f"{model_dir / 'mloop.yaml'}: field 'train': module 'train' has no attribute 'fit'"


def test_non_empty_out_dir_is_refused(tmp_path: Path, classifier_dir: Path, classification_csv: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")

    run = run_in_process(train_args(classifier_dir, classification_csv, out))

    assert run.exit_code == 64
    assert (out / "keep.txt").exists()


def test_empty_out_dir_is_replaced(tmp_path: Path, regressor_dir: Path, regression_csv: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()

    assert run_in_process(train_args(regressor_dir, regression_csv, out)).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "model.joblib", "reference-profile.json"]


def test_model_dirs_do_not_leak_modules_between_runs(
    tmp_path: Path, classification_csv: Path, regression_csv: Path
) -> None:
    clf = write_model_dir(tmp_path / "clf", classification_manifest())
    reg = write_model_dir(tmp_path / "reg", regression_manifest(), REGRESSOR_TRAIN, REGRESSOR_PREDICT)

    assert run_in_process(train_args(clf, classification_csv, tmp_path / "o1")).exit_code == 0
    run = run_in_process(train_args(reg, regression_csv, tmp_path / "o2"))

    assert run.exit_code == 0, run.events
    assert "r2" in run.last["metrics"]


def test_unpicklable_model_leaves_nothing_behind(tmp_path: Path, classification_csv: Path) -> None:
    train_py = CLASSIFIER_TRAIN + (
        "\n_fit = train\n\n"
        "def train(X, y, params):\n"
        "    m = _fit(X, y, params)\n    m.hook = lambda: None  # unpicklable\n    return m\n"
    )
    model_dir = write_model_dir(tmp_path / "model", classification_manifest(), train_py)
    out = tmp_path / "runs" / "out"

    run = run_in_process(train_args(model_dir, classification_csv, out))

    assert run.exit_code == 4
    assert run.last["message"].startswith("the model returned by train could not be pickled")
    assert list((tmp_path / "runs").iterdir()) == []  # neither OUTDIR nor the temp dir


def test_multiclass_text_labels(tmp_path: Path) -> None:
    csv = tmp_path / "iris-ish.csv"
    rows = ["x1,x2,site,label"] + [
        f"{i % 3 + (i % 7) / 10},{(i * 7) % 5},s,{['setosa', 'versicolor', 'virginica'][i % 3]}" for i in range(90)
    ]
    csv.write_text("\n".join(rows) + "\n")
    model_dir = write_model_dir(tmp_path / "model", classification_manifest())

    run = run_in_process(train_args(model_dir, csv, tmp_path / "out"))

    assert run.exit_code == 0, run.events
    metrics = run.last["metrics"]
    assert metrics["roc_auc"] is None  # defined for binary tasks only
    assert metrics["accuracy"] > 0.9 and metrics["f1"] > 0.9  # f1 etc. macro-averaged
