"""`street2shop train` end to end (in-process CLI), the model folder, and search with the trained models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli_runner import street2shop
from street2shop.images.decode import encode_jpeg
from tiny_models import coloured_picture

REPO = Path(__file__).resolve().parents[2]
COLOURS = {"red": (200, 30, 30), "green": (30, 170, 60), "blue": (40, 60, 200)}
TINY = ["--backbone", "small-cnn", "--image-size", "32", "--width", "4", "--encoding-units", "16", "--epochs", "2",
        "--batch-size", "8", "--min-count", "1", "--learning-rate", "1e-3", "--seed", "3"]


def write_pictures(root: Path, n_products: int = 12) -> tuple[Path, Path]:
    """Shop and user pictures of coloured garments, labelled; plus bad rows and an empty label."""
    images = root / "images"
    images.mkdir(parents=True)
    rows = []
    for k in range(n_products):
        colours = ["red", "green", "blue|green"][k % 3]
        rgb = COLOURS[colours.split("|")[0]]
        for source, noise in (("shop", 0), ("user", 90)):
            name = f"{source}/p{k}.jpg"
            (images / source).mkdir(exist_ok=True)
            (images / name).write_bytes(encode_jpeg(coloured_picture(rgb, noise=noise, seed=k)))
            rows.append({
                "image": name, "product_id": f"p{k}", "type": ["dresses", "skirts"][k % 2], "colours": colours,
                "style": ["hdr|duotones", "silhouettes", "duotones|macro"][k % 3], "gender": "women",
                "view": "1", "source": source, "pair_id": f"pair{k}",
            })
    (images / "shop/p0_back.jpg").write_bytes(encode_jpeg(coloured_picture((0, 0, 0))))
    (images / "corrupt.jpg").write_bytes((images / "shop/p1.jpg").read_bytes()[:150])
    (images / "notes.txt").write_text("not a picture")
    base = {"type": "dresses", "colours": "red", "style": "duotones", "gender": "women", "source": "shop", "pair_id": "x"}
    rows += [
        {**base, "image": "shop/p0_back.jpg", "product_id": "p0", "view": "3"},
        {**base, "image": "corrupt.jpg", "product_id": "p1", "view": "1"},
        {**base, "image": "missing.jpg", "product_id": "p2", "view": "1"},
        {**base, "image": "notes.txt", "product_id": "p3", "view": "1"},
        {**base, "image": "shop/p4.jpg", "product_id": "p4", "view": "1", "colours": ""},  # listed twice: a duplicate row
    ]
    manifest = root / "manifest.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return images, manifest


def scraped_products(manifest: Path, out: Path) -> Path:
    """A products.csv shaped like `street2shop scrape`'s (its columns, every fifth type empty) from the test pictures."""
    from street2shop.scraping.state import MANIFEST_COLUMNS

    source = pd.read_csv(manifest, dtype=str).iloc[:24]
    rows = []
    for k, row in enumerate(source.itertuples()):
        record = {column: "" for column in MANIFEST_COLUMNS}
        record.update({"image": row.image, "product_id": row.product_id, "view": "1", "source": "user", "category": "women",
                       "type": "" if k % 5 == 0 else row.type, "colours": row.colours, "gender": "women",
                       "title": "robe", "url": f"http://127.0.0.1/item/{k}", "price_amount": "12.5", "price_currency": "EUR"})
        rows.append(record)
    pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS)).to_csv(out, index=False)
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    images, manifest = write_pictures(root)
    (root / "mapping.csv").write_text("from,to\nskirts,bottoms\ndresses,dresses\n")
    colours = street2shop("train", "--images", images, "--manifest", manifest, "--label", "colours", "--multilabel",
                          "--out", root / "colours", "--views", "1,2", "--validation-share", "0.3", *TINY)
    # The type model learns from a scraped products table, with a regrouping, balance and its own name.
    products = scraped_products(manifest, root / "products.csv")
    kind = street2shop("train", "--images", images, "--manifest", products, "--label", "type", "--mapping", root / "mapping.csv",
                       "--balance", "--warmup-epochs", "1", "--out", root / "type", "--name", "garment-type", *TINY)
    return {"root": root, "images": images, "manifest": manifest,
            "colours": json.loads(colours.stdout), "type": json.loads(kind.stdout), "stderr": colours.stderr}


def test_training_reports_bad_rows_and_completes(trained):
    summary = trained["colours"]
    assert summary["kind"] == "multi-label" and summary["classes"] == ["blue", "green", "red"]
    assert summary["rejected_rows"] == 4 and summary["epochs_run"] >= 1 and summary["stopped"] in ("completed", "early_stopping")
    errors = pd.read_csv(summary["errors_file"])
    reasons = dict(zip(errors["image"], errors["reason"]))
    assert set(reasons) == {"corrupt.jpg", "missing.jpg", "notes.txt", "shop/p4.jpg"}
    assert "truncated" in reasons["corrupt.jpg"] and "missing" in reasons["missing.jpg"]
    assert "not an image" in reasons["notes.txt"] and "duplicate of row 8" in reasons["shop/p4.jpg"]
    assert "corrupt.jpg" in trained["stderr"]
    info = json.loads((trained["root"] / "colours" / "model.json").read_text())
    assert info["training"]["dropped_by_view"] == 1  # the view-3 picture


