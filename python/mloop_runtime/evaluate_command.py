"""The `evaluate` command: scores an existing artifact (e.g. the champion) on the same
deterministic holdout that `train` uses, with the predict code of the commit that
produced it, so the engine can compare it with a candidate metric by metric."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib

from .dataset_split import load_and_split
from .entrypoints import describe_exception, load_entrypoint, traceback_tail, user_modules_importable
from .errors import TrainingFailed
from .holdout_scoring import score_holdout, split_positive_class
from .manifest import load_manifest
from .protocol import ProtocolWriter


@dataclass(frozen=True)
class EvaluateOptions:
    model_dir: Path
    artifact: Path
    dataset: Path
    seed: int
    holdout_fraction: float


def check_artifact_exists(artifact: Path) -> None:
    """Fails early, before reading a possibly large dataset or binding a port."""
    if not artifact.is_file():
        raise TrainingFailed(f"artifact {artifact}: file not found")


def load_artifact(artifact: Path, model_dir: Path) -> Any:
    """Unpickles the model; call with the model dir importable (its classes live there).

    Shared with `serve`, so both report an unloadable artifact the same way.
    """
    try:
        return joblib.load(artifact)
    except (Exception, SystemExit) as exc:  # unpickling runs code: a missing module, a version clash
        raise TrainingFailed(
            f"loading the artifact {artifact} failed: {describe_exception(exc)}",
            traceback_tail=traceback_tail(exc, user_root=model_dir),
        ) from exc


def _load_artifact(artifact: Path, model_dir: Path, writer: ProtocolWriter) -> Any:
    started = time.monotonic()
    writer.progress("artifact", "started", file=str(artifact))
    model = load_artifact(artifact, model_dir)
    writer.progress("artifact", "done", seconds=round(time.monotonic() - started, 3))
    return model


def run_evaluate(options: EvaluateOptions, writer: ProtocolWriter) -> dict[str, Any]:
    """Runs the whole evaluate command and returns the payload of the `result` event."""
    manifest = load_manifest(options.model_dir)
    check_artifact_exists(options.artifact)

    with user_modules_importable(manifest.model_dir):
        predict = load_entrypoint(manifest.predict, "predict", manifest.path)
        model = _load_artifact(options.artifact, manifest.model_dir, writer)
        split = load_and_split(options.dataset, manifest, options.seed, options.holdout_fraction, writer)
        metrics = score_holdout(manifest, predict, model, split, options.seed, writer)
        positive = split_positive_class(manifest, split)

    return {
        "metrics": metrics,
        "holdout": split.holdout,
        "manifest": manifest.summary(),
        "positive_class": positive,
    }
