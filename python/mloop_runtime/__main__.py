"""Process entry: `python -m mloop_runtime train|evaluate|serve|drift ...`.

Sets up what only makes sense for a whole process (and so is not in cli.main, which
tests call in-process): a fixed hash seed, a protocol stream nobody else can write to,
and SIGTERM handling that still removes partial output.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

from .errors import TERMINATED_EXIT_CODE, Terminated


def _ensure_fixed_hash_seed() -> None:
    """Re-exec with PYTHONHASHSEED=0 unless the caller chose a value.

    Set iteration order of strings depends on the hash seed; a model holding a set would
    otherwise pickle to different bytes on every run. Exec keeps the pid.
    """
    if "PYTHONHASHSEED" not in os.environ:
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


def _take_protocol_stream():  # -> TextIO
    """Keeps a private copy of stdout for the protocol and points fd 1 at stderr, so
    native code or child processes writing to fd 1 cannot corrupt the protocol."""
    sys.stdout.flush()
    protocol_fd = os.dup(1)  # not inherited by child processes (Python's default)
    os.dup2(2, 1)
    return os.fdopen(protocol_fd, "w", encoding="utf-8", newline="\n")


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def run() -> int:
    _ensure_fixed_hash_seed()  # before the heavy imports below, which exec would repeat
    from .cli import main

    protocol_stream = _take_protocol_stream()
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return main(sys.argv[1:], protocol_stream)
    except Terminated:
        return TERMINATED_EXIT_CODE
    finally:
        protocol_stream.flush()


if __name__ == "__main__":
    sys.exit(run())
