"""Calling the user's functions: failures become TrainingFailed, global RNGs are seeded."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .entrypoints import describe_exception, traceback_tail
from .errors import TrainingFailed


def call_user(role: str, model_dir: Path, function: Callable[..., Any], *args: Any) -> Any:
    """Runs user code; anything it raises (even sys.exit) becomes TrainingFailed.

    `role` names the call in the message, e.g. "train entrypoint 'train:train'".
    """
    try:
        return function(*args)
    except (Exception, SystemExit) as exc:
        raise TrainingFailed(
            f"{role} raised {describe_exception(exc)}",
            traceback_tail=traceback_tail(exc, user_root=model_dir),
        ) from exc


def seed_global_rngs(seed: int) -> None:
    # So user code that relies on the global RNGs (random, np.random) is repeatable too.
    random.seed(seed)
    np.random.seed(seed)
