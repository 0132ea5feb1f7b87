"""Datasets: CSV and Parquet read alike, and every bad cell is reported by row."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
from mloop_runtime.manifest import Manifest, load_manifest

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
        {"row": 2, "column": "x1", "reason": "not a number"},
        {"row": 3, "column": "x1", "reason": "above the declared maximum 3"},
        {"row": 3, "column": "n", "reason": "not an integer"},
        {"row": 3, "column": "site", "reason": "not one of the declared categories 'north', 'south'"},
        {"row": 3, "column": "label", "reason": "empty, but the target needs a value"},
        {"row": 4, "column": "n", "reason": "empty, but integer features need a value"},
        {"row": 5, "column": "n", "reason": "above the declared maximum 10"},
    ]
    assert error["message"] == (
        f"{csv}: 4 bad rows: row 2 column 'x1': not a number; row 3 column 'x1': above the declared maximum 3; "
        "row 3 column 'n': not an integer; row 3 column 'site': not one of the declared categories 'north', "
        "'south'; row 3 column 'label': empty, but the target needs a value; "
        "row 4 column 'n': empty, but integer features need a value; "
        "row 5 column 'n': above the declared maximum 10"
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
    assert info.value.message.startswith(f"{csv}: 150 bad rows: row 1 column 'x1': below the declared minimum -3; ")
    assert info.value.message.count("; row ") == 9  # ten cells listed
    assert info.value.message.endswith("; ... and 290 more bad cells")


def test_parquet_bad_cells_are_judged_by_their_stored_values(tmp_path: Path) -> None:
    pd.DataFrame({"x1": [True, False], "n": [1, 12], "site": ["north", "south"], "label": [0, 1]}).to_parquet(
        tmp_path / "d.parquet"
    )

    with pytest.raises(DatasetInvalid) as info:
        load_dataset(tmp_path / "d.parquet", load_manifest(constrained_dir(tmp_path)))

    assert info.value.details["rows"] == [
        {"row": 1, "column": "x1", "reason": "not a number"},
        {"row": 2, "column": "x1", "reason": "not a number"},
        {"row": 2, "column": "n", "reason": "above the declared maximum 10"},
    ]


def test_unsupported_extension(tmp_path: Path) -> None:
    data = tmp_path / "data.xlsx"
    data.write_text("x1,x2,site,label\n")
    model_dir = write_model_dir(tmp_path / "model", classification_manifest())

    run = run_in_process(train_args(model_dir, data, tmp_path / "out"))

    assert run.exit_code == 3
    assert run.last["message"] == f"{data}: unsupported dataset file extension '.xlsx' (supported: .csv, .parquet)"
    assert "rows" not in run.last  # only row-level problems carry rows


def test_parquet_missing_column_and_unreadable_file(tmp_path: Path) -> None:
    manifest = load_manifest(write_model_dir(tmp_path / "model", classification_manifest()))
    pd.DataFrame({"x1": [1.0, 2.0], "label": [0, 1]}).to_parquet(tmp_path / "narrow.parquet")
    (tmp_path / "junk.parquet").write_text("x1,x2\n")

    missing = r"missing required column\(s\) 'x2', 'site' \(required by .*mloop.yaml; the file has 2 columns\)"
    with pytest.raises(DatasetInvalid, match=missing):
        load_dataset(tmp_path / "narrow.parquet", manifest)
    with pytest.raises(DatasetInvalid, match="junk.parquet: not a readable Parquet file"):
        load_dataset(tmp_path / "junk.parquet", manifest)


# pandas' default missing-value markers; number and integer cells holding one are empty.
PANDAS_MARKERS = ["#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>"]
PANDAS_MARKERS += ["N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]


def test_missing_markers_are_those_of_pandas() -> None:
    from mloop_runtime.dataset import MISSING_MARKERS
    from pandas._libs.parsers import STR_NA_VALUES

    assert MISSING_MARKERS == STR_NA_VALUES == {"", *PANDAS_MARKERS}


def _marker_manifest(tmp_path: Path) -> Manifest:
    features = [
        {"name": "x1", "type": "number"},
        {"name": "site", "type": "string", "categories": ["NA", "None", "null", "north"]},
        {"name": "note", "type": "string"},
    ]
    return load_manifest(write_model_dir(tmp_path / "model", classification_manifest(features=features)))


def test_text_that_looks_missing_is_text_in_string_columns_and_labels(tmp_path: Path) -> None:
    manifest = _marker_manifest(tmp_path)
    csv = tmp_path / "d.csv"
    rows = [f"{marker},NA,{marker},None" for marker in PANDAS_MARKERS]
    csv.write_text("x1,site,note,label\n" + "\n".join(rows) + "\n1.5,None,,yes\n2,null,nan,NA\n,,N/A,yes\n")

    dataset = load_dataset(csv, manifest)

    n = len(PANDAS_MARKERS)
    assert dataset.features["x1"].isna().tolist() == [True] * n + [False, False, True]
    assert dataset.features["site"].tolist()[: n + 2] == ["NA"] * n + ["None", "null"]
    assert pd.isna(dataset.features["site"].iloc[-1])  # truly empty
    assert dataset.features["note"].tolist()[:n] == PANDAS_MARKERS
    assert dataset.features["note"].tolist()[n + 1 :] == ["nan", "N/A"] and pd.isna(dataset.features["note"].iloc[n])
    assert dataset.target.tolist() == ["None"] * n + ["yes", "NA", "yes"]
    assert dataset.classes == ("NA", "None", "yes")


def test_parquet_follows_the_same_rule(tmp_path: Path) -> None:
    manifest = _marker_manifest(tmp_path)
    pd.DataFrame(
        {
            "x1": ["NA", "null", "2.5", None, ""],  # numbers stored as text: markers are empty
            "site": ["NA", "None", "null", None, ""],
            "note": ["n/a", "NULL", "x", None, ""],
            "label": ["None", "NA", "None", "NA", "None"],
        }
    ).to_parquet(tmp_path / "d.parquet")

    dataset = load_dataset(tmp_path / "d.parquet", manifest)

    assert dataset.features["x1"].isna().tolist() == [True, True, False, True, True]
    assert dataset.features["site"].tolist()[:3] == ["NA", "None", "null"]
    assert dataset.features["site"].iloc[3:].isna().all()  # null and "" are empty, as an empty CSV cell
    assert dataset.features["note"].tolist()[:3] == ["n/a", "NULL", "x"]
    assert dataset.classes == ("NA", "None")


def test_markers_stay_missing_in_integer_columns_and_a_regression_target(tmp_path: Path) -> None:
    manifest = load_manifest(write_model_dir(tmp_path / "model", regression_manifest()))
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,y\nNA,1,2.0\n1.0,null,3.0\n2.0,2,None\n")

    with pytest.raises(DatasetInvalid) as info:
        load_dataset(csv, manifest)

    assert info.value.details["rows"] == [
        {"row": 2, "column": "b", "reason": "empty, but integer features need a value"},
        {"row": 3, "column": "y", "reason": "empty, but the target needs a value"},
    ]


@pytest.mark.parametrize(
    ("header", "column"),
    [("x1,x2,x1,site,label", "x1"), ("x1,x2,site,label,label", "label"), ("x1, x2,x2,site,label", "x2")],
)
def test_duplicate_csv_headers_are_refused(tmp_path: Path, header: str, column: str) -> None:
    manifest = load_manifest(write_model_dir(tmp_path / "model", classification_manifest()))
    csv = tmp_path / "d.csv"
    width = len(header.split(","))
    csv.write_text(header + "\n" + "\n".join(",".join(["1"] * (width - 2) + ["north", str(i % 2)]) for i in range(4)))

    with pytest.raises(DatasetInvalid) as info:
        load_dataset(csv, manifest)

    assert info.value.message == (
        f"{csv}: column {column!r} appears 2 times in the header; the manifest reads it, so it must appear once"
    )


def test_duplicates_of_other_columns_are_ignored_and_columns_are_taken_by_name(tmp_path: Path) -> None:
    manifest = load_manifest(write_model_dir(tmp_path / "model", classification_manifest()))
    csv = tmp_path / "d.csv"
    # pandas would rename the second 'id' to 'id.1', and then 'id.1' to 'id.1.1'.
    csv.write_text("id,id,x2,x1,id.1,site,label\na,b,2,1,c,north,0\nd,e,4,3,f,south,1\n")

    dataset = load_dataset(csv, manifest)

    assert dataset.features["x1"].tolist() == [1.0, 3.0]
    assert dataset.features["x2"].tolist() == [2.0, 4.0]


def test_duplicate_parquet_columns_are_refused(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    manifest = load_manifest(write_model_dir(tmp_path / "model", classification_manifest()))
    columns = {"x1": [1.0, 2.0], "x2": [1.0, 2.0], "site": ["north", "south"], "label": [0, 1]}
    names = [*columns, "x2"]
    table = pa.Table.from_arrays([pa.array(v) for v in [*columns.values(), [5.0, 6.0]]], names=names)
    pq.write_table(table, tmp_path / "d.parquet")

    with pytest.raises(DatasetInvalid) as info:
        load_dataset(tmp_path / "d.parquet", manifest)

    assert info.value.message == (
        f"{tmp_path / 'd.parquet'}: column 'x2' appears 2 times in the file; the manifest reads it, "
        "so it must appear once"
    )


SECRET = "DB_PASSWORD=hunter2"


def _error_of(run_dir: Path, dataset: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    run = run_in_process(train_args(write_model_dir(run_dir / "model", manifest), dataset, run_dir / "out"))
    assert run.exit_code == 3, run.events
    return run.last


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("a number cell", f"x1,x2,site,label\n{SECRET},1,north,0\n1,2,south,1\n"),
        ("an integer cell", f"x1,x2,site,label\n1,{SECRET},north,0\n1,2,south,1\n"),
        ("a category", f"x1,x2,site,label\n1,1,{SECRET},0\n1,2,south,1\n"),
        ("a regression target", None),
        ("the header", f"{SECRET}\nA=1\nB=2\n"),
        ("the only class", f"x1,x2,site,label\n1,1,north,{SECRET}\n1,2,south,{SECRET}\n"),
        ("a malformed row", f'x1,x2,site,label\n1,1,north,0\n"{SECRET},1\n'),
    ],
)
def test_errors_name_the_problem_without_the_files_text(tmp_path: Path, name: str, text: str | None) -> None:
    features = [
        {"name": "x1", "type": "number", "min": 0},
        {"name": "x2", "type": "integer"},
        {"name": "site", "type": "string", "categories": ["north", "south"]},
    ]
    manifest = classification_manifest(features=features)
    if text is None:
        manifest = regression_manifest()
        text = f"a,b,y\n1,1,{SECRET}\n1,2,3\n"
    csv = tmp_path / "d.csv"
    csv.write_text(text)

    error = _error_of(tmp_path, csv, manifest)

    assert "hunter2" not in json.dumps(error), f"{name}: {error}"
    assert error["message"].startswith(f"{csv}: ")
