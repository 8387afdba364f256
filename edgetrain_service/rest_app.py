"""REST transport: AutoML v1's HTTP paths and JSON bodies (camelCase, int64 as strings), Google's JSON errors.

Each route maps an HTTP request onto the same request proto the gRPC transport receives, then
`ServiceApi.call` runs it; so `curl` calls from Google's docs work by changing only the host.
"""

from __future__ import annotations

import json
import logging
import re
import time

from google.protobuf import json_format
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from . import auth
from .api import AUTOML, OPERATIONS, PREDICTION, ServiceApi
from .errors import Internal, InvalidArgument, NotFound, ServiceError
from .http_guard import HttpGuard

_LOGGER = logging.getLogger("edgetrain.service.rest")
_LOC = r"projects/[^/:]+/locations/[^/:]+"
_DS = _LOC + r"/datasets/[^/:]+"
_MODEL = _LOC + r"/models/[^/:]+"
_OP = _LOC + r"/operations/[^/:]+"

# (HTTP method, path regex for the name after /v1/, RPC, path field, body field or "*" or None)
_ROUTES = [
    ("POST", rf"({_LOC})/datasets", f"{AUTOML}/CreateDataset", "parent", "dataset"),
    ("GET", rf"({_LOC})/datasets", f"{AUTOML}/ListDatasets", "parent", None),
    ("GET", rf"({_DS})", f"{AUTOML}/GetDataset", "name", None),
    ("PATCH", rf"({_DS})", f"{AUTOML}/UpdateDataset", "dataset.name", "dataset"),
    ("DELETE", rf"({_DS})", f"{AUTOML}/DeleteDataset", "name", None),
    ("POST", rf"({_DS}):importData", f"{AUTOML}/ImportData", "name", "*"),
    ("GET", rf"({_DS}/annotationSpecs/[^/:]+)", f"{AUTOML}/GetAnnotationSpec", "name", None),
    ("POST", rf"({_LOC})/models", f"{AUTOML}/CreateModel", "parent", "model"),
    ("GET", rf"({_LOC})/models", f"{AUTOML}/ListModels", "parent", None),
    ("GET", rf"({_MODEL})", f"{AUTOML}/GetModel", "name", None),
    ("PATCH", rf"({_MODEL})", f"{AUTOML}/UpdateModel", "model.name", "model"),
    ("DELETE", rf"({_MODEL})", f"{AUTOML}/DeleteModel", "name", None),
    ("POST", rf"({_MODEL}):deploy", f"{AUTOML}/DeployModel", "name", "*"),
    ("POST", rf"({_MODEL}):undeploy", f"{AUTOML}/UndeployModel", "name", "*"),
    ("POST", rf"({_MODEL}):export", f"{AUTOML}/ExportModel", "name", "*"),
    ("GET", rf"({_MODEL})/modelEvaluations", f"{AUTOML}/ListModelEvaluations", "parent", None),
    ("GET", rf"({_MODEL}/modelEvaluations/[^/:]+)", f"{AUTOML}/GetModelEvaluation", "name", None),
    ("POST", rf"({_MODEL}):predict", f"{PREDICTION}/Predict", "name", "*"),
    ("GET", rf"({_LOC})/operations", f"{OPERATIONS}/ListOperations", "name", None),
    ("GET", rf"({_OP})", f"{OPERATIONS}/GetOperation", "name", None),
    ("DELETE", rf"({_OP})", f"{OPERATIONS}/DeleteOperation", "name", None),
    ("POST", rf"({_OP}):cancel", f"{OPERATIONS}/CancelOperation", "name", "*"),
    ("POST", rf"({_OP}):wait", f"{OPERATIONS}/WaitOperation", "name", "*"),
]
_COMPILED = [
    (verb, re.compile(rf"^/v1/{pattern}$"), rpc, field, body) for verb, pattern, rpc, field, body in _ROUTES
]


def error_body(error: ServiceError) -> dict:
    body = {"code": error.http_status, "message": error.message, "status": error.status_name}
    if error.field:
        body["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": error.field, "description": error.message}],
            }
        ]
    return {"error": body}


class RestApp:
    """A WSGI application serving the REST surface of `api`."""

    def __init__(
        self, api: ServiceApi, token: str | None = None, guard: HttpGuard | None = None, routes=None
    ):
        self.api = api
        self.token = token
        self.guard = guard or HttpGuard(check_host=not token)
        self.routes = routes or _COMPILED  # another surface's table (the Vertex one) on a port of its own

    def _route(self, request: Request):
        """The route of a request; a method not served on a path is NOT_FOUND, as Google's REST front end
        answers (a path and method pair is one route)."""
        known_path = False
        for verb, pattern, rpc, field, body in self.routes:
            match = pattern.match(request.path)
            if match and verb == request.method:
                return rpc, field, body, match.group(1)
            known_path = known_path or match is not None
        if known_path:
            raise NotFound(f"No such REST method: {request.method} is not served on {request.path}")
        raise NotFound(f"No such REST path: {request.method} {request.path}")

    def _build(self, request: Request, rpc: str, field: str, body_field: str | None, name: str):
        message = self.api.methods[rpc].request()
        try:
            if body_field is not None and request.get_data():
                payload = json.loads(request.get_data())
                if not isinstance(payload, dict):  # ParseDict raises TypeError on null, numbers, booleans
                    raise InvalidArgument(
                        f"Invalid request body: expected a JSON object, got {json.dumps(payload)[:40]}"
                    )
                target = message if body_field == "*" else getattr(message, body_field)
                json_format.ParseDict(payload, target)
            query = {key: value for key, value in request.args.items() if key not in ("$alt", "alt")}
            if query:
                json_format.ParseDict(query, message)
        except RecursionError as error:
            raise InvalidArgument("Invalid request body: JSON nested too deeply") from error
        except (ValueError, json_format.ParseError) as error:
            raise InvalidArgument(f"Invalid request body or query: {error}") from error
        target, _, leaf = field.rpartition(".")
        setattr(getattr(message, target) if target else message, leaf, name)
        return message

    def _handle(self, request: Request) -> Response:
        self.guard.check(request)
        if request.method == "OPTIONS":  # a CORS preflight from an allowed origin
            return Response(status=204)
        auth.check(self.token, request.headers.get("Authorization"))
        rpc, field, body, name = self._route(request)
        response = self.api.call(rpc, self._build(request, rpc, field, body, name))
        return Response(json_format.MessageToJson(response), status=200, mimetype="application/json")

    def __call__(self, environ, start_response):
        request = Request(environ)
        started = time.perf_counter()
        try:
            response = self._handle(request)
        except ServiceError as error:
            response = Response(
                json.dumps(error_body(error)), status=error.http_status, mimetype="application/json"
            )
        except HTTPException as error:
            response = error.get_response()
        except Exception as error:  # an unexpected bug: report INTERNAL, keep serving
            _LOGGER.exception("%s %s failed", request.method, request.path)
            internal = Internal(f"Internal error: {type(error).__name__}")
            response = Response(json.dumps(error_body(internal)), status=500, mimetype="application/json")
        response.headers.extend(self.guard.cors_headers(request))
        _LOGGER.info(
            "rest %s %s %d %.1fms",
            request.method,
            request.full_path.rstrip("?"),
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return response(environ, start_response)
