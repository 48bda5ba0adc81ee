"""Benchmark: the person model's latency per picture, and its share of a served request.

Pictures: Debian's opencv-doc photos (``make bench`` installs them; never committed): three with a
person (``messi5.jpg``, ``basketball1.png``, ``basketball2.png``) and three without. Index: those
photos and the garments cut out of the people, embedded with the default (efficientnet-lite0,
ImageNet). Measured in one run: ``PersonModel.find`` alone (detector + landmark pass), the garment
cut-outs (GrabCut in the top and bottom boxes), and ``Recommender.handle`` (a served request without
HTTP) with the person model against without it, the baseline.

Run: .venv/bin/python bench/person_model.py [--repeats 5]
Writes bench/results/person_model.json.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"
OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
PEOPLE = ("messi5.jpg", "basketball1.png", "basketball2.png")
OBJECTS = ("apple.jpg", "orange.jpg", "butterfly.jpg")


def _rgb(name: str):
    path = OPENCV_DATA / name
    if not path.is_file():
        raise SystemExit(f"{path} is missing: install Debian's opencv-doc (make bench does, as root)")
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def _median_ms(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from street2shop.index.build import embed_catalogue
    from street2shop.index.search import SearchIndex
    from street2shop.segmentation.garment_parts import segment_parts
    from street2shop.segmentation.person import PersonModel
    from street2shop.serving.recommend import Recommender
    from street2shop.storage.publish import LocalOutputDir

    model = PersonModel()
    pictures = {name: _rgb(name) for name in PEOPLE + OBJECTS}
    model.find(pictures[PEOPLE[0]])  # first call allocates the runtime's buffers
    find_ms = {name: _median_ms(lambda rgb=rgb: model.find(rgb), args.repeats) for name, rgb in pictures.items()}
    people = {name: model.find(pictures[name]) for name in PEOPLE}
    parts_ms = {name: _median_ms(lambda n=name: segment_parts(pictures[n], people[n]), args.repeats) for name in PEOPLE}

    with tempfile.TemporaryDirectory(prefix="street2shop-bench-person-") as scratch:
        root = Path(scratch)
        (root / "images").mkdir()
        rows = []
        for name in PEOPLE:
            for garment in segment_parts(pictures[name], people[name]):
                file = f"{Path(name).stem}-{garment.part}.png"
                cv2.imwrite(str(root / "images" / file), cv2.cvtColor(garment.crop(pictures[name]), cv2.COLOR_RGB2BGR))
                rows.append({"image": file, "product_id": file})
        for name in OBJECTS + PEOPLE:
            (root / "images" / name).write_bytes((OPENCV_DATA / name).read_bytes())
            rows.append({"image": name, "product_id": name})
        pd.DataFrame(rows).to_csv(root / "catalog.csv", index=False)
        embed_catalogue(manifest=root / "catalog.csv", images=root / "images", output=LocalOutputDir(root / "index"))
        index = SearchIndex.load(root / "index")
        served = {
            "without_person_model": Recommender(index),
            "with_person_model": Recommender(index, person_model=model),
        }
        requests: dict[str, dict[str, dict[str, float]]] = {}
        for label, recommender in served.items():
            requests[label] = {}
            for name in PEOPLE + OBJECTS:
                body = {"image": base64.b64encode((OPENCV_DATA / name).read_bytes()).decode("ascii"), "k": 10}
                timings = [recommender.handle(body)["timing_ms"] for _ in range(args.repeats)]
                requests[label][name] = {
                    key: round(statistics.median(t.get(key, 0.0) for t in timings), 1) for key in ("total", "person", "garments")
                }
        index.close()

    def mean(values) -> float:
        return round(statistics.mean(values), 1)

    with_model, baseline = requests["with_person_model"], requests["without_person_model"]
    summary = {
        "person_model_ms_per_picture": {"with_person": mean(find_ms[n] for n in PEOPLE), "without_person": mean(find_ms[n] for n in OBJECTS)},
        "garment_cutouts_ms_per_person": mean(parts_ms.values()),
        "request_ms": {
            "baseline_people": mean(baseline[n]["total"] for n in PEOPLE),
            "with_model_people": mean(with_model[n]["total"] for n in PEOPLE),
            "baseline_no_person": mean(baseline[n]["total"] for n in OBJECTS),
            "with_model_no_person": mean(with_model[n]["total"] for n in OBJECTS),
        },
        "share_of_request": {
            "person_model_people": round(statistics.mean(with_model[n]["person"] / with_model[n]["total"] for n in PEOPLE), 3),
            "person_and_garments_people": round(statistics.mean(
                (with_model[n]["person"] + with_model[n]["garments"]) / with_model[n]["total"] for n in PEOPLE), 3),
            "person_model_no_person": round(statistics.mean(with_model[n]["person"] / with_model[n]["total"] for n in OBJECTS), 3),
        },
    }
    summary["request_ratio"] = {
        "people": round(summary["request_ms"]["with_model_people"] / summary["request_ms"]["baseline_people"], 2),
        "no_person": round(summary["request_ms"]["with_model_no_person"] / summary["request_ms"]["baseline_no_person"], 2),
    }
    report = {
        "summary": summary,
        "find_ms": find_ms,
        "garment_cutouts_ms": parts_ms,
        "requests": requests,
        "repeats": args.repeats,
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "person_model.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps(summary, indent=2))
    print(f"load average {report['load_average']}; written {RESULTS / 'person_model.json'}")


if __name__ == "__main__":
    main()