def test_model_folder_holds_model_description_metrics_and_pictures(trained):
    folder = trained["root"] / "colours"
    files = {p.name for p in folder.iterdir()}
    assert {"model.keras", "model.json", "metrics.json", "history.csv", "split.csv", "predictions.csv", "confusion.png",
            "learning_curves.png", "examples.png"} <= files
    for picture in ("confusion.png", "learning_curves.png", "examples.png"):
        assert (folder / picture).read_bytes()[:4] == b"\x89PNG"
    info = json.loads((folder / "model.json").read_text())
    assert info["format"] == "street2shop-model" and info["classes"] == ["blue", "green", "red"]
    assert info["multilabel"] is True and info["image_size"] == 32 and info["input"]["dtype"] == "uint8"
    assert info["encoding_layer"] == "encoding" and info["encoding_dim"] == 16 and info["outputs"] == ["encoding", "probabilities"]
    assert info["seed"] == 3 and info["fingerprint"] == trained["colours"]["fingerprint"]
    metrics = json.loads((folder / "metrics.json").read_text())
    assert set(metrics["per_class"]) == {"blue", "green", "red"} and "map" in metrics and "micro_f1" in metrics
    assert set(metrics["confusion"]["red"][0]) <= set(range(100))  # one 2x2 matrix per class
    history = pd.read_csv(folder / "history.csv")
    assert {"epoch", "loss", "val_loss", "lr"} <= set(history.columns) and len(history) == trained["colours"]["epochs_run"]
    assert history["lr"].is_monotonic_decreasing


def test_no_product_is_on_both_sides_of_the_split(trained):
    for model in ("colours", "type"):
        split = pd.read_csv(trained["root"] / model / "split.csv")
        sides = split[split["split"].isin(["train", "validation"])].groupby("product_id")["split"].nunique()
        assert (sides == 1).all() and set(split["split"]) >= {"train", "validation"}


def test_mapping_balance_and_name_are_applied(trained):
    summary = trained["type"]
    assert summary["name"] == "garment-type" and summary["classes"] == ["bottoms", "dresses"]
    info = json.loads((trained["root"] / "type" / "model.json").read_text())
    balance = info["training"]["balance"]
    for name, before in balance["before"].items():
        assert 0 < balance["after"][name] <= 2.5 * before
    assert info["kind"] == "single-label" and info["training"]["labels"]["unmapped_values"] == {}
    # One warm-up epoch with the backbone frozen, then fine-tuning.
    history = pd.read_csv(trained["root"] / "type" / "history.csv")
    assert history["phase"].tolist()[:2] == ["warm-up", "fine-tune"]


def test_a_trained_model_round_trips_in_a_fresh_process(trained):
    # predictions.csv holds the validation probabilities computed by the trained model before it was saved.
    folder = trained["root"] / "colours"
    before = pd.read_csv(folder / "predictions.csv")
    assert len(before) == trained["colours"]["validation_pictures"]
    code = (
        "import sys, json, numpy as np, pandas as pd\n"
        "from street2shop.images.decode import decode_image, fit_to_square\n"
        "from street2shop.models.model_folder import load_model\n"
        "model, info = load_model(sys.argv[1])\n"  # Keras safe_mode; the fingerprint is checked
        "rows = pd.read_csv(sys.argv[1] + '/predictions.csv')\n"
        "x = np.stack([fit_to_square(decode_image(open(sys.argv[2] + '/' + i, 'rb').read()), info['image_size']) for i in rows['image']])\n"
        "print(json.dumps(model.predict(x, verbose=0)[1].tolist()))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "python-lib"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", code, str(folder), str(trained["images"])], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    after = np.array(json.loads(done.stdout.strip().splitlines()[-1]))
    np.testing.assert_allclose(after, before[["p_blue", "p_green", "p_red"]].to_numpy(), rtol=1e-5, atol=1e-6)


