"""Reading a dataset file (CSV or Parquet, by extension) into its raw, unconverted cells.

The cells are converted and checked per the manifest afterwards (dataset.py), the same
way for both formats: CSV cells arrive as text, Parquet cells with their stored type.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .errors import DatasetInvalid

# Lower-cased file extension -> format name, as used in messages.
DATASET_FORMATS = {".csv": "CSV", ".parquet": "Parquet"}


def dataset_format(path: Path) -> str:
    """The dataset's format, from its extension (case-insensitive)."""
    name = DATASET_FORMATS.get(path.suffix.lower())
    if name is None:
        raise DatasetInvalid(
            f"{path}: unsupported dataset file extension {path.suffix or '(none)'!r} "
            f"(supported: {', '.join(DATASET_FORMATS)})"
        )
    return name


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        # Everything as text: conversion per declared type happens later, cell by cell.
        return pd.read_csv(path, dtype=str, keep_default_na=True, skipinitialspace=True)
    except pd.errors.EmptyDataError as exc:
        raise DatasetInvalid(f"{path}: dataset is empty (no header row)") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DatasetInvalid(f"{path}: not a readable CSV file: {exc}") from exc


def _parquet_columns(path: Path) -> list[str]:
    import pyarrow as pa  # imported late: only Parquet datasets need it directly
    import pyarrow.parquet as pq

    try:
        return list(pq.ParquetFile(path).schema_arrow.names)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DatasetInvalid(f"{path}: not a readable Parquet file: {exc}") from exc


def _read_parquet(path: Path, columns: Sequence[str]) -> pd.DataFrame:
    import pyarrow as pa

    try:
        # Only the needed columns: a wide file need not be read whole.
        return pd.read_parquet(path, columns=list(columns))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DatasetInvalid(f"{path}: not a readable Parquet file: {exc}") from exc


def _check_columns(path: Path, present: Sequence[str], required: Sequence[str], required_by: Path) -> None:
    missing = [c for c in required if c not in present]
    if missing:
        raise DatasetInvalid(
            f"{path}: missing required column(s) {', '.join(map(repr, missing))} "
            f"(columns in file: {', '.join(map(repr, present))}; required by {required_by})"
        )


def read_cells(path: Path, required: Sequence[str], required_by: Path) -> pd.DataFrame:
    """The `required` columns of the dataset at `path`, rows in file order.

    `required_by` (the manifest path) is named when a column is missing. Other columns
    of the file are ignored.
    """
    if not path.is_file():
        raise DatasetInvalid(f"{path}: dataset file not found")
    if dataset_format(path) == "CSV":
        frame = _read_csv(path)
        _check_columns(path, list(frame.columns), required, required_by)
        return frame[list(required)]
    _check_columns(path, _parquet_columns(path), required, required_by)
    # pandas restores an index stored in the file (e.g. after filtering): drop it, so the
    # index is the 0-based row position as for CSV.
    return _read_parquet(path, required).reset_index(drop=True)
