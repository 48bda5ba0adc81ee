"""An index folder is trusted for nothing: names, links, digests, damaged files and dead writers' staging folders."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cli_runner import street2shop
from serving_support import build_tiny_index
from street2shop.errors import IndexFormatError
from street2shop.index.folder import FILES_KEY, INDEX_FILE, file_digests
from street2shop.index.search import SearchIndex


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return build_tiny_index(tmp_path_factory.mktemp("catalogue"))


@pytest.fixture()
def index(pristine, tmp_path):
    """A fresh copy of the tiny index, free to damage."""
    copy = tmp_path / "index"
    shutil.copytree(pristine[0], copy)
    return copy


def query(pristine) -> Path:
    _index, images, catalog = pristine
    return images / catalog.iloc[0]["image"]


def edit_info(index: Path, change, *, redigest: bool = False) -> None:
    """Change index.json as a careless operator or an attacker would (``redigest``: and set the digests to match)."""
    info = json.loads((index / INDEX_FILE).read_text())
    change(info)
    if redigest:
        info[FILES_KEY] = file_digests(index)
    (index / INDEX_FILE).write_text(json.dumps(info))


def one_line_error(result, *fragments: str) -> str:
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.strip().splitlines() if "error:" in line or "Traceback" in line]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def search(index: Path, pristine):
    return street2shop("search", "--index", index, "--image", query(pristine), "-k", "2", check=False)


# 1. Nothing is read from outside the folder.


def elsewhere_encoder(index: Path, tmp_path: Path) -> Path:
    """A copy of the index's own encoder folder outside the index: loading it would succeed."""
    name = json.loads((index / INDEX_FILE).read_text())["layout"][0]["name"]
    outside = tmp_path / "elsewhere"
    shutil.copytree(index / "encoders" / name, outside)
    return outside


def test_a_layout_name_climbing_out_of_the_folder_is_refused(index, pristine, tmp_path):
    elsewhere_encoder(index, tmp_path)
    edit_info(index, lambda info: info["layout"][0].update(name="../../elsewhere"), redigest=True)
    one_line_error(search(index, pristine), "layout[0].name", "plain folder name")


def test_an_absolute_layout_name_is_refused(index, pristine, tmp_path):
    outside = elsewhere_encoder(index, tmp_path)
    edit_info(index, lambda info: info["layout"][0].update(name=str(outside)), redigest=True)
    one_line_error(search(index, pristine), "layout[0].name")


def test_a_symlinked_encoder_folder_is_refused(index, pristine, tmp_path):
    outside = elsewhere_encoder(index, tmp_path)
    name = json.loads((index / INDEX_FILE).read_text())["layout"][0]["name"]
    shutil.rmtree(index / "encoders" / name)
    (index / "encoders" / name).symlink_to(outside, target_is_directory=True)
    one_line_error(search(index, pristine), "leads outside")


def test_a_symlinked_model_file_in_a_model_folder_is_refused(index, tmp_path):
    from street2shop.models.loading import load_encoder

    outside = elsewhere_encoder(index, tmp_path)
    folder = tmp_path / "model"
    folder.mkdir()
    shutil.copy(outside / "encoder.json", folder / "encoder.json")
    (folder / "model.keras").symlink_to(outside / "model.keras")
    with pytest.raises(IndexFormatError, match="leads outside"):
        load_encoder(folder)


def test_a_symlinked_mask_model_file_is_refused(tmp_path):
    from street2shop.segmentation.mask_model import load_mask_model

    outside = tmp_path / "outside.keras"
    outside.write_bytes(b"not read")
    folder = tmp_path / "mask"
    folder.mkdir()
    (folder / "mask_model.keras").symlink_to(outside)
    with pytest.raises(IndexFormatError, match="leads outside"):
        load_mask_model(folder)


# 2. Every file has a digest, checked at load; impossible scores are refused.


def test_every_file_is_recorded_with_its_digest(index):
    info = json.loads((index / INDEX_FILE).read_text())
    files = sorted(p.relative_to(index).as_posix() for p in index.rglob("*") if p.is_file() and p.name != INDEX_FILE)
    assert sorted(info[FILES_KEY]) == files
    assert all(value.startswith("sha256:") and len(value) == 7 + 64 for value in info[FILES_KEY].values())


def scribble(path: Path, *, seed: int = 0) -> None:
    """Random bytes over the middle third of a file (its size unchanged)."""
    data = bytearray(path.read_bytes())
    third = len(data) // 3
    data[third : 2 * third] = np.random.default_rng(seed).integers(0, 256, third, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))


def test_random_bytes_in_the_vectors_are_detected(index, pristine):
    scribble(index / "vectors.faiss")
    one_line_error(search(index, pristine), "vectors.faiss", "damaged")


def test_damaged_vectors_of_an_index_without_digests_give_no_impossible_score(index, pristine):
    # An index built before digests: the damage must still not be served as scores of 1e37.
    edit_info(index, lambda info: info.pop(FILES_KEY))
    data = bytearray((index / "vectors.faiss").read_bytes())
    count = json.loads((index / INDEX_FILE).read_text())["count"]
    dim = json.loads((index / INDEX_FILE).read_text())["dim"]
    tail = count * dim * 4  # a flat index file ends with its float32 vectors
    data[-tail:] = np.full(count * dim, 3.0e18, dtype=np.float32).tobytes()
    (index / "vectors.faiss").write_bytes(bytes(data))
    one_line_error(search(index, pristine), "vectors.faiss", "damaged")


