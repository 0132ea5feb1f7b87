"""Collecting manifest problems so that all of them are reported at once."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .errors import InvalidManifest


class Problems:
    """Problems found in one mloop.yaml, each `<path>: field '<field>': <reason>`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.messages: list[str] = []

    def add(self, field_name: str, reason: str) -> None:
        self.messages.append(f"{self.path}: field '{field_name}': {reason}")

    def raise_if_any(self) -> None:
        if self.messages:
            raise InvalidManifest("\n".join(self.messages), problems=list(self.messages))


def describe(value: Any) -> str:
    """A value as quoted in a problem: strings as repr, others with their YAML-loaded type."""
    return f"{value!r} ({type(value).__name__})" if not isinstance(value, str) else repr(value)


def is_finite_number(value: Any) -> bool:
    # bool is an int subclass in Python, but `true` is not a number in a manifest.
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
