"""Train a metric embedding on synthesised street views of shop pictures and publish it as an encoder folder (CLI and recipe)."""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from street2shop import __version__
from street2shop.errors import InvalidParameter, ManifestError
from street2shop.images.load import load_images
from street2shop.images.decode import DEFAULT_MAX_PIXELS, fit_to_square
from street2shop.manifest import read_table, validate_manifest
from street2shop.progress import Progress
from street2shop.ranking import retrieval_ranks, top_k_rates
from street2shop.training.metric import EMBEDDING_LAYER, LossParams
from street2shop.training.splits import HELD_OUT_NAMES, VALIDATION_NAMES
from street2shop.synthesis.views import SynthesisParams

logger = logging.getLogger(__name__)

TOP_K = (1, 5, 10, 20)
HISTORY_FILE = "history.csv"
CURVES_FILE = "learning_curves.png"
RETRIEVAL_FILE = "retrieval.png"
SYNTHESIS_FILE = "synthesis.png"
METRICS_FILE = "metrics.json"
SPLIT_FILE = "split.csv"
DEFAULT_IMAGE_SIZE = 64  # the small CNN on a CPU; backbones default to their own size


@dataclass(frozen=True)
class EmbeddingSettings:
    """Everything that decides what is trained (recorded in ``encoder.json``).

    Attributes:
        backbone: any classifier backbone of ``training.architectures`` but ``bdn``.
        image_size: input side (default 64 for the small CNN, else the backbone's).
        dim: embedding dimensions.
        weights: ``none``, ``imagenet`` (downloads) or a weights file/folder.
        products_per_batch, views_per_product: a batch is P products x K views.
        steps_per_epoch: default: every training product ``passes_per_epoch`` times.
        patience: epochs without a better validation top-10 before stopping.
        validation_share: share of products held out when the manifest's split names none.
        use_consumer_photos: labelled consumer photos of training products are real positives
            and their borders backdrops.
        time_budget_s: stop after the epoch that passes this many seconds of training.
    """

    backbone: str = "small-cnn"
    image_size: int | None = None
    width: int = 16  # a CPU trains width 16 about 3x faster than 32 at 64 px
    dim: int = 128
    weights: str = "none"
    loss: LossParams = field(default_factory=LossParams)
    synthesis: SynthesisParams = field(default_factory=SynthesisParams)
    products_per_batch: int = 16
    views_per_product: int = 2
    epochs: int = 20
    steps_per_epoch: int | None = None
    passes_per_epoch: int = 4
    learning_rate: float = 1e-3
    final_learning_rate: float = 1e-5
    patience: int = 4
    validation_share: float = 0.2
    use_split_column: bool = True
    use_consumer_photos: bool = True
    backgrounds: int = 384
    seed: int = 0
    max_pixels: int = DEFAULT_MAX_PIXELS
    name: str = "metric"
    time_budget_s: float | None = None

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.patience < 1 or self.passes_per_epoch < 1:
            raise InvalidParameter("epochs, patience and passes per epoch must be at least 1")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise InvalidParameter(f"steps per epoch must be at least 1, got {self.steps_per_epoch}")
        if not 0 < self.final_learning_rate <= self.learning_rate:
            raise InvalidParameter(f"learning rates must be positive with final <= initial, got {self.learning_rate} -> {self.final_learning_rate}")
        if not 0.0 < self.validation_share < 1.0:
            raise InvalidParameter(f"validation share must be in (0, 1), got {self.validation_share}")
        if self.products_per_batch < 2 or self.views_per_product < 2:
            raise InvalidParameter("a batch needs at least two products and two views of each")
        if self.backgrounds < 1:
            raise InvalidParameter(f"at least one background is needed, got {self.backgrounds}")
        if not self.name or not all(c.isalnum() or c in "-_." for c in self.name) or self.name in (".", ".."):
            raise InvalidParameter(f"model name {self.name!r}: use letters, digits, '-', '_' and '.' only")

    @property
    def size(self) -> int:
        from street2shop.training.architectures import SMALL_CNN, architecture_name, default_image_size

        name = architecture_name(self.backbone)
        return int(self.image_size or (DEFAULT_IMAGE_SIZE if name == SMALL_CNN else default_image_size(name)))

    def describe(self) -> dict[str, Any]:
        return {**asdict(self), "image_size": self.size}


