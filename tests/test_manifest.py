"""Tests of manifest.py: reading CSV/Parquet manifests as text, and sorting rows into valid and rejected."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from street2shop.errors import InvalidParameter, ManifestError
from street2shop.manifest import (
    join_labels,
    label_columns,
    read_table,
    split_labels,
    validate_manifest,
)

CSV = """image,product_id,colour,material,view,source,pair_id
shop/1_1.jpg,1,red|blue,cotton,1,shop,7
shop/1_2.jpg,1,NA,,2,shop,7
user/a.jpg,0012,black,,,user,7
"""


def test_missing_columns_are_named_with_the_columns_found():
    frame = pd.DataFrame({"img": ["a.jpg"], "colour": ["red"]})
    with pytest.raises(ManifestError) as caught:
        validate_manifest(frame)
    message = str(caught.value)
    assert "missing column(s): image, product_id" in message
    assert "columns found: img, colour" in message


def test_missing_label_column_is_an_error():
    frame = pd.DataFrame({"image": ["a.jpg"], "product_id": ["1"]})
    with pytest.raises(ManifestError, match="missing column.*colour"):
        validate_manifest(frame, label_columns=["colour"])


def test_csv_is_read_as_text_keeping_na_and_leading_zeros(tmp_path):
    path = tmp_path / "manifest.csv"
    path.write_text(CSV)
    frame = read_table(path)
    assert frame["colour"].tolist()[:2] == ["red|blue", "NA"]  # the label 'NA' is not a missing value
    assert frame["product_id"].tolist() == ["1", "1", "0012"]
    assert frame["view"].tolist()[:2] == ["1", "2"]
    assert pd.isna(frame["material"].iloc[1])  # an empty cell is missing
    assert pd.isna(frame["view"].iloc[2])


def test_csv_and_parquet_round_trip(tmp_path):
    source = tmp_path / "manifest.csv"
    source.write_text(CSV)
    frame = read_table(source)
    for name in ("copy.parquet", "copy.pq"):
        frame.to_parquet(tmp_path / name, index=False)
        again = read_table(tmp_path / name)
        pd.testing.assert_frame_equal(again, frame)
    frame.to_csv(tmp_path / "copy.csv", index=False)
    pd.testing.assert_frame_equal(read_table(tmp_path / "copy.csv"), frame)
    checked = validate_manifest(tmp_path / "copy.parquet", label_columns=["colour"])
    assert checked.rows["colour"].tolist() == ["red|blue", "NA", "black"]


def test_typed_parquet_and_dataframes_become_text(tmp_path):
    typed = pd.DataFrame(
        {
            "image": ["a.jpg", "b.jpg", "c.jpg"],
            "product_id": [101, 102, 103],
            "view": [1.0, None, 2.0],  # an int column with a gap, as pandas stores it
            "price": [9.5, 10.0, None],
        }
    )
    typed.to_parquet(tmp_path / "typed.parquet", index=False)
    for frame in (read_table(tmp_path / "typed.parquet"), read_table(typed)):
        assert frame["product_id"].tolist() == ["101", "102", "103"]
        assert frame["view"].tolist()[::2] == ["1", "2"]
        assert frame["price"].tolist()[:2] == ["9.5", "10"]
        assert pd.isna(frame["view"].iloc[1])
    assert typed["product_id"].dtype.kind == "i"  # the caller's frame is not modified


def test_unreadable_manifests_raise_manifest_error(tmp_path):
    with pytest.raises(ManifestError, match="manifest not found"):
        read_table(tmp_path / "absent.csv")
    (tmp_path / "m.xlsx").write_text("x")
    with pytest.raises(ManifestError, match="unknown file type"):
        read_table(tmp_path / "m.xlsx")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(ManifestError, match="bad.parquet"):
        read_table(tmp_path / "bad.parquet")
    with pytest.raises(ManifestError, match="duplicate column"):
        read_table(pd.DataFrame([[1, 2]], columns=["image", " image"]))


def test_bad_rows_become_error_rows_with_reasons():
    frame = pd.DataFrame(
        {
            "image": ["a.jpg", " ", "b.jpg", "a.jpg", "c.jpg", "d.jpg", "e.jpg", "b.jpg", None],
            "product_id": ["1", "2", None, "1", "3", "4", "5", "6", "7"],
            "source": ["shop", "shop", "user", "user", "street", "USER", "shop", "shop", "shop"],
            "view": ["1", "1", "1", "2", "1", "x", "3.0", "1", "1"],
            "colour": ["red", "", "red", "red", "red", "red", "red", "red", "red"],
        }
    )
    check = validate_manifest(frame)
    reasons = dict(zip(check.errors["row"], check.errors["reason"]))
    assert reasons == {
        1: "empty image",
        2: "empty product_id",
        3: "duplicate of row 0",
        4: "source must be shop or user, not 'street'",
        5: "view must be an integer, not 'x'",
        8: "empty image",
    }
    # Row 7 repeats b.jpg, but row 2 (the first b.jpg) was rejected, so row 7 is the one kept.
    assert check.rows["_row"].tolist() == [0, 6, 7]
    assert check.rows["image"].tolist() == ["a.jpg", "e.jpg", "b.jpg"]
    assert check.rows["view"].tolist() == [1, 3, 1]
    assert str(check.rows["view"].dtype) == "Int64"
    assert check.errors.columns.tolist() == ["row", "image", "reason"]
    assert check.errors.loc[check.errors["row"] == 4, "image"].item() == "c.jpg"


def test_several_reasons_are_joined_and_source_case_is_ignored():
    frame = pd.DataFrame({"image": ["", "x.jpg"], "product_id": ["", "9"], "source": ["shop", "Shop "]})
    check = validate_manifest(frame)
    assert check.errors["reason"].tolist() == ["empty image; empty product_id"]
    assert check.rows["source"].tolist() == ["shop"]


def test_row_numbers_survive_a_second_validation(tmp_path):
    frame = pd.DataFrame({"image": ["a.jpg", "", "b.jpg", "a.jpg"], "product_id": ["1", "2", "3", "4"]})
    first = validate_manifest(frame)
    subset = first.rows.iloc[[1]]  # b.jpg, row 2 of the original table
    second = validate_manifest(pd.concat([subset, subset]))
    assert second.rows["_row"].tolist() == [2]
    assert second.errors.to_dict("records") == [{"row": 2, "image": "b.jpg", "reason": "duplicate of row 2"}]
    first.rows.to_csv(tmp_path / "valid.csv", index=False)
    assert validate_manifest(tmp_path / "valid.csv").rows["_row"].tolist() == [0, 2]


def test_a_clean_manifest_has_no_errors_and_keeps_every_column():
    check = validate_manifest(pd.DataFrame({"image": ["a.jpg"], "product_id": ["1"], "gender": ["women"]}))
    assert check.errors.empty
    assert check.errors.columns.tolist() == ["row", "image", "reason"]
    assert check.rows.columns.tolist() == ["_row", "image", "product_id", "gender"]


def test_label_cells_are_normalised():
    frame = pd.DataFrame(
        {"image": ["a", "b", "c"], "product_id": ["1", "2", "3"], "colour": [" red | blue|", None, "NA"]}
    )
    check = validate_manifest(frame, label_columns=["colour"])
    assert check.rows["colour"].tolist() == ["red|blue", "", "NA"]


@pytest.mark.parametrize(
    ("value", "labels"),
    [
        ("red|blue", ["red", "blue"]),
        (" red | blue ||red", ["red", "blue"]),
        ("NA", ["NA"]),
        ("", []),
        (None, []),
        (math.nan, []),
        (pd.NA, []),
        (["wool", "silk|cashmere"], ["wool", "silk", "cashmere"]),
        (3, ["3"]),
    ],
)
def test_split_labels(value, labels):
    assert split_labels(value) == labels


def test_join_labels():
    assert join_labels(["red", " blue", "", "red"]) == "red|blue"
    assert join_labels([]) == ""
    assert join_labels("blue | red") == "blue|red"
    assert split_labels(join_labels(["cotton", "linen"])) == ["cotton", "linen"]
    with pytest.raises(InvalidParameter, match="may not contain"):
        join_labels(["a|b"])


def test_label_columns_rule():
    frame = pd.DataFrame(
        columns=["_row", "image", "product_id", "view", "split", "source", "pair_id", "mask", "colour", "_tmp", "type"]
    )
    assert label_columns(frame) == ["colour", "type"]
    assert label_columns(frame, exclude=["type"]) == ["colour"]
