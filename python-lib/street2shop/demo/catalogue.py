"""Draw a small labelled fashion catalogue (shop shots, street photos, planted duplicates) with no download.

This module holds the catalogue's plan (labels, splits, twins, planted duplicates) and its writing; the
garments are drawn by ``demo.garments`` and the street photos composed by ``demo.street``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from street2shop.demo.garments import COLOURS, DEMO_TYPES, PALETTE, PROFILES, GarmentSpec, render_garment
from street2shop.demo.street import make_street_photo
from street2shop.errors import InvalidParameter, StorageError
from street2shop.images.decode import encode_jpeg, encode_png
from street2shop.progress import Progress

logger = logging.getLogger(__name__)

#: How a planted duplicate's picture is derived from its original's.
DUPLICATE_TRANSFORMS = ("crop", "resize", "recompress", "retouch", "flip", "exact_copy")
SPLITS = ("train", "val", "test")
MANIFEST_COLUMNS = (
    "image", "product_id", "type", "colours", "material", "gender", "pattern",
    "view", "source", "pair_id", "split", "mask",
)
DUPLICATE_COLUMNS = ("product_a", "product_b", "image_a", "image_b", "transform")

#: The file that marks a directory as a demo catalogue (and so as safe to replace).
MARKER_FILE = "demo_catalog.json"
_GENERATOR = "street2shop.demo.catalogue"
_FORMAT_VERSION = 1

_SHOP_JPEG_QUALITY = 92
_SPLIT_SHARES = (0.7, 0.15)  # train, val; the rest is test
_SECOND_VIEW_SHARE = 0.25
_TWIN_SHARE = 0.08


@dataclass(frozen=True)
class DemoCatalog:
    """Where a generated demo catalogue lies.

    Attributes:
        root: the catalogue directory.
        images_dir: pictures (``shop/<product>_v<view>.jpg``, ``user/<product>_u<k>.jpg``).
        masks_dir: garment masks, same relative paths with ``.png`` (255 = garment).
        manifest: every picture (shop and user), CSV.
        catalog: the shop pictures only: the gallery to index.
        queries: the user photos only: the retrieval queries.
        duplicates: the planted duplicate pairs.
    """

    root: Path
    images_dir: Path
    masks_dir: Path
    manifest: Path
    catalog: Path
    queries: Path
    duplicates: Path

    @classmethod
    def at(cls, root: str | os.PathLike) -> DemoCatalog:
        """The file layout of the catalogue at ``root`` (nothing is checked)."""
        root = Path(root)
        return cls(
            root=root,
            images_dir=root / "images",
            masks_dir=root / "masks",
            manifest=root / "manifest.csv",
            catalog=root / "catalog.csv",
            queries=root / "queries.csv",
            duplicates=root / "duplicates.csv",
        )

    def summary(self) -> dict:
        """The generation parameters and counts recorded in the catalogue's marker file."""
        return json.loads((self.root / MARKER_FILE).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- the catalogue plan


@dataclass(frozen=True)
class _Product:
    product_id: str
    number: int
    spec: GarmentSpec
    split: str
    pair_id: int
    views: int = 1
    original: _Product | None = None
    transform: str = ""


def _shade_of(name: str, rng: np.random.Generator) -> tuple[int, int, int]:
    """A random shade of a named colour that still reads as that colour."""
    base = np.asarray(PALETTE[name], np.float64)
    shade = base * rng.uniform(0.9, 1.08) + rng.normal(0, 5, 3)
    return tuple(int(v) for v in np.clip(np.clip(shade, base - 20, base + 20), 0, 255))


def _sample_spec(garment_type: str, rng: np.random.Generator) -> GarmentSpec:
    profile = PROFILES[garment_type]
    main = str(rng.choice(profile.colours))
    colours: tuple[str, ...] = (main,)
    if rng.random() < 0.45:
        colours += (str(rng.choice([c for c in COLOURS if c != main])),)
    return _reshape(
        GarmentSpec(
            garment_type=garment_type,
            colours=colours,
            materials=profile.materials[int(rng.integers(len(profile.materials)))],
            gender=profile.genders[int(rng.integers(len(profile.genders)))],
        ),
        rng,
    )


def _reshape(spec: GarmentSpec, rng: np.random.Generator, avoid_pattern: str | None = None) -> GarmentSpec:
    """Draw the spec's pattern, shape and shades anew, keeping its labels."""
    profile = PROFILES[spec.garment_type]
    if len(spec.colours) > 1:
        choices = ("stripes", "dots", "checks", "colourblock")
    else:
        choices = ("plain", "plain", "stripes", "dots", "checks")
    pattern = str(rng.choice([p for p in choices if p != avoid_pattern]))
    return dataclasses.replace(
        spec,
        pattern=pattern,
        width=float(rng.uniform(*profile.width)),
        length=float(rng.uniform(*profile.length)),
        sleeve=float(rng.uniform(*profile.sleeve)),
        flare=float(rng.uniform(*profile.flare)),
        style=str(rng.choice(profile.styles)),
        pattern_scale=float(rng.uniform(0.6, 1.4)),
        pattern_angle=float(rng.choice([0.0, 0.0, 90.0, 45.0, -45.0]) + rng.uniform(-5, 5)),
        rgb=tuple(_shade_of(c, rng) for c in spec.colours),
    )


def _plan(n_products: int, duplicate_fraction: float, rng: np.random.Generator) -> list[_Product]:
    """Labels, shapes, splits and planted duplicates of every product, originals first."""
    n_dup = min(n_products, int(round(n_products * duplicate_fraction)))
    numbers = rng.permutation(n_products + n_dup) + 1
    digits = max(4, len(str(n_products + n_dup)))
    types = np.resize(np.asarray(DEMO_TYPES), n_products)
    types = types[rng.permutation(n_products)]
    # Twins share every label with an earlier product but look different: a dedup must not merge them.
    n_twins = max(1, int(round(n_products * _TWIN_SHARE))) if n_products >= 2 else 0
    twins = set(int(i) for i in rng.choice(np.arange(1, n_products), size=n_twins, replace=False)) if n_twins else set()
    order = rng.permutation(n_products)
    n_train = int(round(n_products * _SPLIT_SHARES[0]))
    n_val = int(round(n_products * _SPLIT_SHARES[1]))
    split_of = {
        int(i): "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
        for rank, i in enumerate(order)
    }
    products: list[_Product] = []
    for i in range(n_products):
        if i in twins:
            model = products[int(rng.integers(i))].spec
            spec = _reshape(model, rng, avoid_pattern=model.pattern)
        else:
            spec = _sample_spec(str(types[i]), rng)
        number = int(numbers[i])
        views = 2 if rng.random() < _SECOND_VIEW_SHARE else 1
        products.append(_Product(f"P{number:0{digits}d}", number, spec, split_of[i], number, views))
    transforms = [DUPLICATE_TRANSFORMS[k % len(DUPLICATE_TRANSFORMS)] for k in range(n_dup)]
    transforms = [transforms[int(k)] for k in rng.permutation(n_dup)]
    for k, index in enumerate(sorted(int(i) for i in rng.choice(n_products, size=n_dup, replace=False))):
        original = products[index]
        number = int(numbers[n_products + k])
        products.append(
            dataclasses.replace(
                original,
                product_id=f"P{number:0{digits}d}",
                number=number,
                views=1,
                original=original,
                transform=transforms[k],
            )
        )
    return products


# --------------------------------------------------------------------------- writing


def _derive_duplicate(transform: str, jpeg: bytes, mask_png: bytes, rng: np.random.Generator) -> tuple[bytes, bytes]:
    """The picture and mask bytes of a planted duplicate, made from its original's files."""
    if transform == "exact_copy":
        return jpeg, mask_png
    rgb = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]
    mask = cv2.imdecode(np.frombuffer(mask_png, np.uint8), cv2.IMREAD_UNCHANGED)
    quality = _SHOP_JPEG_QUALITY
    h, w = mask.shape
    if transform == "crop":
        top, bottom, left, right = (int(round(v)) for v in rng.uniform(0.03, 0.1, 4) * [h, h, w, w])
        rgb, mask = rgb[top : h - bottom, left : w - right], mask[top : h - bottom, left : w - right]
    elif transform == "resize":
        factor = float(rng.choice([0.5, 0.75, 1.25]))
        new = (max(1, round(w * factor)), max(1, round(h * factor)))
        rgb = cv2.resize(rgb, new, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)
        mask = cv2.resize(mask, new, interpolation=cv2.INTER_NEAREST)
    elif transform == "recompress":
        quality = int(rng.integers(30, 56))
    elif transform == "retouch":
        contrast, brightness = rng.uniform(0.85, 1.15), rng.uniform(-14, 14)
        rgb = np.clip(rgb.astype(np.float32) * contrast + brightness + 0.5, 0, 255).astype(np.uint8)
    elif transform == "flip":
        rgb, mask = rgb[:, ::-1], mask[:, ::-1]
    else:
        raise InvalidParameter(f"unknown duplicate transform {transform!r}")
    return encode_jpeg(np.ascontiguousarray(rgb), quality), encode_png(np.ascontiguousarray(mask))


