"""Turning an Open Inference Protocol (KServe V2) infer request into the features frame.

The request is "columnar": one input tensor per manifest feature, each holding one value
per row. The frame is built with the same dtypes and value checks as a training dataset
(dataset.py), so `predict` sees exactly what it sees under `train` and `evaluate`.
Every problem is a BadRequest (HTTP 400) whose message names the input and the problem.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd

from .bad_rows import BadCells
from .dataset import _CONVERTERS  # the training conversions and constraint checks
from .errors import DatasetInvalid
from .manifest import Feature, Manifest

MAX_ROWS = 10_000  # per request; a larger batch must be split by the caller
VALUES_IN_MESSAGE = 10  # bad values listed in one error message
# Deepest nesting of arrays and objects in a request body. A V2 request needs 4 or 5 levels;
# json.loads recurses, and a body nested 100k deep would end in a RecursionError.
MAX_JSON_DEPTH = 64

# The tensor datatype of each feature type (what the model metadata announces).
FEATURE_DATATYPES = {"number": "FP64", "integer": "INT64", "string": "BYTES"}

_INTEGER_DATATYPES = frozenset(f"{p}INT{b}" for p in ("", "U") for b in (8, 16, 32, 64))
# Request datatypes accepted per feature type: each value is checked anyway, so a client
# that labels numbers FP32 or INT64 is not turned away for the label alone.
_ACCEPTED_DATATYPES = {
    "number": frozenset({"FP16", "FP32", "FP64"}) | _INTEGER_DATATYPES,
    "integer": _INTEGER_DATATYPES,
    "string": frozenset({"BYTES"}),
}
_INT64_LIMIT = 2**63


class BadRequest(Exception):
    """The request is malformed; the message is the 400 response's `error`.

    `row_errors` names the rows whose values are bad, when the problem is theirs alone:
    `[{"row": position, "error": reason}]`, so a client can score the other rows.
    """

    def __init__(self, message: str, row_errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.row_errors = row_errors or []


def _show(value: Any) -> str:
    """A request value as written in JSON, shortened."""
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _rows_in_shape(name: str, shape: Any) -> int:
    if (
        isinstance(shape, list)
        and len(shape) in (1, 2)
        and all(isinstance(d, int) and not isinstance(d, bool) for d in shape)
        and (len(shape) == 1 or shape[1] == 1)
        and shape[0] >= 1
    ):
        return int(shape[0])
    raise BadRequest(f'input {name!r}: "shape" must be [N] or [N, 1] with N >= 1 rows (got {_show(shape)})')


class _RequestInput:
    """One feature's input tensor, structurally checked."""

    def __init__(self, feature: Feature, tensor: dict[str, Any]) -> None:
        name = feature.name
        rows = _rows_in_shape(name, tensor.get("shape"))
        if rows > MAX_ROWS:
            raise BadRequest(
                f"input {name!r}: {rows} rows is more than the limit of {MAX_ROWS} rows per request (split the batch)"
            )
        datatype = tensor.get("datatype")
        expected = FEATURE_DATATYPES[feature.type]
        if not isinstance(datatype, str):
            raise BadRequest(
                f'input {name!r}: "datatype" must be a string such as "{expected}" (got {_show(datatype)})'
            )
        if datatype not in _ACCEPTED_DATATYPES[feature.type]:
            raise BadRequest(
                f"input {name!r}: datatype {datatype!r} does not fit the {feature.type} feature (expected {expected!r})"
            )
        data = tensor.get("data")
        if not isinstance(data, (list, np.ndarray)):
            raise BadRequest(f'input {name!r}: "data" must be a flat list of {rows} values (got {_show(data)})')
        if len(data) != rows:
            raise BadRequest(
                f"input {name!r}: shape {_show(tensor['shape'])} says {_plural(rows, 'value')} "
                f'but "data" has {len(data)}'
            )
        self.feature = feature
        self.rows = rows
        self.data = data


# Type checks of single JSON values: (converted value, None) or (None, reason).
# Exact type() tests: bool is an int subclass, but `true` is not a number.
def _number(value: Any) -> tuple[Any, str | None]:
    if value is None:
        return math.nan, None  # a missing value, like an empty cell in a dataset
    if type(value) is float:
        return value, None
    if type(value) is int:
        try:
            return float(value), None
        except OverflowError:
            return None, f"{_show(value)} is too large for a 64-bit float"
    return None, f"{_show(value)} is not a number"


