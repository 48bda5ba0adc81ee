"""The training parts that touch TensorFlow: weighted loss, augmentation, metrics, the fit loop's stops, device plan."""

from __future__ import annotations

import math

import numpy as np
import pytest

from street2shop.errors import InvalidParameter
from street2shop.training.augment import AugmentParams, augment_image
from street2shop.training.losses import class_weights, weighted_bce, weighted_bce_numpy
from street2shop.models.predictions import top_classes
from street2shop.training.metrics import classification_metrics
from street2shop.training.trainer import FitParams, device_plan, fit


def test_weighted_bce_equals_the_hand_computed_value():
    # 4 pictures, 2 classes; class 0 has 1 positive, class 1 has 2.
    y = np.array([[1, 0], [0, 1], [0, 1], [0, 0]], np.float32)
    p = np.array([[0.8, 0.4], [0.1, 0.7], [0.3, 0.6], [0.2, 0.1]], np.float32)
    w_pos, w_neg = class_weights(y)
    np.testing.assert_allclose(w_pos, [4 / 2, 4 / 4])  # n / (2 n_i)
    np.testing.assert_allclose(w_neg, [4 / 6, 4 / 4])  # n / (2 (n - n_i))
    by_hand = -(
        2 * math.log(0.8) + (2 / 3) * (math.log(0.9) + math.log(0.7) + math.log(0.8))  # class 0
        + 1 * (math.log(0.7) + math.log(0.6)) + 1 * (math.log(0.6) + math.log(0.9))  # class 1
    ) / 8
    assert weighted_bce_numpy(y, p, w_pos, w_neg) == pytest.approx(by_hand, rel=1e-6)
    loss = weighted_bce(y)
    assert float(loss(y, p)) == pytest.approx(by_hand, rel=1e-5)
    restored = type(loss).from_config(loss.get_config())
    assert float(restored(y, p)) == pytest.approx(by_hand, rel=1e-5)


def picture(seed: int = 0, size: int = 32) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = np.full((size, size, 3), 255, np.uint8)
    image[6:26, 4:14] = rng.integers(0, 255, 3)
    image[10:20, 18:28] = rng.integers(0, 255, (10, 10, 3))
    return image


def run_augment(image, seed, params):
    import tensorflow as tf

    return augment_image(tf.constant(image), tf.constant([seed, 7], tf.int64), params).numpy()


def test_each_augmentation_follows_its_probability():
    image = picture()
    assert np.array_equal(run_augment(image, 1, AugmentParams.off()), image)
    flipped = run_augment(image, 1, AugmentParams(rotation_p=0, shift_p=0, flip_p=1.0, jpeg_p=0))
    assert np.array_equal(flipped, image[:, ::-1])
    rotated = run_augment(image, 3, AugmentParams(rotation_p=1.0, shift_p=0, flip_p=0, jpeg_p=0))
    assert rotated.shape == image.shape and rotated.dtype == np.uint8 and not np.array_equal(rotated, image)
    compressed = run_augment(image, 5, AugmentParams(rotation_p=0, shift_p=0, flip_p=0, jpeg_p=1.0, jpeg_quality_min=10, jpeg_quality_max=10))
    assert 0 < np.abs(compressed.astype(int) - image).mean() < 40
    default = AugmentParams()
    outputs = [run_augment(image, seed, default) for seed in range(40)]
    unchanged = sum(np.array_equal(out, image) for out in outputs)
    # Nothing applied with probability 0.7 * 0.7 * 0.5 * 0.6 = 0.147: a few of 40, not none, not all.
    assert 1 <= unchanged <= 15
    assert np.array_equal(run_augment(image, 11, default), run_augment(image, 11, default))


def test_shift_moves_the_picture_sideways():
    image = np.zeros((32, 32, 3), np.uint8)
    image[:, 15:17] = 255
    moved = run_augment(image, 2, AugmentParams(rotation_p=0, shift_p=1.0, shift_fraction=0.2, flip_p=0, jpeg_p=0))
    column = int(np.argmax(moved[16, :, 0]))
    assert column != 15 and abs(column - 15) <= 7 and moved[:, column].min() > 100  # still a vertical bar


def test_bad_augmentation_settings_are_named():
    with pytest.raises(InvalidParameter, match="flip_p"):
        AugmentParams(flip_p=1.5)
    with pytest.raises(InvalidParameter, match="JPEG quality"):
        AugmentParams(jpeg_quality_min=80, jpeg_quality_max=20)