def test_embed_with_trained_models_and_search_predicts_the_query_attributes(trained):
    root, images = trained["root"], trained["images"]
    catalog = pd.read_csv(trained["manifest"], dtype=str)
    catalog[(catalog["source"] == "shop") & catalog["image"].str.startswith("shop/p")].to_csv(root / "catalog.csv", index=False)
    done = street2shop("embed", "--images", images, "--manifest", root / "catalog.csv", "--out", root / "index",
                       "--models", root / "colours", root / "type", "--model-weights", "1", "0.5")
    assert json.loads(done.stdout)["indexed"] == 13
    info = json.loads((root / "index" / "index.json").read_text())
    layout = info["layout"]
    assert [(p["name"], p["start"], p["dim"], p["weight"]) for p in layout] == [("colours", 0, 16, 1.0), ("garment-type", 16, 16, 0.5)]
    assert layout[0]["fingerprint"] == trained["colours"]["fingerprint"] and layout[1]["classes"] == ["bottoms", "dresses"]
    assert info["settings"]["models"] == ["colours", "garment-type"]
    assert set(info["predicted_columns"]) == {"predicted_colours", "predicted_garment-type"}
    items = pd.read_parquet(root / "index" / "items.parquet")
    assert set(items["predicted_garment-type"]) <= {"bottoms", "dresses"} and "predicted_colours" not in info["label_columns"]
    answer = json.loads(street2shop("search", "--index", root / "index", "--image", images / "user/p2.jpg", "-k", "3").stdout)
    assert len(answer["results"]) == 3 and {"product_id", "score", "image"} <= set(answer["results"][0])
    attributes = answer["query"]["attributes"]
    assert set(attributes) == {"colours", "garment-type"}
    kinds = attributes["garment-type"]
    assert [k["class"] for k in kinds] and {k["class"] for k in kinds} == {"bottoms", "dresses"}
    assert sum(k["probability"] for k in kinds) == pytest.approx(1.0, abs=1e-3)
    assert kinds[0]["probability"] >= kinds[1]["probability"]
    assert all("present" in k for k in attributes["colours"])
    filtered = json.loads(street2shop("search", "--index", root / "index", "--image", images / "user/p2.jpg",
                                      "--filter", f"predicted_garment-type={kinds[0]['class']}").stdout)
    assert all(r["product_id"] in set(items.loc[items["predicted_garment-type"] == kinds[0]["class"], "product_id"]) for r in filtered["results"])


def test_a_label_column_with_a_single_class_is_refused(trained):
    done = street2shop("train", "--images", trained["images"], "--manifest", trained["manifest"], "--label", "gender",
                       "--out", trained["root"] / "gender", *TINY, check=False)
    assert done.returncode == 2
    assert "'gender' has only the class 'women'" in done.stderr and "at least two classes" in done.stderr
    assert not (trained["root"] / "gender").exists()


def test_a_scraped_products_table_trains_unchanged(trained):
    summary = trained["type"]
    assert summary["skipped_empty_label"] == 5 and summary["rejected_rows"] == 0
    assert summary["train_pictures"] + summary["validation_pictures"] == 19


# ----------------------------------------------------------------------------- the recipes, as DSS runs them

RECIPE_CONFIG = {
    "label_column": "style", "multilabel": True, "backbone": "bdn", "weights_source": "none", "image_size": 32, "width": 4,
    "encoding_units": 16, "epochs": 1, "batch_size": 8, "min_count": 1, "seed": 1, "exclude_camera_technique": "auto",
    "use_split_column": True, "validation_share": 0.3,
}


@pytest.fixture(scope="module")
def project(trained, tmp_path_factory):
    from dss_harness import DSSProject

    images = trained["images"]
    project = DSSProject(tmp_path_factory.mktemp("dss") / "project")
    files = {str(p.relative_to(images)): p.read_bytes() for p in images.rglob("*") if p.is_file()}
    project.add_folder("pictures", name="pictures", files=files)
    project.add_dataset("manifest", pd.read_csv(trained["manifest"], dtype=str))
    project.add_folder("colours_model", name="colours_model", source_dir=trained["root"] / "colours")
    for name in ("style_model", "index"):
        project.add_folder(name, name=name)
    project.add_dataset("rejected")
    project.run_recipe(
        "street2shop-train",
        inputs={"manifest": ["manifest"], "images": ["pictures"]},
        outputs={"model": ["style_model"], "errors": ["rejected"]},
        config=RECIPE_CONFIG,
    )
    return project


def test_train_recipe_publishes_a_style_model_and_rejected_rows(project):
    from dss_harness import storage

    rejected = project.read_dataset("rejected")
    assert set(rejected["image"]) == {"corrupt.jpg", "missing.jpg", "notes.txt", "shop/p4.jpg"}
    root = storage.folder_files_dir(project.root, project.project_key, "style_model")
    version = json.loads((root / "street2shop-current.json").read_text())["current"]
    info = json.loads((root / version / "model.json").read_text())
    assert info["family"] == "style" and info["backbone"] == "bdn"
    assert info["classes"] == ["duotones", "silhouettes"]  # hdr and macro describe camera technique
    assert info["training"]["labels"]["excluded_classes"] == {"hdr": 8, "macro": 8}


def test_embed_recipe_concatenates_the_connected_models(project):
    from dss_harness import storage
    from street2shop.index.search import SearchIndex

    project.run_recipe(
        "street2shop-embed",
        inputs={"manifest": ["manifest"], "images": ["pictures"], "models": ["colours_model", "style_model"]},
        outputs={"index": ["index"]},
        config={"batch_size": 4, "index_type": "flat", "model_weights": {"style": "0.5"}, "weights_source": "none"},
    )
    index = SearchIndex.load(storage.folder_files_dir(project.root, project.project_key, "index"))
    layout = index.info["layout"]
    assert [(p["name"], p["weight"]) for p in layout] == [("colours", 1.0), ("style", 0.5)]
    assert layout[1]["classes"] == ["duotones", "silhouettes"] and len(index) == 25
    answer = index.answer(project.folder_files("pictures")["user/p1.jpg"].read_bytes(), k=2)
    assert set(answer.attributes) == {"colours", "style"} and len(answer.results) == 2
