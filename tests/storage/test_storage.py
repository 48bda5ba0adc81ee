"""Tests of storage/: image stores (local, managed folder, S3), bounded reads, atomic outputs."""

from __future__ import annotations

import functools
import io
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from street2shop.storage import publish
from street2shop.errors import InvalidParameter, StorageError
from street2shop.storage.local import LocalImageStore
from street2shop.storage.managed_folder import FolderImageStore
from street2shop.storage.publish import FolderOutputDir, LocalOutputDir
from street2shop.storage.published import POINTER_FILE, open_published
from street2shop.storage.s3 import S3ImageStore, S3PrefixStore
from street2shop.storage.stores import ImageSource, open_image_store, read_many

PYTHON_LIB = Path(publish.__file__).resolve().parents[2]


class FakeFolder:
    """The part of dataiku.Folder's stream API that street2shop uses, kept in memory."""

    def __init__(self, files: dict[str, bytes] | None = None, name: str = "images"):
        self.files = {"/" + path.lstrip("/"): data for path, data in (files or {}).items()}
        self.name = name
        self.calls: list[tuple[str, str]] = []
        self.on_upload = None

    def get_name(self) -> str:
        return self.name

    def get_path(self) -> str:
        raise RuntimeError("running remotely, direct access to folder is not possible")

    def get_download_stream(self, path: str):
        self.calls.append(("download", path))
        if path not in self.files:
            raise Exception(f"Path does not exist: {path}")  # DSS raises plain Exceptions
        return io.BytesIO(self.files[path])

    def list_paths_in_partition(self, partition: str = "") -> list[str]:
        self.calls.append(("list", partition))
        return sorted(self.files)

    def upload_stream(self, path: str, stream) -> None:
        self.calls.append(("upload", path))
        if self.on_upload is not None:
            self.on_upload(path)
        self.files[path] = stream.read()

    def write_json(self, path: str, obj) -> None:
        self.calls.append(("write_json", path))
        self.files[path] = json.dumps(obj).encode()

    def delete_path(self, path: str) -> None:
        self.calls.append(("delete", path))
        for key in [key for key in self.files if key == path or key.startswith(path.rstrip("/") + "/")]:
            del self.files[key]