def test_metrics_on_a_small_case():
    classes = ["a", "b", "c"]
    truth = np.eye(3)[[0, 0, 1, 2]]
    probs = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]])
    single = classification_metrics(truth, probs, classes, multilabel=False)
    assert single["accuracy"] == 0.75 and single["confusion"] == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    assert single["per_class"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2}
    assert single["micro_f1"] == pytest.approx(0.75) and single["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    multi_truth = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0]])
    multi_probs = np.array([[0.9, 0.2, 0.6], [0.6, 0.7, 0.1], [0.4, 0.8, 0.3]])
    multi = classification_metrics(multi_truth, multi_probs, classes, multilabel=True)
    assert multi["accuracy"] == pytest.approx(1 / 3) and multi["label_accuracy"] == pytest.approx(7 / 9)
    assert multi["confusion"]["a"] == [[0, 1], [1, 1]]
    assert multi["average_precision"]["c"] == 1.0 and multi["map"] == pytest.approx((0.8333333 + 1 + 1) / 3, rel=1e-5)
    assert [t["class"] for t in top_classes(multi_probs[0], classes, multilabel=True, k=1)] == ["a", "c"]


def test_device_plan_uses_mixed_precision_and_a_larger_batch_on_a_gpu():
    gpu = device_plan(None, gpu=True)
    assert gpu.mixed_precision and gpu.batch_size == 128
    assert device_plan(16, gpu=True).batch_size == 16
    cpu = device_plan(None, gpu=False)
    assert not cpu.mixed_precision and cpu.batch_size == 32


@pytest.mark.filterwarnings("ignore:Your input ran out of data")
def test_nan_loss_stops_cleanly_with_the_best_weights():
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    x = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[np.arange(16) % 3]
    calls = {"n": 0}

    def batches():
        calls["n"] += 1
        targets = y if calls["n"] == 1 else np.full_like(y, np.nan)  # the second epoch's data is poisoned
        for start in range(0, 16, 8):
            yield x[start : start + 8], targets[start : start + 8]

    spec = (tf.TensorSpec((None, 4), tf.float32), tf.TensorSpec((None, 3), tf.float32))
    train = tf.data.Dataset.from_generator(batches, output_signature=spec)
    validation = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    result = fit(
        model, train, validation, steps_per_epoch=2, params=FitParams(epochs=4, monitor="loss"),
        loss=keras.losses.CategoricalCrossentropy(), metrics=[],
    )
    assert result.stopped == "nan" and result.best_epoch == 1 and len(result.history) == 2
    assert math.isnan(result.history["loss"].iloc[1])
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert np.isfinite(model.predict(x, verbose=0)).all()


def test_early_stopping_keeps_the_best_accuracy_with_ties_to_the_lower_loss():
    import keras

    from street2shop.training.trainer import keep_best_monitor

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    keeper = keep_best_monitor(model, 2, "accuracy")
    keeper.set_model(model)
    keeper.on_train_begin()
    # Validation loss is lowest after epoch 1 while accuracy climbs: the case loss alone got wrong.
    epochs = [(0.5, 0.10), (0.9, 0.30), (0.8, 0.30), (1.5, 0.20), (1.6, 0.25), (0.1, 0.90)]
    for epoch, (val_loss, val_accuracy) in enumerate(epochs):
        model.set_weights([np.full((2, 1), float(epoch), np.float32), np.zeros(1, np.float32)])
        keeper.on_epoch_end(epoch, {"val_loss": val_loss, "val_accuracy": val_accuracy})
        if getattr(model, "stop_training", False):
            break
    assert keeper.stopped == "early_stopping" and epoch == 4  # two epochs without better accuracy
    keeper.restore()
    assert keeper.best_epoch == 3 and model.get_weights()[0][0, 0] == 2.0  # 0.30 tied, lower loss


def test_fit_refuses_a_monitor_the_model_does_not_compute():
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    with pytest.raises(InvalidParameter, match="'pr_auc', which is not among"):
        fit(model, None, None, steps_per_epoch=1, params=FitParams(epochs=1, monitor="pr_auc"), loss="mse", metrics=[])
    assert FitParams().monitored(multilabel=True) == "pr_auc" and FitParams().monitored(multilabel=False) == "accuracy"


def test_fit_params_are_checked():
    with pytest.raises(InvalidParameter, match="warm-up"):
        FitParams(epochs=2, warmup_epochs=2)
    with pytest.raises(InvalidParameter, match="final <= initial"):
        FitParams(learning_rate=1e-5, final_learning_rate=1e-3)
    with pytest.raises(InvalidParameter, match="unknown early-stopping monitor 'f1'"):
        FitParams(monitor="f1")


def test_a_keras_application_classifier_has_the_report_head_and_two_output_encoder():
    import keras

    from street2shop.training.architectures import Architecture, build_classifier, encoder_model

    keras.utils.set_random_seed(0)
    model = build_classifier(Architecture("mobilenetv3small", 32, encoding_units=8), 3, multilabel=True)
    names = [layer.name for layer in model.layers]
    assert names[-5:] == ["pooled", "encoding", "dropout", "logits", "probabilities"] and "backbone" in names
    assert model.get_layer("encoding").units == 8 and model.get_layer("dropout").rate == 0.2
    two = encoder_model(model)
    encoding, probabilities = two.predict(np.zeros((2, 32, 32, 3), np.uint8), verbose=0)
    assert encoding.shape == (2, 8) and probabilities.shape == (2, 3) and np.all((probabilities > 0) & (probabilities < 1))
    with pytest.raises(InvalidParameter, match="no ImageNet weights for small-cnn"):
        build_classifier(Architecture("small-cnn", 32), 2, multilabel=False, weights="imagenet")
