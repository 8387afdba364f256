"""Reads objects the training backend wrote to Cloud Storage (learning curves, exported packages' diagnostics
and sample images): google-cloud-storage in the cloud, or a local folder holding gs://BUCKET/PATH as
BUCKET/PATH when STORAGE_LOCAL_ROOT is set (the local stack points it at the service's storage root, where
the service writes what the cloud's gcsfuse mount would put in the bucket)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exceptions

from .config import Settings

MAX_OBJECT_BYTES = 8 * 2**20  # what the pipeline reads is small JSON or a scaled-down picture
# What a read may raise besides NotFound: a bad URI or object, an API error, no credentials.
READ_ERRORS = (ValueError, gexc.GoogleAPIError, auth_exceptions.GoogleAuthError)


class StorageReader(Protocol):
    def read(self, uri: str) -> bytes | None:
        """The object's bytes; None when it does not exist. ValueError for a URI that is not gs://B/P;
        google.api_core / google.auth errors when Cloud Storage refuses (READ_ERRORS holds them all)."""


def split_uri(uri: str) -> tuple[str, str]:
    """(bucket, path) of gs://BUCKET/PATH; ValueError for anything else or a path that climbs out."""
    if not uri.startswith("gs://"):
        raise ValueError(f"{uri!r} is not a gs:// URI")
    bucket, _, path = uri[len("gs://") :].partition("/")
    if not bucket or not path or any(part in ("", ".", "..") for part in path.split("/")):
        raise ValueError(f"{uri!r} is not gs://BUCKET/PATH")
    return bucket, path


class LocalReader:
    def __init__(self, root: str):
        self.root = Path(root).resolve()

    def read(self, uri: str) -> bytes | None:
        bucket, path = split_uri(uri)
        file = (self.root / bucket / path).resolve()
        if self.root not in file.parents or not file.is_file():
            return None
        if file.stat().st_size > MAX_OBJECT_BYTES:
            raise ValueError(f"{uri} is larger than {MAX_OBJECT_BYTES} bytes")
        return file.read_bytes()


class CloudStorageReader:
    def __init__(self, project: str):
        self._project = project
        self._client: Any = None
        self._lock = threading.Lock()

    def _bucket(self, name: str):
        with self._lock:  # created on first read: a view with nothing to read needs no credentials
            if self._client is None:
                from google.cloud import storage  # type: ignore[attr-defined]  # (no stubs for this namespace)

                self._client = storage.Client(project=self._project)
            return self._client.bucket(name)

    def read(self, uri: str) -> bytes | None:
        bucket, path = split_uri(uri)
        blob = self._bucket(bucket).blob(path)
        try:
            blob.reload(timeout=30)
            if (blob.size or 0) > MAX_OBJECT_BYTES:
                raise ValueError(f"{uri} is larger than {MAX_OBJECT_BYTES} bytes")
            return blob.download_as_bytes(timeout=60)
        except gexc.NotFound:
            return None


_readers: dict[tuple[str | None, str], StorageReader] = {}
_lock = threading.Lock()


def reader_for(settings: Settings) -> StorageReader:
    """One reader per process and setting (the Cloud Storage client is built once)."""
    key = (settings.storage_local_root, settings.project)
    with _lock:
        if key not in _readers:
            root = settings.storage_local_root
            _readers[key] = LocalReader(root) if root else CloudStorageReader(settings.project)
        return _readers[key]
