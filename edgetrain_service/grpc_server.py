"""gRPC transport: generic handlers for AutoMl, PredictionService and google.longrunning.Operations.

google-cloud-automl ships message types but no servicer stubs, so each RPC is registered by its full method
name with the protobuf classes' (de)serializers. Handlers are thin: proto → ServiceApi.call → proto.
"""

from __future__ import annotations

import logging
import time
from concurrent import futures

import grpc
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from . import auth
from .api import ServiceApi
from .errors import Internal, InvalidArgument, ServiceError

_LOGGER = logging.getLogger("edgetrain.service.grpc")
MAX_MESSAGE_BYTES = 32 * 1024 * 1024  # AutoML accepts images up to 30 MB
GRPC_THREADS = 16
# RPCs held at once (running or waiting for a thread); more get RESOURCE_EXHAUSTED instead of queueing
# without bound, each with a message of up to MAX_MESSAGE_BYTES.
MAX_CONCURRENT_RPCS = 64


def _status_of(error: ServiceError) -> grpc.Status:
    status = status_pb2.Status(code=error.grpc_code.value[0], message=error.message)
    if error.field:
        detail = error_details_pb2.BadRequest()
        detail.field_violations.add(field=error.field, description=error.message)
        status.details.add().Pack(detail)
    return rpc_status.to_status(status)


def _handler(api: ServiceApi, full_name: str, token: str | None):
    request_class = api.methods[full_name].request

    def handle(body: bytes, context: grpc.ServicerContext):
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        try:
            auth.check(token, dict(context.invocation_metadata()).get("authorization"))
            return api.call(full_name, _parse(request_class, body))
        except ServiceError as error:
            code = error.grpc_code
            context.abort_with_status(_status_of(error))
        except Exception as error:  # an unexpected bug: report INTERNAL, keep serving
            _LOGGER.exception("%s failed", full_name)
            code = grpc.StatusCode.INTERNAL
            context.abort_with_status(_status_of(Internal(f"Internal error: {type(error).__name__}")))
        finally:
            _LOGGER.info("grpc %s %s %.1fms", full_name, code.name, (time.perf_counter() - started) * 1000)

    return handle


def _parse(request_class, body: bytes):
    """The request message; grpc's own deserializer would answer INTERNAL to bytes that do not parse."""
    try:
        return request_class.FromString(body)
    except (DecodeError, RecursionError) as error:
        raise InvalidArgument(
            f"The request is not a valid {request_class.DESCRIPTOR.full_name} message."
        ) from error


def create_server(
    api: ServiceApi, address: str, token: str | None = None, max_workers: int = GRPC_THREADS
) -> tuple[grpc.Server, int]:
    """A started-later server bound to `address` ("host:0" picks a port); returns (server, port)."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc"),
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),  # Predict carries whole images
            # grpc sets SO_REUSEPORT by default: a second service (or any gRPC server) on a port in use would
            # bind it too, and the kernel would split the clients' requests between the two
            ("grpc.so_reuseport", 0),
        ],
        maximum_concurrent_rpcs=max(MAX_CONCURRENT_RPCS, max_workers),
    )
    by_service: dict[str, dict] = {}
    for full_name, method in api.methods.items():
        by_service.setdefault(method.service, {})[method.name] = grpc.unary_unary_rpc_method_handler(
            _handler(api, full_name, token),
            request_deserializer=None,  # raw bytes: _parse answers INVALID_ARGUMENT to bad ones
            response_serializer=lambda message: message.SerializeToString(),
        )
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler(service, handlers) for service, handlers in by_service.items()]
    )
    try:
        port = server.add_insecure_port(address)
    except RuntimeError:  # grpc's "Failed to bind to address …; set GRPC_VERBOSITY=debug …"
        port = 0
    if port == 0:
        raise OSError(f"cannot bind gRPC to {address}: the port is in use, or the host is not this machine's")
    return server, port
