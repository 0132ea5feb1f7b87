"""The real `python -m mloop_runtime serve` process: Open Inference Protocol over HTTP."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from conftest import (
    CLASSIFIER_TRAIN,
    PYTHON_DIR,
    REGRESSOR_TRAIN,
    classification_manifest,
    regression_manifest,
    run_in_process,
    train_args,
    write_classification_csv,
    write_model_dir,
    write_regression_csv,
)
from mloop_runtime.dataset import load_dataset
from mloop_runtime.entrypoints import load_entrypoint, user_modules_importable
from mloop_runtime.manifest import Manifest, load_manifest

# Logs the size of every call, and raises for a marker value, so a failing predict can be
# provoked through the API.
SERVED_CLASSIFIER_PREDICT = """
from pathlib import Path

def predict(model, X):
    with open(Path(__file__).with_name("calls.log"), "a") as log:
        log.write(f"{len(X)}\\n")
    if (X["x1"] == 777.0).any():
        raise ValueError("x1 of 777 is cursed")
    X = X[["x1", "x2"]]
    return {"predictions": model.predict(X), "probabilities": model.predict_proba(X)}
"""

# Sleeps for a marker value after leaving a file behind, so a test can signal the server
# while this request is in progress.
SLOW_REGRESSOR_PREDICT = """
import time
from pathlib import Path

def predict(model, X):
    if (X["a"] == -999.0).any():
        Path(__file__).with_name("slow-started").touch()
        time.sleep(1.0)
    return model.predict(X)
"""

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


@dataclass
class Server:
    proc: subprocess.Popen[str]
    ready: dict[str, Any]
    model_dir: Path
    artifact: Path

    @property
    def url(self) -> str:
        return f"http://{self.ready['host']}:{self.ready['port']}"

    def call(self, path: str, body: Any = None, method: str | None = None) -> tuple[int, Any]:
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with OPENER.open(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            with error:
                return error.code, json.loads(error.read())

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=15)
        finally:
            self.proc.kill()


def train(root: Path, model_dir: Path, dataset: Path) -> Path:
    out = root / "trained"
    run = run_in_process(train_args(model_dir, dataset, out))
    assert run.exit_code == 0, run.events
    return out / "model.joblib"


def launch(model_dir: Path, artifact: Path, name: str, version: str) -> Server:
    """Starts a server; `Server.ready` is filled in by `await_ready`."""
    # PYTHONHASHSEED set: skips the runtime's re-exec, which only costs startup time here.
    env = {**os.environ, "PYTHONPATH": str(PYTHON_DIR), "PYTHONHASHSEED": "0"}
    args = ["--model-dir", str(model_dir), "--artifact", str(artifact)]
    args += ["--model-name", name, "--model-version", version, "--port", "0"]
    with open(model_dir / "serve.stderr", "w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mloop_runtime", "serve", *args],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
        )
    return Server(proc, {}, model_dir, artifact)


def await_ready(server: Server) -> Server:
    assert server.proc.stdout is not None
    line = server.proc.stdout.readline()
    server.ready = json.loads(line)
    assert set(server.ready) == {"event", "host", "port", "model", "version"}, line
    return server


def tensors(manifest: Manifest, frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The columnar request inputs for the rows of `frame` (NaN as null)."""
    datatypes = {"number": "FP64", "integer": "INT64", "string": "BYTES"}
    return [
        {
            "name": f.name,
            "shape": [len(frame)],
            "datatype": datatypes[f.type],
            "data": [None if pd.isna(v) else v for v in frame[f.name].tolist()],
        }
        for f in manifest.features
    ]


def predict_directly(server: Server, frame: pd.DataFrame) -> Any:
    """What the predict entrypoint gives in this process, as `evaluate` calls it."""
    manifest = load_manifest(server.model_dir)
    with user_modules_importable(server.model_dir):
        predict = load_entrypoint(manifest.predict, "predict", manifest.path)
        return predict(joblib.load(server.artifact), frame)


