"""Tests of imageload.py: good rows decode, bad rows are reported with their row and reason, in order."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from street2shop.errors import BadImage, InvalidParameter
from street2shop.images.decode import fit_to_square
from street2shop.images.load import LoadedImage, errors_frame, load_images
from street2shop.storage.local import LocalImageStore
from street2shop.storage.stores import ImageSource


def encode(picture: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.fixture
def image_folder(tmp_path):
    jpeg = encode(Image.new("RGB", (40, 30), (200, 20, 20)), "JPEG", quality=95)
    files = {
        "good/red.jpg": jpeg,
        "good/alpha.png": encode(Image.new("RGBA", (8, 6), (0, 0, 255, 0)), "PNG"),
        "bad/empty.jpg": b"",
        "bad/notes.txt": b"size M, worn twice\n" * 10,
        "bad/half.jpg": jpeg[: len(jpeg) // 2],
        "bad/big.png": encode(Image.new("1", (2000, 1000)), "PNG"),
        "bad/icon.ico": encode(Image.new("RGB", (16, 16)), "ICO"),
    }
    for relative, data in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(data)
    return tmp_path


def test_mixed_rows_keep_order_and_report_reasons(image_folder):
    images = [
        "good/red.jpg",
        "bad/empty.jpg",
        "bad/notes.txt",
        "good/alpha.png",
        "bad/half.jpg",
        "bad/missing.jpg",
        "bad/big.png",
        "../outside.jpg",
        "bad/icon.ico",
        "good/red.jpg",
    ]
    source = ImageSource(LocalImageStore(image_folder))
    loaded = list(load_images(source, images, max_pixels=1_000_000, max_workers=3))

    assert [item.row for item in loaded] == list(range(len(images)))
    assert [item.image for item in loaded] == images
    good = [item for item in loaded if item.ok]
    assert [item.row for item in good] == [0, 3, 9]
    assert good[0].pixels.shape == (30, 40, 3) and good[0].pixels.dtype == np.uint8
    assert np.abs(good[0].pixels.astype(int) - (200, 20, 20)).max() <= 12
    assert good[1].pixels.tolist() == [[[255, 255, 255]] * 8] * 6  # transparent -> white
    for item in loaded:
        assert (item.pixels is None) == (item.error is not None)

    reasons = {item.row: item.error for item in loaded if not item.ok}
    assert reasons[1] == "empty file"
    assert reasons[2].startswith("not an image")
    assert "truncated" in reasons[4]
    assert reasons[5].startswith("missing: bad/missing.jpg")
    assert reasons[6].startswith("image too large") and "2000x1000" in reasons[6]
    assert "leaving" in reasons[7]
    assert reasons[8] == "unsupported image format ICO"

    errors = errors_frame(loaded)
    assert errors.columns.tolist() == ["row", "image", "reason"]
    assert errors["row"].tolist() == [1, 2, 4, 5, 6, 7, 8]
    assert errors.loc[errors["row"] == 5, "image"].item() == "bad/missing.jpg"


def test_rows_and_transform_are_applied(image_folder):
    loaded = list(
        load_images(
            LocalImageStore(image_folder),
            ["good/red.jpg", "bad/empty.jpg", "good/alpha.png"],
            rows=[12, 40, 41],
            transform=lambda pixels: fit_to_square(pixels, 16),
            max_workers=2,
        )
    )
    assert [item.row for item in loaded] == [12, 40, 41]
    assert loaded[0].pixels.shape == (16, 16, 3)
    assert loaded[2].pixels.shape == (16, 16, 3)
    assert errors_frame(loaded).to_dict("records") == [{"row": 40, "image": "bad/empty.jpg", "reason": "empty file"}]
    with pytest.raises(InvalidParameter):
        list(load_images(LocalImageStore(image_folder), ["good/red.jpg"], rows=[1, 2]))


def test_a_store_raising_anything_only_fails_its_row(image_folder):
    class FlakyStore:
        description = "flaky"

        def __init__(self):
            self.local = LocalImageStore(image_folder)

        def read_bytes(self, path: str) -> bytes:
            if path == "boom":
                raise ConnectionResetError("peer reset")
            return self.local.read_bytes(path)

    def refuse_small(pixels):
        if pixels.shape[0] < 10:
            raise BadImage("too small to use")
        return pixels

    loaded = list(load_images(FlakyStore(), ["good/red.jpg", "boom", "good/alpha.png"], transform=refuse_small))
    assert [item.ok for item in loaded] == [True, False, False]
    assert "ConnectionResetError" in loaded[1].error and "peer reset" in loaded[1].error
    assert loaded[2].error == "too small to use"


def test_errors_frame_of_nothing_has_the_columns():
    frame = errors_frame([LoadedImage(row=0, image="a.jpg", pixels=np.zeros((1, 1, 3), np.uint8), error=None)])
    assert frame.empty
    assert frame.columns.tolist() == ["row", "image", "reason"]
