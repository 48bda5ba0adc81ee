"""Benchmark: `street2shop train` on real product photos (Zalando's Fashion-MNIST), scored by `street2shop predict`.

The 60,000 training and 10,000 test pictures (Debian's ``dataset-fashion-mnist``) are written as PNG
files plus manifests; the ``type`` model is trained with the command line as a user would (flags in
the output), the official test pictures are tagged with ``street2shop predict --disagreements``, and
test accuracy, per-class F1 and the confusion matrix come from its output. Baseline in the same
process: scikit-learn's logistic regression on the raw pixels. Ablations (a smaller subset, fewer
epochs, each one setting off): augmentation, class balance, the learning-rate schedule, early
stopping, and the report's fine-tuning rate 1e-4 instead of the from-scratch rate.
Run: .venv/bin/python bench/fashion_mnist.py [--train-pictures 60000] [--epochs 12] [--ablation-pictures 12000]
     [--ablation-epochs 5] [--no-ablations]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python-lib"))
sys.path.insert(0, str(ROOT / "tests" / "support"))
RESULTS = ROOT / "bench" / "results" / "fashion_mnist"

import fashion_mnist as fm  # noqa: E402  (tests/support: the idx reader and picture writer)

#: The main run's flags (from-scratch small CNN at 32 px).
MAIN_FLAGS = [
    "--backbone", "small-cnn", "--image-size", "32", "--learning-rate", "3e-3", "--final-learning-rate", "3e-5",
    "--batch-size", "64", "--validation-share", "0.1", "--balance", "--patience", "4",
]


def street2shop(*args: object) -> tuple[dict, float]:
    """Run the command line in a subprocess, as a user would; returns its JSON line and the wall time."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "python-lib")}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "street2shop.cli", *map(str, args)], capture_output=True, text=True, env=env)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"street2shop {args[0]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), seconds


def scores(truth: list[str], predicted: list[str], classes: list[str]) -> dict:
    """Accuracy, per-class F1 and the confusion matrix (rows: truth)."""
    from sklearn.metrics import confusion_matrix, f1_score

    return {
        "accuracy": round(float(np.mean(np.asarray(truth) == np.asarray(predicted))), 4),
        "macro_f1": round(float(f1_score(truth, predicted, labels=classes, average="macro")), 4),
        "f1": {c: round(float(v), 4) for c, v in zip(classes, f1_score(truth, predicted, labels=classes, average=None))},
        "confusion": confusion_matrix(truth, predicted, labels=classes).tolist(),
    }


def logistic_baseline(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray, classes: list[str]) -> dict:
    """scikit-learn logistic regression on the raw pixels (scaled to [0, 1])."""
    from sklearn.linear_model import LogisticRegression

    started = time.monotonic()
    model = LogisticRegression(max_iter=300)
    model.fit(train_x.reshape(len(train_x), -1) / 255.0, train_y)
    seconds = time.monotonic() - started
    predicted = model.predict(test_x.reshape(len(test_x), -1) / 255.0)
    names = [fm.class_name(v) for v in predicted]
    return {"seconds": round(seconds, 1), **scores([fm.class_name(v) for v in test_y], names, classes)}


def train_and_score(work: Path, name: str, manifest: Path, test_manifest: Path, flags: list[str], classes: list[str]) -> dict:
    """Train with ``flags``, tag the test pictures with ``street2shop predict``, score the tags."""
    model = work / f"model-{name}"
    trained, train_seconds = street2shop(
        "train", "--images", work / "pictures", "--manifest", manifest, "--label", "type", "--out", model, *flags
    )
    tags_file = work / f"tags-{name}.csv"
    predicted, predict_seconds = street2shop(
        "predict", "--models", model, "--images", work / "pictures", "--manifest", test_manifest, "--out", tags_file, "--disagreements"
    )
    tags = pd.read_csv(tags_file, dtype=str, keep_default_na=False)
    info = json.loads((model / "model.json").read_text())
    fit = info["training"]["fit"]
    result = {
        "flags": " ".join(flags),
        "train_seconds": round(train_seconds, 1),
        "fit_seconds": fit["seconds"],
        "epochs_run": fit["epochs_run"],
        "best_epoch": fit["best_epoch"],
        "stopped": fit["stopped"],
        "val_accuracy": fit["best_value"],
        "predict_seconds": round(predict_seconds, 1),
        "test_pictures": len(tags),
        "disagreements": predicted["disagreements"]["type"],
        **scores(tags["type_manifest"].tolist(), tags["type"].tolist(), classes),
    }
    result["accuracy_from_disagreements"] = round(1 - result["disagreements"] / len(tags), 4)
    return result


