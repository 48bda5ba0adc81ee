"""Tiny Keras encoders and synthetic pictures for fast tests (no downloaded weights)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def tiny_encoder(name: str = "tiny", *, size: int = 32, dim: int = 16, seed: int = 0):
    """A small conv net (uint8 images -> unit vectors) wrapped as an Encoder."""
    import keras

    from street2shop.models.layers import register_layers
    from street2shop.models.encoder import make_encoder

    keras.utils.set_random_seed(seed)
    layers = register_layers()
    inputs = keras.Input((size, size, 3), dtype="uint8")
    x = keras.layers.Rescaling(1 / 255.0)(keras.ops.cast(inputs, "float32"))
    x = keras.layers.Conv2D(8, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(dim)(x)
    outputs = layers["L2Normalize"]()(x)
    return make_encoder(name, keras.Model(inputs, outputs), {"kind": "test"})


def coloured_picture(colour: tuple[int, int, int], *, size: tuple[int, int] = (48, 40), noise: int = 0, seed: int = 0) -> np.ndarray:
    """A rectangle of ``colour`` on white (noise > 0 makes a cluttered background)."""
    rng = np.random.default_rng(seed)
    height, width = size
    if noise:
        picture = rng.integers(0, noise, (height, width, 3), dtype=np.uint8)
    else:
        picture = np.full((height, width, 3), 255, np.uint8)
    picture[height // 6 : -height // 6, width // 5 : -width // 5] = colour
    return picture


def write_catalogue(root: Path, n_products: int = 6, *, seed: int = 0):
    """Shop and user JPEGs of coloured rectangles, one product each, with catalogue/queries CSVs."""
    import pandas as pd

    from street2shop.images.decode import encode_jpeg

    rng = np.random.default_rng(seed)
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    rows = []
    for product in range(n_products):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        for source in ("shop", "user"):
            picture = coloured_picture(colour, noise=120 if source == "user" else 0, seed=product)
            name = f"{source}/p{product}.jpg"
            (images / source).mkdir(exist_ok=True)
            (images / name).write_bytes(encode_jpeg(picture))
            rows.append(
                {
                    "image": name,
                    "product_id": f"p{product}",
                    "type": "dresses" if product % 2 else "skirts",
                    "colours": "red|blue" if product % 3 == 0 else "green",
                    "source": source,
                    "pair_id": f"pair{product}",
                }
            )
    frame = pd.DataFrame(rows)
    frame[frame.source == "shop"].to_csv(root / "catalog.csv", index=False)
    frame[frame.source == "user"].to_csv(root / "queries.csv", index=False)
    return images, root / "catalog.csv", root / "queries.csv"
