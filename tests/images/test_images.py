"""Tests of images.py: decoding every kind of picture a catalogue holds, and refusing bad ones."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from street2shop.errors import BadImage
from street2shop.images.decode import decode_image, encode_jpeg, encode_png, fit_to_square

RED, BLUE = (255, 0, 0), (0, 0, 255)


def encode(picture: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, fmt, **options)
    return buffer.getvalue()


def left_red_right_blue(width: int = 40, height: int = 20) -> np.ndarray:
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, : width // 2] = RED
    pixels[:, width // 2 :] = BLUE
    return pixels


def png_chunks(width: int, height: int, bit_depth: int, colour_type: int, rows: list[bytes]) -> bytes:
    """A PNG written by hand, for layouts Pillow cannot save (16-bit RGB) or sizes too big to build."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    compressor = zlib.compressobj()
    data = b"".join(compressor.compress(b"\x00" + row) for row in rows) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("fmt", "options", "tolerance"),
    [
        ("JPEG", {"quality": 95}, 12),
        ("PNG", {}, 0),
        ("WEBP", {"lossless": True}, 0),
        ("BMP", {}, 0),
        ("TIFF", {}, 0),
        ("GIF", {}, 0),
    ],
)
def test_common_formats_decode_to_rgb(fmt, options, tolerance):
    pixels = left_red_right_blue(32, 24)
    decoded = decode_image(encode(Image.fromarray(pixels), fmt, **options))
    assert decoded.shape == (24, 32, 3)
    assert decoded.dtype == np.uint8
    # Away from the edge, where JPEG blurs the two colours together.
    assert np.abs(decoded[:, :12].astype(int) - RED).max() <= tolerance
    assert np.abs(decoded[:, 20:].astype(int) - BLUE).max() <= tolerance


@pytest.mark.parametrize(("orientation", "top", "bottom"), [(6, RED, BLUE), (8, BLUE, RED), (1, None, None)])
def test_exif_orientation_is_applied(orientation, top, bottom):
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(Image.fromarray(left_red_right_blue(40, 20)), "JPEG", quality=95, exif=exif)
    decoded = decode_image(data)
    if orientation == 1:
        assert decoded.shape == (20, 40, 3)
        return
    # Stored 40 wide x 20 high; shown rotated a quarter turn: 20 wide x 40 high.
    assert decoded.shape == (40, 20, 3)
    assert np.abs(decoded[2:15].astype(int) - top).max() <= 12
    assert np.abs(decoded[25:38].astype(int) - bottom).max() <= 12


def test_grayscale_becomes_three_equal_channels():
    gray = np.tile(np.arange(0, 250, 25, dtype=np.uint8), (4, 1))
    decoded = decode_image(encode(Image.fromarray(gray, "L"), "PNG"))
    assert decoded.shape == (4, 10, 3)
    for channel in range(3):
        np.testing.assert_array_equal(decoded[:, :, channel], gray)


def test_cmyk_jpeg_becomes_rgb():
    data = encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    decoded = decode_image(data)
    assert decoded.shape == (16, 16, 3)
    assert np.abs(decoded.astype(int) - RED).max() <= 12


def test_palette_png_with_transparency_is_composited_on_white():
    picture = Image.new("P", (4, 4), 0)
    picture.putpalette([0, 0, 0, *BLUE] + [0] * (256 * 3 - 6))
    picture.putpixel((1, 1), 1)
    data = encode(picture, "PNG", transparency=0)
    decoded = decode_image(data)
    assert tuple(decoded[1, 1]) == BLUE
    assert tuple(decoded[0, 0]) == (255, 255, 255)  # index 0 is transparent black -> white


def test_rgba_is_composited_on_white():
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red
    rgba[0, 1] = (0, 0, 0, 0)  # fully transparent black
    rgba[1, 0] = (0, 0, 0, 128)  # half-transparent black
    decoded = decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert tuple(decoded[0, 0]) == RED
    assert tuple(decoded[0, 1]) == (255, 255, 255)
    assert np.abs(decoded[1, 0].astype(int) - 127).max() <= 1


def test_la_is_composited_on_white():
    la = np.zeros((1, 2, 2), np.uint8)
    la[0, 0] = (0, 255)  # opaque black
    la[0, 1] = (0, 0)  # transparent black
    decoded = decode_image(encode(Image.fromarray(la, "LA"), "PNG"))
    assert tuple(decoded[0, 0]) == (0, 0, 0)
    assert tuple(decoded[0, 1]) == (255, 255, 255)


