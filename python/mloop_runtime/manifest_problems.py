"""Collecting manifest problems so that all of them are reported at once."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .errors import InvalidManifest

# A quoted value helps to find the typo; a longer one is no help, and a file may hold other
# things than the manifest it claims to be.
MAX_QUOTED_CHARS = 40


class Problems:
    """Problems found in one mloop.yaml, each `<path>: field '<field>': <reason>`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.messages: list[str] = []

    def add(self, field_name: str, reason: str) -> None:
        # Field names come from the file too (an unknown key is reported by its name).
        if len(field_name) > MAX_QUOTED_CHARS:
            field_name = field_name[:MAX_QUOTED_CHARS] + "…"
        self.messages.append(f"{self.path}: field '{field_name}': {reason}")

    def raise_if_any(self) -> None:
        if self.messages:
            raise InvalidManifest("\n".join(self.messages), problems=list(self.messages))


def describe(value: Any) -> str:
    """A value as quoted in a problem: strings as repr, others with their YAML-loaded type;
    long ones by their kind and size only."""
    text = repr(value)
    if len(text) > MAX_QUOTED_CHARS:
        if isinstance(value, str):
            return f"a string of {len(value)} characters"
        size = f" of {len(value)} items" if isinstance(value, (list, dict)) else ""
        return f"a {type(value).__name__}{size}"
    return text if isinstance(value, str) else f"{text} ({type(value).__name__})"


def is_finite_number(value: Any) -> bool:
    # bool is an int subclass in Python, but `true` is not a number in a manifest.
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
