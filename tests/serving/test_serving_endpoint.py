"""The recommend request handler and the API-node endpoint code, called the way the API node calls it."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image

import apinode_emulator
from dss_harness import REPO_ROOT
from serving_support import b64, build_tiny_index
from street2shop.images.decode import encode_jpeg, encode_png
from street2shop.serving.deploy import ENDPOINT_CODE_RESOURCE, LIB_ZIP, bundle_python_lib, endpoint_config
from street2shop.serving.recommend import ApiError, Limits, Recommender, parse_request
from tiny_models import coloured_picture

CODE = REPO_ROOT / "resource" / ENDPOINT_CODE_RESOURCE


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("catalogue")
    return build_tiny_index(root)


@pytest.fixture(scope="module")
def recommender(built):
    from street2shop.index.search import SearchIndex

    return Recommender(SearchIndex.load(built[0]), Limits(max_k=20))


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """The library folder as the deploy macro fills it: the python-lib zip and tight limits."""
    folder = tmp_path_factory.mktemp("library")
    (folder / LIB_ZIP).parent.mkdir(parents=True)
    (folder / LIB_ZIP).write_bytes(bundle_python_lib(REPO_ROOT / "python-lib"))
    (folder / "street2shop-lib" / "endpoint.json").write_bytes(endpoint_config(Limits(max_image_bytes=200_000, max_k=5, default_k=3, max_pixels=1_000_000)))
    return folder


def picture(built, row: int = 2) -> bytes:
    _index, images, catalog = built
    return (images / catalog.iloc[row]["image"]).read_bytes()


# --- Request checks ---------------------------------------------------------------------------------


def test_parse_request_accepts_the_documented_body_and_common_encodings():
    data = encode_png(coloured_picture((10, 200, 30)))
    limits = Limits()
    plain = parse_request({"image": b64(data), "k": 5, "filters": {"type": ["dresses"]}}, limits)
    assert plain.image == data and plain.k == 5 and plain.filters == {"type": ["dresses"]}
    text = b64(data)
    variants = [
        "data:image/png;base64," + text,  # what a browser's FileReader gives
        text.rstrip("="),  # padding dropped
        "\n".join(text[i : i + 76] for i in range(0, len(text), 76)),  # MIME line wrapping
        text.replace("+", "-").replace("/", "_"),  # URL-safe alphabet
    ]
    for variant in variants:
        assert parse_request({"image": variant}, limits).image == data
    defaulted = parse_request({"image": text, "k": 4.0, "filters": {"type": "skirts"}}, limits)
    assert defaulted.k == 4 and defaulted.filters == {"type": ["skirts"]}
    assert parse_request({"image": text}, limits).k == limits.default_k


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (["not", "an", "object"], 400, "JSON object"),
        ({}, 400, "missing field 'image'"),
        ({"image": 12}, 400, "base64 string"),
        ({"image": "abc$%^&"}, 400, "not valid base64"),
        ({"image": "QUJD", "colour": "red"}, 400, "unknown field(s) 'colour'"),
        ({"image": "QUJD", "k": "10"}, 400, "'k' must be an integer"),
        ({"image": "QUJD", "k": True}, 400, "'k' must be an integer"),
        ({"image": "QUJD", "k": 2.5}, 400, "'k' must be an integer"),
        ({"image": "QUJD", "k": 0}, 400, "between 1 and 100"),
        ({"image": "QUJD", "k": 101}, 400, "between 1 and 100"),
        ({"image": "QUJD", "filters": ["dresses"]}, 400, "'filters' must be an object"),
        ({"image": "QUJD", "filters": {"type": []}}, 400, "filter 'type' must be"),
        ({"image": "QUJD", "filters": {"type": [3]}}, 400, "filter 'type' must be"),
        ({"image": "A" * 1500}, 413, "limit is 1000 bytes"),
    ],
)
def test_parse_request_refuses_bad_bodies_with_a_clear_status(body, status, fragment):
    with pytest.raises(ApiError) as caught:
        parse_request(body, Limits(max_image_bytes=1000))
    assert caught.value.status == status and fragment in caught.value.message


def test_recommender_answers_products_query_facts_and_timing(built, recommender):
    _index, _images, catalog = built
    answer = recommender.handle({"image": b64(picture(built, 2)), "k": 4})
    results = answer["results"]
    assert results[0]["product_id"] == catalog.iloc[2]["product_id"] and results[0]["score"] > 0.99
    assert len(results) == 4 and [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    assert set(results[0]) == {"product_id", "score", "image", "labels"}
    assert set(answer["query"]) == {"attributes", "segmented"} and answer["query"]["segmented"] is False
    assert {"parse", "decode", "segment", "embed", "search", "total"} <= set(answer["timing_ms"])
    filtered = recommender.handle({"image": b64(picture(built, 2)), "k": 10, "filters": {"type": ["dresses"]}})["results"]
    assert filtered and all(r["labels"]["type"] == "dresses" for r in filtered)
    json.dumps(answer)  # the API node sends it as JSON


def test_recommender_maps_picture_and_filter_errors_and_survives_failures(built, recommender, monkeypatch):
    cases = [
        ({"image": b64(b"GIF87a but not really a picture")}, 400, "cannot be used"),
        ({"image": b64(picture(built)), "filters": {"brand": ["x"]}}, 400, "unknown filter column 'brand'"),
        ({"image": b64(picture(built)), "k": 21}, 400, "between 1 and 20"),
    ]
    for body, status, fragment in cases:
        with pytest.raises(ApiError) as caught:
            recommender.handle(body)
        assert caught.value.status == status and fragment in caught.value.message
    small = Recommender(recommender.index, Limits(max_pixels=1000), warm_up=False)
    with pytest.raises(ApiError) as caught:
        small.handle({"image": b64(picture(built))})  # 48 x 40 = 1920 pixels
    assert caught.value.status == 413 and "too large" in caught.value.message

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire at /secret/path")

    monkeypatch.setattr(recommender.index, "answer", broken)
    with pytest.raises(ApiError) as caught:
        recommender.handle({"image": b64(picture(built))})
    assert caught.value.status == 500 and "/secret/path" not in caught.value.message
    monkeypatch.undo()
    assert recommender.handle({"image": b64(picture(built)), "k": 1})["results"]


def test_page_config_lists_the_filter_values(recommender):
    config = recommender.page_config()
    assert config["filters"] == {"type": ["dresses", "skirts"]} and config["count"] == 6 and config["max_k"] == 20


# --- The endpoint's code, as the API node runs it ----------------------------------------------------


def test_endpoint_code_defines_one_function_and_raises_the_api_nodes_exception(built, library):
    exception = apinode_emulator.DkuCustomApiException
    # Any configured function name works: the file defines exactly one function (DSS 9 then ignores the name).
    function = apinode_emulator.load_function(str(CODE), [str(built[0]), str(library)], function_name="api_py_function")
    assert function.__name__ == "recommend"
    status, answer = apinode_emulator.call(function, json.dumps({"image": b64(picture(built, 1)), "filters": {"type": "dresses"}}), exception)
    assert status == 200 and len(answer["results"]) == 3  # default_k of the library folder's endpoint.json
    assert answer["results"][0]["product_id"] == built[2].iloc[1]["product_id"]
    big = encode_jpeg(np.random.default_rng(0).integers(0, 255, (400, 400, 3), dtype=np.uint8), 100)
    assert len(big) > 200_000
    bodies = {
        "no image": ({"k": 2}, 400),
        "bad base64": ({"image": "###"}, 400),
        "not a picture": ({"image": b64(b"%PDF-1.4 hello")}, 400),
        "over the size limit": ({"image": b64(big)}, 413),
        "k over the endpoint's max": ({"image": b64(picture(built)), "k": 6}, 400),
        "unknown column": ({"image": b64(picture(built)), "filters": {"../../etc": ["x"]}}, 400),
        "unexpected argument": ({"image": b64(picture(built)), "path": "/etc/passwd"}, 400),
    }
    for label, (body, status) in bodies.items():
        got, answer = apinode_emulator.call(function, json.dumps(body), exception)
        assert got == status, (label, answer)
        assert answer["message"], label


def run_emulator(tmp_path, folders, bodies, *flags):
    """The emulator in a fresh process that has only the double's (empty) ``dataiku.apinode``, no python-lib."""
    (tmp_path / "folders.json").write_text(json.dumps(folders))
    (tmp_path / "requests.json").write_text(json.dumps([json.dumps(b) for b in bodies]))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",) and not k.startswith("DKU")}
    env["PYTHONPATH"] = str(REPO_ROOT / "tests" / "support" / "dss_double")
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "tests" / "support" / "apinode_emulator.py"), str(CODE), "folders.json", "requests.json", "out.json", *flags],
        cwd=tmp_path, env=env, timeout=300, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((tmp_path / "out.json").read_text())


