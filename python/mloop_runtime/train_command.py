"""The `train` command: manifest -> dataset -> holdout split -> user train -> metrics -> artifact
and reference profile."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib

from .dataset_split import load_and_split
from .entrypoints import describe_exception, load_entrypoint, traceback_tail, user_modules_importable
from .errors import TrainingFailed
from .holdout_scoring import score_holdout_with_output, split_positive_class
from .manifest import load_manifest
from .output_dir import StagedOutputDir, check_output_target
from .profile_build import PROFILE_FILENAME, build_profile, write_profile
from .protocol import ProtocolWriter, json_safe
from .user_calls import call_user, seed_global_rngs

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


def run_train(options: TrainOptions, writer: ProtocolWriter) -> dict[str, Any]:
    """Runs the whole train command and returns the payload of the `result` event."""
    check_output_target(options.out)  # fail before doing an expensive training
    manifest = load_manifest(options.model_dir)
    params = {**manifest.params, **options.params_override}

    with user_modules_importable(manifest.model_dir):
        train = load_entrypoint(manifest.train, "train", manifest.path)
        predict = load_entrypoint(manifest.predict, "predict", manifest.path)

        split = load_and_split(options.dataset, manifest, options.seed, options.holdout_fraction, writer)
        x_train, y_train = split.dataset.take(split.train_positions)
        positive = split_positive_class(manifest, split)

        started = time.monotonic()
        writer.progress("train", "started", rows=len(x_train))
        seed_global_rngs(options.seed)
        model = call_user(
            f"train entrypoint '{manifest.train}'",
            manifest.model_dir,
            train,
            x_train,
            y_train,
            json.loads(json.dumps(params)),
        )
        if model is None:
            raise TrainingFailed(f"train entrypoint '{manifest.train}' returned None; it must return the fitted model")
        writer.progress("train", "done", rows=len(x_train), seconds=round(time.monotonic() - started, 3))

        metrics, holdout_output = score_holdout_with_output(manifest, predict, model, split, options.seed, writer)

        started = time.monotonic()
        writer.progress("profile", "started", rows=len(x_train))
        profile = build_profile(manifest, x_train, y_train, holdout_output, split.dataset.classes, options.seed)
        writer.progress("profile", "done", rows=len(x_train), seconds=round(time.monotonic() - started, 3))

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
            write_profile(staged.path / PROFILE_FILENAME, profile)
            (staged.path / METRICS_FILENAME).write_text(
                json.dumps(json_safe(metrics), indent=2, allow_nan=False) + "\n", encoding="utf-8"
            )
            staged.commit()
        writer.progress("save", "done", rows=len(x_train))

    return {
        "artifact": ARTIFACT_FILENAME,
        "profile": PROFILE_FILENAME,
        "metrics": metrics,
        "rows": {"train": len(x_train), "holdout": len(split.holdout_positions)},
        "params": params,
        "holdout": split.holdout,
        "manifest": manifest.summary(),
        # Recorded with the version: shadow tests score precision, recall and f1 of this class.
        "positive_class": positive,
    }