@pytest.fixture(scope="module")
def launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    """Both test servers, started side by side (each takes seconds to import its libraries)."""
    root = tmp_path_factory.mktemp("served-classifier")
    features = [
        {"name": "x1", "type": "number"},
        {"name": "x2", "type": "number", "min": -10, "max": 10},
        {"name": "site", "type": "string", "categories": ["north", "south"]},
    ]
    model_dir = write_model_dir(
        root / "model",
        classification_manifest(features=features),
        CLASSIFIER_TRAIN,
        SERVED_CLASSIFIER_PREDICT,
    )
    dataset = write_classification_csv(root / "data.csv")
    servers = {"classifier": launch(model_dir, train(root, model_dir, dataset), "toy-classifier", "7")}

    root = tmp_path_factory.mktemp("served-regressor")
    model_dir = write_model_dir(root / "model", regression_manifest(), REGRESSOR_TRAIN, SLOW_REGRESSOR_PREDICT)
    dataset = write_regression_csv(root / "data.csv")
    servers["regressor"] = launch(model_dir, train(root, model_dir, dataset), "toy-regressor", "v1")
    try:
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture(scope="module")
def classifier(launched: dict[str, Server]) -> Iterator[Server]:
    server = await_ready(launched["classifier"])
    yield server
    assert server.stop() == 0


@pytest.fixture(scope="module")
def rows(classifier: Server) -> pd.DataFrame:
    """50 rows as `evaluate` would hand them to predict."""
    dataset = load_dataset(classifier.model_dir.parent / "data.csv", load_manifest(classifier.model_dir))
    return dataset.features.iloc[100:150].reset_index(drop=True)


def infer_body(classifier: Server, frame: pd.DataFrame, **extra: Any) -> dict[str, Any]:
    return {"inputs": tensors(load_manifest(classifier.model_dir), frame), **extra}


def test_ready_line_and_health(classifier: Server) -> None:
    assert classifier.ready == {
        "event": "ready",
        "host": "127.0.0.1",
        "port": classifier.ready["port"],
        "model": "toy-classifier",
        "version": "7",
    }
    assert isinstance(classifier.ready["port"], int) and classifier.ready["port"] > 0
    assert classifier.call("/v2/health/live") == (200, {"live": True})
    assert classifier.call("/v2/health/ready") == (200, {"ready": True})


def test_model_metadata_and_readiness(classifier: Server) -> None:
    metadata = {
        "name": "toy-classifier",
        "versions": ["7"],
        "platform": "mloop-python",
        "inputs": [
            {"name": "x1", "datatype": "FP64", "shape": [-1]},
            {"name": "x2", "datatype": "FP64", "shape": [-1]},
            {"name": "site", "datatype": "BYTES", "shape": [-1]},
        ],
        "outputs": [
            {"name": "predictions", "datatype": "INT64", "shape": [-1]},  # the 0/1 labels
            {"name": "probabilities", "datatype": "FP64", "shape": [-1]},
        ],
    }
    assert classifier.call("/v2/models/toy-classifier") == (200, metadata)
    assert classifier.call("/v2/models/toy-classifier/versions/7") == (200, metadata)
    ready = (200, {"name": "toy-classifier", "ready": True})
    assert classifier.call("/v2/models/toy-classifier/ready") == ready
    assert classifier.call("/v2/models/toy-classifier/versions/7/ready") == ready


@pytest.mark.parametrize(
    ("path", "method", "status", "error"),
    [
        (
            "/v2/models/other",
            "GET",
            404,
            "model 'other' not found (this server serves model 'toy-classifier')",
        ),
        ("/v2/models/other/infer", "POST", 404, "model 'other' not found"),
        ("/v2/models/toy-classifier/versions/8", "GET", 404, "model 'toy-classifier' has no version '8'"),
        ("/v2/models/toy-classifier/versions/8/infer", "POST", 404, "has no version '8'"),
        ("/v1/models/toy-classifier", "GET", 404, "no such endpoint: GET /v1/models/toy-classifier"),
        ("/v2/models/toy-classifier/infer", "GET", 405, "GET is not allowed here (use POST)"),
    ],
)
def test_unknown_model_version_or_endpoint(classifier: Server, path: str, method: str, status: int, error: str) -> None:
    body = {"inputs": []} if method == "POST" else None

    code, answer = classifier.call(path, body, method)

    assert code == status
    assert error in answer["error"]