def _write_csv(path: Path, columns: Sequence[str], rows: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def _looks_like_catalogue(path: Path) -> bool:
    try:
        marker = json.loads((path / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("generator") == _GENERATOR


def _check_target(out: Path) -> None:
    """Refuse to replace anything but an empty directory or an earlier demo catalogue."""
    if out.exists() and not out.is_dir():
        raise InvalidParameter(f"output {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not _looks_like_catalogue(out):
        raise InvalidParameter(
            f"output {out} is a non-empty directory that is not a demo catalogue (no {MARKER_FILE}); "
            "refusing to overwrite it: choose an empty or new directory"
        )


def _validate(n_products: int, user_photos: int, image_size: int, duplicate_fraction: float, seed: int) -> None:
    def integer_in(value: object, low: int, high: int) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high

    checks = (
        (integer_in(n_products, 1, 100_000), f"n_products must be an integer in 1..100000, got {n_products!r}"),
        (integer_in(user_photos, 0, 50), f"user_photos_per_product must be an integer in 0..50, got {user_photos!r}"),
        (integer_in(image_size, 64, 2048), f"image_size must be an integer in 64..2048, got {image_size!r}"),
        (integer_in(seed, 0, 2**63 - 1), f"seed must be a non-negative integer, got {seed!r}"),
        (
            isinstance(duplicate_fraction, (int, float)) and 0.0 <= duplicate_fraction <= 1.0,
            f"duplicate_fraction must be in [0, 1], got {duplicate_fraction!r}",
        ),
    )
    for ok, message in checks:
        if not ok:
            raise InvalidParameter(message)


def make_demo_catalog(
    out_dir: str | os.PathLike,
    *,
    n_products: int = 120,
    user_photos_per_product: int = 2,
    image_size: int = 256,
    duplicate_fraction: float = 0.1,
    seed: int = 0,
) -> DemoCatalog:
    """Generate a labelled demo catalogue: shop shots, consumer photos, masks and planted duplicates.

    Each product gets a shop shot on white (``view`` 1; a quarter of them also a back view,
    ``view`` 2) and ``user_photos_per_product`` street photos sharing its ``pair_id``. About
    ``duplicate_fraction`` of the products get a planted near-duplicate: another product id, the
    same labels, a shop picture derived from the original's (see ``DUPLICATE_TRANSFORMS``), no
    user photos, and the original's ``pair_id`` and ``split``, so that a retrieval hit on either
    counts and no duplicate straddles train and test. Some distinct products share every label
    but differ in pattern and shape. ``view`` is a shop picture's view number and a user photo's
    photo number. The same seed gives the same bytes.

    The catalogue is built in a temporary sibling directory and renamed into place at the end;
    an existing ``out_dir`` is replaced only if it is empty or an earlier demo catalogue.

    Args:
        out_dir: where to write the catalogue.
        n_products: number of distinct (original) products.
        user_photos_per_product: consumer photos per original product.
        image_size: side of the square pictures, in pixels.
        duplicate_fraction: share of products that get a planted duplicate.
        seed: the random seed.

    Raises:
        InvalidParameter: a bad parameter, or ``out_dir`` holds something else.
        StorageError: the catalogue could not be written.
    """
    _validate(n_products, user_photos_per_product, image_size, duplicate_fraction, seed)
    out = Path(os.path.abspath(out_dir))
    _check_target(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        staging.chmod(0o755)  # mkdtemp makes it private; the catalogue is ordinary data
    except OSError as err:
        raise StorageError(f"cannot create a working directory next to {out}: {err}") from err
    try:
        _build(staging, n_products, user_photos_per_product, image_size, duplicate_fraction, seed)
        _swap_into_place(staging, out)
    except OSError as err:
        shutil.rmtree(staging, ignore_errors=True)
        raise StorageError(f"cannot write the demo catalogue to {out}: {err}") from err
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return DemoCatalog.at(out)


def _swap_into_place(staging: Path, out: Path) -> None:
    """Rename the finished catalogue over ``out``, moving an earlier one aside first."""
    _check_target(out)
    previous = None
    if out.is_dir():
        if any(out.iterdir()):
            previous = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent)) / "catalogue"
            os.rename(out, previous)
        else:
            out.rmdir()
    try:
        os.rename(staging, out)
    except OSError:
        if previous is not None:
            os.rename(previous, out)
            shutil.rmtree(previous.parent, ignore_errors=True)
        raise
    if previous is not None:
        shutil.rmtree(previous.parent, ignore_errors=True)


def _build(root: Path, n_products: int, user_photos: int, size: int, duplicate_fraction: float, seed: int) -> None:
    plan = _plan(n_products, duplicate_fraction, np.random.default_rng([seed, 0]))
    originals = [p for p in plan if p.original is None]
    duplicates = [p for p in plan if p.original is not None]
    for folder in ("images/shop", "images/user", "masks/shop", "masks/user"):
        (root / folder).mkdir(parents=True)
    total = sum(p.views for p in originals) + len(duplicates) + user_photos * len(originals)
    rows: list[dict] = []
    files: dict[str, tuple[bytes, bytes]] = {}
    pool: list[tuple[np.ndarray, np.ndarray]] = []  # other garments' cut-outs for street backgrounds
    pool_owner: list[int] = []

    def write(relative: str, jpeg: bytes, mask_png: bytes, product: _Product, view: int, source: str) -> None:
        mask_relative = relative[: -len(".jpg")] + ".png"
        (root / "images" / relative).write_bytes(jpeg)
        (root / "masks" / mask_relative).write_bytes(mask_png)
        rows.append({
            "image": relative, "product_id": product.product_id, **product.spec.labels(), "view": view,
            "source": source, "pair_id": product.pair_id, "split": product.split, "mask": mask_relative,
        })

    with Progress(total, "demo catalogue") as progress:
        for product in originals:
            for view in range(1, product.views + 1):
                spec = dataclasses.replace(product.spec, back=view == 2)
                rgb, mask = render_garment(spec, size, np.random.default_rng([seed, 1, product.number, view]))
                relative = f"shop/{product.product_id}_v{view}.jpg"
                jpeg, mask_png = encode_jpeg(rgb, _SHOP_JPEG_QUALITY), encode_png(mask)
                write(relative, jpeg, mask_png, product, view, "shop")
                files[relative] = (jpeg, mask_png)
                if view == 1 and len(pool) < 24:
                    half = max(32, size // 2)
                    pool.append((cv2.resize(rgb, (half, half), interpolation=cv2.INTER_AREA),
                                 cv2.resize(mask, (half, half), interpolation=cv2.INTER_NEAREST)))
                    pool_owner.append(product.number)
                progress.update()
        duplicate_rows = []
        for product in duplicates:
            source_image = f"shop/{product.original.product_id}_v1.jpg"
            jpeg, mask_png = _derive_duplicate(
                product.transform, *files[source_image], np.random.default_rng([seed, 2, product.number])
            )
            relative = f"shop/{product.product_id}_v1.jpg"
            write(relative, jpeg, mask_png, product, 1, "shop")
            duplicate_rows.append({
                "product_a": product.original.product_id, "product_b": product.product_id,
                "image_a": source_image, "image_b": relative, "transform": product.transform,
            })
            progress.update()
        for product in originals:
            others = [cut for cut, owner in zip(pool, pool_owner) if owner != product.number]
            for k in range(1, user_photos + 1):
                rng = np.random.default_rng([seed, 3, product.number, k])
                back = product.views == 2 and rng.random() < 0.3
                rgb, mask = render_garment(dataclasses.replace(product.spec, back=back), size, rng)
                photo, photo_mask = make_street_photo(rgb, mask, rng, distractors=others, jpeg_quality=None)
                relative = f"user/{product.product_id}_u{k}.jpg"
                jpeg = encode_jpeg(photo, int(rng.integers(30, 76)))  # shoppers' photos are poor
                write(relative, jpeg, encode_png(photo_mask), product, k, "user")
                progress.update()

    rows.sort(key=lambda row: row["image"])
    _write_csv(root / "manifest.csv", MANIFEST_COLUMNS, rows)
    _write_csv(root / "catalog.csv", MANIFEST_COLUMNS, [r for r in rows if r["source"] == "shop"])
    _write_csv(root / "queries.csv", MANIFEST_COLUMNS, [r for r in rows if r["source"] == "user"])
    duplicate_rows.sort(key=lambda row: row["product_b"])
    _write_csv(root / "duplicates.csv", DUPLICATE_COLUMNS, duplicate_rows)
    marker = {
        "generator": _GENERATOR,
        "format": _FORMAT_VERSION,
        "parameters": {
            "n_products": n_products, "user_photos_per_product": user_photos, "image_size": size,
            "duplicate_fraction": duplicate_fraction, "seed": seed,
        },
        "counts": {
            "products": len(plan), "original_products": len(originals), "duplicates": len(duplicates),
            "shop_images": sum(1 for r in rows if r["source"] == "shop"),
            "user_images": sum(1 for r in rows if r["source"] == "user"),
        },
    }
    (root / MARKER_FILE).write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    logger.info(
        "demo catalogue: %d products (%d planted duplicates), %d pictures", len(plan), len(duplicates), len(rows)
    )