def make_tree(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def tree(root: Path) -> dict[str, str]:
    return {path.relative_to(root).as_posix(): path.read_text() for path in root.rglob("*") if path.is_file()}


# --- Local directory ------------------------------------------------------------------------------


def test_local_store_reads_and_lists(tmp_path):
    make_tree(tmp_path, {"a.jpg": "A", "shop/b.jpg": "B", "shop/deep/c.jpg": "C", "user/d.jpg": "D"})
    store = LocalImageStore(tmp_path)
    assert store.read_bytes("shop/b.jpg") == b"B"
    assert store.read_bytes("./shop//deep/c.jpg") == b"C"
    assert store.list_files() == ["a.jpg", "shop/b.jpg", "shop/deep/c.jpg", "user/d.jpg"]
    assert store.list_files("shop/") == ["shop/b.jpg", "shop/deep/c.jpg"]
    assert store.list_files("shop/deep") == ["shop/deep/c.jpg"]
    assert store.list_files("u") == ["user/d.jpg"]


def test_local_store_missing_file_names_it(tmp_path):
    store = LocalImageStore(tmp_path)
    with pytest.raises(StorageError, match=r"^missing: nope/x\.jpg"):
        store.read_bytes("nope/x.jpg")
    with pytest.raises(StorageError, match="image folder not found"):
        LocalImageStore(tmp_path / "absent")


@pytest.mark.parametrize("path", ["../secret.txt", "a/../../secret.txt", "/etc/passwd", "", "C:\\x.jpg", "a\x00.jpg"])
def test_local_store_refuses_paths_leaving_the_root(tmp_path, path):
    (tmp_path / "secret.txt").write_text("secret")
    root = make_tree(tmp_path / "images", {"a/ok.jpg": "ok"})
    with pytest.raises(StorageError):
        LocalImageStore(root).read_bytes(path)


def test_local_store_refuses_symlinks_out_of_the_root(tmp_path):
    (tmp_path / "secret.txt").write_text("secret")
    root = make_tree(tmp_path / "images", {"in.jpg": "in"})
    (root / "out.jpg").symlink_to(tmp_path / "secret.txt")
    (root / "alias.jpg").symlink_to(root / "in.jpg")
    (root / "outdir").symlink_to(tmp_path, target_is_directory=True)
    store = LocalImageStore(root)
    with pytest.raises(StorageError, match="leaving"):
        store.read_bytes("out.jpg")
    with pytest.raises(StorageError, match="leaving"):
        store.read_bytes("outdir/secret.txt")
    assert store.read_bytes("alias.jpg") == b"in"  # a link that stays inside is fine
    assert store.list_files() == ["alias.jpg", "in.jpg"]
    assert store.list_files("outdir/") == []


# --- Managed folder (duck-typed) ------------------------------------------------------------------


def test_folder_store_reads_through_streams_and_lists():
    folder = FakeFolder({"shop/a.jpg": b"A", "user/b.jpg": b"B"})
    store = FolderImageStore(folder)
    assert store.read_bytes("shop/a.jpg") == b"A"
    assert store.read_bytes("/user/b.jpg") == b"B"
    assert store.list_files() == ["shop/a.jpg", "user/b.jpg"]
    assert store.list_files("user") == ["user/b.jpg"]
    assert ("download", "/shop/a.jpg") in folder.calls
    assert "images" in store.description


def test_folder_store_reports_missing_files_and_refuses_traversal():
    store = FolderImageStore(FakeFolder({"a.jpg": b"A"}))
    with pytest.raises(StorageError, match=r"^missing: b\.jpg \(in managed folder images\)"):
        store.read_bytes("b.jpg")
    with pytest.raises(StorageError, match=r"\.\."):
        store.read_bytes("../a.jpg")
    with pytest.raises(InvalidParameter):
        FolderImageStore(object())


# --- S3 (moto) ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_bucket():
    """A fake S3 (moto) with fake credentials, shared by the module's tests, which only read it."""
    with pytest.MonkeyPatch.context() as monkeypatch, mock_aws():
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            monkeypatch.delenv(name, raising=False)
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            monkeypatch.setenv(name, value)
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="catalogue")
        for key, body in {
            "shop/1/a.jpg": b"A",
            "shop/1/b.jpg": b"B",
            "shop/2/c.jpg": b"C",
            "user/d.jpg": b"D",
            "shop/folder/": b"",
        }.items():
            client.put_object(Bucket="catalogue", Key=key, Body=body)
        yield client


def test_s3_store_reads_and_lists(s3_bucket):
    store = S3ImageStore(region_name="us-east-1", retries=3, max_pool_connections=7)
    assert store.read_bytes("s3://catalogue/shop/1/a.jpg") == b"A"
    assert store.list_files("s3://catalogue/shop/1") == ["s3://catalogue/shop/1/a.jpg", "s3://catalogue/shop/1/b.jpg"]
    assert store.list_files("s3://catalogue/") == [
        "s3://catalogue/shop/1/a.jpg",
        "s3://catalogue/shop/1/b.jpg",
        "s3://catalogue/shop/2/c.jpg",
        "s3://catalogue/user/d.jpg",
    ]
    config = store.client.meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 4}  # 3 retries after the first try
    assert config.max_pool_connections == 7


def test_s3_missing_key_and_bucket_name_the_uri(s3_bucket):
    store = S3ImageStore()
    with pytest.raises(StorageError) as caught:
        store.read_bytes("s3://catalogue/shop/9/z.jpg")
    assert str(caught.value) == "missing: s3://catalogue/shop/9/z.jpg (NoSuchKey)"
    with pytest.raises(StorageError, match=r"s3://no-such-bucket/a\.jpg.*NoSuchBucket"):
        store.read_bytes("s3://no-such-bucket/a.jpg")
    with pytest.raises(StorageError, match="not an s3"):
        store.read_bytes("http://catalogue/a.jpg")


