"""Reading a dataset file (CSV or Parquet, by extension) into its raw, unconverted cells.

The cells are converted and checked per the manifest afterwards (dataset.py), the same
way for both formats: CSV cells arrive as text, Parquet cells with their stored type.
Only cells with no text are missing here: whether `NA` is missing depends on the
column's declared type, which dataset.py knows. Messages name the file and the problem
but never repeat what the file holds (not even its header: it may not be a dataset).
"""

from __future__ import annotations

from collections import Counter
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


def _read_csv(path: Path) -> tuple[list[str], pd.DataFrame]:
    """(the header's names, the data rows with columns numbered from 0), all cells as text."""
    try:
        # header=None: the header is read as a row, so its names arrive as written (pandas
        # would rename a repeated "x1" to "x1.1"). No markers: only empty cells are missing.
        frame = pd.read_csv(path, header=None, dtype=str, keep_default_na=False, na_values=[""], skipinitialspace=True)
    except pd.errors.EmptyDataError as exc:
        raise DatasetInvalid(f"{path}: dataset is empty (no header row)") from exc
    except pd.errors.ParserError as exc:
        # pandas' parser messages say where ("Expected 4 fields in line 7, saw 5"), never what.
        raise DatasetInvalid(f"{path}: not a readable CSV file: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise DatasetInvalid(f"{path}: not a readable CSV file: not UTF-8 text (at byte {exc.start})") from exc
    except ValueError as exc:
        raise DatasetInvalid(f"{path}: not a readable CSV file ({type(exc).__name__})") from exc
    header = ["" if pd.isna(name) else str(name) for name in frame.iloc[0]]
    return header, frame.iloc[1:].reset_index(drop=True)


def _parquet_columns(path: Path) -> list[str]:
    import pyarrow as pa  # imported late: only Parquet datasets need it directly
    import pyarrow.parquet as pq

    try:
        return list(pq.ParquetFile(path).schema_arrow.names)
    except (pa.ArrowException, OSError, ValueError) as exc:
        # The library's message may quote the file's metadata: only its kind is named.
        raise DatasetInvalid(f"{path}: not a readable Parquet file ({type(exc).__name__})") from exc


def _read_parquet(path: Path, columns: Sequence[str]) -> pd.DataFrame:
    import pyarrow as pa

    try:
        # Only the needed columns: a wide file need not be read whole.
        return pd.read_parquet(path, columns=list(columns))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DatasetInvalid(f"{path}: not a readable Parquet file ({type(exc).__name__})") from exc


def _check_columns(path: Path, present: Sequence[str], required: Sequence[str], required_by: Path, where: str) -> None:
    counts = Counter(present)
    repeated = [c for c in required if counts[c] > 1]
    if repeated:
        # Which of them holds the data is anyone's guess: refuse rather than pick one.
        raise DatasetInvalid(
            f"{path}: column {repeated[0]!r} appears {counts[repeated[0]]} times in the {where}; "
            "the manifest reads it, so it must appear once"
        )
    missing = [c for c in required if c not in counts]
    if missing:
        raise DatasetInvalid(
            f"{path}: missing required column(s) {', '.join(map(repr, missing))} "
            f"(required by {required_by}; the file has {len(present)} column{'' if len(present) == 1 else 's'})"
        )


def read_cells(path: Path, required: Sequence[str], required_by: Path) -> pd.DataFrame:
    """The `required` columns of the dataset at `path`, rows in file order.

    `required_by` (the manifest path) is named when a column is missing. Other columns
    of the file are ignored, repeated ones too.
    """
    if not path.is_file():
        raise DatasetInvalid(f"{path}: dataset file not found")
    if dataset_format(path) == "CSV":
        header, rows = _read_csv(path)
        _check_columns(path, header, required, required_by, "header")
        cells = rows[[header.index(c) for c in required]]
        cells.columns = list(required)
        return cells
    _check_columns(path, _parquet_columns(path), required, required_by, "file")
    # pandas restores an index stored in the file (e.g. after filtering): drop it, so the
    # index is the 0-based row position as for CSV.
    return _read_parquet(path, required).reset_index(drop=True)
