"""`serve` in-process: request parsing, output tensors, and startup errors."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import (
    CLASSIFIER_TRAIN,
    classification_manifest,
    regression_manifest,
    run_in_process,
    train_args,
    write_model_dir,
)
from mloop_runtime.dataset import load_dataset
from mloop_runtime.errors import TrainingFailed
from mloop_runtime.manifest import Manifest, load_manifest
from mloop_runtime.serve_model import ServedModel
from mloop_runtime.serve_request import BadRequest, parse_infer_request

MIXED_FEATURES = [
    {"name": "a", "type": "number", "min": 0},
    {"name": "b", "type": "integer"},
    {"name": "s", "type": "string"},
]


@pytest.fixture
def mixed(tmp_path: Path) -> Manifest:
    return load_manifest(write_model_dir(tmp_path / "model", regression_manifest(features=MIXED_FEATURES)))


def body(*inputs: dict[str, Any], **extra: Any) -> bytes:
    return json.dumps({"inputs": list(inputs), **extra}).encode()


def tensor(name: str, datatype: str, data: list[Any], shape: list[int] | None = None) -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": shape or [len(data)], "data": data}


def test_frame_equals_what_a_dataset_gives_predict(tmp_path: Path, mixed: Manifest) -> None:
    csv = tmp_path / "rows.csv"
    csv.write_text("a,b,s,y\n1.5,3,x,0\n,-7,,1\n2.25,0,y z,0\n")
    expected = load_dataset(csv, mixed).features

    rid, frame = parse_infer_request(
        body(
            tensor("s", "BYTES", ["x", None, "y z"]),  # order of inputs does not matter
            tensor("a", "FP64", [1.5, None, 2.25], shape=[3, 1]),
            tensor("b", "INT64", [3, -7.0, 0]),  # an integral float is an integer, as "-7.0" in a CSV
            id="r-1",
        ),
        mixed,
    )

    assert rid == "r-1"
    pd.testing.assert_frame_equal(frame, expected, check_exact=True)  # values and dtypes


@pytest.mark.parametrize(
    ("request_body", "error"),
    [
        (b"\xff", "request body is not valid JSON: "),
        (body(id=5), '"id" must be a string (got 5)'),
        (json.dumps({"inputs": {"a": []}}).encode(), '"inputs" must be a list of input tensors'),
        (body({"shape": [1]}), 'inputs[0] must be an object with "name", "shape", "datatype" and "data"'),
        (
            body(tensor("a", "FP64", [1.0]), tensor("a", "FP64", [2.0])),
            "input 'a' is given 2 times",
        ),
        (body(tensor("a", "FP64", [], shape=[0])), "input 'a': \"shape\" must be [N] or [N, 1] with N >= 1"),
        (body(tensor("a", "FP64", [1.0], shape=[1, 2])), "input 'a': \"shape\" must be [N] or [N, 1]"),
        (body({"name": "a", "shape": [1], "data": [1.0]}), "input 'a': \"datatype\" must be a string"),
        (body(tensor("a", "FP64", 1.0, shape=[1])), "input 'a': \"data\" must be a flat list of 1 values"),
    ],
)
def test_malformed_requests(mixed: Manifest, request_body: bytes, error: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_infer_request(request_body, mixed)

    assert caught.value.message.startswith(error), caught.value.message


def test_bad_values_are_listed_by_row_then_feature_up_to_ten(mixed: Manifest) -> None:
    rows = 12
    request = body(
        tensor("a", "FP64", [-1.0] * rows),  # below min 0
        tensor("b", "INT64", [2**63] + [1] * (rows - 1)),
        tensor("s", "BYTES", ["ok"] * rows),
    )

    with pytest.raises(BadRequest) as caught:
        parse_infer_request(request, mixed)
    assert caught.value.message == (
        "1 bad value: input 'b', data[0]: 9223372036854775808 is too large for a 64-bit integer"
    )

    request = body(
        tensor("a", "FP64", [-1.0] * rows),
        tensor("b", "INT64", [1] * rows),
        tensor("s", "BYTES", ["ok"] * rows),
    )
    with pytest.raises(BadRequest) as caught:
        parse_infer_request(request, mixed)
    message = caught.value.message
    assert message.startswith("12 bad values: input 'a', data[0]: below the declared minimum 0; input 'a', data[1]: ")
    assert message.endswith("input 'a', data[9]: below the declared minimum 0; ... and 2 more")


def test_bad_rows_are_named_with_all_their_problems(mixed: Manifest) -> None:
    request = body(
        tensor("a", "FP64", [1.0, -1.0, 2.0, "x"]),
        tensor("b", "INT64", [1, 1, 1.5, 1]),
        tensor("s", "BYTES", ["ok"] * 4),
    )

    with pytest.raises(BadRequest) as caught:
        parse_infer_request(request, mixed)

    assert caught.value.row_errors == [
        {"row": 2, "error": "input 'b': 1.5 is not an integer"},
        {"row": 3, "error": "input 'a': \"x\" is not a number"},
    ]
    request = body(
        tensor("a", "FP64", [1.0, -1.0, -2.0]), tensor("b", "INT64", [1, 1, 1]), tensor("s", "BYTES", ["ok"] * 3)
    )
    with pytest.raises(BadRequest) as caught:
        parse_infer_request(request, mixed)
    assert caught.value.row_errors == [
        {"row": 1, "error": "input 'a': below the declared minimum 0"},
        {"row": 2, "error": "input 'a': below the declared minimum 0"},
    ]
    with pytest.raises(BadRequest) as caught:
        parse_infer_request(body(tensor("a", "FP64", [1.0])), mixed)
    assert caught.value.row_errors == []  # a problem of the request, not of a row


def nested(levels: int) -> bytes:
    """A request whose "parameters" nest `levels` deep in all (the body object is level 1)."""
    return b'{"inputs": [], "parameters": {"p": ' + b"[" * (levels - 2) + b"]" * (levels - 2) + b"}}"


@pytest.mark.parametrize("levels", [65, 1000, 100_000])
def test_deeply_nested_bodies_are_refused_without_recursion(mixed: Manifest, levels: int) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_infer_request(nested(levels), mixed)

    assert caught.value.message == "request body nests arrays and objects more than 64 levels deep"


def test_nesting_up_to_64_levels_and_brackets_in_strings_are_fine(mixed: Manifest) -> None:
    for request_body in (
        nested(64),
        b'{"inputs": [], "parameters": {"p": "' + b"[{" * 50_000 + b'\\"]"}}',
    ):
        with pytest.raises(BadRequest) as caught:
            parse_infer_request(request_body, mixed)
        assert caught.value.message.startswith("missing input 'a'"), caught.value.message


def test_a_16_mib_body_of_brackets_is_scanned_quickly(mixed: Manifest) -> None:
    # Too deep only at its very end: the whole body is scanned, and refused before parsing.
    request_body = b"[" + b"[]," * (16 * 1024 * 1024 // 3) + b"[" * 70 + b"]" * 70 + b"]"
    started = time.monotonic()
    with pytest.raises(BadRequest) as caught:
        parse_infer_request(request_body, mixed)

    assert time.monotonic() - started < 2
    assert caught.value.message == "request body nests arrays and objects more than 64 levels deep"


class ThreeClasses:
    classes_ = np.array(["cat", "dog", "eel"], dtype=object)


def three_class_predict(model: Any, X: pd.DataFrame) -> dict[str, Any]:
    labels = np.array(["cat", "eel"] * len(X), dtype=object)[: len(X)]
    return {"predictions": labels, "probabilities": np.full((len(X), 3), 1 / 3)}


def served(tmp_path: Path, task_manifest: dict[str, Any], model: Any, predict: Any) -> ServedModel:
    manifest = load_manifest(write_model_dir(tmp_path / "model", task_manifest))
    return ServedModel(manifest, model, predict, "m", "1")


def frame_of(rows: int) -> pd.DataFrame:
    return pd.DataFrame({"x1": np.zeros(rows), "x2": np.zeros(rows), "site": ["north"] * rows})


def test_multiclass_text_labels_without_probabilities(tmp_path: Path) -> None:
    model = served(tmp_path, classification_manifest(), ThreeClasses(), three_class_predict)

    assert model.metadata()["outputs"] == [{"name": "predictions", "datatype": "BYTES", "shape": [-1]}]
    assert model.infer(frame_of(3)) == [
        {"name": "predictions", "shape": [3], "datatype": "BYTES", "data": ["cat", "eel", "cat"]}
    ]


def test_binary_probability_vector_from_a_model_without_classes(tmp_path: Path) -> None:
    def predict(model: Any, X: pd.DataFrame) -> dict[str, Any]:
        return {"predictions": [True, False], "probabilities": [0.75, 0.25]}

    model = served(tmp_path, classification_manifest(), object(), predict)

    assert [o["name"] for o in model.metadata()["outputs"]] == ["predictions", "probabilities"]
    assert model.infer(frame_of(2)) == [
        {"name": "predictions", "shape": [2], "datatype": "INT64", "data": [1, 0]},  # booleans as 0/1
        {"name": "probabilities", "shape": [2], "datatype": "FP64", "data": [0.75, 0.25]},
    ]


@pytest.mark.parametrize(
    ("task_manifest", "model", "output", "error"),
    [
        (
            classification_manifest(),
            object(),
            [0, 1, 0],
            "predict contract: predictions must have one value per row (2)",
        ),
        (
            classification_manifest(),
            ThreeClasses(),  # its classes_ say how many probability columns there must be
            {"predictions": ["cat", "dog"], "probabilities": [[0.5, 0.5]] * 2},
            "predict contract: probabilities must have shape (2, 3)",
        ),
        (
            regression_manifest(),
            object(),
            ["a", "b"],
            "predict contract: regression predictions must be numbers",
        ),
    ],
)
def test_predict_contract_violations(
    tmp_path: Path, task_manifest: dict[str, Any], model: Any, output: Any, error: str
) -> None:
    served_model = served(tmp_path, task_manifest, model, lambda m, X: output)

    with pytest.raises(TrainingFailed) as caught:
        served_model.infer(frame_of(2))

    assert caught.value.message.startswith(error), caught.value.message


def serve_args(model_dir: Path, artifact: Path, *extra: str, name: str = "m") -> list[str]:
    return ["serve", "--model-dir", str(model_dir), "--artifact", str(artifact)] + [
        "--model-name",
        name,
        "--model-version",
        "1",
        *extra,
    ]


def test_startup_errors_have_evaluates_kinds_and_exit_codes(tmp_path: Path, classification_csv: Path) -> None:
    model_dir = write_model_dir(tmp_path / "model", classification_manifest(), CLASSIFIER_TRAIN)
    trained = run_in_process(train_args(model_dir, classification_csv, tmp_path / "out"))
    assert trained.exit_code == 0
    artifact = tmp_path / "out" / "model.joblib"
    broken_artifact = tmp_path / "broken.joblib"
    broken_artifact.write_bytes(b"not a pickle")
    invalid_dir = write_model_dir(tmp_path / "invalid", classification_manifest(task="clustering"))

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        runs = {
            "invalid manifest": run_in_process(serve_args(invalid_dir, artifact)),
            "missing artifact": run_in_process(serve_args(model_dir, tmp_path / "gone.joblib")),
            "broken artifact": run_in_process(serve_args(model_dir, broken_artifact)),
            "bad port": run_in_process(serve_args(model_dir, artifact, "--port", "70000")),
            "slash in name": run_in_process(serve_args(model_dir, artifact, name="a/b")),
            "port taken": run_in_process(serve_args(model_dir, artifact, "--port", port)),
        }

    outcomes = {what: (run.exit_code, run.last["kind"]) for what, run in runs.items()}
    assert outcomes == {
        "invalid manifest": (2, "InvalidManifest"),
        "missing artifact": (4, "TrainingFailed"),
        "broken artifact": (4, "TrainingFailed"),
        "bad port": (64, "UsageError"),
        "slash in name": (64, "UsageError"),
        "port taken": (64, "UsageError"),
    }
    assert all(len(run.events) == 1 for run in runs.values())  # the error event only
    assert runs["missing artifact"].last["message"] == f"artifact {tmp_path / 'gone.joblib'}: file not found"
    assert runs["broken artifact"].last["message"].startswith(f"loading the artifact {broken_artifact} failed: ")
    assert runs["port taken"].last["message"].startswith(f"cannot listen on 127.0.0.1:{port}: ")
    assert "--port: must be between 0 (any free port) and 65535" in runs["bad port"].last["message"]
