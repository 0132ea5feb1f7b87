"""Datasets: CSV and Parquet read alike, and every bad cell is reported by row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import (
    REGRESSOR_PREDICT,
    REGRESSOR_TRAIN,
    classification_manifest,
    regression_manifest,
    run_in_process,
    train_args,
    write_model_dir,
    write_regression_csv,
)

from mloop_runtime.dataset import load_dataset
from mloop_runtime.errors import DatasetInvalid
from mloop_runtime.manifest import load_manifest

CONSTRAINED_FEATURES = [
    {"name": "x1", "type": "number", "min": -3, "max": 3},
    {"name": "n", "type": "integer", "min": 0, "max": 10},
    {"name": "site", "type": "string", "categories": ["north", "south"]},
]


def constrained_dir(tmp_path: Path) -> Path:
    return write_model_dir(tmp_path / "model", classification_manifest(features=CONSTRAINED_FEATURES))


def test_parquet_trains_like_the_same_csv(tmp_path: Path) -> None:
    model_dir = write_model_dir(tmp_path / "model", regression_manifest(), REGRESSOR_TRAIN, REGRESSOR_PREDICT)
    csv = write_regression_csv(tmp_path / "data.csv")
    parquet = tmp_path / "data.parquet"
    pd.read_csv(csv).to_parquet(parquet, index=False)

    from_csv = run_in_process(train_args(model_dir, csv, tmp_path / "a", "--seed", "4"))
    from_parquet = run_in_process(train_args(model_dir, parquet, tmp_path / "b", "--seed", "4"))

    assert from_parquet.exit_code == 0, from_parquet.events
    assert from_parquet.last["metrics"] == from_csv.last["metrics"]
    assert from_parquet.last["holdout"] == from_csv.last["holdout"]
    assert from_parquet.last["rows"] == {"train": 160, "holdout": 40}


def test_parquet_cells_follow_the_declared_types(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "x1": ["1.5", "2", None],  # numbers stored as text are parsed like CSV cells
            "n": np.array([1, 2, 3], dtype="int64"),
            "site": [7, 8, 7],  # a string feature stored as numbers becomes text
            "label": [0.0, 1.0, 1.0],  # integral floats are integer labels
        },
        index=[10, 11, 12],  # a stored index must not leak into X
    )
    frame.to_parquet(tmp_path / "d.parquet")
    features = [
        {"name": "x1", "type": "number"},
        {"name": "n", "type": "integer"},
        {"name": "site", "type": "string"},
    ]
    manifest = load_manifest(write_model_dir(tmp_path / "model", classification_manifest(features=features)))

    dataset = load_dataset(tmp_path / "d.parquet", manifest)

    assert dataset.features.index.tolist() == [0, 1, 2]
    assert dataset.features["x1"].tolist()[:2] == [1.5, 2.0] and np.isnan(dataset.features["x1"].iloc[2])
    assert dataset.features["n"].dtype == "int64"
    assert dataset.features["site"].tolist() == ["7", "8", "7"]
    assert dataset.target.dtype == "int64" and dataset.classes == (0, 1)


def test_bad_rows_are_reported_exactly(tmp_path: Path) -> None:
    csv = tmp_path / "h.csv"
    csv.write_text(
        "x1,n,site,label,id\n"
        "0.5,1,north,0,a\n"  # row 1: fine
        "abc,2,south,1,b\n"  # row 2: not a number
        "9.5,1.5,east,,c\n"  # row 3: above max, not an integer, not a category, empty target
        "-0.5,,north,1,d\n"  # row 4: empty integer
        ",11,,0,e\n"  # row 5: empty number and string are allowed; 11 above max
        "1,3,south,1,f\n"
    )
    out = tmp_path / "out"

    run = run_in_process(train_args(constrained_dir(tmp_path), csv, out))

    assert run.exit_code == 3
    error = run.last
    assert error["kind"] == "DatasetInvalid" and error["traceback_tail"] is None
    assert error["bad_row_count"] == 4
    assert error["rows"] == [
        {"row": 2, "column": "x1", "value": "abc", "reason": "'abc' is not a number"},
        {"row": 3, "column": "x1", "value": "9.5", "reason": "9.5 is above max 3"},
        {"row": 3, "column": "n", "value": "1.5", "reason": "'1.5' is not an integer"},
        {"row": 3, "column": "site", "value": "east", "reason": "'east' is not one of 'north', 'south'"},
        {"row": 3, "column": "label", "value": None, "reason": "empty, but the target needs a value"},
        {"row": 4, "column": "n", "value": None, "reason": "empty, but integer features need a value"},
        {"row": 5, "column": "n", "value": "11", "reason": "11 is above max 10"},
    ]
    assert error["message"] == (
        f"{csv}: 4 bad rows: row 2 column 'x1': 'abc' is not a number; row 3 column 'x1': 9.5 is above max 3; "
        "row 3 column 'n': '1.5' is not an integer; row 3 column 'site': 'east' is not one of 'north', 'south'; "
        "row 3 column 'label': empty, but the target needs a value; "
        "row 4 column 'n': empty, but integer features need a value; row 5 column 'n': 11 is above max 10"
    )
    assert not out.exists()


def test_report_is_capped(tmp_path: Path) -> None:
    rows = 150
    csv = tmp_path / "wide.csv"
    # Every row has a negative x1 (below min) and a bad category: 300 bad cells.
    csv.write_text("x1,n,site,label\n" + "".join(f"-{4 + i},1,west,{i % 2}\n" for i in range(rows)))

    with pytest.raises(DatasetInvalid) as info:
        load_dataset(csv, load_manifest(constrained_dir(tmp_path)))

    details = info.value.details
    assert details["bad_row_count"] == rows
    assert len(details["rows"]) == 100
    assert [(e["row"], e["column"]) for e in details["rows"][:3]] == [(1, "x1"), (1, "site"), (2, "x1")]
    assert details["rows"][-1]["row"] == 50
    assert info.value.message.startswith(f"{csv}: 150 bad rows: row 1 column 'x1': -4.0 is below min -3; ")
    assert info.value.message.count("; row ") == 9  # ten cells listed
    assert info.value.message.endswith("; ... and 290 more bad cells")


def test_parquet_bad_cells_quote_stored_values(tmp_path: Path) -> None:
    pd.DataFrame({"x1": [True, False], "n": [1, 12], "site": ["north", "south"], "label": [0, 1]}).to_parquet(
        tmp_path / "d.parquet"
    )

    with pytest.raises(DatasetInvalid) as info:
        load_dataset(tmp_path / "d.parquet", load_manifest(constrained_dir(tmp_path)))

    assert info.value.details["rows"] == [
        {"row": 1, "column": "x1", "value": True, "reason": "True is not a number"},
        {"row": 2, "column": "x1", "value": False, "reason": "False is not a number"},
        {"row": 2, "column": "n", "value": 12, "reason": "12 is above max 10"},
    ]


def test_unsupported_extension(tmp_path: Path) -> None:
    data = tmp_path / "data.xlsx"
    data.write_text("x1,x2,site,label\n")
    model_dir = write_model_dir(tmp_path / "model", classification_manifest())

    run = run_in_process(train_args(model_dir, data, tmp_path / "out"))

    assert run.exit_code == 3
    assert (
        run.last["message"]
        == f"{data}: unsupported dataset file extension '.xlsx' (supported: .csv, .parquet)"
    )
    assert "rows" not in run.last  # only row-level problems carry rows


def test_parquet_missing_column_and_unreadable_file(tmp_path: Path) -> None:
    manifest = load_manifest(write_model_dir(tmp_path / "model", classification_manifest()))
    pd.DataFrame({"x1": [1.0, 2.0], "label": [0, 1]}).to_parquet(tmp_path / "narrow.parquet")
    (tmp_path / "junk.parquet").write_text("x1,x2\n")

    with pytest.raises(
        DatasetInvalid, match=r"missing required column\(s\) 'x2', 'site' \(columns in file: 'x1', 'label'"
    ):
        load_dataset(tmp_path / "narrow.parquet", manifest)
    with pytest.raises(DatasetInvalid, match="junk.parquet: not a readable Parquet file"):
        load_dataset(tmp_path / "junk.parquet", manifest)