@pytest.mark.parametrize("path", ["/v2/models/toy-classifier/infer", "/v2/models/toy-classifier/versions/7/infer"])
def test_batch_infer_matches_the_predict_entrypoint(classifier: Server, rows: pd.DataFrame, path: str) -> None:
    frame = rows.copy()
    frame.loc[4, "site"] = np.nan  # a missing value travels as null and becomes NaN again
    calls_log = classifier.model_dir / "calls.log"
    calls_before = calls_log.read_text().splitlines() if calls_log.exists() else []

    status, answer = classifier.call(path, infer_body(classifier, frame, id="batch-1"))

    assert status == 200, answer
    assert calls_log.read_text().splitlines() == [*calls_before, "50"]  # one predict call for the batch
    expected = predict_directly(classifier, frame)
    assert answer == {
        "model_name": "toy-classifier",
        "model_version": "7",
        "id": "batch-1",
        "outputs": [
            {
                "name": "predictions",
                "shape": [50],
                "datatype": "INT64",
                "data": expected["predictions"].tolist(),
            },
            {
                "name": "probabilities",  # of the positive class, 1
                "shape": [50],
                "datatype": "FP64",
                "data": expected["probabilities"][:, 1].tolist(),
            },
        ],
    }
    assert len(set(answer["outputs"][0]["data"])) == 2  # both classes occur: a real comparison


def test_concurrent_requests_get_identical_answers_and_fresh_ids(classifier: Server, rows: pd.DataFrame) -> None:
    body = infer_body(classifier, rows, parameters={"ignored": True})
    body["inputs"].append({"name": "not_a_feature", "shape": [1], "datatype": "BYTES", "data": [1, 2]})

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: classifier.call("/v2/models/toy-classifier/infer", body), range(12)))

    assert [status for status, _ in answers] == [200] * 12
    assert all(a["outputs"] == answers[0][1]["outputs"] for _, a in answers)
    ids = {a["id"] for _, a in answers}
    assert len(ids) == 12 and all(len(i) == 36 for i in ids)  # fresh UUIDs


def test_keep_alive_connection_serves_several_requests(classifier: Server, rows: pd.DataFrame) -> None:
    connection = http.client.HTTPConnection(classifier.ready["host"], classifier.ready["port"], timeout=30)
    try:
        for _ in range(3):
            connection.request(
                "POST",
                "/v2/models/toy-classifier/infer",
                json.dumps(infer_body(classifier, rows.iloc[:5])),
                {"Content-Type": "application/json"},
            )
            response = connection.getresponse()
            assert response.status == 200
            assert json.loads(response.read())["outputs"][0]["shape"] == [5]
            assert response.getheader("Connection") != "close"
    finally:
        connection.close()


def _changed(classifier: Server, rows: pd.DataFrame, **changes: dict[str, Any]) -> dict[str, Any]:
    """A good body for 4 rows with some inputs' fields replaced."""
    body = infer_body(classifier, rows.iloc[:4])
    for tensor in body["inputs"]:
        tensor.update(changes.get(tensor["name"], {}))
    return body


def _without_x2(classifier: Server, rows: pd.DataFrame) -> dict[str, Any]:
    body = infer_body(classifier, rows.iloc[:4])
    return {"inputs": [t for t in body["inputs"] if t["name"] != "x2"]}