def test_impossible_scores_are_refused_at_search_time(index, pristine):
    from street2shop.index.fusion import stored_vectors

    loaded = SearchIndex.load(index)
    stored = stored_vectors(loaded.vectors)
    query = stored[:1].copy()
    assert loaded.search_vectors(query, k=2)[0][0]["score"] == pytest.approx(1.0, abs=1e-4)
    # Damaged after the load-time checks: vectors far from unit length.
    loaded.vectors = _raw_flat(stored * 1e6)
    with pytest.raises(IndexFormatError, match="vectors.faiss: damaged"):
        loaded.search_vectors(query, k=2)


def _raw_flat(vectors: np.ndarray):
    """A flat VectorIndex holding exactly these vectors (fit() would not normalise them either way)."""
    import faiss

    from street2shop.index.vectors import VectorIndex

    raw = faiss.IndexFlatIP(vectors.shape[1])
    raw.add(np.ascontiguousarray(vectors, dtype=np.float32))
    index = VectorIndex(kind="flat")
    index.index_, index.dim_ = raw, int(vectors.shape[1])
    return index


# 3. Damage is one line naming the file, exit status 2, from search and from serve.


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def encoder_file(index: Path, name: str = "model.keras") -> Path:
    part = json.loads((index / INDEX_FILE).read_text())["layout"][0]["name"]
    return index / "encoders" / part / name


@pytest.mark.parametrize("redigest", [False, True], ids=["digest-catches-it", "loader-catches-it"])
def test_a_truncated_model_is_one_line(index, pristine, redigest):
    truncate(encoder_file(index))
    edit_info(index, lambda info: None, redigest=redigest)
    one_line_error(search(index, pristine), "model.keras")


def test_a_truncated_item_table_is_one_line(index, pristine):
    truncate(index / "items.parquet")
    edit_info(index, lambda info: None, redigest=True)
    one_line_error(search(index, pristine), "items.parquet", "cannot read")


def test_truncated_vectors_name_the_file(index, pristine):
    truncate(index / "vectors.faiss")
    edit_info(index, lambda info: None, redigest=True)
    one_line_error(search(index, pristine), "vectors.faiss")


def test_a_missing_fingerprint_is_one_line(index, pristine):
    edit_info(index, lambda info: info["layout"][0].pop("fingerprint"))
    one_line_error(search(index, pristine), "layout[0].fingerprint")


@pytest.mark.parametrize("layout", [{"name": "tiny"}, "tiny", 3, None])
def test_a_layout_of_the_wrong_type_is_one_line(index, pristine, layout):
    edit_info(index, lambda info: info.update(layout=layout))
    one_line_error(search(index, pristine), "layout")


def test_a_model_safe_mode_refuses_is_one_line(index, pristine):
    import keras

    from street2shop.models.encoder import model_fingerprint

    inputs = keras.Input((32, 32, 3))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2.0)(keras.layers.GlobalAveragePooling2D()(inputs)))
    model.save(encoder_file(index))
    fingerprint = model_fingerprint(model)
    description = json.loads(encoder_file(index, "encoder.json").read_text())
    encoder_file(index, "encoder.json").write_text(json.dumps({**description, "fingerprint": fingerprint}))
    edit_info(index, lambda info: info["layout"][0].update(fingerprint=fingerprint), redigest=True)
    one_line_error(search(index, pristine), "model.keras", "safe_mode")


def test_serve_refuses_a_damaged_index_in_one_line(index):
    scribble(index / "vectors.faiss")
    result = street2shop("serve", "--index", index, "--port", "0", check=False)
    one_line_error(result, "vectors.faiss", "damaged")


# 4. A dead writer's staging folders are removed by the next run.

WRITER = """
import sys, time
from street2shop.storage.publish import staging_directory
with staging_directory("street2shop-index-") as path:
    (path / "vectors.faiss").write_bytes(b"x" * 1000)
    print(path, flush=True)
    time.sleep(60)
"""


def start_writer(tmp: Path) -> tuple[subprocess.Popen, Path]:
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen([sys.executable, "-c", WRITER], stdout=subprocess.PIPE, text=True, env=env)
    line = process.stdout.readline().strip()
    assert line, "the writer did not start"
    return process, Path(line)


def test_a_killed_writers_staging_folder_is_removed_by_the_next_run(tmp_path, monkeypatch, pristine):
    import tempfile

    from street2shop.index.build import STAGING_PREFIX

    killed, dead_folder = start_writer(tmp_path)
    alive, live_folder = start_writer(tmp_path)
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        assert dead_folder.is_dir() and dead_folder.parent == tmp_path and dead_folder.name.startswith(STAGING_PREFIX)
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
        build_tiny_index(tmp_path / "work", out=tmp_path / "next-index")  # the next run
        assert not dead_folder.exists()
        assert live_folder.is_dir(), "a live writer's staging folder must be left alone"
        assert (tmp_path / "next-index" / INDEX_FILE).is_file()
        left = sorted(p.name for p in tmp_path.glob(STAGING_PREFIX + "*"))
        assert left == sorted([live_folder.name, live_folder.name + ".lock"])
    finally:
        alive.kill()
        alive.wait(timeout=30)
        killed.kill()


def test_evaluate_refuses_a_damaged_index_in_one_line(index, pristine, tmp_path):
    _index, images, catalog = pristine
    queries = tmp_path / "queries.csv"
    catalog.to_csv(queries, index=False)
    truncate(index / "items.parquet")
    result = street2shop("evaluate", "--index", index, "--images", images, "--queries", queries, check=False)
    one_line_error(result, "items.parquet", "damaged")
