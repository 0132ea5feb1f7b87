"""The evaluate command: scores an existing artifact on the same holdout train used."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from conftest import (
    CLASSIFIER_TRAIN,
    PYTHON_DIR,
    classification_manifest,
    evaluate_args,
    run_in_process,
    train_args,
    write_model_dir,
)
from mloop_runtime.holdout import holdout_digest, split_holdout

EXAMPLE_MODEL = PYTHON_DIR.parent / "examples" / "predictive-maintenance" / "model"


def trained(tmp_path: Path, model_dir: Path, dataset: Path, *extra: str) -> tuple[Path, dict]:
    out = tmp_path / "trained"
    run = run_in_process(train_args(model_dir, dataset, out, *extra))
    assert run.exit_code == 0, run.events
    return out / "model.joblib", run.last


def test_train_result_echoes_manifest_and_holdout(
    tmp_path: Path, classifier_dir: Path, classification_csv: Path
) -> None:
    _, result = trained(tmp_path, classifier_dir, classification_csv, "--seed", "5", "--holdout-fraction", "0.25")

    assert result["manifest"] == {
        "name": "toy-classifier",
        "task": "classification",
        "metrics": ["accuracy", "precision", "recall", "f1", "roc_auc"],
        "gates": [],
        "features": ["x1", "x2", "site"],
        "target": "label",
    }
    holdout_positions = split_holdout(200, 0.25, 5)[1]
    assert result["holdout"] == {
        "seed": 5,
        "fraction": 0.25,
        "rows": 50,
        "digest": holdout_digest(holdout_positions),
    }


def test_evaluating_trains_own_artifact_reproduces_its_metrics(
    tmp_path: Path, classifier_dir: Path, classification_csv: Path
) -> None:
    artifact, train_result = trained(tmp_path, classifier_dir, classification_csv, "--seed", "7")

    run = run_in_process(evaluate_args(classifier_dir, artifact, classification_csv, seed=7, fraction=0.2))

    assert run.exit_code == 0, run.events
    assert run.last == {
        "event": "result",
        "metrics": train_result["metrics"],
        "holdout": train_result["holdout"],
        "manifest": train_result["manifest"],
        "positive_class": train_result["positive_class"],
    }
    assert train_result["positive_class"] == 1
    phases = [(e["phase"], e["status"]) for e in run.of("progress")]
    assert phases == [
        ("artifact", "started"),
        ("artifact", "done"),
        ("load", "started"),
        ("load", "done"),
        ("split", "done"),
        ("evaluate", "started"),
        ("evaluate", "done"),
    ]


def test_another_seed_gives_another_holdout(tmp_path: Path, classifier_dir: Path, classification_csv: Path) -> None:
    artifact, train_result = trained(tmp_path, classifier_dir, classification_csv, "--seed", "7")

    run = run_in_process(evaluate_args(classifier_dir, artifact, classification_csv, seed=8))

    assert run.exit_code == 0, run.events
    assert run.last["holdout"]["digest"] != train_result["holdout"]["digest"]


def test_champion_reads_only_its_own_features(tmp_path: Path, classification_csv: Path) -> None:
    # The champion was trained on x1, x2; today's dataset has gained a column it never saw.
    champion = write_model_dir(
        tmp_path / "champion",
        classification_manifest(features=[{"name": "x1", "type": "number"}, {"name": "x2", "type": "number"}]),
    )
    artifact, train_result = trained(tmp_path, champion, classification_csv)
    today = tmp_path / "today.parquet"
    frame = pd.read_csv(classification_csv)
    frame.insert(2, "humidity", np.linspace(0, 1, len(frame)))
    frame.to_parquet(today, index=False)

    run = run_in_process(evaluate_args(champion, artifact, today))

    assert run.exit_code == 0, run.events
    assert run.last["metrics"] == train_result["metrics"]
    assert run.last["manifest"]["features"] == ["x1", "x2"]


def test_missing_artifact(tmp_path: Path, classifier_dir: Path, classification_csv: Path) -> None:
    artifact = tmp_path / "gone" / "model.joblib"

    run = run_in_process(evaluate_args(classifier_dir, artifact, classification_csv))

    assert run.exit_code == 4
    assert run.last == {
        "event": "error",
        "kind": "TrainingFailed",
        "message": f"artifact {artifact}: file not found",
        "traceback_tail": None,
    }
    assert run.of("progress") == []  # failed before reading the dataset


def test_unloadable_artifact(tmp_path: Path, classifier_dir: Path, classification_csv: Path) -> None:
    artifact = tmp_path / "model.joblib"
    artifact.write_bytes(b"not a pickle")

    run = run_in_process(evaluate_args(classifier_dir, artifact, classification_csv))

    assert run.exit_code == 4
    assert run.last["message"].startswith(f"loading the artifact {artifact} failed: ")
    assert run.last["traceback_tail"]


def test_predict_raising_names_the_exception(tmp_path: Path, classifier_dir: Path, classification_csv: Path) -> None:
    artifact, _ = trained(tmp_path, classifier_dir, classification_csv)
    broken = write_model_dir(
        tmp_path / "broken",
        classification_manifest(),
        CLASSIFIER_TRAIN,
        "def predict(model, X):\n    raise KeyError('x9')\n",
    )

    run = run_in_process(evaluate_args(broken, artifact, classification_csv))

    assert run.exit_code == 4
    assert run.last["message"] == "predict entrypoint 'predict:predict' raised KeyError: 'x9'"
    assert 'predict.py", line 2, in predict' in run.last["traceback_tail"]


def test_ragged_predict_output_is_a_contract_violation(
    tmp_path: Path, classifier_dir: Path, classification_csv: Path
) -> None:
    artifact, _ = trained(tmp_path, classifier_dir, classification_csv)
    ragged = write_model_dir(
        tmp_path / "ragged",
        classification_manifest(),
        CLASSIFIER_TRAIN,
        "def predict(model, X):\n    return [[0], [0, 1]] * (len(X) // 2)\n",
    )

    run = run_in_process(evaluate_args(ragged, artifact, classification_csv))

    assert run.exit_code == 4
    assert run.last["message"].startswith("predict contract: predictions is not a proper array (ValueError: ")


def test_dataset_and_manifest_errors_keep_their_exit_codes(
    tmp_path: Path, classifier_dir: Path, classification_csv: Path
) -> None:
    artifact, _ = trained(tmp_path, classifier_dir, classification_csv)
    bad = tmp_path / "bad.csv"
    bad.write_text("x1,x2,site,label\n1,oops,a,0\n2,3,b,1\n")
    invalid = write_model_dir(tmp_path / "invalid", classification_manifest(task="clustering"))

    dataset_run = run_in_process(evaluate_args(classifier_dir, artifact, bad))
    manifest_run = run_in_process(evaluate_args(invalid, artifact, classification_csv))

    assert (dataset_run.exit_code, dataset_run.last["kind"]) == (3, "DatasetInvalid")
    assert dataset_run.last["rows"] == [{"row": 1, "column": "x2", "reason": "not a number"}]
    assert (manifest_run.exit_code, manifest_run.last["kind"]) == (2, "InvalidManifest")


def test_seed_and_fraction_are_required(tmp_path: Path, classifier_dir: Path, classification_csv: Path) -> None:
    args = evaluate_args(classifier_dir, tmp_path / "m.joblib", classification_csv)[:-4]

    run = run_in_process(args)

    assert run.exit_code == 64
    assert run.last["message"].endswith("the following arguments are required: --seed, --holdout-fraction")


def machines(rows: int, seed: int) -> pd.DataFrame:
    """Readings shaped like the example's generator (examples/predictive-maintenance/data)."""
    rng = np.random.default_rng(seed)
    wear = rng.random(rows)
    frame = pd.DataFrame(
        {
            "machine_id": [f"M-{i % 50:04d}" for i in range(rows)],
            "temperature_c": (70 + 8 * rng.normal(size=rows) + 6 * wear).round(2),
            "vibration_mm_s": np.maximum(0, 4 + 1.5 * rng.normal(size=rows) + 1.5 * wear).round(3),
            "pressure_bar": (5 + 0.6 * rng.normal(size=rows) - 0.4 * wear).round(3),
            "rpm": (1500 + 120 * rng.normal(size=rows)).round(1),
            "operating_hours": (10_000 + 6_000 * wear + 1_000 * rng.normal(size=rows)).round(0),
        }
    )
    z = -2 + 0.16 * (frame.temperature_c - 70) + 0.9 * (frame.vibration_mm_s - 4) - 1.5 * (frame.pressure_bar - 5)
    frame["failure"] = (rng.random(rows) < 1 / (1 + np.exp(-z))).astype(int)
    return frame


def test_example_model_train_then_evaluate(tmp_path: Path) -> None:
    # In-process: `evaluate` shares the process entry (and its tests) with `train`.
    csv = tmp_path / "machines.csv"
    machines(400, seed=1).to_csv(csv, index=False)
    artifact, train_result = trained(tmp_path, EXAMPLE_MODEL, csv, "--seed", "3", "--params", '{"n_estimators": 20}')

    run = run_in_process(evaluate_args(EXAMPLE_MODEL, artifact, csv, seed=3))

    assert run.exit_code == 0, run.events
    assert run.last["metrics"] == train_result["metrics"]
    assert run.last["holdout"] == train_result["holdout"]
    assert run.last["manifest"]["gates"] == [
        {
            "metric": "roc_auc",
            "threshold": 0.75,
            "min_absolute_change": 0.0,
            "greater_is_better": True,
        }
    ]
