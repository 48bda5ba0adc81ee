"""Labels, splits and class balance for training: what is kept, dropped, regrouped and reported."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from street2shop.errors import InvalidParameter
from street2shop.training.balance import MAX_UPSAMPLE, balance
from street2shop.training.labels import prepare_labels, read_mapping
from street2shop.training.splits import check_disjoint, duplicate_groups, split_by_group


def frame(labels, products=None, **columns):
    n = len(labels)
    data = {"image": [f"i{k}.jpg" for k in range(n)], "product_id": products or [f"p{k}" for k in range(n)], "label": labels}
    data.update(columns)
    return pd.DataFrame(data)


def test_single_label_classes_targets_and_skipped_rows(caplog):
    rows = frame(["Dresses", "skirts", "", None, "dresses|skirts", "dresses", "skirts", "coats"])
    with caplog.at_level(logging.WARNING):
        prepared = prepare_labels(rows, "label", min_count=2)
    assert prepared.classes == ["Dresses", "skirts"]  # case-insensitive, first spelling kept
    assert prepared.rows["image"].tolist() == ["i0.jpg", "i1.jpg", "i5.jpg", "i6.jpg"]
    np.testing.assert_array_equal(prepared.targets, [[1, 0], [0, 1], [1, 0], [0, 1]])
    report = prepared.report
    assert report["skipped_empty_label"] == 2 and report["skipped_several_values"] == 1
    assert report["dropped_rare_classes"] == {"coats": 1} and report["skipped_rare_only"] == 1
    assert "coats (1)" in caplog.text and "fewer than 2" in caplog.text


def test_multilabel_keeps_rows_with_one_known_class():
    rows = frame(["red|blue", "blue", "red|rare", "green|red", "blue|green"])
    prepared = prepare_labels(rows, "label", multilabel=True, min_count=2)
    assert prepared.classes == ["blue", "green", "red"]
    assert prepared.counts() == {"blue": 3, "green": 2, "red": 3}
    assert prepared.rows["label"].tolist() == ["blue|red", "blue", "red", "green|red", "blue|green"]


def test_mapping_regroups_and_reports_unmapped_values(caplog):
    mapping = read_mapping(
        pd.DataFrame({"from": ["blousons", "Trenches", "perfectos", "robes", "chemises"], "to": ["jackets/coats"] * 3 + ["dresses", ""]})
    )
    rows = frame(["blousons", "trenches", "jackets/coats", "perfectos", "kilts", "chemises", "robes", "Dresses", "kilts|robes"])
    with caplog.at_level(logging.WARNING):
        prepared = prepare_labels(rows, "label", mapping=mapping, min_count=1)
    assert prepared.counts() == {"dresses": 3, "jackets/coats": 4}
    # "kilts" is neither mapped nor general: dropped and named; "chemises" maps to nothing on purpose.
    assert prepared.report["unmapped_values"] == {"kilts": 2}
    assert prepared.report["skipped_no_usable_value"] == 2
    assert "kilts (2)" in caplog.text


def test_mapping_file_shapes(tmp_path):
    (tmp_path / "m.json").write_text('{"blousons": "jackets/coats", "tops": "t-shirts|shirts"}')
    assert read_mapping(tmp_path / "m.json") == {"blousons": "jackets/coats", "tops": "t-shirts|shirts"}
    pd.DataFrame({"fine": ["a"], "general": ["b"]}).to_csv(tmp_path / "m.csv", index=False)
    assert read_mapping(tmp_path / "m.csv") == {"a": "b"}
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(InvalidParameter, match="JSON object"):
        read_mapping(tmp_path / "bad.json")


def test_class_list_param_and_excluded_classes():
    rows = frame(["hdr", "duotones", "macro|silhouettes", "Long_Exposure", "silhouettes", "duotones|vanishing point"])
    prepared = prepare_labels(
        rows, "label", multilabel=True, classes=["duotones", "silhouettes"], exclude=["HDR", "long exposure", "macro"]
    )
    assert prepared.classes == ["duotones", "silhouettes"]
    assert prepared.report["excluded_classes"] == {"hdr": 1, "macro": 1, "Long_Exposure": 1}
    assert prepared.report["unknown_values"] == {"vanishing point": 1}
    assert len(prepared.rows) == 4


@pytest.mark.parametrize(
    "labels, message",
    [
        (["dresses"] * 4 + [""], "only the class 'dresses'"),
        (["", None], "no class"),
        (["a", "a", "a", "b"], "rare classes dropped: b"),
    ],
)
def test_fewer_than_two_classes_is_refused_clearly(labels, message):
    with pytest.raises(InvalidParameter, match="at least two classes") as err:
        prepare_labels(frame(labels), "label", min_count=2)
    assert message in str(err.value) and "'label'" in str(err.value)


def test_random_split_keeps_each_product_on_one_side():
    products = [f"p{k // 3}" for k in range(90)]  # 30 products, 3 pictures each
    split = split_by_group(frame(["x"] * 90, products), validation_share=0.2, seed=4)
    train = set(np.asarray(products)[split.train])
    validation = set(np.asarray(products)[split.validation])
    assert not train & validation and len(train | validation) == 30
    assert 15 <= len(split.validation) <= 24 and split.method == "random by product"
    again = split_by_group(frame(["x"] * 90, products), validation_share=0.2, seed=4)
    np.testing.assert_array_equal(split.validation, again.validation)


def test_duplicate_groups_stay_together():
    products = [f"p{k}" for k in range(40)]
    pairs = pd.DataFrame({"product_a": [f"p{k}" for k in range(0, 40, 2)], "product_b": [f"p{k}" for k in range(1, 40, 2)]})
    groups = duplicate_groups(pairs)
    assert groups["p1"] == groups["p0"] and groups["p2"] != groups["p0"]
    for seed in range(5):
        split = split_by_group(frame(["x"] * 40, products), validation_share=0.3, seed=seed, duplicates=groups)
        validation = set(split.validation.tolist())
        for k in range(0, 40, 2):
            assert (k in validation) == (k + 1 in validation)
        check_disjoint(split.groups, split.train, split.validation)
    dedup_groups = pd.DataFrame({"group_id": ["1", "1", "2", "2", "2"], "product_id": ["a", "b", "c", "d", "e"]})
    found = duplicate_groups(dedup_groups)
    assert found["a"] == found["b"] != found["c"] == found["d"] == found["e"]
    with pytest.raises(InvalidParameter, match="group_id and product_id"):
        duplicate_groups(pd.DataFrame({"x": [1]}))


def test_split_column_is_honoured_test_rows_held_out_and_straddlers_moved():
    products = ["a", "a", "b", "c", "d", "e", "e"]
    splits = ["train", "val", "train", "val", "test", "train", "train"]
    split = split_by_group(frame(["x"] * 7, products, split=splits), duplicates={"c": "b"})
    assert split.method == "split column"
    assert split.validation.tolist() == [0, 1, 2, 3]  # a straddles; b is c's duplicate
    assert split.train.tolist() == [5, 6] and split.held_out.tolist() == [4]
    with pytest.raises(InvalidParameter, match="on both sides"):
        check_disjoint(np.array(["a", "a"], dtype=object), [0], [1])


def test_single_product_cannot_be_split():
    with pytest.raises(InvalidParameter, match="at least two products"):
        split_by_group(frame(["x", "y"], ["p", "p"]))


@pytest.mark.parametrize("seed", range(6))
def test_upsampling_never_exceeds_the_cap_and_majorities_shrink(seed):
    rng = np.random.default_rng(seed)
    sizes = [60, 25, 9, 3, 1]
    labels = np.repeat(np.arange(5), sizes)
    targets = np.eye(5, dtype=np.float32)[labels]
    result = balance(targets, seed=seed)
    assert np.all(result.after <= np.floor(MAX_UPSAMPLE * result.before))
    assert result.after.tolist() == [9, 9, 9, 7, 2]  # target: the median class size (9)
    assert set(np.bincount(result.indices, minlength=len(labels))[:60]) <= {0, 1}  # down-sampled without repeats
    multi = (rng.random((200, 6)) < np.array([0.6, 0.3, 0.1, 0.05, 0.02, 0.4])).astype(np.float32)
    multi = multi[multi.sum(axis=1) > 0]
    out = balance(multi, seed=seed)
    assert np.all(out.after <= np.floor(MAX_UPSAMPLE * out.before) + 1e-6)
    assert out.after[4] > out.before[4] and out.after[0] < out.before[0]
    assert np.all(np.bincount(out.indices) <= 3)


def test_balance_summary_names_classes():
    result = balance(np.eye(2, dtype=np.float32)[[0, 0, 0, 0, 1]], seed=0, target=4)
    assert result.summary(["a", "b"]) == {"before": {"a": 4, "b": 1}, "after": {"a": 4, "b": 2}}
    with pytest.raises(InvalidParameter):
        balance(np.eye(2, dtype=np.float32), max_upsample=0.5)


def test_train_recipe_params_become_training_settings():
    from street2shop.dss.params import embed_params, train_params

    params = train_params({
        "label_column": "colours", "multilabel": True, "classes": ["red", " blue "], "views": "1, 2", "backbone": "small-cnn",
        "image_size": 0, "batch_size": 0.0, "epochs": 12.0, "learning_rate": 0.001, "final_learning_rate": 0.01,
        "augment": False, "mapping": {"navy": "blue", "bordeaux": None}, "exclude_camera_technique": "keep", "weights_source": "none",
    })
    settings = params.settings
    assert settings.label == "colours" and settings.multilabel and settings.classes == ("red", "blue") and settings.views == (1, 2)
    assert settings.architecture.name == "small-cnn" and settings.architecture.image_size is None and settings.batch_size is None
    assert settings.fit.epochs == 12 and settings.fit.final_learning_rate == 0.001  # never above the initial rate
    assert not settings.augment.enabled and settings.exclude_camera_technique is False
    assert params.mapping == {"navy": "blue", "bordeaux": ""} and params.weights_source == "none"
    with pytest.raises(InvalidParameter, match="'label_column'"):
        train_params({})
    with pytest.raises(InvalidParameter, match="'views'"):
        train_params({"label_column": "type", "views": "front"})
    with pytest.raises(InvalidParameter, match="'backbone'"):
        train_params({"label_column": "type", "backbone": "vgg16"})
    embed = embed_params({"model_weights": {"colours": "0.5", "type": 2}, "encoding_layer": "pooled"})
    assert embed.model_weights == {"colours": 0.5, "type": 2.0} and embed.encoding_layer == "pooled"
    with pytest.raises(InvalidParameter, match="weight of 'type'"):
        embed_params({"model_weights": {"type": "heavy"}})


def test_the_default_learning_rates_depend_on_where_the_weights_come_from():
    from street2shop.cli import build_parser
    from street2shop.commands.train import settings_from_args
    from street2shop.dss.params import train_params

    base = ["train", "--images", "i", "--manifest", "m.csv", "--label", "type", "--out", "o"]
    scratch = settings_from_args(build_parser().parse_args([*base, "--weights", "none"])).fit
    tuned = settings_from_args(build_parser().parse_args([*base, "--weights", "imagenet"])).fit
    given = settings_from_args(build_parser().parse_args([*base, "--learning-rate", "1e-3"])).fit
    assert (scratch.learning_rate, scratch.final_learning_rate) == (3e-3, 3e-5)
    assert (tuned.learning_rate, tuned.final_learning_rate) == (1e-4, 1e-7)
    assert (given.learning_rate, given.final_learning_rate) == (1e-3, 1e-7)  # the default start is pretrained (efficientnet-lite0)
    recipe = {"label_column": "type", "backbone": "small-cnn"}
    assert train_params({**recipe, "weights_source": "none"}).settings.fit.learning_rate == 3e-3
    assert train_params({**recipe, "weights_source": "folder"}).settings.fit.learning_rate == 1e-4
    assert train_params({**recipe, "weights_source": "none", "learning_rate": 5e-4}).settings.fit.learning_rate == 5e-4
