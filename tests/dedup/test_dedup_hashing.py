"""Tests for street2shop.dedup.hashing: pHash/dHash, mirrored hashes, thumbnails and hashing a folder."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest

from street2shop.dedup.hashing import (
    THUMB_SIDE,
    ImageHashes,
    colour_thumbnail,
    compute_hashes,
    dhash,
    hamming,
    image_hash_values,
    phash,
)
from street2shop.errors import InvalidParameter
from street2shop.images.decode import decode_image, encode_jpeg
from street2shop.storage.local import LocalImageStore
from street2shop.storage.stores import ImageSource
from dedup_catalogue import product_shot


def test_copies_are_close_and_different_pictures_far():
    original = product_shot(1)
    resized = cv2.resize(original, (180, 180), interpolation=cv2.INTER_AREA)
    recompressed = decode_image(encode_jpeg(original, 35))
    other = product_shot(2)
    for hash_of in (phash, dhash):
        code = hash_of(original)
        assert 0 <= code < 2**64
        assert hamming(code, hash_of(original.copy())) == 0
        assert hamming(code, hash_of(resized)) <= 4
        assert hamming(code, hash_of(recompressed)) <= 4
        assert hamming(code, hash_of(other)) > 12


def test_mirrored_hash_matches_the_flipped_picture():
    picture = product_shot(3)
    flipped = np.ascontiguousarray(picture[:, ::-1])
    assert hamming(phash(picture, mirrored=True), phash(flipped)) <= 2
    assert hamming(dhash(picture, mirrored=True), dhash(flipped)) <= 2
    assert hamming(phash(picture), phash(flipped)) > 8  # the picture is not symmetric
    values = image_hash_values(picture, ("phash", "dhash"), flip=True)
    assert values.dtype == np.uint64 and len(values) == 4
    assert int(values[0]) == phash(picture) and int(values[3]) == dhash(picture, mirrored=True)


def test_gray_and_tiny_pictures_hash_and_bad_input_is_refused():
    gray = cv2.cvtColor(product_shot(4), cv2.COLOR_RGB2GRAY)
    assert phash(gray) == phash(np.repeat(gray[:, :, None], 3, axis=2))
    assert isinstance(dhash(np.full((3, 5, 3), 7, np.uint8)), int)
    with pytest.raises(InvalidParameter):
        phash(np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(InvalidParameter):
        image_hash_values(product_shot(1), ("ahash",))


def test_colour_thumbnail_keeps_colour():
    red, blue = product_shot(5, colour=(200, 20, 20)), product_shot(5, colour=(20, 20, 200))
    assert phash(red) == phash(cv2.cvtColor(cv2.cvtColor(red, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB))
    a, b = colour_thumbnail(red), colour_thumbnail(blue)
    assert a.shape == (THUMB_SIDE, THUMB_SIDE, 3) and a.dtype == np.uint8
    assert np.abs(a.astype(int) - b.astype(int)).max() > 100


def test_compute_hashes_reports_bad_rows_and_keeps_the_others(tmp_path):
    cv2.imwrite(str(tmp_path / "a.jpg"), product_shot(6)[:, :, ::-1])
    cv2.imwrite(str(tmp_path / "b.png"), product_shot(6)[:, :, ::-1])
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    source = ImageSource(LocalImageStore(tmp_path))
    hashes, errors = compute_hashes(
        source, ["a.jpg", "broken.jpg", "b.png", "missing.jpg", "empty.jpg"], kinds=("phash", "dhash"), max_workers=2
    )
    assert list(hashes.ok) == [True, False, True, False, False]
    assert list(errors["row"]) == [1, 3, 4]
    assert "missing" in errors.loc[errors["row"] == 3, "reason"].item()
    assert errors.loc[errors["row"] == 4, "reason"].item() == "empty file"
    assert hashes.codes.shape == (5, 2) and hashes.mirrored.shape == (5, 2)
    assert hamming(hashes.codes[0], hashes.codes[2]).max() <= 2  # JPEG vs PNG of the same picture
    assert hashes.thumbs.shape == (5, THUMB_SIDE, THUMB_SIDE, 3)
    assert hashes.column("dhash", mirrored=True)[0] == hashes.mirrored[0, 1]


def test_hash_table_round_trip():
    codes = np.array([[2**63 + 5, 7], [0, 2**64 - 1]], dtype=np.uint64)
    hashes = ImageHashes(("phash", "dhash"), codes, codes[::-1], [True, False])
    table = hashes.to_frame()
    assert list(table.columns) == ["phash", "phash_mirrored", "dhash", "dhash_mirrored", "ok"]
    assert table["dhash"][1] == "ffffffffffffffff"
    back = ImageHashes.from_frame(pd.read_csv(_csv(table), dtype=str, keep_default_na=False))
    assert back.kinds == ("phash", "dhash")
    assert np.array_equal(back.codes, codes) and np.array_equal(back.mirrored, codes[::-1])
    assert list(back.ok) == [True, False]
    picked = hashes.take(np.array([1]))
    assert picked.codes[0, 1] == 2**64 - 1 and not picked.ok[0]
    with pytest.raises(InvalidParameter):
        ImageHashes(("phash",), codes[:, :1], None, [True])


def _csv(table: pd.DataFrame):
    import io

    return io.StringIO(table.to_csv(index=False))
