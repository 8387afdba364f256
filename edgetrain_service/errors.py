"""One exception family for the service. Each error carries its HTTP status and gRPC code (as api-core does),
so both transports report the same failure the same way."""

from __future__ import annotations

import grpc

# gRPC carries an error's message in trailing metadata (twice, with its details), which clients cap at 8 KiB:
# a message that repeats a long input would reach the client as RESOURCE_EXHAUSTED instead of its own code.
MAX_MESSAGE_BYTES = 1000


class ServiceError(Exception):
    """Base of every error the service reports to a client on purpose."""

    http_status = 500
    grpc_code = grpc.StatusCode.INTERNAL

    def __init__(self, message: str, field: str | None = None):
        message = shorten(message, MAX_MESSAGE_BYTES)
        super().__init__(message)
        self.message = message
        self.field = field  # the request field at fault, for INVALID_ARGUMENT details

    @property
    def status_name(self) -> str:
        return self.grpc_code.name


class InvalidArgument(ServiceError):
    http_status = 400
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT


class FailedPrecondition(ServiceError):
    http_status = 400
    grpc_code = grpc.StatusCode.FAILED_PRECONDITION


class Unauthenticated(ServiceError):
    http_status = 401
    grpc_code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(ServiceError):
    http_status = 403
    grpc_code = grpc.StatusCode.PERMISSION_DENIED


class UnsupportedMediaType(ServiceError):
    http_status = 415
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT


class ResourceExhausted(ServiceError):
    http_status = 429
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class NotFound(ServiceError):
    http_status = 404
    grpc_code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(ServiceError):
    http_status = 409
    grpc_code = grpc.StatusCode.ALREADY_EXISTS


class Aborted(ServiceError):
    http_status = 409
    grpc_code = grpc.StatusCode.ABORTED


class Unimplemented(ServiceError):
    http_status = 501
    grpc_code = grpc.StatusCode.UNIMPLEMENTED


class Internal(ServiceError):
    http_status = 500
    grpc_code = grpc.StatusCode.INTERNAL


def shorten(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` of UTF-8, saying how much was cut."""
    data = text.encode()
    if len(data) <= max_bytes:
        return text
    kept = data[: max_bytes - 40].decode(errors="ignore")
    return f"{kept}… ({len(text) - len(kept):,} characters cut)"


def invalid_field(field: str, problem: str) -> InvalidArgument:
    """An INVALID_ARGUMENT whose message starts with the field name, as AutoML's do."""
    return InvalidArgument(f"{field}: {problem}", field=field)