def test_s3_access_denied_names_the_code():
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        stubber.add_client_error("get_object", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(StorageError) as caught:
            S3ImageStore(client=client).read_bytes("s3://private/a.jpg")
    assert "s3://private/a.jpg" in str(caught.value)
    assert "AccessDenied" in str(caught.value)


def test_s3_prefix_store_and_image_source(s3_bucket, tmp_path):
    prefix_store = open_image_store("s3://catalogue/shop/")
    assert isinstance(prefix_store, S3PrefixStore)
    assert prefix_store.list_files() == ["1/a.jpg", "1/b.jpg", "2/c.jpg"]
    assert prefix_store.list_files("2/") == ["2/c.jpg"]
    assert prefix_store.read_bytes("2/c.jpg") == b"C"
    with pytest.raises(StorageError, match=r"missing: s3://catalogue/shop/3/x\.jpg"):
        prefix_store.read_bytes("3/x.jpg")

    make_tree(tmp_path, {"local.jpg": "L"})
    source = ImageSource(open_image_store(tmp_path), s3=prefix_store.s3)
    assert source.read_bytes("local.jpg") == b"L"
    assert source.read_bytes("s3://catalogue/user/d.jpg") == b"D"
    with pytest.raises(StorageError, match="needs an image folder"):
        ImageSource(None).read_bytes("local.jpg")


def test_read_many_mixes_s3_and_local_rows_in_order(s3_bucket, tmp_path):
    make_tree(tmp_path, {"local.jpg": "L"})
    images = [
        "s3://catalogue/shop/1/a.jpg",
        "local.jpg",
        "s3://catalogue/nope.jpg",
        "gone.jpg",
        "s3://catalogue/user/d.jpg",
    ]
    source = ImageSource(LocalImageStore(tmp_path), s3=S3ImageStore(client=s3_bucket))
    results = list(read_many(source, images, max_workers=3))
    assert [index for index, _, _ in results] == [0, 1, 2, 3, 4]
    assert [data for _, data, _ in results] == [b"A", b"L", None, None, b"D"]
    assert results[2][2] == "missing: s3://catalogue/nope.jpg (NoSuchKey)"
    assert results[3][2].startswith("missing: gone.jpg")


# --- Bounded concurrent reads ---------------------------------------------------------------------


class CountingSource:
    """Counts reads in flight; the barrier makes every read wait until ``parties`` run at once."""

    def __init__(self, parties: int):
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        self.barrier = threading.Barrier(parties, timeout=20)

    def read_bytes(self, image: str) -> bytes:
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            self.barrier.wait()
            if image.startswith("bad"):
                raise StorageError(f"missing: {image}")
            if image.startswith("odd"):
                raise KeyError(image)
            return image.encode()
        finally:
            with self.lock:
                self.active -= 1


def test_read_many_runs_max_workers_at_once_and_keeps_order():
    images = [f"bad{i}" if i % 5 == 2 else f"odd{i}" if i == 7 else f"img{i}" for i in range(16)]
    source = CountingSource(parties=4)
    results = list(read_many(source, images, max_workers=4))
    # The barrier only opens when 4 reads run together, so reaching the end proves 4 at once.
    assert source.max_active == 4
    assert [index for index, _, _ in results] == list(range(16))
    for index, data, error in results:
        if images[index].startswith("bad"):
            assert (data, error) == (None, f"missing: {images[index]}")
        elif images[index].startswith("odd"):
            assert data is None and "KeyError" in error and "odd7" in error
        else:
            assert (data, error) == (images[index].encode(), None)


def test_read_many_consumes_its_input_lazily():
    pulled = []

    def images():
        for number in range(1000):
            pulled.append(number)
            yield f"img{number}"

    class Echo:
        def read_bytes(self, image: str) -> bytes:
            return image.encode()

    results = read_many(Echo(), images(), max_workers=2)
    assert next(results) == (0, b"img0", None)
    assert len(pulled) <= 4  # the in-flight window is 2 x max_workers
    results.close()
    with pytest.raises(InvalidParameter):
        next(read_many(Echo(), ["a"], max_workers=0))


# --- Local output directory -----------------------------------------------------------------------


def siblings(target: Path) -> list[str]:
    return sorted(path.name for path in target.parent.iterdir() if path.name != target.name)


def test_local_output_publish_replaces_the_old_tree(tmp_path):
    target = tmp_path / "out" / "index"
    output = LocalOutputDir(target)
    output.publish(make_tree(tmp_path / "v1", {"a.txt": "1", "sub/b.txt": "1"}))
    assert tree(target) == {"a.txt": "1", "sub/b.txt": "1"}
    output.publish(make_tree(tmp_path / "v2", {"c.txt": "2"}))
    assert tree(target) == {"c.txt": "2"}
    assert siblings(target) == []
    assert tree(tmp_path / "v2") == {"c.txt": "2"}  # the source is copied, not consumed


def test_local_output_falls_back_to_two_renames(tmp_path, monkeypatch):
    monkeypatch.setattr(publish, "_exchange", lambda first, second: False)
    target = tmp_path / "index"
    output = LocalOutputDir(target)
    output.publish(make_tree(tmp_path / "v1", {"a.txt": "1"}))
    output.publish(make_tree(tmp_path / "v2", {"b.txt": "2"}), move=True)
    assert tree(target) == {"b.txt": "2"}
    assert not (tmp_path / "v2").exists()
    assert siblings(target) == ["v1"]


def test_local_output_failed_publish_keeps_the_old_tree(tmp_path, monkeypatch):
    target = tmp_path / "index"
    output = LocalOutputDir(target)
    output.publish(make_tree(tmp_path / "v1", {"a.txt": "old"}))
    source = make_tree(tmp_path / "v2", {"x1.txt": "new", "x2.txt": "new", "x3.txt": "new"})
    copied = []

    def failing_copy(src, dst, **kwargs):
        if copied:
            raise OSError(28, "No space left on device")
        copied.append(src)
        return shutil.copy2(src, dst, **kwargs)

    monkeypatch.setattr(publish.shutil, "copytree", functools.partial(shutil.copytree, copy_function=failing_copy))
    with pytest.raises(OSError):
        output.publish(source)
    assert copied  # it failed half-way, not before starting
    assert tree(target) == {"a.txt": "old"}
    assert sorted(os.listdir(tmp_path)) == ["index", "v1", "v2"]  # no temporary directory left


def test_local_output_staging_publishes_only_on_success(tmp_path):
    target = tmp_path / "index"
    output = LocalOutputDir(target)
    with output.staging() as work:
        (work / "a.txt").write_text("1")
    assert tree(target) == {"a.txt": "1"}
    with pytest.raises(RuntimeError, match="model diverged"):
        with output.staging() as work:
            (work / "b.txt").write_text("half")
            raise RuntimeError("model diverged")
    assert tree(target) == {"a.txt": "1"}
    assert siblings(target) == []


def test_local_output_killed_during_copy_leaves_the_old_tree(tmp_path):
    target = tmp_path / "index"
    LocalOutputDir(target).publish(make_tree(tmp_path / "v1", {"a.txt": "old"}))
    make_tree(tmp_path / "v2", {"x1.txt": "new", "x2.txt": "new"})
    script = (
        "import os, shutil, sys\n"
        f"sys.path.insert(0, {str(PYTHON_LIB)!r})\n"
        "from street2shop.storage.publish import LocalOutputDir\n"
        "import functools\n"
        "def copy_then_die(src, dst, **kwargs):\n"
        "    shutil.copy2(src, dst, **kwargs)\n"
        "    os._exit(9)\n"
        "shutil.copytree = functools.partial(shutil.copytree, copy_function=copy_then_die)\n"
        f"LocalOutputDir({str(target)!r}).publish({str(tmp_path / 'v2')!r})\n"
    )
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert process.returncode == 9, process.stderr.decode()
    assert [name.split("-")[0] for name in siblings(target)] == ["index.tmp", "v1", "v2"]  # killed mid-copy
    assert tree(target) == {"a.txt": "old"}
    assert open_published(target).read_bytes("a.txt") == b"old"


def test_local_output_refuses_a_file_in_the_way(tmp_path):
    (tmp_path / "index").write_text("not a directory")
    with pytest.raises(StorageError, match="not a directory"):
        LocalOutputDir(tmp_path / "index").publish(make_tree(tmp_path / "v1", {"a.txt": "1"}))
    assert (tmp_path / "index").read_text() == "not a directory"
    assert sorted(os.listdir(tmp_path)) == ["index", "v1"]


# --- Managed-folder output ------------------------------------------------------------------------


def test_folder_output_writes_pointer_last_and_prunes(tmp_path):
    folder = FakeFolder({"stray.txt": b"from before", "olddir/x.bin": b"x"})
    output = FolderOutputDir(folder)
    output.publish(make_tree(tmp_path / "v1", {"a.txt": "1", "sub/b.txt": "1"}))
    first = open_published(folder)
    assert first.version is not None
    assert first.list_files() == ["a.txt", "sub/b.txt"]
    assert first.read_bytes("sub/b.txt") == b"1"
    assert sorted(folder.files) == sorted(
        ["/" + POINTER_FILE, f"/{first.version}/a.txt", f"/{first.version}/sub/b.txt"]
    )

    seen_during_upload = []
    folder.on_upload = lambda path: seen_during_upload.append(
        (open_published(folder).version, open_published(folder).read_bytes("a.txt"))
    )
    folder.calls.clear()
    output.publish(make_tree(tmp_path / "v2", {"a.txt": "2", "c.txt": "2"}))
    # While the new version was uploading, readers saw the old one, whole.
    assert seen_during_upload == [(first.version, b"1")] * 2
    kinds = [kind for kind, _ in folder.calls if kind in ("upload", "write_json", "delete")]
    assert kinds == ["upload", "upload", "write_json", "delete"]
    assert [path for kind, path in folder.calls if kind == "delete"] == [f"/{first.version}"]

    second = open_published(folder)
    assert second.version > first.version
    assert second.list_files() == ["a.txt", "c.txt"]
    assert second.read_bytes("a.txt") == b"2"
    assert not second.exists("sub/b.txt")
    assert {path.split("/")[1] for path in folder.files} == {POINTER_FILE, second.version}


def test_folder_output_failed_upload_keeps_the_old_version(tmp_path):
    folder = FakeFolder()
    output = FolderOutputDir(folder)
    output.publish(make_tree(tmp_path / "v1", {"a.txt": "1"}))
    before = dict(folder.files)

    def fail_on_second(path):
        if path.endswith("x2.txt"):
            raise Exception("connection reset")

    folder.on_upload = fail_on_second
    with pytest.raises(StorageError, match="connection reset"):
        output.publish(make_tree(tmp_path / "v2", {"x1.txt": "2", "x2.txt": "2"}))
    assert folder.files == before  # the partial version was removed, the pointer untouched
    assert open_published(folder).read_bytes("a.txt") == b"1"


def test_folder_output_leaves_a_newer_concurrent_version(tmp_path):
    folder = FakeFolder({"/v-99991231T235959000000Z-ffffffff/a.txt": b"future"})
    FolderOutputDir(folder).publish(make_tree(tmp_path / "v1", {"a.txt": "1"}))
    assert "/v-99991231T235959000000Z-ffffffff/a.txt" in folder.files
    assert open_published(folder).read_bytes("a.txt") == b"1"


# --- Reading what was published ------------------------------------------------------------------


def test_open_published_local_dir_without_pointer(tmp_path):
    root = make_tree(tmp_path / "index", {"vectors.bin": "v", "models/m.keras": "m"})
    reader = open_published(root)
    assert reader.version is None
    assert reader.list_files() == ["models/m.keras", "vectors.bin"]
    assert reader.exists("models/m.keras") and not reader.exists("nope") and not reader.exists("../x")
    assert reader.materialize(tmp_path / "unused") == root.resolve()
    assert not (tmp_path / "unused").exists()
    with pytest.raises(StorageError, match="no published output"):
        open_published(tmp_path / "absent")


def test_open_published_local_dir_with_pointer_wins(tmp_path):
    version = "v-20250101T000000000000Z-0a0b0c0d"
    root = make_tree(tmp_path / "index", {"stale.txt": "root", f"{version}/a.txt": "current"})
    (root / POINTER_FILE).write_text(json.dumps({"current": version, "written_at": "2025-01-01T00:00:00+00:00"}))
    reader = open_published(root)
    assert reader.version == version
    assert reader.list_files() == ["a.txt"]
    assert reader.read_bytes("a.txt") == b"current"
    assert reader.materialize() == (root / version).resolve()
    (root / POINTER_FILE).write_text(json.dumps({"current": "../../etc"}))
    with pytest.raises(StorageError, match="does not name a version"):
        open_published(root)


def test_open_published_folder_materializes(tmp_path):
    folder = FakeFolder()
    FolderOutputDir(folder).publish(make_tree(tmp_path / "v1", {"a.txt": "1", "models/m.keras": "m"}))
    local = open_published(folder).materialize(tmp_path / "copy")
    assert tree(local) == {"a.txt": "1", "models/m.keras": "m"}
    plain = open_published(FakeFolder({"a.txt": b"plain"}))  # a folder never published through a pointer
    assert plain.version is None and plain.read_bytes("a.txt") == b"plain"
    with pytest.raises(StorageError, match="missing: b.txt"):
        plain.read_bytes("b.txt")
    assert not any(kind == "get_path" for kind, _ in folder.calls)
