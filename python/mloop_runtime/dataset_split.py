"""Loading the dataset and splitting off the holdout: the same steps (and progress
events) for `train` and `evaluate`, so both score exactly the same rows."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .dataset import Dataset, load_dataset
from .holdout import holdout_summary, split_holdout
from .manifest import Manifest
from .protocol import ProtocolWriter


@dataclass(frozen=True)
class SplitDataset:
    dataset: Dataset
    train_positions: np.ndarray  # 0-based row positions, ascending
    holdout_positions: np.ndarray
    holdout: dict[str, Any]  # the result event's `holdout` object


def load_and_split(path: Path, manifest: Manifest, seed: int, fraction: float, writer: ProtocolWriter) -> SplitDataset:
    started = time.monotonic()
    writer.progress("load", "started", file=str(path))
    dataset = load_dataset(path, manifest)
    writer.progress("load", "done", rows=dataset.rows, seconds=round(time.monotonic() - started, 3))

    train_positions, holdout_positions = split_holdout(dataset.rows, fraction, seed)
    writer.progress(
        "split",
        "done",
        rows=dataset.rows,
        train=len(train_positions),
        holdout=len(holdout_positions),
        seed=seed,
    )
    return SplitDataset(dataset, train_positions, holdout_positions, holdout_summary(seed, fraction, holdout_positions))
