"""Routes of the status page function: GET / (HTML), GET /api/datasets, GET /api/trainings (JSON),
POST /train (the "Train new model" form, published as a training request to start_training's topic)."""

from __future__ import annotations

import json
import math
import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Request, Response
from jinja2 import Environment, FileSystemLoader

from .. import topics
from ..deps import Deps
from ..errors import CsrfException, InvalidMessageException
from ..schemas import TrainingRequest
from . import csrf, queries

OPTIMIZE_FOR = {  # the seed's form: what a person wants → the AutoML edge model type
    "higher-accuracy": ("Higher accuracy", "mobile-high-accuracy-1"),
    "best-tradeoff": ("Best trade-off", "mobile-versatile-1"),
    "faster-predictions": ("Faster predictions", "mobile-low-latency-1"),
}
DEFAULT_BUDGET_NODE_HOURS = 24
_TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True)
_TEMPLATES.globals.update(
    chart_lines=queries.chart_lines, chart_w=queries.CHART_W, chart_h=queries.CHART_H, pad=queries.PAD
)


def _when(iso: str | None) -> str:
    """An ISO timestamp as 'YYYY-MM-DD HH:MM:SS UTC' for people (the JSON API keeps ISO 8601)."""
    if not iso:
        return "—"
    try:
        return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return iso


_TEMPLATES.filters["when"] = _when


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload, default=str), status=status, mimetype="application/json")


def _is_https(request: Request) -> bool:
    """Whether the browser reached us over HTTPS. Cloud Run ends TLS at its proxy and forwards plain HTTP with
    X-Forwarded-Proto; trusting the header can only add the Secure flag, never remove it."""
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.is_secure or forwarded == "https"


def _page(
    deps: Deps,
    request: Request,
    *,
    status: int = 200,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    settings = deps.settings
    dataset_id = request.args.get("dataset") or None
    trainings, next_token = queries.list_trainings(
        deps.store, settings.status_page_size, request.args.get("pageToken"), dataset_id
    )
    nonce = request.cookies.get(csrf.COOKIE_NAME) or csrf.new_nonce()
    script_nonce = secrets.token_urlsafe(16)
    context = {
        "datasets": queries.list_datasets(deps.store),
        "trainings": trainings,
        "next_token": next_token,
        "dataset_filter": dataset_id,
        "refresh_s": settings.status_refresh_s,
        "optimize_for": OPTIMIZE_FOR,
        "default_budget": DEFAULT_BUDGET_NODE_HOURS,
        "csrf_token": csrf.token_for(settings.csrf_secret, nonce),
        "error": error,
        "form": form or {},
        "requested": request.args.get("requested"),
        "rejected": queries.recent_rejected(deps.store),
        "script_nonce": script_nonce,
    }
    template = "trainings.html" if request.args.get("fragment") == "trainings" else "page.html"
    response = Response(
        _TEMPLATES.get_template(template).render(**context), status=status, mimetype="text/html"
    )
    response.set_cookie(csrf.COOKIE_NAME, nonce, httponly=True, samesite="Strict", secure=_is_https(request))
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'nonce-{script_nonce}'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _training_request(deps: Deps, form: dict[str, str]) -> TrainingRequest:
    optimize = form.get("optimizeFor", "")
    if optimize not in OPTIMIZE_FOR:
        raise InvalidMessageException(
            f"optimize for: choose one of {', '.join(v[0] for v in OPTIMIZE_FOR.values())}"
        )
    try:
        hours = float(form.get("budgetNodeHours") or DEFAULT_BUDGET_NODE_HOURS)
    except ValueError:
        raise InvalidMessageException("node hour budget: not a number") from None
    if not math.isfinite(hours):
        raise InvalidMessageException(f"node hour budget: {hours} is not a finite number of node hours")
    payload = {
        "schemaVersion": 1,
        "dataset": form.get("dataset", "").strip(),
        "modelType": OPTIMIZE_FOR[optimize][1],
        "trainBudgetMilliNodeHours": round(hours * 1000),
        "requestId": f"manual-{uuid.uuid4().hex}",
        "source": "manual",
    }
    if form.get("displayName", "").strip():
        payload["displayName"] = form["displayName"].strip()
    try:
        return TrainingRequest.model_validate(payload)
    except ValueError as exc:
        raise InvalidMessageException(str(exc).replace("\n", " ")) from None


def _train(deps: Deps, request: Request) -> Response:
    if not csrf.is_valid(
        deps.settings.csrf_secret, request.cookies.get(csrf.COOKIE_NAME), request.form.get("csrf")
    ):
        raise CsrfException("the form expired or came from another site: reload the page and submit again")
    form = {k: request.form.get(k, "") for k in ("dataset", "displayName", "optimizeFor", "budgetNodeHours")}
    try:
        message = _training_request(deps, form)
    except InvalidMessageException as exc:
        return _page(deps, request, status=400, error=str(exc), form=form)
    deps.publisher.publish(topics.TOPIC_DATASET_IMPORTED, message.to_wire())
    return Response(status=303, headers={"Location": f"./?requested={message.request_id}"})


def handle_request(deps: Deps, request: Request) -> Response:
    path = request.path.rstrip("/").rsplit("/", 2)
    route = "/".join(path[-2:]) if len(path) > 2 and path[-2] == "api" else path[-1]
    try:
        if request.method == "POST" and route == "train":
            return _train(deps, request)
        if request.method != "GET":
            return _json({"error": f"{request.method} is not allowed here"}, 405)
        if route == "api/datasets":
            return _json({"datasets": queries.list_datasets(deps.store)})
        if route == "api/trainings":
            size = min(int(request.args.get("pageSize") or deps.settings.status_page_size), 200)
            trainings, token = queries.list_trainings(
                deps.store, size, request.args.get("pageToken"), request.args.get("dataset")
            )
            return _json({"trainings": trainings, "nextPageToken": token})
        return _page(deps, request)
    except CsrfException as exc:
        return Response(str(exc), status=exc.http_status, mimetype="text/plain")
    except ValueError as exc:
        return _json({"error": str(exc)}, 400)
