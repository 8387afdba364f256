"""Cloud Storage's naming rules for the gs:// URIs the service writes under, and what a local storage root
cannot hold that GCS can.

Bucket names (https://cloud.google.com/storage/docs/buckets#naming): 3-63 characters (up to 222 with dots,
each dot-separated part at most 63), lowercase letters, digits, dashes, underscores and dots, starting and
ending with a letter or digit; not an IP address. (The rules against "goog" and "google" are left out: they
guard bucket creation, and the service's own work bucket, goog-edgetrain-vertex-imports, relies on a name no
user bucket can have.) Object
names (https://cloud.google.com/storage/docs/objects#naming): at most 1,024 bytes of UTF-8, no carriage
return or line feed. GCS takes "." and ".." as literal names; a file system would climb a folder, so they
are refused here, as are NUL characters and path segments longer than a file name may be.
"""

from __future__ import annotations

import ipaddress
import re

from .errors import invalid_field

_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]*[a-z0-9]")
MAX_OBJECT_NAME_BYTES = 1024
MAX_SEGMENT_BYTES = 255  # a file name on Linux file systems


def split_gcs_uri(uri: str, field: str) -> tuple[str, str]:
    """gs://BUCKET/OBJECT_PATH as (bucket, object path); INVALID_ARGUMENT naming the rule it breaks."""
    bucket, _, path = uri.removeprefix("gs://").partition("/")
    _check_bucket(bucket, uri, field)
    _check_object_path(path, uri, field)
    return bucket, path


def _check_bucket(bucket: str, uri: str, field: str) -> None:
    parts = bucket.split(".")
    problem = None
    if not 3 <= len(bucket) <= (222 if len(parts) > 1 else 63) or any(len(p) > 63 for p in parts):
        problem = "must be 3-63 characters (up to 222 with dots, 63 between them)"
    elif not _BUCKET.fullmatch(bucket) or "" in parts:
        problem = (
            "may hold only lowercase letters, digits, dashes, underscores and dots, "
            "and must start and end with a letter or digit"
        )
    else:
        try:
            ipaddress.ip_address(bucket)
            problem = "may not be an IP address"
        except ValueError:
            pass
    if problem:
        raise invalid_field(field, f"{uri[:200]!r}: the bucket name {bucket[:70]!r} {problem}")


def _check_object_path(path: str, uri: str, field: str) -> None:
    shown = repr(uri[:200])
    if len(path.encode()) > MAX_OBJECT_NAME_BYTES:
        raise invalid_field(field, f"{shown}: an object name is at most {MAX_OBJECT_NAME_BYTES} bytes")
    if "\r" in path or "\n" in path:
        raise invalid_field(field, f"{shown}: an object name cannot hold a carriage return or line feed")
    if "\x00" in path:
        raise invalid_field(field, f"{shown}: a NUL character cannot be stored in this service's storage")
    segments = path.split("/")
    if any(segment in (".", "..") for segment in segments):
        raise invalid_field(
            field, f"{shown}: path segments . and .. cannot be stored in this service's storage root"
        )
    if any(len(segment.encode()) > MAX_SEGMENT_BYTES for segment in segments):
        raise invalid_field(
            field,
            f"{shown}: a path segment over {MAX_SEGMENT_BYTES} bytes cannot be stored in this service's "
            "storage root (it keeps objects as files)",
        )