def test_bundled_library_serves_in_a_fresh_process_like_the_api_node(built, library, tmp_path):
    """The API node has no plugin python-lib: the endpoint must import street2shop from the zip."""
    names = zipfile.ZipFile(library / LIB_ZIP).namelist()
    assert "street2shop/serving/endpoint.py" in names and not any("__pycache__" in n for n in names)
    bomb = io.BytesIO()
    Image.new("L", (2000, 2000)).save(bomb, "PNG")  # 4 Mpx in a few KB: over max_pixels
    bodies = [
        {"image": b64(picture(built, 4)), "k": 2},
        {"image": b64(bomb.getvalue())},
        {"image": None, "k": [1]},
        {"image": b64(picture(built, 4)), "k": 1},  # still answering after the bad ones
    ]
    out = run_emulator(tmp_path, [str(built[0]), str(library)], bodies)
    assert out["street2shop_file"].startswith(str(library / LIB_ZIP))
    statuses = [status for status, _ in out["responses"]]
    assert statuses == [200, 413, 400, 200]
    assert out["responses"][0][1]["results"][0]["product_id"] == built[2].iloc[4]["product_id"]
    assert "too large" in out["responses"][1][1]["message"]


def test_endpoint_loads_as_dss9_runs_it_and_names_the_status_without_the_exception_class(built, library, tmp_path):
    """DSS 9: only ``folders`` in the globals, an empty ``dataiku.apinode``, no DkuCustomApiException at all."""
    bodies = [{"image": b64(picture(built, 3)), "k": 1}, {"image": b64(b"%PDF-1.4 hello")}, {"k": 2}]
    out = run_emulator(tmp_path, [str(built[0]), str(library)], bodies, "--dss9")
    assert out["function"] == "recommend"
    (ok, good), (bad_status, bad), (missing_status, missing) = out["responses"]
    assert ok == 200 and good["results"][0]["product_id"] == built[2].iloc[3]["product_id"]
    assert bad_status == 500 and bad["message"].startswith("EndpointError: HTTP 400: ") and "cannot be used" in bad["message"]
    assert missing_status == 500 and "HTTP 400: missing field 'image'" in missing["message"]


def test_emulator_counts_every_function_and_picks_the_configured_name(tmp_path):
    code = tmp_path / "endpoint.py"
    code.write_text("from os.path import join\n\ndef helper():\n    return 1\n\ndef serve(**data):\n    return {'n': len(folders)}\n")
    assert apinode_emulator.load_function(str(code), ["a", "b"], function_name="serve")(x=1) == {"n": 2}
    with pytest.raises(Exception, match='No function "recommend" defined'):
        apinode_emulator.load_function(str(code), [])  # join, helper and serve: three functions, none named recommend
    early = tmp_path / "early.py"
    early.write_text("E = DkuCustomApiException\n\ndef f():\n    return 1\n")
    with pytest.raises(NameError, match="DkuCustomApiException"):
        apinode_emulator.load_function(str(early), [])
