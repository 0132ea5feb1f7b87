"""Collecting every bad cell of a dataset into one row-level DatasetInvalid report.

A user fixing a dataset wants all problems at once, not one per run: the checks mark
bad cells per column (vectorised), and only the first few are turned into text. A report
names the row, the column and the problem, never the cell's text: the file may hold
anything (a secret in a file named by mistake), and the error reaches logs and other users.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DatasetInvalid

MAX_REPORTED_CELLS = 100  # entries in the error event's `rows`
CELLS_IN_MESSAGE = 10


@dataclass(frozen=True)
class _Check:
    column_order: int  # position of the column in the manifest (features, then target)
    column: str
    positions: np.ndarray  # 0-based row positions of the bad cells
    reason: str  # the same for every cell of the check, e.g. "not a number": it cannot quote one


class BadCells:
    """The bad cells found so far. Checks of one column must mark disjoint cells."""

    def __init__(self) -> None:
        self._checks: list[_Check] = []

    def add(self, column_order: int, column: str, mask: Any, reason: str) -> None:
        positions = np.flatnonzero(np.asarray(mask, dtype=bool))
        if len(positions):
            self._checks.append(_Check(column_order, column, positions, reason))

    @property
    def count(self) -> int:
        """The number of bad cells found so far (raise_if_any itemises only the first)."""
        return sum(len(c.positions) for c in self._checks)

    def raise_if_any(self, path: Path) -> None:
        """Raises DatasetInvalid listing the bad cells by row, then manifest column order."""
        if not self._checks:
            return
        positions = np.concatenate([c.positions for c in self._checks])
        check_index = np.concatenate([np.full(len(c.positions), i) for i, c in enumerate(self._checks)])
        orders = np.array([self._checks[i].column_order for i in check_index])
        first = np.lexsort((orders, positions))[:MAX_REPORTED_CELLS]
        entries = []
        for k in first:
            check, position = self._checks[check_index[k]], int(positions[k])
            entries.append(
                {
                    "row": position + 1,  # 1-based data row; the header is not a row
                    "column": check.column,
                    "reason": check.reason,
                }
            )
        bad_rows = len(np.unique(positions))
        listed = "; ".join(f"row {e['row']} column '{e['column']}': {e['reason']}" for e in entries[:CELLS_IN_MESSAGE])
        more = len(positions) - CELLS_IN_MESSAGE
        message = f"{path}: {bad_rows} bad row{'s' if bad_rows != 1 else ''}: {listed}"
        if more > 0:
            message += f"; ... and {more} more bad cell{'s' if more != 1 else ''}"
        raise DatasetInvalid(message, details={"rows": entries, "bad_row_count": bad_rows})
