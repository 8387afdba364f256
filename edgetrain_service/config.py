"""Service settings and the on-disk layout under the data dir and the storage root."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgetrain_trainer.data.csv_reader import file_uri_path

from .errors import invalid_field
from .gcs_names import split_gcs_uri

# The bucket (under the storage root) of the service's own copies of import files: Vertex's files converted to
# AutoML CSVs. GCS refuses bucket names that start with "goog", so this one can never shadow a real bucket.
# The service's start deletes every file there that no queued import claims: callers may not use it.
WORK_BUCKET = "goog-edgetrain-vertex-imports"
# What Path.resolve() raises for a path no file can have: a NUL byte, a name too long, a loop of links.
UNRESOLVABLE = (OSError, ValueError, RuntimeError)


@dataclass
class ServiceConfig:
    data_dir: Path
    storage_root: Path  # where gs://BUCKET/PATH lives locally: STORAGE_ROOT/BUCKET/PATH
    workers: int = 1
    trainer_overrides: dict[str, Any] = field(default_factory=dict)
    # A cancelled training or export gets this long to stop by itself (it cleans up and leaves nothing);
    # after that the scheduler kills its worker process and cleans up for it.
    cancel_grace_s: float = 30.0
    # Local folders (besides the storage root) that ImportData may read: `edgetrain serve --allow-local-dir`.
    allowed_dirs: list[Path] = field(default_factory=list)
    # gs://BUCKET/PATH/ (under the storage root) where each training writes its learning curve as
    # OPERATION_ID.json while it runs (training_curve.py); "" writes none. `--progress-uri-prefix`.
    progress_uri_prefix: str = ""

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        self.storage_root = Path(self.storage_root).resolve()
        self.allowed_dirs = [Path(folder).resolve() for folder in self.allowed_dirs]

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
            split_gcs_uri(uri, field_name)
            path = _resolved(self.storage_root / bucket_path, uri, field_name)
            if path != self.storage_root and self.storage_root not in path.parents:
                raise invalid_field(field_name, f"{uri!r} points outside the storage root")
            return path
        if uri.startswith("file://"):
            return _resolved(Path(_file_uri_path(uri, field_name)), uri, field_name)
        if "://" in uri:
            raise invalid_field(field_name, f"{uri!r}: only gs://, file:// and local paths are supported")
        return _resolved(Path(uri), uri, field_name)

    def readable_file(self, uri: str, field_name: str, base_dir: Path | None = None) -> Path:
        """The local file an import may read for `uri`: gs://BUCKET/PATH, file:// or a local path (relative
        ones against `base_dir`), which must resolve, symlinks followed, to a file inside the storage root or
        an allowed folder. A missing file and a forbidden one get the same INVALID_ARGUMENT, so a caller
        learns nothing about files outside those folders."""
        text = (uri or "").strip()
        if not text:
            raise invalid_field(field_name, "is empty; give a gs://, file:// or local path")
        if text.startswith("gs://"):
            bucket_path = text[len("gs://") :]
            if not bucket_path or bucket_path.startswith("/"):
                raise invalid_field(field_name, f"{uri!r} has no bucket")
            path = self.storage_root / bucket_path
        elif "://" in text and not text.startswith("file://"):
            raise invalid_field(field_name, f"{uri!r}: only gs://, file:// and local paths are supported")
        else:
            local = _file_uri_path(text, field_name) if text.startswith("file://") else text
            path = Path(base_dir or Path.cwd()) / local
        roots = [self.storage_root, *self.allowed_dirs]
        try:
            path = path.resolve()
            found = any(root in path.parents for root in roots) and path.is_file()
        except UNRESOLVABLE:
            found = False
        if not found:
            raise invalid_field(field_name, f"{uri!r} {self.not_readable}")
        return path

    def outside_work_bucket(self, path: Path, uri: str, field_name: str) -> Path:
        """`path` (resolved, from a caller's `uri`), or INVALID_ARGUMENT naming `field_name` when it is in
        WORK_BUCKET: neither an import source nor an export destination of a caller."""
        work = self.storage_root / WORK_BUCKET
        if path == work or work in path.parents:
            raise invalid_field(
                field_name, f"{uri[:200]!r} is in gs://{WORK_BUCKET}/, this service's own bucket; use another"
            )
        return path

    @property
    def not_readable(self) -> str:
        """The one reason given for a path an import cannot read, whether it is missing or forbidden."""
        also = " or an allowed folder" if self.allowed_dirs else ""
        return f"is not a file inside the storage root{also}"

    def to_gcs_uri(self, path: Path) -> str:
        """The gs:// form of a path under the storage root (how AutoML reports output locations)."""
        relative = Path(path).resolve().relative_to(self.storage_root)
        return "gs://" + relative.as_posix()


def _resolved(path: Path, uri: str, field_name: str) -> Path:
    """`path` with its links followed; a path no file could have is the caller's error, not INTERNAL (and
    the message names the URI as given, not where it leads on this server)."""
    try:
        return path.resolve()
    except UNRESOLVABLE:
        raise invalid_field(
            field_name, f"{uri!r} cannot be a file here (a loop of links, or a name the file system refuses)"
        ) from None


def _file_uri_path(uri: str, field_name: str) -> str:
    """The trainer's reading of a file:// URI, so both accept the same rows; another host is the caller's
    error (it was read as a local path)."""
    try:
        return file_uri_path(uri)
    except ValueError as error:
        raise invalid_field(field_name, str(error)) from None
