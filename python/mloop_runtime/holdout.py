"""Deterministic train/holdout split.

Each row gets a 64-bit key = splitmix64(splitmix64(seed) XOR row_position); the
`holdout_rows` rows with the smallest keys form the holdout. The result depends only on
(seed, number of rows, fraction): not on numpy's RNG streams (which may change between
versions), the platform, or hash randomisation. Both parts keep the file's row order.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np

_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def splitmix64(values: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, vectorised; uint64 arithmetic wraps as intended."""
    z = values.astype(np.uint64) + _GOLDEN_GAMMA
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def holdout_size(rows: int, fraction: float) -> int:
    """round(rows * fraction), half up, with at least one row on each side."""
    if rows < 2:
        raise ValueError("need at least 2 rows to split")
    return max(1, min(rows - 1, math.floor(rows * fraction + 0.5)))


def split_holdout(rows: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns (train_positions, holdout_positions), both sorted ascending."""
    seed_key = splitmix64(np.array([seed], dtype=np.uint64))[0]
    keys = splitmix64(np.arange(rows, dtype=np.uint64) ^ seed_key)
    order = np.argsort(keys, kind="stable")  # ties (practically impossible) by position
    n_holdout = holdout_size(rows, fraction)
    return np.sort(order[n_holdout:]), np.sort(order[:n_holdout])


def holdout_digest(holdout_positions: np.ndarray) -> str:
    """sha256 over the sorted 0-based holdout positions, one decimal per line (no final
    newline): equal digests prove two runs scored the same rows of a dataset."""
    text = "\n".join(str(int(p)) for p in np.sort(holdout_positions))
    return "sha256:" + hashlib.sha256(text.encode("ascii")).hexdigest()


def holdout_summary(seed: int, fraction: float, holdout_positions: np.ndarray) -> dict[str, Any]:
    """The result event's `holdout` object."""
    return {
        "seed": seed,
        "fraction": fraction,
        "rows": len(holdout_positions),
        "digest": holdout_digest(holdout_positions),
    }
