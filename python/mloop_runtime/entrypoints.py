"""Finding and importing the user's `module:function` entrypoints from the model dir."""

from __future__ import annotations

import importlib
import re
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InvalidManifest, TrainingFailed

_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
# Used with fullmatch: `$` would also accept a trailing newline.
ENTRYPOINT_PATTERN = re.compile(rf"(?P<module>{_IDENTIFIER}(?:\.{_IDENTIFIER})*):(?P<function>{_IDENTIFIER})")

TRACEBACK_TAIL_LINES = 20


@dataclass(frozen=True)
class Entrypoint:
    module: str
    function: str

    @classmethod
    def parse(cls, text: str) -> Entrypoint | None:
        match = ENTRYPOINT_PATTERN.fullmatch(text)
        return cls(match["module"], match["function"]) if match else None

    def __str__(self) -> str:
        return f"{self.module}:{self.function}"

    def candidate_files(self, model_dir: Path) -> list[Path]:
        """Where the module's source must be: `a.b` is `a/b.py` or `a/b/__init__.py`."""
        base = model_dir.joinpath(*self.module.split("."))
        return [base.with_suffix(".py"), base / "__init__.py"]


def traceback_tail(exc: BaseException, user_root: Path | None = None) -> str:
    """The last lines of the formatted traceback, where the failing frame is.

    With `user_root`, frames before the first one in a file under it (the runtime's and
    importlib's) are dropped, so the tail starts at the user's code.
    """
    tb = exc.__traceback__
    if user_root is not None:
        prefix = str(user_root.resolve()) + "/"
        first_user = tb
        while first_user is not None and not first_user.tb_frame.f_code.co_filename.startswith(prefix):
            first_user = first_user.tb_next
        tb = first_user or tb
    lines = "".join(traceback.format_exception(type(exc), exc, tb)).rstrip("\n").split("\n")
    return "\n".join(lines[-TRACEBACK_TAIL_LINES:])


def describe_exception(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"SystemExit({exc.code!r}) (the code called sys.exit)"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@contextmanager
def user_modules_importable(model_dir: Path) -> Iterator[None]:
    """Puts the model dir first on sys.path; afterwards forgets the modules loaded from it.

    Forgetting matters when the runtime is used in-process (tests): two model dirs both
    have a `train` module, and the second must not get the first one from sys.modules.
    """
    root = str(model_dir.resolve())
    before = set(sys.modules)
    sys.path.insert(0, root)
    importlib.invalidate_caches()
    try:
        yield
    finally:
        if root in sys.path:
            sys.path.remove(root)
        for name in set(sys.modules) - before:
            origin = getattr(sys.modules[name], "__file__", None) or ""
            if origin.startswith(root + "/"):
                del sys.modules[name]


def load_entrypoint(entrypoint: Entrypoint, role: str, manifest_path: Path) -> Callable[..., Any]:
    """Imports the entrypoint's module (running user code) and returns the function.

    `role` is the manifest field ("train"/"predict"), used in messages.
    Call inside `user_modules_importable(model_dir)`.
    """
    try:
        module = importlib.import_module(entrypoint.module)
    except (Exception, SystemExit) as exc:
        raise TrainingFailed(
            f"importing module '{entrypoint.module}' of the {role} entrypoint failed: {describe_exception(exc)}",
            traceback_tail=traceback_tail(exc, user_root=manifest_path.parent),
        ) from exc
    function = getattr(module, entrypoint.function, None)
    if function is None:
        problem = f"module '{entrypoint.module}' has no attribute '{entrypoint.function}'"
    elif not callable(function):
        problem = f"'{entrypoint}' is a {type(function).__name__}, not a function"
    else:
        return function
    message = f"{manifest_path}: field '{role}': {problem}"
    raise InvalidManifest(message, problems=[message])
