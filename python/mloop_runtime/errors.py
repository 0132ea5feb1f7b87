"""Failures the runtime reports to the engine, each with a stable kind and exit code.

The kinds and exit codes are part of the engine contract (python/README.md): change
them only together with the TypeScript side.
"""

from __future__ import annotations

from typing import Any, ClassVar

INTERNAL_ERROR_KIND = "InternalError"
INTERNAL_ERROR_EXIT_CODE = 1
TERMINATED_EXIT_CODE = 143  # 128 + SIGTERM, what a shell would report


class RuntimeFailure(Exception):
    """An expected failure: reported as a final `error` event, then exit with `exit_code`."""

    kind: ClassVar[str] = INTERNAL_ERROR_KIND
    exit_code: ClassVar[int] = INTERNAL_ERROR_EXIT_CODE

    def __init__(
        self,
        message: str,
        traceback_tail: str | None = None,
        problems: list[str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.traceback_tail = traceback_tail
        self.problems = problems
        # Extra fields of the `error` event (e.g. DatasetInvalid's `rows`, `bad_row_count`).
        self.details = details or {}


class InvalidManifest(RuntimeFailure):
    kind = "InvalidManifest"
    exit_code = 2


class DatasetInvalid(RuntimeFailure):
    kind = "DatasetInvalid"
    exit_code = 3


class TrainingFailed(RuntimeFailure):
    """User code raised, or returned something that breaks the train/predict contract."""

    kind = "TrainingFailed"
    exit_code = 4


class UsageError(RuntimeFailure):
    """Bad command line (the engine's bug, not the user's). 64 is EX_USAGE from sysexits.h."""

    kind = "UsageError"
    exit_code = 64


class Terminated(BaseException):
    """Raised from the SIGTERM handler so `finally` blocks clean up partial output.

    A BaseException so that user code's `except Exception:` cannot swallow it.
    """