def _integer(value: Any) -> tuple[Any, str | None]:
    if value is None:
        return None, "null, but integer features need a value"
    if type(value) is float and math.isfinite(value) and value.is_integer():
        value = int(value)  # 3.0 is accepted, as "3.0" is in a CSV dataset
    if type(value) is not int:
        return None, f"{_show(value)} is not an integer"
    if not -_INT64_LIMIT <= value < _INT64_LIMIT:
        return None, f"{_show(value)} is too large for a 64-bit integer"
    return value, None


def _string(value: Any) -> tuple[Any, str | None]:
    if value is None or type(value) is str:
        return value, None  # None: a missing value, like an empty cell in a dataset
    return None, f"{_show(value)} is not a string"


_TYPE_CHECKS = {"number": _number, "integer": _integer, "string": _string}

# A bad value: (row position, feature order, feature name, reason); sorted by row, then
# by feature, as a dataset's bad cells are.
_Problem = tuple[int, int, str, str]


def _array_column(item: _RequestInput, order: int, problems: list[_Problem]) -> pd.Series:
    """`_raw_column` for binary data (a numpy array of the tensor's datatype), checked whole:
    the same values and problems as the same numbers sent as JSON."""
    data: np.ndarray = item.data  # type: ignore[assignment]
    if item.feature.type == "number":
        return pd.Series(data.astype("float64"))  # float(int) rounds as numpy does; NaN: missing
    # Integer features take integer datatypes only (_ACCEPTED_DATATYPES); only UINT64 can overflow.
    if data.dtype.kind == "u" and data.dtype.itemsize == 8:
        too_large = np.flatnonzero(data >= np.uint64(_INT64_LIMIT)).tolist()
        for position in too_large:
            reason = f"{int(data[position])} is too large for a 64-bit integer"
            problems.append((position, order, item.feature.name, reason))
        if too_large:
            return pd.Series(dtype=object)
    return pd.Series(data.astype("int64"))


def _within_range(item: _RequestInput, column: pd.Series) -> pd.Series | None:
    """A binary input's column as the training conversion would return it, when that has nothing
    to report: numbers (float64, or int64 for integer features) all within the feature's min and
    max. Checked with numpy at once, which spares the conversion's pandas steps; None otherwise."""
    values = column.to_numpy()
    if values.dtype.kind not in "fi":
        return None
    low, high = item.feature.min, item.feature.max
    # NaN compares False, as in the conversion: a missing number is never out of range.
    if (low is not None and bool((values < low).any())) or (high is not None and bool((values > high).any())):
        return None
    return column


def _raw_column(item: _RequestInput, order: int, problems: list[_Problem]) -> pd.Series:
    """The input's values as the raw cells a converter of dataset.py takes."""
    if isinstance(item.data, np.ndarray):
        return _array_column(item, order, problems)
    check = _TYPE_CHECKS[item.feature.type]
    values = []
    found = False
    for position, value in enumerate(item.data):
        converted, reason = check(value)
        if reason is not None:
            problems.append((position, order, item.feature.name, reason))
            found = True
        values.append(converted)
    if found:
        return pd.Series(dtype=object)  # not converted: the request is rejected anyway
    if item.feature.type == "number":
        return pd.Series(np.array(values, dtype="float64"))
    if item.feature.type == "integer":
        return pd.Series(np.array(values, dtype="int64"))
    return pd.Series(values, dtype=object)  # the converter makes it pandas text


def _bad_values(problems: list[_Problem], total: int) -> BadRequest:
    ordered = sorted(problems)
    listed = "; ".join(
        f"input {name!r}, data[{position}]: {reason}" for position, _, name, reason in ordered[:VALUES_IN_MESSAGE]
    )
    more = total - min(len(problems), VALUES_IN_MESSAGE)
    if more > 0:
        listed += f"; ... and {more} more"
    by_row: dict[int, list[str]] = defaultdict(list)
    for position, _, name, reason in ordered:
        by_row[position].append(f"input {name!r}: {reason}")
    row_errors = [{"row": position, "error": "; ".join(reasons)} for position, reasons in by_row.items()]
    return BadRequest(f"{_plural(total, 'bad value')}: {listed}", row_errors)


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")


