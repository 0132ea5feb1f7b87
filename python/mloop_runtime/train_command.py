"""The `train` command: manifest -> dataset -> holdout split -> user train -> metrics -> artifact."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from .dataset import load_dataset
from .entrypoints import describe_exception, load_entrypoint, traceback_tail, user_modules_importable
from .errors import TrainingFailed
from .holdout import split_holdout
from .manifest import load_manifest
from .metrics import compute_metrics, parse_predict_output
from .output_dir import StagedOutputDir, check_output_target
from .protocol import ProtocolWriter, json_safe

ARTIFACT_FILENAME = "model.joblib"
METRICS_FILENAME = "metrics.json"


@dataclass(frozen=True)
class TrainOptions:
    model_dir: Path
    dataset: Path
    out: Path
    params_override: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    holdout_fraction: float = 0.2


def _call_user(role: str, model_dir: Path, function: Callable[..., Any], *args: Any) -> Any:
    """Runs user code; anything it raises (even sys.exit) becomes TrainingFailed."""
    try:
        return function(*args)
    except (Exception, SystemExit) as exc:
        raise TrainingFailed(
            f"{role} raised {describe_exception(exc)}",
            traceback_tail=traceback_tail(exc, user_root=model_dir),
        ) from exc


def _seed_global_rngs(seed: int) -> None:
    # So user code that relies on the global RNGs (random, np.random) is repeatable too.
    random.seed(seed)
    np.random.seed(seed)


def run_train(options: TrainOptions, writer: ProtocolWriter) -> dict[str, Any]:
    """Runs the whole train command and returns the payload of the `result` event."""
    check_output_target(options.out)  # fail before doing an expensive training
    manifest = load_manifest(options.model_dir)
    params = {**manifest.params, **options.params_override}

    with user_modules_importable(manifest.model_dir):
        train = load_entrypoint(manifest.train, "train", manifest.path)
        predict = load_entrypoint(manifest.predict, "predict", manifest.path)

        started = time.monotonic()
        writer.progress("load", "started", file=str(options.dataset))
        dataset = load_dataset(options.dataset, manifest)
        writer.progress("load", "done", rows=dataset.rows, seconds=round(time.monotonic() - started, 3))

        train_pos, holdout_pos = split_holdout(dataset.rows, options.holdout_fraction, options.seed)
        # Positional selection, then a fresh 0..n-1 index so user code sees plain frames.
        x_train = dataset.features.iloc[train_pos].reset_index(drop=True)
        y_train = dataset.target.iloc[train_pos].reset_index(drop=True)
        x_holdout = dataset.features.iloc[holdout_pos].reset_index(drop=True)
        y_holdout = dataset.target.iloc[holdout_pos].reset_index(drop=True)
        writer.progress(
            "split",
            "done",
            rows=dataset.rows,
            train=len(train_pos),
            holdout=len(holdout_pos),
            seed=options.seed,
        )

        started = time.monotonic()
        writer.progress("train", "started", rows=len(x_train))
        _seed_global_rngs(options.seed)
        model = _call_user(
            f"train entrypoint '{manifest.train}'",
            manifest.model_dir,
            train,
            x_train,
            y_train,
            json.loads(json.dumps(params)),
        )
        if model is None:
            raise TrainingFailed(
                f"train entrypoint '{manifest.train}' returned None; it must return the fitted model"
            )
        writer.progress("train", "done", rows=len(x_train), seconds=round(time.monotonic() - started, 3))

        started = time.monotonic()
        writer.progress("evaluate", "started", rows=len(x_holdout))
        raw_output = _call_user(
            f"predict entrypoint '{manifest.predict}'", manifest.model_dir, predict, model, x_holdout
        )
        output = parse_predict_output(raw_output, len(x_holdout), dataset.classes)
        metrics = compute_metrics(manifest.task, manifest.metrics, y_holdout, output, dataset.classes)
        writer.progress("evaluate", "done", rows=len(x_holdout), seconds=round(time.monotonic() - started, 3))

        writer.progress("save", "started", rows=len(x_train))
        with StagedOutputDir(options.out) as staged:
            assert staged.path is not None
            try:
                joblib.dump(model, staged.path / ARTIFACT_FILENAME)
            except Exception as exc:  # e.g. a lambda or an open file inside the model
                raise TrainingFailed(
                    f"the model returned by train could not be pickled: {describe_exception(exc)}",
                    traceback_tail=traceback_tail(exc),
                ) from exc
            (staged.path / METRICS_FILENAME).write_text(
                json.dumps(json_safe(metrics), indent=2, allow_nan=False) + "\n", encoding="utf-8"
            )
            staged.commit()
        writer.progress("save", "done", rows=len(x_train))

    return {
        "artifact": ARTIFACT_FILENAME,
        "metrics": metrics,
        "rows": {"train": len(x_train), "holdout": len(x_holdout)},
        "params": params,
    }
