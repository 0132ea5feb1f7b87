"""The binary tensor data extension: hand-built requests in-process, and tritonclient (its
defaults send and ask for binary tensors) against a real `serve` process."""

from __future__ import annotations

import http.client
import json
import os
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import (
    CLASSIFIER_PREDICT,
    CLASSIFIER_TRAIN,
    PYTHON_DIR,
    classification_manifest,
    regression_manifest,
    run_in_process,
    train_args,
    write_classification_csv,
    write_model_dir,
)
from mloop_runtime import serve_binary
from mloop_runtime.manifest import Manifest, load_manifest
from mloop_runtime.serve_binary import (
    HEADER,
    BinaryResponse,
    decode_request,
    encode_response,
)
from mloop_runtime.serve_request import BadRequest, parse_infer_request

MIXED_FEATURES = [
    {"name": "a", "type": "number"},
    {"name": "b", "type": "integer"},
    {"name": "s", "type": "string"},
]


@pytest.fixture
def mixed(tmp_path: Path) -> Manifest:
    return load_manifest(write_model_dir(tmp_path / "model", regression_manifest(features=MIXED_FEATURES)))


def bytes_elements(*values: str) -> bytes:
    return b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in values)


def binary_body(inputs: list[dict[str, Any]], blobs: list[bytes], **extra: Any) -> tuple[bytes, str]:
    """A binary request: the JSON header, then the blobs; and the header's length."""
    for tensor, blob in zip((t for t in inputs if "data" not in t), blobs, strict=True):
        tensor.setdefault("parameters", {})["binary_data_size"] = len(blob)
    header = json.dumps({"inputs": inputs, **extra}).encode()
    return header + b"".join(blobs), str(len(header))


def mixed_binary(**extra: Any) -> tuple[bytes, str]:
    return binary_body(
        [
            {"name": "a", "shape": [3], "datatype": "FP64"},
            {"name": "b", "shape": [3, 1], "datatype": "INT32"},
            {"name": "s", "shape": [3], "datatype": "BYTES"},
        ],
        [
            np.array([1.5, np.nan, -2.25], dtype="<f8").tobytes(),
            np.array([3, -7, 2**31 - 1], dtype="<i4").tobytes(),
            bytes_elements("x", "", "grüße"),
        ],
        **extra,
    )


def test_binary_inputs_give_the_frame_the_json_form_gives(mixed: Manifest) -> None:
    body, length = mixed_binary(id="b-1")
    rid, frame = parse_infer_request(decode_request(body, length), mixed)
    json_body = json.dumps(
        {
            "id": "b-1",
            "inputs": [
                {"name": "a", "shape": [3], "datatype": "FP64", "data": [1.5, None, -2.25]},
                {"name": "b", "shape": [3, 1], "datatype": "INT32", "data": [3, -7, 2**31 - 1]},
                {"name": "s", "shape": [3], "datatype": "BYTES", "data": ["x", "", "grüße"]},
            ],
        }
    ).encode()
    expected_id, expected = parse_infer_request(decode_request(json_body, None), mixed)
    assert rid == expected_id == "b-1"
    pd.testing.assert_frame_equal(frame, expected)
    assert frame["b"].tolist() == [3, -7, 2**31 - 1]
    assert np.isnan(frame["a"][1])


def test_binary_and_json_inputs_mix_in_one_request(mixed: Manifest) -> None:
    body, length = binary_body(
        [
            {"name": "a", "shape": [2], "datatype": "FP32"},
            {"name": "b", "shape": [2], "datatype": "INT64", "data": [1, 2]},
            {"name": "s", "shape": [2], "datatype": "BYTES"},
        ],
        [np.array([0.5, 4.0], dtype="<f4").tobytes(), bytes_elements("p", "q")],
    )
    _, frame = parse_infer_request(decode_request(body, length), mixed)
    assert frame.to_dict("list") == {"a": [0.5, 4.0], "b": [1, 2], "s": ["p", "q"]}


def _bad(body: bytes, length: str) -> str:
    with pytest.raises(BadRequest) as caught:
        decode_request(body, length)
    return caught.value.message