def confusion_picture(result: dict, classes: list[str], path: Path, title: str) -> None:
    from street2shop.training.pictures import confusion_png

    confusion_png({"multilabel": False, "confusion": result["confusion"], "accuracy": result["accuracy"]}, classes, path, title)


def load() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3]) if Path("/proc/loadavg").exists() else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-pictures", type=int, default=60_000, help="training pictures of the main run (balanced subset when fewer)")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--ablation-pictures", type=int, default=12_000)
    parser.add_argument("--ablation-epochs", type=int, default=5)
    parser.add_argument("--no-ablations", action="store_true")
    parser.add_argument("--baseline-pictures", type=int, default=60_000, help="training pictures of the logistic regression")
    parser.add_argument("--work", default=None, help="folder for the pictures and models (default: a temporary one)")
    args = parser.parse_args()
    if not fm.available():
        raise SystemExit(f"Fashion-MNIST is not installed under {fm.DIRECTORY}: apt-get install dataset-fashion-mnist")
    RESULTS.mkdir(parents=True, exist_ok=True)
    classes = [fm.class_name(i) for i in range(10)]
    train_x, train_y = fm.read_split("train")
    test_x, test_y = fm.read_split("test")
    report: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_at_start": load()}, "runs": {}}
    with tempfile.TemporaryDirectory(prefix="s2s-fashion-mnist-") as temporary:
        work = Path(args.work or temporary)
        pictures = work / "pictures"
        train = fm.write_pictures(pictures, "train", train_x, train_y)
        test = fm.write_pictures(pictures, "test", test_x, test_y)
        test.to_csv(work / "test.csv", index=False)

        def subset(count: int, name: str) -> Path:
            rows = train if count >= len(train) else train.iloc[fm.balanced_subset(train_y, count // 10)]
            path = work / f"train-{name}.csv"
            rows.to_csv(path, index=False)
            return path

        chosen = np.arange(len(train_x)) if args.baseline_pictures >= len(train_x) else fm.balanced_subset(train_y, args.baseline_pictures // 10)
        print(f"baseline: logistic regression on {len(chosen)} raw pictures ...", flush=True)
        report["baseline_logistic_regression"] = {
            "train_pictures": int(len(chosen)), **logistic_baseline(train_x[chosen], train_y[chosen], test_x, test_y, classes)
        }
        print(json.dumps({k: v for k, v in report["baseline_logistic_regression"].items() if k not in ("f1", "confusion")}), flush=True)

        runs = [("main", subset(args.train_pictures, "main"), [*MAIN_FLAGS, "--epochs", str(args.epochs)])]
        if not args.no_ablations:
            small = subset(args.ablation_pictures, "ablation")
            base = [*MAIN_FLAGS, "--epochs", str(args.ablation_epochs)]
            runs += [
                ("ablation-all-on", small, base),
                ("ablation-no-augmentation", small, [*base, "--no-augment"]),
                ("ablation-no-balance", small, [f for f in base if f != "--balance"]),
                ("ablation-no-schedule", small, [*_replace(base, "--final-learning-rate", "3e-3")]),
                ("ablation-no-early-stopping", small, [*_replace(base, "--patience", str(args.ablation_epochs))]),
                ("ablation-fine-tuning-rate-1e-4", small, [*_replace(_replace(base, "--learning-rate", "1e-4"), "--final-learning-rate", "1e-7")]),
            ]
        for name, manifest, flags in runs:
            print(f"{name}: street2shop train {' '.join(flags)} (load {load()}) ...", flush=True)
            result = train_and_score(work, name, manifest, work / "test.csv", flags, classes)
            result["train_pictures"] = int(len(pd.read_csv(manifest)))
            result["load_after"] = load()
            report["runs"][name] = result
            print(json.dumps({k: v for k, v in result.items() if k not in ("f1", "confusion")}), flush=True)
            if name == "main":
                confusion_picture(result, classes, RESULTS / "confusion.png", "Fashion-MNIST test pictures")
    main_run = report["runs"]["main"]
    report["ratios"] = {"main_vs_logistic_accuracy": round(main_run["accuracy"] / report["baseline_logistic_regression"]["accuracy"], 4)}
    report["target"] = {"accuracy_0.94": main_run["accuracy"] >= 0.94, "training_under_15_min": main_run["train_seconds"] < 900}
    report["machine"]["load_at_end"] = load()
    (RESULTS / "report.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({"main": {k: main_run[k] for k in ("accuracy", "macro_f1", "train_seconds", "epochs_run")}, **report["ratios"], **report["target"]}))
    print(f"wrote {RESULTS / 'report.json'} and {RESULTS / 'confusion.png'}")


def _replace(flags: list[str], flag: str, value: str) -> list[str]:
    out = list(flags)
    out[out.index(flag) + 1] = value
    return out


if __name__ == "__main__":
    main()
