"""Resource names and ids as AutoML forms them: projects/P/locations/L/{datasets,models,operations}/IOD…"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from .errors import invalid_field

# Image object detection resources carry the "IOD" prefix in AutoML (image classification used "ICN").
ID_PREFIX = "IOD"
_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
_LOCATION = re.compile(rf"^projects/({_SEGMENT})/locations/({_SEGMENT})$")
_CHILD = re.compile(
    rf"^(projects/{_SEGMENT}/locations/{_SEGMENT})/(datasets|models|operations)/({_SEGMENT})"
    rf"(?:/(annotationSpecs|modelEvaluations)/({_SEGMENT}))?$"
)


def new_id() -> str:
    """A fresh 19-digit AutoML-style id, e.g. IOD4920123847561029384."""
    return f"{ID_PREFIX}{secrets.randbelow(9 * 10**18) + 10**18}"


def new_numeric_id() -> str:
    """Annotation spec and evaluation ids are bare numbers in AutoML."""
    return str(secrets.randbelow(9 * 10**18) + 10**18)


@dataclass(frozen=True)
class Name:
    parent: str  # projects/P/locations/L
    collection: str  # datasets | models | operations
    id: str
    sub_collection: str | None = None
    sub_id: str | None = None

    @property
    def resource(self) -> str:
        """The top resource's name (the dataset or model a sub-resource belongs to)."""
        return f"{self.parent}/{self.collection}/{self.id}"

    def __str__(self) -> str:
        if self.sub_collection:
            return f"{self.resource}/{self.sub_collection}/{self.sub_id}"
        return self.resource


def parse_location(value: str, field: str = "parent") -> str:
    if not _LOCATION.match(value or ""):
        raise invalid_field(field, f"{value!r} is not a location name (projects/PROJECT/locations/LOCATION)")
    return value


def parse_name(value: str, collection: str, field: str = "name", sub_collection: str | None = None) -> Name:
    """Parse a resource name of the given collection; anything malformed is INVALID_ARGUMENT."""
    match = _CHILD.match(value or "")
    if not match or match.group(2) != collection or match.group(4) != sub_collection:
        shape = f"projects/PROJECT/locations/LOCATION/{collection}/ID"
        if sub_collection:
            shape += f"/{sub_collection}/ID"
        raise invalid_field(field, f"{value!r} is not a valid name ({shape})")
    return Name(match.group(1), collection, match.group(3), match.group(4), match.group(5))


def location_of(name: str) -> str:
    return "/".join(name.split("/")[:4])


_DISPLAY_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")


MAX_DESCRIPTION_CHARS = 25_000  # dataset.proto: "can be up to 25000 characters long"


def validate_display_name(value: str, field: str = "display_name") -> str:
    """AutoML's rule: up to 32 ASCII letters, digits and underscores, starting with a letter."""
    if not _DISPLAY_NAME.match(value or ""):
        shown = repr(value) if len(value) <= 64 else f"{value[:64]!r}… ({len(value):,} characters)"
        raise invalid_field(
            field, f"{shown} must be 1-32 ASCII letters, digits or underscores and start with a letter"
        )
    return value


def validate_description(value: str, field: str) -> str:
    if len(value) > MAX_DESCRIPTION_CHARS:
        raise invalid_field(field, f"is {len(value):,} characters long; at most {MAX_DESCRIPTION_CHARS:,}")
    return value