def test_malformed_binary_requests_are_refused_naming_the_problem() -> None:
    body, length = mixed_binary()
    assert _bad(body, "x") == f"{HEADER} must be a number of bytes (got 'x')"
    assert _bad(body, str(len(body) + 1)) == f"{HEADER} is {len(body) + 1}, but the request body has {len(body)} bytes"
    assert _bad(body, "0").startswith(f"{HEADER} is 0")
    assert _bad(body, str(int(length) - 1)).startswith(f"the JSON header (the first {int(length) - 1} bytes")
    assert _bad(body + b"\0", length) == (
        f"the body has {len(body) + 1 - int(length)} bytes after the JSON header "
        f"but the inputs' binary_data_size add up to {len(body) - int(length)}"
    )
    short, short_length = binary_body([{"name": "a", "shape": [3], "datatype": "FP64"}], [b"\0" * 16])
    assert _bad(short, short_length) == "input 'a': binary_data_size 16 is not 3 FP64 values (24 bytes)"
    cut, cut_length = binary_body([{"name": "s", "shape": [2], "datatype": "BYTES"}], [bytes_elements("ok")[:-1]])
    assert _bad(cut, cut_length) == "input 's': element 0 says 2 bytes but only 1 are left in its binary data"
    few, few_length = binary_body([{"name": "s", "shape": [2], "datatype": "BYTES"}], [bytes_elements("one")])
    assert _bad(few, few_length) == "input 's': its binary data holds 1 elements but its shape says 2"
    latin, latin_length = binary_body([{"name": "s", "shape": [1], "datatype": "BYTES"}], [b"\1\0\0\0\xff"])
    assert _bad(latin, latin_length).startswith("input 's': element 0 is not UTF-8 text")
    bf16, bf16_length = binary_body([{"name": "a", "shape": [1], "datatype": "BF16"}], [b"\0\0"])
    assert _bad(bf16, bf16_length) == "input 'a': binary data of datatype \"BF16\" is not supported"

    def header(size: int, **fields: Any) -> bytes:
        tensor = {"name": "a", "shape": [1], "datatype": "FP64", "parameters": {"binary_data_size": size}, **fields}
        return json.dumps({"inputs": [tensor]}).encode()

    both = header(8, data=[1.0])
    assert _bad(both + b"\0" * 8, str(len(both))) == "input 'a' has both \"data\" and binary data: send one"
    past = header(8)
    assert _bad(past + b"\0" * 4, str(len(past))) == (
        "input 'a': binary_data_size 8 goes past the end of the body (4 bytes of binary data left)"
    )
    negative = header(-1)
    assert _bad(negative, str(len(negative))) == "input 'a': \"binary_data_size\" must be a number of bytes (got -1)"


def test_a_plain_json_body_keeps_its_error_message() -> None:
    with pytest.raises(BadRequest, match="^request body is not valid JSON"):
        decode_request(b"\0\1", None)


RESPONSE = {
    "model_name": "m",
    "model_version": "3",
    "id": "r",
    "outputs": [
        {"name": "predictions", "shape": [3], "datatype": "BYTES", "data": ["yes", None, "nö"]},
        {"name": "probabilities", "shape": [3], "datatype": "FP64", "data": [0.25, None, 1.0]},
    ],
}


def split_binary(reply: BinaryResponse) -> tuple[dict[str, Any], dict[str, bytes]]:
    header = json.loads(reply.body[: reply.header_length])
    blobs, offset = {}, reply.header_length
    for output in header["outputs"]:
        size = output.get("parameters", {}).get("binary_data_size")
        if size is not None:
            blobs[output["name"]] = reply.body[offset : offset + size]
            offset += size
    assert offset == len(reply.body)
    return header, blobs


