"""Reading the current window of a drift check: a CSV, Parquet or JSON-lines file of the
records production saw, and turning its cells into numbers, text or class labels.

Unlike a training dataset, a bad cell does not reject the window: monitoring is there to
notice bad data. A cell that should be a number but is not counts as `invalid` and is
dropped like a missing one; the counts go into the report.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from .errors import DatasetInvalid

CURRENT_FORMATS = {".csv": "CSV", ".parquet": "Parquet", ".jsonl": "JSON lines"}
# Text cells that mean "no value" in a number column (pandas' usual markers); in a text
# column only an empty cell is missing, so a category "NA" stays a category.
NUMBER_NA_MARKERS = ("", "NA", "N/A", "n/a", "NaN", "nan", "-NaN", "-nan", "null", "NULL", "None", "<NA>", "#N/A")


@dataclass(frozen=True)
class CurrentWindow:
    path: Path
    rows: int
    columns: dict[str, pd.Series]  # raw cells of the wanted columns the file has


def _check_format(path: Path) -> str:
    name = CURRENT_FORMATS.get(path.suffix.lower())
    if name is None:
        raise DatasetInvalid(
            f"{path}: unsupported file extension {path.suffix or '(none)'!r} for current data "
            f"(supported: {', '.join(CURRENT_FORMATS)})"
        )
    return name


def _csv_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as f:
        return next(csv.reader(f), [])


def _read_csv(path: Path, numeric: set[str], text: set[str]) -> pd.DataFrame:
    try:
        header = _csv_header(path)
    except UnicodeDecodeError as exc:
        raise DatasetInvalid(f"{path}: not a readable CSV file: {exc}") from exc
    if not header:
        return pd.DataFrame()  # an empty file is an empty window
    duplicated = sorted({c for c in header if header.count(c) > 1} & (numeric | text))
    if duplicated:
        raise DatasetInvalid(f"{path}: column(s) {', '.join(map(repr, duplicated))} appear more than once")
    present = [c for c in header if c in numeric or c in text]
    markers: dict[str, list[str]] = {c: list(NUMBER_NA_MARKERS) if c in numeric else [""] for c in present}
    try:
        return pd.read_csv(
            path,
            usecols=present,
            dtype={c: "str" for c in present if c in text},
            keep_default_na=False,
            na_values=markers,
            skipinitialspace=True,
        )
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DatasetInvalid(f"{path}: not a readable CSV file: {exc}") from exc


def _read_jsonl(path: Path) -> pd.DataFrame:
    if path.stat().st_size == 0:
        return pd.DataFrame()
    try:
        return pd.read_json(path, lines=True, dtype=False, precise_float=True)
    except ValueError as exc:
        raise DatasetInvalid(f"{path}: not a readable JSON-lines file (one object per line): {exc}") from exc


def _read_parquet(path: Path, wanted: Sequence[str]) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        names = set(pq.ParquetFile(path).schema_arrow.names)
        return pd.read_parquet(path, columns=[c for c in wanted if c in names]).reset_index(drop=True)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DatasetInvalid(f"{path}: not a readable Parquet file: {exc}") from exc


def read_current(path: Path, numeric: Sequence[str], text: Sequence[str]) -> CurrentWindow:
    """The `numeric` and `text` columns of the file that it has (missing ones are left out,
    for the report to name), with the number of records."""
    fmt = _check_format(path)
    if not path.is_file():
        raise DatasetInvalid(f"{path}: current data file not found")
    wanted = [*numeric, *text]
    if fmt == "CSV":
        frame = _read_csv(path, set(numeric), set(text))
    elif fmt == "JSON lines":
        frame = _read_jsonl(path)
    else:
        frame = _read_parquet(path, wanted)
    return CurrentWindow(path, len(frame), {c: frame[c] for c in wanted if c in frame.columns})


def to_numbers(raw: pd.Series) -> tuple[np.ndarray, int]:
    """float64 values (NaN where missing or not a number) and how many cells were not numbers."""
    if is_bool_dtype(raw.dtype):  # true/false are not numbers (as in training data)
        return np.full(len(raw), np.nan), int(raw.notna().sum())
    if is_numeric_dtype(raw.dtype):
        return raw.to_numpy(dtype=np.float64, na_value=np.nan), 0
    present = raw.notna() & ~raw.astype("str").isin(NUMBER_NA_MARKERS)
    # Through text, so that booleans in a mixed column ("True") are not numbers either.
    text = raw.astype("str").where(present)
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return numbers, int(np.count_nonzero(present.to_numpy() & np.isnan(numbers)))


def to_text(raw: pd.Series) -> pd.Series:
    """Text cells (stored numbers become their text); missing stays missing."""
    return raw.astype("str").where(raw.notna())