def _nests_deeper_than(body: bytes, limit: int) -> bool:
    """Whether the body nests arrays and objects more than `limit` deep, without recursion.

    Strings are cut out first (their brackets are text), then the running depth of the
    brackets left is summed in chunks, so a 16 MiB body of brackets takes a fraction of a second.
    """
    skeleton = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    codes = np.frombuffer(skeleton, dtype=np.uint8)
    depth = 0
    for start in range(0, len(codes), 1 << 20):
        chunk = codes[start : start + (1 << 20)]
        opens = (chunk == ord("[")) | (chunk == ord("{"))
        running = depth + np.cumsum(opens.astype(np.int64) * 2 - 1)
        if running.max() > limit:
            return True
        depth = int(running[-1])
    return False


def _body_object(body: bytes) -> dict[str, Any]:
    too_deep = BadRequest(f"request body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep")
    if _nests_deeper_than(body, MAX_JSON_DEPTH):
        raise too_deep
    try:
        request = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from exc
    except RecursionError as exc:  # not expected past the check above; never a 500 all the same
        raise too_deep from exc
    if not isinstance(request, dict):
        raise BadRequest(f'request body must be a JSON object with "inputs" (got {_show(request)})')
    return request


def _inputs_by_name(request: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    inputs = request.get("inputs")
    if not isinstance(inputs, list):
        raise BadRequest(f'"inputs" must be a list of input tensors (got {_show(inputs)})')
    by_name: dict[str, list[dict[str, Any]]] = {}
    for i, tensor in enumerate(inputs):
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise BadRequest(
                f'inputs[{i}] must be an object with "name", "shape", "datatype" and "data" (got {_show(tensor)})'
            )
        by_name.setdefault(tensor["name"], []).append(tensor)
    return by_name


def parse_infer_request(body: bytes | dict[str, Any], manifest: Manifest) -> tuple[str | None, pd.DataFrame]:
    """(the request's id or None, the features frame) of an infer request body, or of the
    request object serve_binary made of a binary one."""
    request = body if isinstance(body, dict) else _body_object(body)
    rid = request.get("id")
    if rid is not None and not isinstance(rid, str):
        raise BadRequest(f'"id" must be a string (got {_show(rid)})')
    parameters = request.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise BadRequest(f'"parameters" must be an object (got {_show(parameters)})')
    by_name = _inputs_by_name(request)  # inputs that are not features are ignored

    items: list[_RequestInput] = []
    for feature in manifest.features:
        tensors = by_name.get(feature.name)
        if not tensors:
            raise BadRequest(
                f"missing input {feature.name!r}: every feature needs an input tensor "
                f"(the model reads {', '.join(manifest.feature_names)})"
            )
        if len(tensors) > 1:
            raise BadRequest(f"input {feature.name!r} is given {len(tensors)} times")
        item = _RequestInput(feature, tensors[0])
        if items and item.rows != items[0].rows:
            raise BadRequest(
                f"input {feature.name!r} has {_plural(item.rows, 'row')} but input "
                f"{items[0].feature.name!r} has {items[0].rows}: every input needs one value per row"
            )
        items.append(item)

    problems: list[_Problem] = []
    raw = {item.feature.name: _raw_column(item, order, problems) for order, item in enumerate(items)}
    if problems:
        raise _bad_values(problems, len(problems))

    # The training conversions: dtypes, and the manifest's min/max/categories.
    bad = BadCells()
    columns: dict[str, pd.Series] = {}
    for order, (f, item) in enumerate(zip(manifest.features, items, strict=True)):
        ready = _within_range(item, raw[f.name]) if isinstance(item.data, np.ndarray) else None
        columns[f.name] = ready if ready is not None else _CONVERTERS[f.type](raw[f.name], f, order, bad)
    frame = pd.DataFrame(columns)
    try:
        bad.raise_if_any(manifest.path)
    except DatasetInvalid as exc:
        order = {name: i for i, name in enumerate(manifest.feature_names)}
        itemised = [(e["row"] - 1, order[e["column"]], e["column"], e["reason"]) for e in exc.details["rows"]]
        raise _bad_values(itemised, bad.count) from exc
    return rid, frame
