"""The pipeline's one exception family; each class carries its HTTP and gRPC status, like google-api-core."""

from __future__ import annotations


class PipelineException(Exception):
    http_status = 500
    grpc_status = "INTERNAL"


class ConfigurationException(PipelineException):
    """An environment variable is missing or invalid: a deployment error, never retried into success."""


class InvalidMessageException(PipelineException):
    """A Pub/Sub message or request body that can never be processed: recorded and acknowledged."""

    http_status = 400
    grpc_status = "INVALID_ARGUMENT"


class CsrfException(PipelineException):
    """A form post without a valid CSRF token."""

    http_status = 403
    grpc_status = "PERMISSION_DENIED"


class TransientFailureException(PipelineException):
    """AutoML or Firestore kept failing with transient errors past the retry deadline: raised so that
    Pub/Sub redelivers the message (the failure is recorded first)."""

    http_status = 503
    grpc_status = "UNAVAILABLE"
