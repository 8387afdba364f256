"""One exception family for the service. Each error carries its HTTP status and gRPC code (as api-core does),
so both transports report the same failure the same way."""

from __future__ import annotations

import grpc


class ServiceError(Exception):
    """Base of every error the service reports to a client on purpose."""

    http_status = 500
    grpc_code = grpc.StatusCode.INTERNAL

    def __init__(self, message: str, field: str | None = None):
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


class Unimplemented(ServiceError):
    http_status = 501
    grpc_code = grpc.StatusCode.UNIMPLEMENTED


class Internal(ServiceError):
    http_status = 500
    grpc_code = grpc.StatusCode.INTERNAL


def invalid_field(field: str, problem: str) -> InvalidArgument:
    """An INVALID_ARGUMENT whose message starts with the field name, as AutoML's do."""
    return InvalidArgument(f"{field}: {problem}", field=field)
