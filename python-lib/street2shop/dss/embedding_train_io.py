"""Recipe street2shop-train-embedding: its config checked, its inputs read, the metric training called, its outputs written."""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from collections.abc import Mapping
from typing import Any

from street2shop.dss.params import WEIGHT_SOURCES, _boolean, _choice, _integer, _number, _text

logger = logging.getLogger(__name__)


def embedding_params(config: Mapping[str, Any]) -> tuple[Any, str]:
    """The recipe's config -> (``EmbeddingSettings``, weights source); the weights value is set by the recipe."""
    from street2shop.training.architectures import ARCHITECTURES, BDN
    from street2shop.training.embedding_job import EmbeddingSettings
    from street2shop.training.metric import LOSSES, LossParams

    defaults = EmbeddingSettings()
    learning_rate = _number(config, "learning_rate", defaults.learning_rate, minimum=1e-12, maximum=1.0)
    budget = _number(config, "time_budget_s", 0.0, minimum=0.0, maximum=1e7)
    settings = EmbeddingSettings(
        backbone=_choice(config, "backbone", tuple(a for a in ARCHITECTURES if a != BDN), defaults.backbone),
        image_size=_integer(config, "image_size", 0, minimum=0, maximum=1024) or None,
        width=_integer(config, "width", defaults.width, minimum=1, maximum=1024),
        dim=_integer(config, "dim", defaults.dim, minimum=2, maximum=8192),
        loss=LossParams(name=_choice(config, "loss", LOSSES, LOSSES[0])),
        products_per_batch=_integer(config, "products_per_batch", defaults.products_per_batch, minimum=2, maximum=4096),
        views_per_product=_integer(config, "views_per_product", defaults.views_per_product, minimum=2, maximum=16),
        epochs=_integer(config, "epochs", defaults.epochs, minimum=1, maximum=10_000),
        steps_per_epoch=_integer(config, "steps_per_epoch", 0, minimum=0) or None,
        learning_rate=learning_rate,
        final_learning_rate=min(learning_rate, _number(config, "final_learning_rate", defaults.final_learning_rate, minimum=1e-15, maximum=1.0)),
        patience=_integer(config, "patience", defaults.patience, minimum=1, maximum=10_000),
        validation_share=_number(config, "validation_share", defaults.validation_share, minimum=0.01, maximum=0.9),
        use_split_column=_boolean(config, "use_split_column", True),
        use_consumer_photos=_boolean(config, "use_consumer_photos", True),
        seed=_integer(config, "seed", 0, minimum=0),
        name=_text(config, "model_name") or defaults.name,
        time_budget_s=budget or None,
    )
    return settings, _choice(config, "weights_source", WEIGHT_SOURCES, "none")


def run_recipe() -> None:
    """Read the recipe's config and inputs, train, publish the model folder and the rejected rows."""
    from street2shop.dss import recipe_io
    from street2shop.dss.model_io import local_weights
    from street2shop.storage.managed_folder import FolderImageStore
    from street2shop.storage.publish import FolderOutputDir
    from street2shop.training.embedding_job import train_embedding_model

    settings, weights = embedding_params(recipe_io.config())
    manifest = recipe_io.input_frame("manifest")
    images = FolderImageStore(recipe_io.input_folder("images"))
    weights_folder = recipe_io.input_folder("weights", required=False)
    with tempfile.TemporaryDirectory(prefix="street2shop-weights-") as local:
        weights = local_weights(weights, weights_folder, local)
        report = train_embedding_model(
            manifest=manifest,
            images=images,
            output=FolderOutputDir(recipe_io.output_folder("model")),
            settings=dataclasses.replace(settings, weights=str(weights)),
        )
    logger.info("metric embedding: %s", report.summary)
    recipe_io.write_output_frame("errors", report.errors, required=False)