def test_outputs_in_binary_when_asked_for_all_or_per_output() -> None:
    assert encode_response(RESPONSE, {"inputs": []}) == RESPONSE
    everything = encode_response(RESPONSE, {"parameters": {"binary_data_output": True}})
    assert isinstance(everything, BinaryResponse)
    assert everything.headers == {HEADER: str(everything.header_length)}
    header, blobs = split_binary(everything)
    assert [o["name"] for o in header["outputs"]] == ["predictions", "probabilities"]
    assert all("data" not in o for o in header["outputs"])
    # A missing label is an empty element; a missing number is NaN.
    assert blobs["predictions"] == bytes_elements("yes", "", "nö")
    probabilities = np.frombuffer(blobs["probabilities"], dtype="<f8")
    assert probabilities[0] == 0.25 and np.isnan(probabilities[1]) and probabilities[2] == 1.0

    mixed_form = encode_response(
        RESPONSE,
        {"outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}, {"name": "predictions"}]},
    )
    assert isinstance(mixed_form, BinaryResponse)
    header, blobs = split_binary(mixed_form)
    assert [o["name"] for o in header["outputs"]] == ["probabilities", "predictions"]
    assert header["outputs"][1]["data"] == ["yes", None, "nö"]
    assert list(blobs) == ["probabilities"]


def test_outputs_select_what_comes_back() -> None:
    only = encode_response(RESPONSE, {"outputs": [{"name": "probabilities", "parameters": {"binary_data": False}}]})
    assert only == {**RESPONSE, "outputs": [RESPONSE["outputs"][1]]}
    unknown = "^output 'scores' is not an output of this model .it returns predictions, probabilities.$"
    with pytest.raises(BadRequest, match=unknown):
        encode_response(RESPONSE, {"outputs": [{"name": "scores"}]})
    with pytest.raises(BadRequest, match="classification extension is not supported"):
        encode_response(RESPONSE, {"outputs": [{"name": "predictions", "parameters": {"class_count": 2}}]})
    with pytest.raises(BadRequest, match=r'^outputs\[0\] must be an object with a "name"'):
        encode_response(RESPONSE, {"outputs": ["predictions"]})


# A real server, driven by tritonclient with its defaults.


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    root = tmp_path_factory.mktemp("binary-served")
    model_dir = write_model_dir(root / "model", classification_manifest(), CLASSIFIER_TRAIN, CLASSIFIER_PREDICT)
    dataset = write_classification_csv(root / "data.csv")
    run = run_in_process(train_args(model_dir, dataset, root / "out"))
    assert run.exit_code == 0, run.events
    env = {**os.environ, "PYTHONPATH": str(PYTHON_DIR), "PYTHONHASHSEED": "0"}
    args = ["--model-dir", str(model_dir), "--artifact", str(root / "out" / "model.joblib")]
    args += ["--model-name", "toy-classifier", "--model-version", "7", "--port", "0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "mloop_runtime", "serve", *args], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert ready["event"] == "ready", ready
        yield int(ready["port"]), dataset
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def json_infer(port: int, rows: pd.DataFrame) -> dict[str, Any]:
    inputs = [
        {"name": "x1", "shape": [len(rows)], "datatype": "FP64", "data": rows["x1"].tolist()},
        {"name": "x2", "shape": [len(rows)], "datatype": "FP64", "data": rows["x2"].tolist()},
        {"name": "site", "shape": [len(rows)], "datatype": "BYTES", "data": rows["site"].tolist()},
    ]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/v2/models/toy-classifier/infer", json.dumps({"inputs": inputs}))
        response = conn.getresponse()
        assert response.status == 200
        return json.loads(response.read())
    finally:
        conn.close()


def test_tritonclient_with_its_defaults(served: tuple[int, Path]) -> None:
    import tritonclient.http as triton

    port, dataset = served
    rows = pd.read_csv(dataset).iloc[:40]
    client = triton.InferenceServerClient(url=f"127.0.0.1:{port}")
    try:
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("toy-classifier")
        assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
        metadata = client.get_model_metadata("toy-classifier")
        assert [i["name"] for i in metadata["inputs"]] == ["x1", "x2", "site"]

        inputs = []
        for name, datatype, values in [
            ("x1", "FP64", rows["x1"].to_numpy(dtype="float64")),
            ("x2", "FP32", rows["x2"].to_numpy(dtype="float32")),  # rounded, so compared loosely
            ("site", "BYTES", rows["site"].to_numpy(dtype=object)),
        ]:
            tensor = triton.InferInput(name, [len(rows)], datatype)
            tensor.set_data_from_numpy(values)  # binary_data=True by default
            inputs.append(tensor)
        result = client.infer("toy-classifier", inputs)  # no outputs named: all come back binary
        response = result.get_response()
        assert response["model_version"] == "7"
        assert all("binary_data_size" in o["parameters"] for o in response["outputs"])

        expected = json_infer(port, rows.astype({"x2": "float32"}).astype({"x2": "float64"}))
        by_name = {o["name"]: o["data"] for o in expected["outputs"]}
        assert result.as_numpy("predictions").tolist() == by_name["predictions"]
        np.testing.assert_allclose(result.as_numpy("probabilities"), by_name["probabilities"], rtol=1e-12)

        # One output, asked for as JSON.
        only = client.infer(
            "toy-classifier", inputs, outputs=[triton.InferRequestedOutput("probabilities", binary_data=False)]
        )
        assert [o["name"] for o in only.get_response()["outputs"]] == ["probabilities"]
        np.testing.assert_allclose(only.as_numpy("probabilities"), by_name["probabilities"], rtol=1e-12)
    finally:
        client.close()


def test_a_bad_binary_request_to_the_server_is_400(served: tuple[int, Path]) -> None:
    port, _ = served
    body, length = binary_body([{"name": "x1", "shape": [2], "datatype": "FP64"}], [b"\0" * 8])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/v2/models/toy-classifier/infer", body, {HEADER: length})
        response = conn.getresponse()
        assert response.status == 400
        expected = {"error": "input 'x1': binary_data_size 8 is not 2 FP64 values (16 bytes)"}
        assert json.loads(response.read()) == expected
    finally:
        conn.close()


def _outcome(request: dict[str, Any], manifest: Manifest) -> Any:
    try:
        return parse_infer_request(request, manifest)[1].to_dict("list")
    except BadRequest as exc:
        return exc.message, exc.row_errors


@pytest.mark.parametrize(
    ("feature", "datatype", "values"),
    [
        ("a", "FP64", [1.5, np.nan, -np.inf, 1e308]),
        ("a", "FP32", [0.1, -3.5, np.nan, 7.0]),
        ("a", "INT64", [2**62 + 1, -(2**63), 0, 5]),
        ("a", "UINT64", [2**64 - 1, 0, 1, 2**53 + 1]),
        ("b", "INT64", [2**63 - 1, -(2**63), 0, -1]),
        ("b", "UINT64", [2**63, 1, 2**64 - 1, 2]),
        ("b", "UINT8", [255, 0, 1, 2]),
    ],
)
def test_binary_arrays_are_checked_whole_with_the_outcome_of_the_same_values_in_json(
    mixed: Manifest, feature: str, datatype: str, values: list[Any]
) -> None:
    others = {"a": ("FP64", [1.0] * 4), "b": ("INT64", [1] * 4)}
    array = np.array(values, dtype=serve_binary._DTYPES[datatype])
    inputs = [
        {"name": name, "shape": [4], "datatype": dt, "data": data}
        for name, (dt, data) in others.items()
        if name != feature
    ] + [{"name": "s", "shape": [4], "datatype": "BYTES", "data": ["x"] * 4}]
    body, length = binary_body([*inputs, {"name": feature, "shape": [4], "datatype": datatype}], [array.tobytes()])
    request = decode_request(body, length)
    # Kept as an array, not turned into a Python list value by value.
    assert isinstance(request["inputs"][-1]["data"], np.ndarray)
    in_json = {"name": feature, "shape": [4], "datatype": datatype, "data": array.tolist()}
    as_json = json.loads(json.dumps({"inputs": [*inputs, in_json]}))
    expected = _outcome(as_json, mixed)
    got = _outcome(request, mixed)
    if isinstance(expected, dict):
        pd.testing.assert_frame_equal(pd.DataFrame(got), pd.DataFrame(expected))
    else:
        assert got == expected


@pytest.mark.parametrize(
    ("datatype", "a", "b"),
    [
        ("FP64", [0.0, 10.0, np.nan, 5.5], [-3, 3, 0, 1]),  # all within: the frame as converted
        ("FP64", [-0.5, 10.0, np.inf, 5.5], [-3, 3, 0, 1]),  # below min, above max
        ("INT64", [0, 10, 11, 5], [-3, 4, 0, -4]),  # above max; integer feature out of range
        ("FP32", [0.1, 9.9, np.nan, 1.0], [-3, 3, 0, 1]),
    ],
)
def test_binary_arrays_meet_the_features_range_as_json_values_do(
    tmp_path: Path, datatype: str, a: list[Any], b: list[int]
) -> None:
    features = [
        {"name": "a", "type": "number", "min": 0, "max": 10},
        {"name": "b", "type": "integer", "min": -3, "max": 3},
    ]
    bounded = load_manifest(write_model_dir(tmp_path / "model", regression_manifest(features=features)))
    arrays = {"a": np.array(a, dtype=serve_binary._DTYPES[datatype]), "b": np.array(b, dtype="<i8")}
    tensors = [{"name": "a", "shape": [4], "datatype": datatype}, {"name": "b", "shape": [4], "datatype": "INT64"}]
    body, length = binary_body([dict(t) for t in tensors], [arrays["a"].tobytes(), arrays["b"].tobytes()])
    as_json = json.loads(json.dumps({"inputs": [{**t, "data": arrays[t["name"]].tolist()} for t in tensors]}))
    expected = _outcome(as_json, bounded)
    got = _outcome(decode_request(body, length), bounded)
    if isinstance(expected, dict):
        pd.testing.assert_frame_equal(pd.DataFrame(got), pd.DataFrame(expected))
    else:
        assert got == expected


def test_binary_columns_within_range_skip_the_per_column_pandas_conversion(
    mixed: Manifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mloop_runtime import serve_request

    converted: list[str] = []

    def counting(convert: Any) -> Any:
        def wrapper(raw: pd.Series, feature: Any, *rest: Any) -> pd.Series:
            converted.append(feature.name)
            return convert(raw, feature, *rest)

        return wrapper

    monkeypatch.setattr(serve_request, "_CONVERTERS", {k: counting(f) for k, f in serve_request._CONVERTERS.items()})
    body, length = mixed_binary()
    _, frame = parse_infer_request(decode_request(body, length), mixed)
    # Numbers and integers came as arrays within (absent) bounds; only the text column is converted.
    assert converted == ["s"]
    assert frame["b"].tolist() == [3, -7, 2**31 - 1]