@dataclass
class EmbeddingReport:
    """What a run did: the summary the CLI prints, the rejected rows, ``encoder.json``'s content, the model."""

    summary: dict[str, Any]
    errors: pd.DataFrame
    info: dict[str, Any]
    model: Any = None
    history: pd.DataFrame | None = None


# --- Retrieval ---------------------------------------------------------------------------------------


def embed_pixels(model: Any, pixels: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Embed uint8 ``(n, S, S, 3)`` pictures in inference mode."""
    if len(pixels) == 0:
        return np.zeros((0, int(model.outputs[0].shape[-1])), np.float32)
    chunks = [np.asarray(model([pixels[i : i + batch_size]], training=False)) for i in range(0, len(pixels), batch_size)]
    return np.concatenate(chunks).astype(np.float32)


@dataclass
class _Validation:
    gallery: np.ndarray
    gallery_ids: np.ndarray
    queries: np.ndarray
    query_ids: np.ndarray
    query_kind: str  # user | synthesised

    def evaluate(self, model: Any) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
        gallery, queries = embed_pixels(model, self.gallery), embed_pixels(model, self.queries)
        ranks = retrieval_ranks(queries, self.query_ids, gallery, self.gallery_ids)
        return top_k_rates(ranks, TOP_K), ranks, (queries @ gallery.T if len(queries) else np.zeros((0, len(gallery))))


# --- The job -----------------------------------------------------------------------------------------


def _identities(rows: pd.DataFrame) -> pd.Series:
    """The product a picture shows: its ``pair_id`` when given (planted duplicates share it), else ``product_id``."""
    ids = rows["product_id"].astype(str)
    if "pair_id" in rows.columns:
        pair = rows["pair_id"].fillna("").astype(str).str.strip()
        ids = pair.where(pair != "", ids)
    return ids


def _split_identities(rows: pd.DataFrame, ids: pd.Series, shop: np.ndarray, settings: EmbeddingSettings) -> tuple[set, set, set]:
    """Training, validation and held-out products (the manifest's split column, else a seeded draw)."""
    products = sorted(set(ids[shop]))
    if settings.use_split_column and "split" in rows.columns:
        split = rows["split"].fillna("").astype(str).str.strip().str.lower()
        validation = set(ids[split.isin(VALIDATION_NAMES)]) & set(products)
        held_out = (set(ids[split.isin(HELD_OUT_NAMES)]) & set(products)) - validation
        if validation:
            return set(products) - validation - held_out, validation, held_out
    rng = np.random.default_rng([settings.seed, 11])
    count = max(1, round(len(products) * settings.validation_share))
    chosen = set(rng.choice(np.array(products, dtype=object), size=min(count, len(products) - 2), replace=False).tolist())
    return set(products) - chosen, chosen, set()


def _read_pictures(source: Any, images: list[str], rows: list[int], size: int, max_pixels: int, label: str):
    """Decode and fit pictures to ``size``; returns (pixels, usable mask, error rows)."""
    ok = np.zeros(len(images), dtype=bool)
    kept, failed = [], []
    loaded = load_images(
        source, images, rows=rows, max_pixels=max_pixels, max_workers=4, min_side=size, transform=lambda pixels: fit_to_square(pixels, size)
    )
    with Progress(len(images), label, logger=logger) as progress:
        for position, item in enumerate(loaded):
            progress.update()
            if item.ok:
                ok[position] = True
                kept.append(item.pixels)
            else:
                failed.append((item.row, item.image, item.error))
    pixels = np.stack(kept) if kept else np.zeros((0, size, size, 3), np.uint8)
    return pixels, ok, failed


def train_embedding_model(
    *,
    manifest: str | Path | pd.DataFrame,
    images: Any,
    output: Any,
    settings: EmbeddingSettings = EmbeddingSettings(),
    mask_cache: str | Path | None = None,
) -> EmbeddingReport:
    """Train a metric embedding from shop pictures (synthesised street views) and publish its folder to ``output``.

    Positives are views of one product (``pair_id`` when given, else ``product_id``); validation
    ranks the validation products' consumer photos (or synthesised views when there are none)
    against every training and validation shop picture. The folder is an encoder folder
    (``encoder.json`` + ``model.keras``, loadable by ``models.loading.load_encoder`` and so by
    ``embed --models``) plus learning curves, history, the retrieval figure, the synthesised
    pairs and the split.

    Raises:
        ManifestError: the manifest is unusable, or too few products or pictures are left.
        InvalidParameter: a bad setting.
    """
    import keras

    from street2shop.storage.stores import image_source
    from street2shop.synthesis.views import ViewSource, background_bank, cut_out_garments, sample_views

    size = settings.size
    source = image_source(images)
    check = validate_manifest(read_table(manifest))
    rows = check.rows.reset_index(drop=True)
    ids = _identities(rows)
    is_user = (rows["source"].fillna("").astype(str) == "user").to_numpy() if "source" in rows.columns else np.zeros(len(rows), bool)
    shop = ~is_user
    if shop.sum() == 0:
        raise ManifestError("the manifest has no shop picture (source 'shop' or empty) to learn from")
    train_ids, val_ids, held_ids = _split_identities(rows, ids, shop, settings)
    if len(train_ids) < 2 or not val_ids:
        raise ManifestError(f"metric learning needs at least two training products and one validation product; got {len(train_ids)} and {len(val_ids)}")
    used_shop = shop & ids.isin(train_ids | val_ids).to_numpy()
    shop_rows = rows[used_shop].reset_index(drop=True)
    cutouts, ok = cut_out_garments(
        source, shop_rows["image"].tolist(), shop_rows["_row"].tolist(), size=size, cache_dir=mask_cache, max_pixels=settings.max_pixels
    )
    shop_rows = shop_rows[ok].reset_index(drop=True)
    shop_ids = _identities(shop_rows).to_numpy()
    errors = [check.errors, cutouts.errors]
    user_rows = rows[is_user & ~ids.isin(held_ids | val_ids).to_numpy()].reset_index(drop=True) if settings.use_consumer_photos else rows.iloc[:0]
    val_user_rows = rows[is_user & ids.isin(val_ids).to_numpy()].reset_index(drop=True)
    user_pixels, user_ok, user_failed = _read_pictures(source, user_rows["image"].tolist(), user_rows["_row"].tolist(), 2 * size, settings.max_pixels, "reading consumer photos")
    val_pixels, val_ok, val_failed = _read_pictures(source, val_user_rows["image"].tolist(), val_user_rows["_row"].tolist(), size, settings.max_pixels, "reading validation photos")
    failed = user_failed + val_failed
    errors.append(pd.DataFrame(failed, columns=["row", "image", "reason"]))
    errors_frame = pd.concat([e for e in errors if len(e)], ignore_index=True) if any(len(e) for e in errors) else pd.DataFrame(columns=["row", "image", "reason"])
    errors_frame = errors_frame.astype({"row": "int64"}).sort_values("row", kind="stable").reset_index(drop=True)

    train_mask = np.isin(shop_ids, list(train_ids))
    train_products = sorted(set(shop_ids[train_mask]))
    if len(train_products) < 2:
        raise ManifestError(f"fewer than two training products have a usable shop picture ({len(train_products)})")
    product_index = {p: i for i, p in enumerate(train_products)}
    train_positions = np.flatnonzero(train_mask)
    train_cutouts = _subset(cutouts, train_positions)
    owners = np.array([product_index[p] for p in shop_ids[train_positions]], dtype=np.int64)
    user_ids = _identities(user_rows[user_ok]).to_numpy() if len(user_rows) else np.array([], dtype=object)
    paired = np.array([p in product_index for p in user_ids], dtype=bool)
    real = fit_down(user_pixels[paired], size) if paired.any() else None
    real_owners = np.array([product_index[p] for p in user_ids[paired]], dtype=np.int64) if paired.any() else None
    backgrounds, kinds = background_bank(
        size, count=settings.backgrounds, pictures=cutouts.shop[train_positions], consumer=user_pixels if len(user_pixels) else None, seed=settings.seed
    )
    views = ViewSource(train_cutouts, owners, len(train_products), backgrounds, real=real, real_owners=real_owners)

    val_ids_list = _identities(val_user_rows[val_ok]).to_numpy() if len(val_user_rows) else np.array([], dtype=object)
    if len(val_pixels):
        validation = _Validation(cutouts.shop, shop_ids, val_pixels, val_ids_list, "user")
    else:
        val_positions = np.flatnonzero(~train_mask)
        val_views = ViewSource(_subset(cutouts, val_positions), np.arange(len(val_positions)), max(2, len(val_positions)), backgrounds) if len(val_positions) >= 2 else None
        if val_views is None:
            raise ManifestError("validation needs consumer photos or at least two validation shop pictures")
        queries = np.concatenate([sample_views(val_views, i, 2, params=settings.synthesis, seed=settings.seed + 1) for i in range(len(val_positions))])
        validation = _Validation(cutouts.shop, shop_ids, queries, np.repeat(shop_ids[val_positions], 2), "synthesised")
    report: dict[str, Any] = {
        "manifest_rows": int(len(rows) + len(check.errors)),
        "train_products": len(train_products),
        "train_shop_pictures": int(len(train_positions)),
        "validation_products": int(len(val_ids)),
        "held_out_products": int(len(held_ids)),
        "real_positives": int(0 if real is None else len(real)),
        "backgrounds": {kind: kinds.count(kind) for kind in sorted(set(kinds))},
        "segmentation": {"cut_out": int(len(cutouts)), "kept_whole": int(cutouts.whole.sum()), "from_cache": cutouts.cache_hits},
        "validation": {"queries": int(len(validation.queries)), "query_kind": validation.query_kind, "gallery_pictures": int(len(validation.gallery)), "gallery_products": int(len(set(shop_ids)))},
    }
    keras.utils.set_random_seed(settings.seed)
    from street2shop.training.metric import build_embedding_model, loss_function, training_model
    from street2shop.synthesis.views import view_dataset

    model = build_embedding_model(settings.backbone, image_size=size, dim=settings.dim, width=settings.width, weights=settings.weights)
    trainer = training_model(model, settings.loss, len(train_products))
    steps = settings.steps_per_epoch or max(1, math.ceil(len(train_products) * settings.passes_per_epoch / settings.products_per_batch))
    dataset = view_dataset(views, products_per_batch=settings.products_per_batch, views_per_product=settings.views_per_product, params=settings.synthesis, seed=settings.seed)
    untrained, _, _ = validation.evaluate(model)
    logger.info("untrained network: validation top-1 %.3f, top-10 %.3f", untrained["1"], untrained["10"])
    schedule = keras.optimizers.schedules.ExponentialDecay(
        settings.learning_rate, decay_steps=max(settings.epochs * steps, 1), decay_rate=settings.final_learning_rate / settings.learning_rate
    )
    trainer.compile(optimizer=keras.optimizers.Adam(schedule), loss=loss_function(settings.loss), jit_compile=False)
    keeper, rows = _retrieval_keeper(model, trainer, validation, settings)
    started = time.monotonic()
    with keeper.progress:
        trainer.fit(dataset, epochs=settings.epochs, steps_per_epoch=steps, callbacks=[keeper], verbose=0, shuffle=False)
    seconds = time.monotonic() - started
    keeper.restore()
    history = pd.DataFrame(rows)
    final, ranks, scores = validation.evaluate(model)
    logger.info("training %s after %d epoch(s) in %.1f s; best epoch %d: top-1 %.3f, top-10 %.3f", keeper.stopped, len(history), seconds, keeper.best_epoch, final["1"], final["10"])
    metrics = {
        "top_k": final,
        "untrained_top_k": untrained,
        "best_epoch": keeper.best_epoch,
        "epochs_run": int(len(history)),
        "stopped": keeper.stopped,
        "seconds": round(seconds, 1),
        "steps_per_epoch": steps,
        "views_per_second": round(len(history) * steps * settings.products_per_batch * settings.views_per_product / max(seconds, 1e-9), 1),
        **report,
    }
    from street2shop.models.encoder import make_encoder

    info = {
        "kind": "metric",
        "family": "metric",
        "backbone": settings.backbone,
        "weights": str(settings.weights),
        "loss": settings.loss.name,
        "encoding_layer": EMBEDDING_LAYER,
        "input": {"dtype": "uint8", "shape": [size, size, 3], "colour": "RGB", "resize": "longer side to the input size, padded to a square with white", "preprocessing": "inside the model"},
        "seed": settings.seed,
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "street2shop_version": __version__,
        "metrics": {"validation_top_k": final, "untrained_top_k": untrained, "query_kind": validation.query_kind},
        "training": {"settings": settings.describe(), **{k: metrics[k] for k in ("best_epoch", "epochs_run", "stopped", "seconds", "steps_per_epoch")}},
    }
    encoder = make_encoder(settings.name, model, info)
    with output.staging() as staging:
        _write_folder(Path(staging), encoder, history, metrics, validation, ranks, scores, views, settings, shop_rows, shop_ids, train_ids, val_ids, errors_frame)
    summary = {
        "name": settings.name,
        "backbone": settings.backbone,
        "loss": settings.loss.name,
        "image_size": size,
        "dim": settings.dim,
        "train_products": len(train_products),
        "validation_queries": int(len(validation.queries)),
        "query_kind": validation.query_kind,
        "top_k": {k: round(v, 4) for k, v in final.items()},
        "untrained_top_k": {k: round(v, 4) for k, v in untrained.items()},
        "best_epoch": keeper.best_epoch,
        "epochs_run": int(len(history)),
        "stopped": keeper.stopped,
        "seconds": round(seconds, 1),
        "rejected_rows": int(len(errors_frame)),
        "fingerprint": encoder.fingerprint,
    }
    return EmbeddingReport(summary=summary, errors=errors_frame, info={**info, "name": settings.name, "fingerprint": encoder.fingerprint}, model=model, history=history)


def fit_down(pixels: np.ndarray, size: int) -> np.ndarray:
    """Pictures resized to ``size`` (they are square already)."""
    return np.stack([cv2.resize(p, (size, size), interpolation=cv2.INTER_AREA) for p in pixels]).astype(np.uint8)


def _subset(cutouts: Any, positions: np.ndarray) -> Any:
    return replace(
        cutouts,
        images=[cutouts.images[i] for i in positions],
        shop=cutouts.shop[positions],
        garment=cutouts.garment[positions],
        alpha=cutouts.alpha[positions],
        whole=cutouts.whole[positions],
    )


def _retrieval_keeper(embedding: Any, trainer: Any, validation: _Validation, settings: EmbeddingSettings) -> tuple[Any, list[dict[str, Any]]]:
    """A ``KeepBest`` scoring validation retrieval each epoch (top-10, then top-1), and the history rows it fills.

    It keeps the embedding's weights (not the training model's) and stops on patience, a
    non-finite loss or the time budget.
    """
    import keras

    from street2shop.training.callbacks import KeepBest

    rows: list[dict[str, Any]] = []

    def score(epoch: int, logs: dict[str, Any], started: float) -> tuple[float, float] | None:
        loss = float(logs.get("loss", math.nan))
        if not math.isfinite(loss):
            return None
        rates, _, _ = validation.evaluate(embedding)
        try:
            rate = float(keras.ops.convert_to_numpy(trainer.optimizer.learning_rate))
        except (AttributeError, TypeError, ValueError):
            rate = math.nan
        row = {"epoch": epoch, "loss": loss, **{f"val_top{k}": v for k, v in rates.items()}, "lr": rate, "seconds": round(time.monotonic() - started, 2)}
        rows.append(row)
        logs.update(val_top1=rates["1"], val_top10=rates["10"])  # the epoch bar's postfix
        logger.info("epoch %d: loss %.4f, validation top-1 %.3f, top-10 %.3f (%.1f s)", epoch, loss, rates["1"], rates["10"], row["seconds"])
        return (rates["10"], rates["1"])

    progress = Progress(settings.epochs, "training the metric embedding", logger=logger, unit="epoch", log_lines=False)
    keeper = KeepBest(settings.patience, score, weights_of=embedding, budget_s=settings.time_budget_s, progress=progress,
                      shown=("loss", "val_top1", "val_top10"))
    return keeper, rows


def _write_folder(directory, encoder, history, metrics, validation, ranks, scores, views, settings, shop_rows, shop_ids, train_ids, val_ids, errors) -> None:
    from street2shop.models.encoder import save_encoder
    from street2shop.synthesis.views import synthesis_png

    save_encoder(encoder, directory)
    history.to_csv(directory / HISTORY_FILE, index=False)
    (directory / METRICS_FILE).write_text(json.dumps(metrics, indent=2, default=str), encoding="utf-8")
    title = f"{settings.name} ({settings.backbone}, {settings.loss.name}, {settings.size} px)"
    curves_png(history, directory / CURVES_FILE, title)
    retrieval_png(validation, ranks, scores, metrics, directory / RETRIEVAL_FILE, title)
    synthesis_png(views, directory / SYNTHESIS_FILE, params=settings.synthesis, seed=settings.seed)
    side = np.where(np.isin(shop_ids, list(train_ids)), "train", np.where(np.isin(shop_ids, list(val_ids)), "validation", "unused"))
    pd.DataFrame({"image": shop_rows["image"], "product_id": shop_rows["product_id"], "identity": shop_ids, "split": side}).to_csv(directory / SPLIT_FILE, index=False)
    if len(errors):
        errors.to_csv(directory / "rejected_rows.csv", index=False)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def curves_png(history: pd.DataFrame, path: Path, title: str) -> None:
    """Training loss and validation top-1/top-10 per epoch."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    if len(history):
        axes[0].plot(history["epoch"], history["loss"], marker="o")
        for k in ("1", "10"):
            axes[1].plot(history["epoch"], history[f"val_top{k}"], marker="o", label=f"top-{k}")
    axes[0].set(xlabel="epoch", ylabel="training loss")
    axes[1].set(xlabel="epoch", ylabel="validation retrieval", ylim=(0, 1))
    axes[1].legend()
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def retrieval_png(validation: _Validation, ranks: np.ndarray, scores: np.ndarray, metrics: dict[str, Any], path: Path, title: str, examples: int = 6, shown: int = 5) -> None:
    """Top-k curve (trained vs untrained) and a few validation queries with their best shop pictures (hits in green)."""
    plt = _pyplot()
    count = min(examples, len(validation.queries))
    fig = plt.figure(figsize=(12, 2.0 * max(count, 2) + 0.5))
    grid = fig.add_gridspec(max(count, 2), shown + 3)
    curve = fig.add_subplot(grid[:, :2])
    ks = np.arange(1, 21)
    curve.plot(ks, [np.mean((ranks > 0) & (ranks <= k)) for k in ks], marker=".", label="trained")
    untrained = metrics.get("untrained_top_k", {})
    curve.scatter([int(k) for k in untrained], list(untrained.values()), color="grey", label="untrained network")
    curve.set(xlabel="k", ylabel=f"top-k ({validation.query_kind} photos -> shop)", ylim=(0, 1), title=f"{len(ranks)} queries")
    curve.grid(alpha=0.3)
    curve.legend(fontsize=8)
    chosen = np.linspace(0, len(validation.queries) - 1, count).round().astype(int) if count else []
    for row, q in enumerate(chosen):
        ax = fig.add_subplot(grid[row, 2])
        ax.imshow(validation.queries[q])
        ax.set_title(f"query (rank {ranks[q]})", fontsize=7)
        ax.axis("off")
        for col, g in enumerate(np.argsort(-scores[q])[:shown]):
            ax = fig.add_subplot(grid[row, 3 + col])
            ax.imshow(validation.gallery[g])
            hit = validation.gallery_ids[g] == validation.query_ids[q]
            ax.set_title(f"{scores[q, g]:.2f}", fontsize=7, color="green" if hit else "firebrick")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_color("green" if hit else "lightgrey")
                spine.set_linewidth(2)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