BAD_REQUESTS: list[tuple[str, Any, str]] = [
    (
        "nested 100k deep",
        b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "request body nests arrays and objects more than 64 levels deep",
    ),
    ("not JSON", b'{"inputs": [', "request body is not valid JSON: "),
    ("not an object", [1, 2], 'request body must be a JSON object with "inputs" (got [1, 2])'),
    (
        "missing feature",
        _without_x2,
        "missing input 'x2': every feature needs an input tensor (the model reads x1, x2, site)",
    ),
    (
        "shape and data disagree",
        lambda c, r: _changed(c, r, x1={"shape": [5]}),
        "input 'x1': shape [5] says 5 values but \"data\" has 4",
    ),
    (
        "inputs disagree on N",
        lambda c, r: _changed(c, r, site={"shape": [3], "data": ["north", "south", "north"]}),
        "input 'site' has 3 rows but input 'x1' has 4: every input needs one value per row",
    ),
    (
        "wrong types",
        lambda c, r: _changed(c, r, x2={"data": [0.5, "1.5", True, None]}),
        "2 bad values: input 'x2', data[1]: \"1.5\" is not a number; input 'x2', data[2]: true is not a number",
    ),
    (
        "wrong datatype",
        lambda c, r: _changed(c, r, site={"datatype": "FP64"}),
        "input 'site': datatype 'FP64' does not fit the string feature (expected 'BYTES')",
    ),
    (
        "outside the manifest's range and categories",
        lambda c, r: _changed(
            c, r, x2={"data": [0.5, 11.0, 0.0, 0.0]}, site={"data": ["north", "east", None, "south"]}
        ),
        "2 bad values: input 'x2', data[1]: above the declared maximum 10; "
        "input 'site', data[1]: not one of the declared categories 'north', 'south'",
    ),
    (
        "too many rows",
        lambda c, r: _changed(c, r, x1={"shape": [10_001], "data": [0.0] * 10_001}),
        "input 'x1': 10001 rows is more than the limit of 10000 rows per request (split the batch)",
    ),
]


# The rows a 400 names as bad, when the problem is in their values alone.
ROW_ERRORS: dict[str, list[dict[str, Any]]] = {
    "wrong types": [
        {"row": 1, "error": "input 'x2': \"1.5\" is not a number"},
        {"row": 2, "error": "input 'x2': true is not a number"},
    ],
    "outside the manifest's range and categories": [
        {
            "row": 1,
            "error": "input 'x2': above the declared maximum 10; "
            "input 'site': not one of the declared categories 'north', 'south'",
        },
    ],
}


