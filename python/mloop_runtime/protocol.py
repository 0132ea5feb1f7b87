"""The stdout protocol: one JSON object per line, and capture of user output into it.

Anything the user's code prints must not corrupt the protocol, so while the runtime
works `sys.stdout`/`sys.stderr` are replaced by streams that turn each printed line
into a `{"event":"log",...}` event. (At process level `__main__` additionally points
file descriptor 1 at stderr, so native code and child processes cannot write to the
protocol either.)
"""

from __future__ import annotations

import io
import json
import math
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO

# A single printed "line" longer than this is split into several log events so one
# runaway print cannot make the engine buffer megabytes for one JSON line.
MAX_LOG_LINE_CHARS = 16_384


def json_safe(value: Any) -> Any:
    """Converts numpy scalars/arrays and non-finite floats into plain JSON values.

    JSON has no NaN/Infinity (JSON.parse rejects them), so those become null.
    """
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return json_safe(value.tolist())  # numpy scalar or array
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class ProtocolWriter:
    """Writes protocol events to the engine; safe to call from several threads."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def emit(self, event: str, **fields: Any) -> None:
        line = json.dumps(json_safe({"event": event, **fields}), allow_nan=False, separators=(",", ":"))
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()

    def progress(self, phase: str, status: str, **fields: Any) -> None:
        self.emit("progress", phase=phase, status=status, **fields)

    def log(self, line: str, stream: str) -> None:
        self.emit("log", stream=stream, line=line)


class LogLineStream(io.TextIOBase):
    """A text stream that turns every complete line written to it into a log event."""

    def __init__(self, writer: ProtocolWriter, stream_name: str, fileno: int) -> None:
        super().__init__()
        self._writer = writer
        self._stream_name = stream_name
        self._fileno = fileno
        self._pending = ""
        self._lock = threading.Lock()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    @property
    def errors(self) -> str:  # type: ignore[override]
        return "replace"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        # Code that needs a real descriptor (e.g. subprocess.run(stdout=sys.stdout)) gets
        # one that is not the protocol: __main__ has pointed fd 1 at stderr.
        return self._fileno

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        with self._lock:
            self._pending += text
            *complete, self._pending = self._pending.split("\n")
            while len(self._pending) > MAX_LOG_LINE_CHARS:
                complete.append(self._pending[:MAX_LOG_LINE_CHARS])
                self._pending = self._pending[MAX_LOG_LINE_CHARS:]
        for line in complete:
            self._emit(line)
        return len(text)

    def flush(self) -> None:
        # A flush does not end a line (print(..., end="", flush=True) would otherwise
        # split it); the remainder is emitted by close_pending() when capture ends.
        pass

    def close_pending(self) -> None:
        with self._lock:
            rest, self._pending = self._pending, ""
        if rest:
            self._emit(rest)

    def _emit(self, line: str) -> None:
        line = line.removesuffix("\r")
        for start in range(0, max(len(line), 1), MAX_LOG_LINE_CHARS):
            self._writer.log(line[start : start + MAX_LOG_LINE_CHARS], self._stream_name)


@contextmanager
def user_output_captured(writer: ProtocolWriter) -> Iterator[None]:
    """Routes Python-level stdout/stderr into log events for the duration of the block."""
    out = LogLineStream(writer, "stdout", fileno=1)
    err = LogLineStream(writer, "stderr", fileno=2)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
        out.close_pending()
        err.close_pending()