def test_16_bit_grayscale_png_is_scaled_to_8_bits():
    values = np.array([[0, 32768, 65535, 1000]], dtype=np.uint16)
    data = encode(Image.fromarray(values), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    decoded = decode_image(data)
    # Scaled by 255/65535, not clipped: 1000 is dark (4), not white.
    np.testing.assert_array_equal(decoded[0, :, 0], [0, 128, 255, 4])
    np.testing.assert_array_equal(decoded[..., 0], decoded[..., 2])


def test_16_bit_rgb_png_keeps_colours():
    row = np.array([[65535, 0, 32768], [0, 65535, 0]], dtype=">u2").tobytes()
    decoded = decode_image(png_chunks(2, 1, 16, 2, [row]))
    assert decoded.tolist() == [[[255, 0, 128], [0, 255, 0]]]


def test_truncated_jpeg_is_refused():
    data = encode(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)), "JPEG")
    with pytest.raises(BadImage) as caught:
        decode_image(data[: len(data) // 2], name="half.jpg")
    assert "truncated" in caught.value.reason
    assert caught.value.image == "half.jpg"
    assert "half.jpg" in str(caught.value)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty file"),
        (np.random.default_rng(1).bytes(4096), "not an image"),
        (b"product_id,image\n1,a.jpg\n" * 20, "not an image"),
    ],
    ids=["empty", "random-bytes", "text-file"],
)
def test_non_images_are_refused_with_a_reason(data, expected):
    with pytest.raises(BadImage) as caught:
        decode_image(data)
    assert expected in caught.value.reason


def test_decompression_bomb_is_refused():
    # A real 20000 x 20000 1-bit PNG: ~50 kB on disk, 400 million pixels once decoded.
    bomb = png_chunks(20000, 20000, 1, 0, [bytes(2500)] * 20000)
    assert len(bomb) < 100_000
    with pytest.raises(BadImage) as caught:
        decode_image(bomb)
    assert "too large" in caught.value.reason


def test_size_limit_is_checked_before_decoding(monkeypatch):
    picture = encode(Image.new("1", (3000, 2000)), "PNG")

    def no_decoding(self):
        raise RuntimeError("the pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(BadImage) as caught:
        decode_image(picture, max_pixels=5_000_000)
    assert "too large" in caught.value.reason
    assert "3000x2000" in caught.value.reason


def test_size_limit_allows_pictures_under_it():
    picture = encode(Image.new("L", (300, 200), 7), "PNG")
    assert decode_image(picture, max_pixels=60_000).shape == (200, 300, 3)
    with pytest.raises(BadImage, match="too large"):
        decode_image(picture, max_pixels=59_999)


@pytest.mark.parametrize("fmt", ["ICO", "EPS"])
def test_formats_outside_the_list_are_refused(fmt):
    data = encode(Image.new("RGB", (16, 16), RED), fmt)
    with pytest.raises(BadImage) as caught:
        decode_image(data)
    assert caught.value.reason == f"unsupported image format {fmt}"


@pytest.mark.parametrize(("height", "width"), [(100, 50), (30, 90), (10, 10)])
def test_fit_to_square_keeps_aspect_and_pads_white(height, width):
    picture = np.zeros((height, width, 3), np.uint8)
    squared = fit_to_square(picture, 64)
    assert squared.shape == (64, 64, 3)
    assert squared.dtype == np.uint8
    dark = np.argwhere(squared.max(axis=2) < 128)
    rows = dark[:, 0].max() - dark[:, 0].min() + 1
    cols = dark[:, 1].max() - dark[:, 1].min() + 1
    # The longer side fills the square; the shorter one keeps the ratio; the content is centred.
    assert max(rows, cols) == 64
    assert abs(min(rows, cols) - round(64 * min(height, width) / max(height, width))) <= 1
    assert abs((dark[:, 0].min() + dark[:, 0].max()) / 2 - 31.5) <= 1
    assert abs((dark[:, 1].min() + dark[:, 1].max()) / 2 - 31.5) <= 1
    if height != width:
        assert squared[0, 0].tolist() == [255, 255, 255]


def test_encoders_round_trip_in_rgb_order():
    pixels = left_red_right_blue(32, 16)
    np.testing.assert_array_equal(decode_image(encode_png(pixels)), pixels)
    from_jpeg = decode_image(encode_jpeg(pixels, quality=95))
    assert np.abs(from_jpeg[:, :12].astype(int) - RED).max() <= 12


def test_min_side_decodes_a_big_jpeg_at_reduced_scale_but_never_below_it():
    from street2shop.images.decode import decode_image, encode_jpeg

    yy, xx = np.mgrid[0:800, 0:1200]
    picture = np.stack([xx % 256, yy % 256, (xx + yy) % 256], axis=2).astype(np.uint8)
    data = encode_jpeg(picture, 90)
    full = decode_image(data)
    reduced = decode_image(data, min_side=224)
    assert full.shape == (800, 1200, 3)
    assert reduced.shape == (400, 600, 3)  # 1/2 scale: 1/4 would make the short side 200 < 224
    assert decode_image(data, min_side=900).shape == (800, 1200, 3)
