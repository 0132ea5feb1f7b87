"""The binary tensor data extension of the Open Inference Protocol, as KServe and Triton serve it.

A request with the `Inference-Header-Content-Length: L` header is a JSON header of L bytes
followed by the raw values of every input whose `parameters.binary_data_size` says how many
bytes it takes, in the order of `inputs`: fixed-size datatypes as little-endian numbers in
row-major order, BYTES as a 4-byte little-endian length before each element. The binary
values become the input's `data` (a numpy array for fixed-size datatypes, a list of text for
BYTES), so both forms go through the same checks in serve_request (tritonclient sends
binary inputs unless told otherwise).

Outputs are sent as binary when asked: `parameters.binary_data_output: true` for all of
them (what tritonclient asks when it names no outputs), or `parameters.binary_data: true`
per requested output. A request's `outputs` list also selects which outputs come back.
The binary response is the JSON header (its length in the same header) followed by the
outputs' bytes, each output naming its `binary_data_size`.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from .protocol import json_safe
from .serve_request import BadRequest, _body_object

HEADER = "Inference-Header-Content-Length"
EXTENSION = "binary_tensor_data"

# Little-endian numpy dtypes of the fixed-size datatypes.
_DTYPES = {
    "BOOL": "?",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}


@dataclass(frozen=True)
class BinaryResponse:
    """A response body in the binary form, with the header that says where its JSON ends."""

    body: bytes
    header_length: int

    @property
    def headers(self) -> dict[str, str]:
        return {HEADER: str(self.header_length)}


def _show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _element_count(name: str, shape: Any) -> int:
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise BadRequest(f'input {name!r}: "shape" must be a list of dimensions (got {_show(shape)})')
    return math.prod(shape)


def _decode_bytes_elements(name: str, raw: bytes, count: int) -> list[str]:
    values: list[str] = []
    offset = 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise BadRequest(f"input {name!r}: element {len(values)} is cut off in its 4-byte length")
        (length,) = struct.unpack_from("<I", raw, offset)
        offset += 4
        if offset + length > len(raw):
            raise BadRequest(
                f"input {name!r}: element {len(values)} says {length} bytes but only "
                f"{len(raw) - offset} are left in its binary data"
            )
        try:
            values.append(raw[offset : offset + length].decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise BadRequest(f"input {name!r}: element {len(values)} is not UTF-8 text ({exc.reason})") from exc
        offset += length
    if len(values) != count:
        raise BadRequest(f"input {name!r}: its binary data holds {len(values)} elements but its shape says {count}")
    return values


def _decode_values(name: str, datatype: Any, shape: Any, raw: bytes) -> list[Any] | np.ndarray:
    count = _element_count(name, shape)
    if datatype == "BYTES":
        return _decode_bytes_elements(name, raw, count)
    dtype = _DTYPES.get(datatype) if isinstance(datatype, str) else None
    if dtype is None:
        raise BadRequest(f"input {name!r}: binary data of datatype {_show(datatype)} is not supported")
    size = np.dtype(dtype).itemsize
    if len(raw) != count * size:
        raise BadRequest(
            f"input {name!r}: binary_data_size {len(raw)} is not {count} {datatype} values ({count * size} bytes)"
        )
    # Kept as an array: serve_request checks and converts it whole instead of value by value
    # (NaN stays NaN: a missing value).
    return np.frombuffer(raw, dtype=dtype)


def _split_header(body: bytes, header_value: str) -> tuple[dict[str, Any], bytes]:
    try:
        length = int(header_value)
    except ValueError:
        raise BadRequest(f"{HEADER} must be a number of bytes (got {header_value!r})") from None
    if not 0 < length <= len(body):
        raise BadRequest(f"{HEADER} is {length}, but the request body has {len(body)} bytes")
    try:
        request = json.loads(body[:length])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the JSON header (the first {length} bytes, per {HEADER}) is not valid JSON: {exc}") from exc
    if not isinstance(request, dict):
        raise BadRequest(f'the JSON header must be an object with "inputs" (got {_show(request)})')
    return request, body[length:]


def decode_request(body: bytes, header_value: str | None) -> dict[str, Any]:
    """The infer request as a JSON object, with binary input data turned into `data` lists."""
    if header_value is None:
        return _body_object(body)
    request, binary = _split_header(body, header_value)
    inputs = request.get("inputs")
    if not isinstance(inputs, list):
        raise BadRequest(f'"inputs" must be a list of input tensors (got {_show(inputs)})')
    offset = 0
    for i, tensor in enumerate(inputs):
        parameters = tensor.get("parameters") if isinstance(tensor, dict) else None
        if not isinstance(parameters, dict) or "binary_data_size" not in parameters:
            continue
        name = tensor.get("name") if isinstance(tensor.get("name"), str) else f"inputs[{i}]"
        size = parameters["binary_data_size"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise BadRequest(f'input {name!r}: "binary_data_size" must be a number of bytes (got {_show(size)})')
        if "data" in tensor:
            raise BadRequest(f'input {name!r} has both "data" and binary data: send one')
        if offset + size > len(binary):
            raise BadRequest(
                f"input {name!r}: binary_data_size {size} goes past the end of the body "
                f"({len(binary) - offset} bytes of binary data left)"
            )
        raw = binary[offset : offset + size]
        tensor["data"] = _decode_values(name, tensor.get("datatype"), tensor.get("shape"), raw)
        offset += size
    if offset != len(binary):
        raise BadRequest(
            f"the body has {len(binary)} bytes after the JSON header "
            f"but the inputs' binary_data_size add up to {offset}"
        )
    return request


def _requested_outputs(request: dict[str, Any]) -> tuple[list[str] | None, dict[str, bool]]:
    """The outputs asked for (None: all) and, per name, whether it goes binary."""
    parameters = request.get("parameters")
    everything = isinstance(parameters, dict) and parameters.get("binary_data_output") is True
    outputs = request.get("outputs")
    if outputs is None:
        return None, {"*": everything}
    if not isinstance(outputs, list):
        raise BadRequest(f'"outputs" must be a list of requested outputs (got {_show(outputs)})')
    names: list[str] = []
    binary: dict[str, bool] = {"*": everything}
    for i, output in enumerate(outputs):
        if not isinstance(output, dict) or not isinstance(output.get("name"), str):
            raise BadRequest(f'outputs[{i}] must be an object with a "name" (got {_show(output)})')
        params = output.get("parameters") or {}
        if not isinstance(params, dict):
            raise BadRequest(f'output {output["name"]!r}: "parameters" must be an object (got {_show(params)})')
        if params.get("classification", 0) or params.get("class_count", 0):
            raise BadRequest(f"output {output['name']!r}: the classification extension is not supported")
        names.append(output["name"])
        binary[output["name"]] = params.get("binary_data", everything) is True
    return names, binary


def check_outputs(request: dict[str, Any]) -> None:
    """Rejects a malformed `outputs` list before predict runs."""
    _requested_outputs(request)


def _tensor_bytes(tensor: dict[str, Any]) -> bytes:
    data = tensor["data"]
    datatype = tensor["datatype"]
    if datatype == "BYTES":
        # Binary BYTES cannot say "missing": a missing label is an empty element.
        encoded = [b"" if v is None else str(v).encode("utf-8") for v in data]
        return b"".join(struct.pack("<I", len(e)) + e for e in encoded)
    values = [math.nan if v is None else v for v in data]  # missing numbers are NaN
    return np.asarray(values, dtype=_DTYPES[datatype]).tobytes()


def encode_response(response: dict[str, Any], request: dict[str, Any]) -> dict[str, Any] | BinaryResponse:
    """The infer response with the outputs the request asked for, in the form it asked for."""
    names, binary = _requested_outputs(request)
    produced = {o["name"]: o for o in response["outputs"]}
    if names is not None:
        unknown = [n for n in names if n not in produced]
        if unknown:
            raise BadRequest(f"output {unknown[0]!r} is not an output of this model (it returns {', '.join(produced)})")
    selected = [produced[n] for n in names] if names is not None else list(response["outputs"])
    if not any(binary.get(o["name"], binary["*"]) for o in selected):
        return {**response, "outputs": selected}
    header_outputs: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for tensor in selected:
        if not binary.get(tensor["name"], binary["*"]):
            header_outputs.append(tensor)
            continue
        blob = _tensor_bytes(tensor)
        blobs.append(blob)
        meta = {k: v for k, v in tensor.items() if k != "data"}
        header_outputs.append({**meta, "parameters": {"binary_data_size": len(blob)}})
    header_object = json_safe({**response, "outputs": header_outputs})
    header = json.dumps(header_object, allow_nan=False, separators=(",", ":")).encode("utf-8")
    return BinaryResponse(header + b"".join(blobs), len(header))
