"""The manifest's `monitoring:` section: validated by the runtime with every problem named
by its field, described by manifest.schema.json, and the two agree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import PYTHON_DIR, classification_manifest, regression_manifest, write_model_dir
from mloop_runtime.drift_config import DriftOverride, MonitoringConfig, Tolerances
from mloop_runtime.errors import InvalidManifest
from mloop_runtime.manifest import load_manifest

SCHEMA = json.loads((PYTHON_DIR / "mloop_runtime" / "manifest.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def load(tmp_path: Path, manifest: dict[str, Any]) -> MonitoringConfig:
    return load_manifest(write_model_dir(tmp_path / "model", manifest)).monitoring


def problems(tmp_path: Path, manifest: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidManifest) as caught:
        load(tmp_path, manifest)
    path = tmp_path / "model" / "mloop.yaml"
    return [p.removeprefix(f"{path}: ") for p in caught.value.problems or []]


def test_defaults_without_a_section(tmp_path: Path) -> None:
    config = load(tmp_path, classification_manifest())
    assert config == MonitoringConfig()
    assert (config.min_rows, config.drift_share, config.sample_rows) == (500, 0.5, 5000)


def test_a_full_section_is_read(tmp_path: Path) -> None:
    section = {
        "min_rows": 50,
        "drift_share": 0.3,
        "sample_rows": 2000.0,
        "features": {"x1": {"test": "psi", "threshold": 0.2}, "site": {"threshold": 0.01}},
        "predictions": {"prediction": {"test": "chisquare"}, "probability": {"test": "ks", "threshold": 0.01}},
        "unexpected": {"null_spike": 0.2, "prediction_out_of_range": 0, "class_mix": None},
    }
    manifest = classification_manifest(monitoring=section)
    VALIDATOR.validate(manifest)
    config = load(tmp_path, manifest)
    assert config.features == {"x1": DriftOverride("psi", 0.2), "site": DriftOverride(None, 0.01)}
    assert config.predictions["probability"] == DriftOverride("ks", 0.01)
    assert config.unexpected == Tolerances(null_spike=0.2, prediction_out_of_range=0.0, class_mix=0.1)
    assert (config.min_rows, config.drift_share, config.sample_rows) == (50, 0.3, 2000)
    assert config.to_json()["features"]["site"] == {"threshold": 0.01}


def test_every_problem_is_named_by_its_field(tmp_path: Path) -> None:
    section = {
        "min_rows": 0,
        "drift_share": 1.5,
        "window": "15m",
        "features": {"nope": {"test": "ks"}, "site": {"test": "wasserstein"}, "x1": {"test": "ks", "threshold": 2}},
        "predictions": {"prediction": {"test": "anderson"}},
        "unexpected": {"null_spike": 0},
    }
    found = problems(tmp_path, classification_manifest(monitoring=section))
    assert found == [
        "field 'monitoring.window': unknown field (allowed: min_rows, drift_share, sample_rows, features, "
        "predictions, unexpected)",
        "field 'monitoring.min_rows': must be an integer from 1 to 1000000000 (got 0 (int))",
        "field 'monitoring.drift_share': must be a number greater than 0 and at most 1 (got 1.5 (float))",
        "field 'monitoring.features.nope': not one of the columns (x1, x2, site)",
        "field 'monitoring.features.site.test': wasserstein needs numbers, but this column is categorical",
        "field 'monitoring.features.x1.threshold': a p-value threshold must be strictly between 0 and 1 (got 2.0)",
        "field 'monitoring.predictions.prediction.test': must be one of ks, chisquare, z, wasserstein, "
        "jensenshannon, psi (got 'anderson')",
        "field 'monitoring.unexpected.null_spike': must be a number greater than 0 and at most 1 (got 0 (int))",
    ]


def test_regression_has_no_probability_output(tmp_path: Path) -> None:
    manifest = regression_manifest(monitoring={"predictions": {"probability": {"test": "ks"}}})
    expected = "field 'monitoring.predictions.probability': not one of the columns (prediction)"
    assert problems(tmp_path, manifest) == [expected]


VALID = {
    "empty section": {},
    "null section": None,
    "thresholds only": {"features": {"x1": {"threshold": 0.2}}},
    "distance above one": {"features": {"x1": {"test": "wasserstein", "threshold": 1.5}}},
}
INVALID = {
    "not a mapping": [1],
    "unknown key": {"every": "15m"},
    "override without test or threshold": {"features": {"x1": {}}},
    "unknown test": {"features": {"x1": {"test": "t"}}},
    "negative threshold": {"features": {"x1": {"threshold": -1}}},
    "unknown output": {"predictions": {"score": {"test": "ks"}}},
    "sample too small": {"sample_rows": 10},
    "share above one": {"unexpected": {"class_mix": 2}},
}
RUNTIME_ONLY = {  # listed in the schema's $comment
    "unknown feature": {"features": {"nope": {"test": "psi"}}},
    "ks on text": {"features": {"site": {"test": "ks"}}},
    "p-value threshold of 1": {"features": {"x1": {"test": "ks", "threshold": 1}}},
    "threshold without test above 1": {"features": {"x1": {"threshold": 1.5}}},
}


@pytest.mark.parametrize("section", list(VALID.values()), ids=list(VALID))
def test_valid_sections_pass_both(tmp_path: Path, section: Any) -> None:
    manifest = classification_manifest(monitoring=section)
    VALIDATOR.validate(manifest)
    load(tmp_path, manifest)


@pytest.mark.parametrize("section", list(INVALID.values()), ids=list(INVALID))
def test_invalid_sections_fail_both(tmp_path: Path, section: Any) -> None:
    manifest = classification_manifest(monitoring=section)
    assert not VALIDATOR.is_valid(manifest)
    assert problems(tmp_path, manifest)


@pytest.mark.parametrize("section", list(RUNTIME_ONLY.values()), ids=list(RUNTIME_ONLY))
def test_rules_the_schema_cannot_express_are_checked_by_the_runtime(tmp_path: Path, section: Any) -> None:
    manifest = classification_manifest(monitoring=section)
    assert VALIDATOR.is_valid(manifest)
    assert problems(tmp_path, manifest)
