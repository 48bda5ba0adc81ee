"""Objects in S3: full 's3://bucket/key' URIs, or a prefix seen as an image folder."""

from __future__ import annotations

import threading
from typing import Any

from street2shop.errors import InvalidParameter, StorageError
from street2shop.storage.paths import clean_relative


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split 's3://bucket/key' into (bucket, key); the key may be empty."""
    if not isinstance(uri, str) or not uri.lower().startswith("s3://"):
        raise StorageError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise StorageError(f"s3 URI without a bucket: {uri}")
    return bucket, key


class S3ImageStore:
    """Objects in S3 addressed by full 's3://bucket/key' URIs.

    Credentials come from boto3's standard chain (environment, profile, instance role). The
    client is created on first use and shared by the reading threads (boto3 clients are
    thread-safe); its connection pool should be at least the number of reading threads.
    """

    description = "s3"

    def __init__(
        self,
        *,
        client: Any = None,
        max_pool_connections: int = 16,
        retries: int = 5,
        region_name: str | None = None,
        endpoint_url: str | None = None,
    ):
        if max_pool_connections < 1 or retries < 1:
            raise InvalidParameter("max_pool_connections and retries must be at least 1")
        self._client = client
        self._lock = threading.Lock()
        self.max_pool_connections = max_pool_connections
        self.retries = retries
        self.region_name = region_name
        self.endpoint_url = endpoint_url

    @property
    def client(self) -> Any:
        """The boto3 S3 client, created on first use."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make_client()
        return self._client

    def _make_client(self) -> Any:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError

        config = Config(
            retries={"mode": "standard", "max_attempts": self.retries},
            max_pool_connections=self.max_pool_connections,
        )
        try:
            # A session per store: boto3's default session is not thread-safe to create clients from.
            return boto3.session.Session().client(
                "s3", region_name=self.region_name, endpoint_url=self.endpoint_url, config=config
            )
        except BotoCoreError as err:
            raise StorageError(f"cannot create an S3 client: {err}") from err

    def _error(self, uri: str, err: Exception) -> StorageError:
        """Turn a botocore error into a StorageError naming the URI and the AWS error code."""
        response = getattr(err, "response", None)
        if isinstance(response, dict):
            error = response.get("Error", {})
            code = str(error.get("Code", "unknown"))
            message = error.get("Message") or ""
            if code in ("NoSuchKey", "404", "NotFound", "NoSuchBucket"):
                return StorageError(f"missing: {uri} ({code})")
            return StorageError(f"cannot read {uri}: {code}{': ' + message if message else ''}")
        return StorageError(f"cannot read {uri}: {type(err).__name__}: {err}")

    def read_bytes(self, path: str) -> bytes:
        """Return the bytes of the object at ``path``, an 's3://bucket/key' URI."""
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, key = parse_s3_uri(path)
        if not key or key.endswith("/"):
            raise StorageError(f"not an object URI (no key): {path}")
        try:
            response = self.client.get_object(Bucket=bucket, Key=key)
            return response["Body"].read()
        except (ClientError, BotoCoreError, OSError) as err:
            raise self._error(path, err) from err

    def list_files(self, prefix: str = "") -> list[str]:
        """Return the full URIs of the objects under ``prefix``, an 's3://bucket/prefix' URI.

        The paths of this store are URIs, so what it lists can be passed back to ``read_bytes``.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, key_prefix = parse_s3_uri(prefix)
        uris = []
        try:
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=key_prefix):
                for item in page.get("Contents", []):
                    if not item["Key"].endswith("/"):  # "folder" placeholder objects
                        uris.append(f"s3://{bucket}/{item['Key']}")
        except (ClientError, BotoCoreError, OSError) as err:
            raise self._error(prefix, err) from err
        return sorted(uris)


class S3PrefixStore:
    """An S3 prefix seen as an image folder: paths are relative to 's3://bucket/prefix'."""

    def __init__(self, root: str, s3: S3ImageStore | None = None):
        bucket, key = parse_s3_uri(root)
        self._key_root = "/".join(part for part in key.split("/") if part)
        self.root = f"s3://{bucket}/{self._key_root}".rstrip("/")
        self.s3 = s3 if s3 is not None else S3ImageStore()
        self.description = self.root

    def _uri(self, path: str) -> str:
        return f"{self.root}/{path}"

    def read_bytes(self, path: str) -> bytes:
        """Return the bytes of ``path``, relative to the prefix."""
        return self.s3.read_bytes(self._uri(clean_relative(path)))

    def list_files(self, prefix: str = "") -> list[str]:
        """Return the objects under the prefix, relative to it."""
        start = self.root + "/"
        return [uri[len(start) :] for uri in self.s3.list_files(start + prefix.lstrip("/"))]
