"""Predicts failures: labels plus per-class probabilities (columns in class order 0, 1)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.ensemble import GradientBoostingClassifier


def predict(model: GradientBoostingClassifier, X: pd.DataFrame) -> dict[str, Any]:
    return {
        "predictions": model.predict(X),
        "probabilities": model.predict_proba(X),
    }
