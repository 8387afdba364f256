"""Service settings and the on-disk layout under the data dir and the storage root."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from .errors import invalid_field


@dataclass
class ServiceConfig:
    data_dir: Path
    storage_root: Path  # where gs://BUCKET/PATH lives locally: STORAGE_ROOT/BUCKET/PATH
    workers: int = 1
    trainer_overrides: dict[str, Any] = field(default_factory=dict)
    # A cancelled training or export gets this long to stop by itself (it cleans up and leaves nothing);
    # after that the scheduler kills its worker process and cleans up for it.
    cancel_grace_s: float = 30.0

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        self.storage_root = Path(self.storage_root).resolve()

    @property
    def db_path(self) -> Path:
        return self.data_dir / "service.sqlite3"

    def dataset_dir(self, dataset_id: str) -> Path:
        return self.data_dir / "datasets" / dataset_id

    def model_dir(self, model_id: str) -> Path:
        return self.data_dir / "models" / model_id

    def resolve_uri(self, uri: str, field_name: str) -> Path:
        """A local path, file:// URL or gs://BUCKET/PATH (under the storage root) as a local path.

        gs:// paths must stay inside the storage root: `..` or absolute tricks are INVALID_ARGUMENT.
        """
        uri = (uri or "").strip()
        if not uri:
            raise invalid_field(field_name, "is empty; give a gs://, file:// or local path")
        if uri.startswith("gs://"):
            bucket_path = uri[len("gs://") :]
            if not bucket_path or bucket_path.startswith("/"):
                raise invalid_field(field_name, f"{uri!r} has no bucket")
            path = (self.storage_root / bucket_path).resolve()
            if path != self.storage_root and self.storage_root not in path.parents:
                raise invalid_field(field_name, f"{uri!r} points outside the storage root")
            return path
        if uri.startswith("file://"):
            return Path(unquote(urlparse(uri).path)).resolve()
        if "://" in uri:
            raise invalid_field(field_name, f"{uri!r}: only gs://, file:// and local paths are supported")
        return Path(uri).resolve()

    def to_gcs_uri(self, path: Path) -> str:
        """The gs:// form of a path under the storage root (how AutoML reports output locations)."""
        relative = Path(path).resolve().relative_to(self.storage_root)
        return "gs://" + relative.as_posix()
