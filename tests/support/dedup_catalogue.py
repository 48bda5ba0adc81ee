"""A small catalogue with planted duplicates for the dedup tests: product shots, the expected pairs, planted vectors."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd

from street2shop.images.decode import decode_image, encode_jpeg

def product_shot(seed: int, size: int = 256, colour: tuple[int, int, int] | None = None) -> np.ndarray:
    """A garment-like shape with a print, on white: distinct per seed."""
    rng = np.random.default_rng(seed)
    image = np.full((size, size, 3), 255, np.uint8)
    colour = colour or tuple(int(c) for c in rng.integers(20, 230, 3))
    points = (rng.uniform(0.15, 0.85, (7, 2)) * size).astype(np.int32)
    cv2.fillPoly(image, [cv2.convexHull(points)], colour)
    for _ in range(6):
        centre = tuple(int(c) for c in rng.integers(size // 4, 3 * size // 4, 2))
        cv2.circle(image, centre, int(rng.integers(6, 24)), tuple(int(c) for c in rng.integers(0, 255, 3)), -1)
    cv2.line(image, (0, int(rng.integers(size))), (size, int(rng.integers(size))), (40, 40, 40), 3)
    return image


EXPECTED = {("D01", "P01"), ("D02", "P02"), ("D03", "P03"), ("D04", "P04"), ("D05", "P05")}


def write_jpeg(path, image, quality=92):
    path.write_bytes(encode_jpeg(np.ascontiguousarray(image), quality))


def build_catalogue(folder) -> pd.DataFrame:
    """Distinct products P01.. (P03 with two views), planted copies D01..D05, a recoloured twin, bad rows."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    originals = {}
    for seed in range(1, 9):
        name = f"P{seed:02d}"
        originals[seed] = product_shot(seed)
        write_jpeg(folder / f"{name}.jpg", originals[seed])
        rows.append((f"{name}.jpg", name, "tops" if seed % 2 else "bottoms"))
        if seed == 3:
            write_jpeg(folder / f"{name}_back.jpg", product_shot(100 + seed))
            rows.append((f"{name}_back.jpg", name, "tops"))
    copies = {
        1: (folder / "P01.jpg").read_bytes(),
        2: encode_jpeg(cv2.resize(originals[2], (150, 150), interpolation=cv2.INTER_AREA), 92),
        3: encode_jpeg(decode_image((folder / "P03.jpg").read_bytes()), 35),
        4: encode_jpeg(np.ascontiguousarray(originals[4][:, ::-1]), 92),
        5: encode_jpeg(np.clip(originals[5].astype(np.float32) * 1.06 - 8, 0, 255).astype(np.uint8), 92),
    }
    for seed, data in copies.items():
        (folder / f"D{seed:02d}.jpg").write_bytes(data)
        rows.append((f"D{seed:02d}.jpg", f"D{seed:02d}", "tops" if seed % 2 else "bottoms"))
    # Same cut and print as P06, another colour: a distinct product a grey-level hash would merge.
    write_jpeg(folder / "T06.jpg", product_shot(6, colour=(30, 160, 40)))
    write_jpeg(folder / "P06.jpg", product_shot(6, colour=(200, 40, 40)))
    rows.append(("T06.jpg", "T06", "bottoms"))
    (folder / "broken.jpg").write_bytes(encode_jpeg(product_shot(50))[:300])
    rows += [("broken.jpg", "B01", "tops"), ("nowhere.jpg", "B02", "tops")]
    return pd.DataFrame(rows, columns=["image", "product_id", "type"])


def planted_vectors(manifest: pd.DataFrame, seed: int = 0) -> np.ndarray:
    """Random vectors, one per manifest row, with P07 ~ P08 near-duplicates (a pair hashes cannot see)."""
    rng = np.random.default_rng(seed)
    vectors = rng.random((len(manifest), 64)).astype(np.float32) ** 4
    position = {p: k for k, p in enumerate(manifest["image"])}
    vectors[position["P08.jpg"]] = vectors[position["P07.jpg"]] + 0.01 * rng.random(64).astype(np.float32)
    return vectors
