"""Protocol lines are always valid JSON, and user output becomes log events line by line."""

from __future__ import annotations

import io
import json
import sys

import numpy as np
from mloop_runtime.protocol import MAX_LOG_LINE_CHARS, ProtocolWriter, user_output_captured


def events_of(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_non_finite_numbers_become_null_and_numpy_values_plain() -> None:
    stream = io.StringIO()
    ProtocolWriter(stream).emit("result", metrics={"r2": float("nan"), "mae": np.float64(0.5), "n": np.int64(3)})

    assert stream.getvalue() == '{"event":"result","metrics":{"r2":null,"mae":0.5,"n":3}}\n'


def test_printed_lines_become_log_events() -> None:
    stream = io.StringIO()
    with user_output_captured(ProtocolWriter(stream)):
        print("one\ntwo")
        print("part", end="", flush=True)
        print("ial\r")
        sys.stderr.write("err line\n")
        print("unterminated", end="")

    assert events_of(stream) == [
        {"event": "log", "stream": "stdout", "line": "one"},
        {"event": "log", "stream": "stdout", "line": "two"},
        {"event": "log", "stream": "stdout", "line": "partial"},
        {"event": "log", "stream": "stderr", "line": "err line"},
        {"event": "log", "stream": "stdout", "line": "unterminated"},
    ]


def test_huge_lines_are_split() -> None:
    stream = io.StringIO()
    with user_output_captured(ProtocolWriter(stream)):
        print("x" * (MAX_LOG_LINE_CHARS * 2 + 5))

    assert [len(e["line"]) for e in events_of(stream)] == [MAX_LOG_LINE_CHARS, MAX_LOG_LINE_CHARS, 5]


def test_capture_restores_sys_streams() -> None:
    before = sys.stdout, sys.stderr
    with user_output_captured(ProtocolWriter(io.StringIO())):
        assert sys.stdout is not before[0]
    assert (sys.stdout, sys.stderr) == before