@pytest.mark.parametrize(("name", "body", "error"), BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_bad_requests_are_400_naming_the_problem(
    classifier: Server, rows: pd.DataFrame, name: str, body: Any, error: str
) -> None:
    if callable(body):
        body = body(classifier, rows)

    status, answer = classifier.call("/v2/models/toy-classifier/infer", body)

    assert status == 400
    assert answer["error"].startswith(error), answer["error"]
    assert answer.get("row_errors") == ROW_ERRORS.get(name)
    assert set(answer) == {"error", "row_errors"} if name in ROW_ERRORS else {"error"}


def test_body_over_16_mib_is_413(classifier: Server) -> None:
    status, answer = classifier.call("/v2/models/toy-classifier/infer", b" " * (16 * 1024 * 1024 + 1))

    assert status == 413
    assert "larger than the limit of 16777216 bytes (16 MiB)" in answer["error"]


def test_predict_raising_is_500_and_the_server_keeps_serving(classifier: Server, rows: pd.DataFrame) -> None:
    cursed = rows.iloc[:3].copy()
    cursed.loc[1, "x1"] = 777.0

    status, answer = classifier.call("/v2/models/toy-classifier/infer", infer_body(classifier, cursed))

    assert (status, answer) == (500, {"error": "predict raised ValueError: x1 of 777 is cursed"})
    stderr = (classifier.model_dir / "serve.stderr").read_text()
    assert 'predict.py", line 8, in predict' in stderr  # the traceback, for the operator
    status, answer = classifier.call("/v2/models/toy-classifier/infer", infer_body(classifier, rows.iloc[:3]))
    assert status == 200
    assert answer["outputs"][0]["shape"] == [3]


def test_regression_infer_and_graceful_sigterm(launched: dict[str, Server]) -> None:
    server = await_ready(launched["regressor"])  # used by this test only: it stops the server
    model_dir = server.model_dir
    dataset = model_dir.parent / "data.csv"
    try:
        manifest = load_manifest(model_dir)
        frame = load_dataset(dataset, manifest).features.iloc[:20]

        assert server.call("/v2/models/toy-regressor")[1]["outputs"] == [
            {"name": "predictions", "datatype": "FP64", "shape": [-1]}
        ]
        status, answer = server.call("/v2/models/toy-regressor/infer", {"inputs": tensors(manifest, frame)})

        assert status == 200, answer
        assert answer["outputs"] == [
            {
                "name": "predictions",
                "shape": [20],
                "datatype": "FP64",
                "data": predict_directly(server, frame).tolist(),
            }
        ]
        bad = tensors(manifest, frame.iloc[:2])
        bad[1]["data"] = [1.5, None]  # b is an integer feature
        status, answer = server.call("/v2/models/toy-regressor/infer", {"inputs": bad})
        assert (status, answer["error"]) == (
            400,
            "2 bad values: input 'b', data[0]: 1.5 is not an integer; "
            "input 'b', data[1]: null, but integer features need a value",
        )

        # SIGTERM while one request is in predict and another connection idles (keep-alive).
        idle = http.client.HTTPConnection(server.ready["host"], server.ready["port"], timeout=30)
        idle.request("GET", "/v2/health/live")
        assert idle.getresponse().read() == b'{"live":true}'
        slow_frame = frame.iloc[:2].copy()
        slow_frame.loc[0, "a"] = -999.0
        slow: dict[str, Any] = {}

        def call_slow() -> None:
            slow["answer"] = server.call("/v2/models/toy-regressor/infer", {"inputs": tensors(manifest, slow_frame)})

        caller = threading.Thread(target=call_slow)
        caller.start()
        deadline = time.monotonic() + 30
        while not (model_dir / "slow-started").exists():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        server.proc.send_signal(signal.SIGTERM)
        caller.join(timeout=30)

        assert slow["answer"][0] == 200  # finished, not cut off
        assert server.proc.wait(timeout=15) == 0
        assert server.proc.stdout is not None
        assert server.proc.stdout.read() == ""  # nothing on stdout after the ready line
        idle.close()
    finally:
        server.stop()


def _alive(pid: int) -> bool:
    """True while the process runs; a zombie waiting for its new parent to reap it has exited."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_server_stops_when_its_parent_dies(tmp_path: Path) -> None:
    model_dir = write_model_dir(tmp_path / "model", regression_manifest(), REGRESSOR_TRAIN, SLOW_REGRESSOR_PREDICT)
    artifact = train(tmp_path, model_dir, write_regression_csv(tmp_path / "data.csv"))
    # A parent that starts the server, says its pid, and is then killed like a crashed worker.
    launcher = (
        "import subprocess, sys, time; p = subprocess.Popen(sys.argv[1:]); print(p.pid, flush=True); time.sleep(600)"
    )
    args = [
        "--model-dir",
        str(model_dir),
        "--artifact",
        str(artifact),
        "--model-name",
        "orphan",
        "--model-version",
        "1",
        "--port",
        "0",
    ]
    env = {**os.environ, "PYTHONPATH": str(PYTHON_DIR), "PYTHONHASHSEED": "0"}
    parent = subprocess.Popen(
        [sys.executable, "-c", launcher, sys.executable, "-m", "mloop_runtime", "serve", *args],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert parent.stdout is not None
    server_pid = int(parent.stdout.readline())
    try:
        assert json.loads(parent.stdout.readline())["event"] == "ready"
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 15
        while _alive(server_pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(server_pid), "the model server outlived its parent"
    finally:
        if _alive(server_pid):
            os.kill(server_pid, signal.SIGKILL)
