"""The insecure gRPC channel to the self-hosted service (`edgetrain serve`, whether the gateway speaks AutoML
v1 or the Vertex AI subset to it), with its bearer token on every call.

Only UNAVAILABLE is retried at the channel level (gRPC service config); the gateway's Retry handles the rest.
"""

from __future__ import annotations

import json

import grpc

_SERVICE_CONFIG = json.dumps(
    {
        "methodConfig": [
            {
                "name": [{}],  # every method
                "retryPolicy": {
                    "maxAttempts": 4,
                    "initialBackoff": "0.2s",
                    "maxBackoff": "2s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
)


class _BearerToken(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    def __init__(self, token: str):
        self._metadata = ("authorization", f"Bearer {token}")

    def _with_token(self, details):
        metadata = list(details.metadata or []) + [self._metadata]
        return (
            details._replace(metadata=metadata)
            if hasattr(details, "_replace")
            else _Details(details, metadata)
        )

    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(self._with_token(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(self._with_token(client_call_details), request)


class _Details(grpc.ClientCallDetails):
    def __init__(self, details, metadata):
        self.method = details.method
        self.timeout = details.timeout
        self.metadata = metadata
        self.credentials = details.credentials
        self.wait_for_ready = getattr(details, "wait_for_ready", None)
        self.compression = getattr(details, "compression", None)


def insecure_channel(endpoint: str, token: str | None) -> grpc.Channel:
    """A plain-text channel to host:port; with token, every call carries `authorization: Bearer token`."""
    channel = grpc.insecure_channel(
        endpoint, options=[("grpc.service_config", _SERVICE_CONFIG), ("grpc.enable_retries", 1)]
    )
    return grpc.intercept_channel(channel, _BearerToken(token)) if token else channel
