"""Trains the failure classifier: gradient boosted trees on the raw sensor readings."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.ensemble import GradientBoostingClassifier


def train(X: pd.DataFrame, y: pd.Series, params: dict[str, Any]) -> GradientBoostingClassifier:
    model = GradientBoostingClassifier(
        n_estimators=int(params.get("n_estimators", 150)),
        max_depth=int(params.get("max_depth", 2)),
        learning_rate=float(params.get("learning_rate", 0.05)),
        subsample=float(params.get("subsample", 0.8)),
        min_samples_leaf=int(params.get("min_samples_leaf", 50)),
        # Fixed so the same data and params give the same model (and artifact bytes).
        random_state=int(params.get("random_state", 7)),
    )
    model.fit(X, y)
    print(f"trained {model.n_estimators_} trees on {len(X)} rows ({int(y.sum())} failures)")
    return model
