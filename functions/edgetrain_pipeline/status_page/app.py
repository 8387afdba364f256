"""Routes of the status page function: GET / (overview), GET training/ID (a training's evaluation view),
GET sample/ID/FILE (its sample pictures), GET imports, GET|POST try ("Try an image"), GET api/datasets and
api/trainings (JSON), POST train (the "Train new model" form, published to start_training's topic).
Routes match the end of the path, so the page works under any prefix the deployment puts before it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Request, Response
from jinja2 import Environment, FileSystemLoader
from pydantic import ValidationError

from .. import storage_reader, topics
from ..config import MAX_BUDGET_MILLI_NODE_HOURS, MIN_BUDGET_MILLI_NODE_HOURS
from ..deps import Deps
from ..envelope import validation_reasons
from ..errors import CsrfException, InvalidMessageException, TransientFailureException
from ..retrying import is_retry_exhausted
from ..schemas import TrainingRequest
from . import charts, csrf, model_view, queries, try_image, values
from .charts import LC_H, LC_PAD, LC_W, PR_H, PR_PAD, PR_W

OPTIMIZE_FOR = {  # the seed's form: what a person wants → the AutoML edge model type
    "higher-accuracy": ("Higher accuracy", "mobile-high-accuracy-1"),
    "best-tradeoff": ("Best trade-off", "mobile-versatile-1"),
    "faster-predictions": ("Faster predictions", "mobile-low-latency-1"),
}
DEFAULT_BUDGET_NODE_HOURS = 24
_TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True)
_TEMPLATES.globals.update(
    pr_w=PR_W, pr_h=PR_H, pr_pad=PR_PAD, lc_w=LC_W, lc_h=LC_H, lc_pad=LC_PAD, duration=model_view.duration
)
# The function's timeout is 60 s (infra): with Firestore or the backend out, answer 503 within seconds
READ_DEADLINE_S = 10.0
RETRY_AFTER_S = 30
_FORM_ID = re.compile(r"[0-9a-f]{32}")
IMPORT_ROWS_LISTED = 20  # reported rows of each import in the list (an import reports up to 1,000)
SHORT_KEEP = 36  # characters of a long path or resource name shown before the "whole value" click


def _when(iso: Any) -> str:
    """An ISO timestamp as 'YYYY-MM-DD HH:MM:SS UTC' for people (the JSON API keeps ISO 8601)."""
    if not iso:
        return "—"
    try:
        return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (TypeError, ValueError):  # not a timestamp a version of the pipeline wrote: shown as it is
        return str(iso)


def _short(value: str | None, keep: int = SHORT_KEEP) -> str:
    """A long path shortened in the middle (its start and its distinctive end kept)."""
    text = str(value or "")
    return text if len(text) <= keep else f"{text[: keep // 3]}…{text[-(keep - keep // 3 - 1) :]}"


def _three_places(value: Any) -> str:
    """A metric as 0.734; '—' for anything but a finite number (missing, text, NaN)."""
    number = values.finite_number(value)
    return "—" if number is None else f"{number:.3f}"


_TEMPLATES.filters["when"] = _when
_TEMPLATES.filters["three_places"] = _three_places
_TEMPLATES.filters["short"] = _short


def _json(payload: Any, status: int = 200) -> Response:
    body = json.dumps(values.without_nan(payload), default=str, allow_nan=False)  # NaN is not JSON
    return _nosniff(Response(body, status=status, mimetype="application/json"))


def _nosniff(response: Response) -> Response:
    """Every answer that carries text: it may echo stored or requested text, never to be read as HTML."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _is_https(request: Request) -> bool:
    """Whether the browser reached us over HTTPS. Cloud Run ends TLS at its proxy and forwards plain HTTP with
    X-Forwarded-Proto; trusting the header can only add the Secure flag, never remove it."""
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.is_secure or forwarded == "https"


def _security_headers(response: Response, script_nonce: str) -> Response:
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'nonce-{script_nonce}'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"
    )
    return _nosniff(response)


def _render(
    deps: Deps, request: Request, template: str, context: dict[str, Any], status: int = 200
) -> Response:
    """A template with what every page needs: CSRF token (cookie nonce), script nonce, relative base URL."""
    nonce = request.cookies.get(csrf.COOKIE_NAME) or csrf.new_nonce()
    script_nonce = secrets.token_urlsafe(16)
    context = {
        "csrf_token": csrf.token_for(deps.settings.csrf_secret, nonce),
        "script_nonce": script_nonce,
        "base": context.pop("base", "./"),
        **context,
    }
    response = Response(
        _TEMPLATES.get_template(template).render(**context), status=status, mimetype="text/html"
    )
    response.set_cookie(csrf.COOKIE_NAME, nonce, httponly=True, samesite="Strict", secure=_is_https(request))
    return _security_headers(response, script_nonce)


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
    context: dict[str, Any] = {"trainings": trainings, "next_token": next_token, "dataset_filter": dataset_id}
    if request.args.get("fragment") == "trainings":  # the auto-refresh: the table alone, read alone
        return _render(deps, request, "trainings.html", context, status)
    datasets = queries.list_datasets(deps.store)
    names = {d["datasetId"]: d["displayName"] for d in datasets if d["displayName"]}
    context |= {
        "datasets": datasets,
        "dataset_filter_name": names.get(dataset_id or "", dataset_id),
        "refresh_s": settings.status_refresh_s,
        "optimize_for": OPTIMIZE_FOR,
        "default_budget": DEFAULT_BUDGET_NODE_HOURS,
        "error": error,
        "form": form or {},
        "form_id": secrets.token_hex(16),
        "requested": request.args.get("requested"),
        "rejected": queries.recent_rejected(deps.store),
    }
    return _render(deps, request, "page.html", context, status)


def _manual_request_id(form_id: str, content: dict[str, Any]) -> str:
    """The requestId of a form post: from the ID the form got when it was rendered and what it asks for, so
    the same form posted again unchanged (after a 503) asks for the same training, which start_training runs
    once, and one edited after going back asks for another. A post without a form ID gets a fresh one."""
    if not _FORM_ID.fullmatch(form_id or ""):
        return f"manual-{uuid.uuid4().hex}"
    digest = hashlib.sha256(json.dumps([form_id, content], sort_keys=True).encode()).hexdigest()
    return f"manual-{digest[:32]}"


def _training(deps: Deps, request: Request, training_id: str) -> Response:
    doc = queries.get_training(deps.store, training_id)
    if doc is None:
        return _render(deps, request, "missing.html", {"base": "../", "what": f"training {training_id}"}, 404)
    threshold = model_view.threshold_of(request.args.get("threshold"))
    evaluation = values.mapping(doc.get("evaluation"))
    reader = storage_reader.reader_for(deps.settings)
    diagnostics = model_view.read_diagnostics(reader, doc)
    curve = values.mapping(doc.get("trainingCurve"))
    samples = model_view.sample_views(diagnostics)
    if request.args.get("inline") == "1":  # pictures inside the HTML: a view saved as one file (make run's)
        for sample in samples:
            sample["data_uri"] = model_view.sample_data_uri(reader, doc, sample["file"])
    context = {
        "base": "../",
        "t": queries.training_view(doc, training_id),
        "threshold": threshold,
        "labels": model_view.label_rows(evaluation, threshold),
        "confusion": model_view.confusion_view(diagnostics),
        "samples": samples,
        "learning": charts.learning_lines(values.listed(curve.get("points"), dict)),
        "timing": model_view.timing(doc),
        "comparison": model_view.comparison_view(doc),
        "champion_reason": doc.get("championReason"),
        "refresh_s": deps.settings.status_refresh_s,
    }
    return _render(deps, request, "training.html", context)


def _sample(deps: Deps, training_id: str, name: str) -> Response:
    """One sample picture of the training's exported package, as its own response."""
    doc = queries.get_training(deps.store, training_id) or {}
    try:
        data = model_view.read_sample(storage_reader.reader_for(deps.settings), doc, name)
    except storage_reader.READ_ERRORS as exc:
        return _text(f"the sample picture cannot be read: {exc}", 502)
    if data is None:
        return _text("no such sample picture", 404)
    response = Response(data, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, max-age=3600"
    return _nosniff(response)


def _imports(deps: Deps, request: Request) -> Response:
    """A page of imports, newest first, each with its first IMPORT_ROWS_LISTED reported rows; ?import=ID:
    that import alone with all of them (the overview links a dataset's latest import there)."""
    import_id = request.args.get("import")
    if import_id is not None:
        found = queries.get_import(deps.store, import_id)
        if found is None:
            return _render(deps, request, "missing.html", {"what": f"import {import_id}"}, 404)
        return _render(deps, request, "imports.html", {"imports": [found], "single": True})
    imports, next_token = queries.list_imports(
        deps.store, deps.settings.status_page_size, request.args.get("pageToken")
    )
    context = {"imports": imports, "next_token": next_token, "rows_listed": IMPORT_ROWS_LISTED}
    return _render(deps, request, "imports.html", context)


def _try(deps: Deps, request: Request) -> Response:
    models = queries.trained_models(deps.store)
    context: dict[str, Any] = {"models": models, "supported": deps.settings.training_backend == "automl-v1"}
    context |= {"max_mib": deps.settings.predict_max_bytes / 2**20, "threshold": model_view.DEFAULT_THRESHOLD}
    if request.method != "POST":
        return _render(deps, request, "try.html", context)
    limit = deps.settings.predict_max_bytes
    if (request.content_length or 0) > limit + try_image.FORM_OVERHEAD_BYTES:  # refused before parsing
        return _render(deps, request, "try.html", context | {"error": try_image.too_large(limit)}, 413)
    form, files = request.form, request.files
    if not csrf.is_valid(deps.settings.csrf_secret, request.cookies.get(csrf.COOKIE_NAME), form.get("csrf")):
        raise CsrfException("the form expired or came from another site: reload the page and submit again")
    chosen = next((m for m in models if m.get("trainingId") == form.get("training")), None)
    threshold = model_view.threshold_of(form.get("threshold"))
    context |= {"chosen": chosen, "threshold": threshold}
    upload = files.get("image")
    try:
        if chosen is None:
            raise try_image.UploadError("choose one of the trained models")
        data = upload.read(limit + 1) if upload else b""
        try_image.check_upload(data, limit)
        mimetype = upload.mimetype if upload else ""
        context["filename"] = upload.filename if upload else ""
        context["prediction"] = try_image.predict(
            deps.backend, chosen["model"], data, mimetype, threshold, context["filename"], _deadline_s(deps)
        )
    except try_image.UploadError as exc:
        return _render(deps, request, "try.html", context | {"error": str(exc)}, 400)
    return _render(deps, request, "try.html", context)


def _training_request(deps: Deps, form: dict[str, str]) -> TrainingRequest:
    optimize = form.get("optimizeFor", "")
    if optimize not in OPTIMIZE_FOR:
        raise InvalidMessageException(
            f"optimize for: choose one of {', '.join(v[0] for v in OPTIMIZE_FOR.values())}"
        )
    raw_hours = form.get("budgetNodeHours", "").strip() or str(DEFAULT_BUDGET_NODE_HOURS)
    try:
        hours = float(raw_hours)
    except ValueError:
        raise InvalidMessageException("node hour budget: not a number") from None
    low, high = MIN_BUDGET_MILLI_NODE_HOURS / 1000, MAX_BUDGET_MILLI_NODE_HOURS / 1000
    if not (math.isfinite(hours) and low <= hours <= high):  # also keeps round() below from overflowing
        raise InvalidMessageException(
            f"node hour budget: {raw_hours} is not from {low:g} to {high:g} node hours"
        )
    payload: dict[str, Any] = {
        "schemaVersion": 1,
        "dataset": form.get("dataset", "").strip(),
        "modelType": OPTIMIZE_FOR[optimize][1],
        "trainBudgetMilliNodeHours": round(hours * 1000),
        "source": "manual",
    }
    if form.get("displayName", "").strip():
        payload["displayName"] = form["displayName"].strip()
    payload["requestId"] = _manual_request_id(form.get("formId", ""), payload)
    try:
        return TrainingRequest.model_validate(payload)
    except ValidationError as exc:
        raise InvalidMessageException(validation_reasons(exc)) from None


def _train(deps: Deps, request: Request) -> Response:
    if not csrf.is_valid(
        deps.settings.csrf_secret, request.cookies.get(csrf.COOKIE_NAME), request.form.get("csrf")
    ):
        raise CsrfException("the form expired or came from another site: reload the page and submit again")
    fields = ("dataset", "displayName", "optimizeFor", "budgetNodeHours", "formId")
    form = {k: request.form.get(k, "") for k in fields}
    try:
        message = _training_request(deps, form)
    except InvalidMessageException as exc:
        return _page(deps, request, status=400, error=str(exc), form=form)
    try:
        deps.publisher.publish(topics.TOPIC_DATASET_IMPORTED, message.to_wire(), timeout_s=_deadline_s(deps))
    except TimeoutError:
        raise TransientFailureException(
            f"Pub/Sub did not confirm the training request within {_deadline_s(deps):g} s; it may still "
            "start. Posting the same form again is safe: it asks for the same training."
        ) from None
    return Response(status=303, headers={"Location": f"./?requested={message.request_id}"})


def _page_size(raw: str | None, default: int) -> int:
    """The API's pageSize: 1 or more, at most 200 (InvalidMessageException, answered with a 400)."""
    if not raw:
        return default
    try:
        size = int(raw)
    except ValueError:
        raise InvalidMessageException(f"pageSize: {raw!r} is not a whole number") from None
    if size < 1:
        raise InvalidMessageException(f"pageSize: {size} must be 1 or more")
    return min(size, 200)


def _route(path: str) -> tuple[str, list[str]]:
    """(route, its arguments) from the end of the path: training/ID, sample/ID/FILE, api/NAME, a page name."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[-3] == "sample":
        return "sample", parts[-2:]
    if len(parts) >= 2 and parts[-2] in ("training", "api"):
        return (parts[-2], [parts[-1]]) if parts[-2] == "training" else (f"api/{parts[-1]}", [])
    page = parts[-1] if parts else ""
    return ("" if page in ("training", "sample") else page), []  # without their arguments: the overview


def handle_request(deps: Deps, request: Request) -> Response:
    route, args = _route(request.path)
    store = deps.store.within(_deadline_s(deps))
    try:
        return _handle(dataclasses.replace(deps, store=store), request, route, args)
    except Exception as exc:
        if not (is_retry_exhausted(exc) or isinstance(exc, TransientFailureException)):
            raise
        message = f"Temporarily unavailable, try again in a minute: {exc}"
        response = _json({"error": message}, 503) if route.startswith("api/") else _text(message, 503)
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response


def _deadline_s(deps: Deps) -> float:
    return min(READ_DEADLINE_S, deps.settings.retry_deadline_s)


def _text(message: str, status: int) -> Response:
    return _nosniff(Response(message, status=status, mimetype="text/plain"))


def _handle(deps: Deps, request: Request, route: str, args: list[str]) -> Response:
    try:
        if request.method == "POST" and route == "train":
            return _train(deps, request)
        if route == "try" and request.method in ("GET", "HEAD", "POST"):
            return _try(deps, request)
        if request.method not in ("GET", "HEAD"):  # HEAD: answered as GET, without the body (werkzeug)
            allowed = "GET, HEAD, POST" if route in ("train", "try") else "GET, HEAD"
            response = _json({"error": f"{request.method} is not allowed here"}, 405)
            response.headers["Allow"] = allowed
            return response
        if route == "training":
            return _training(deps, request, args[0])
        if route == "sample":
            return _sample(deps, *args)
        if route == "imports":
            return _imports(deps, request)
        if route == "api/datasets":
            return _json({"datasets": queries.list_datasets(deps.store)})
        if route == "api/trainings":
            size = _page_size(request.args.get("pageSize"), deps.settings.status_page_size)
            trainings, token = queries.list_trainings(
                deps.store, size, request.args.get("pageToken"), request.args.get("dataset")
            )
            return _json({"trainings": trainings, "nextPageToken": token})
        if route.startswith("api/"):
            return _json({"error": f"no such API: {route} (there are api/datasets and api/trainings)"}, 404)
        return _page(deps, request)
    except CsrfException as exc:
        return _text(str(exc), exc.http_status)
    except InvalidMessageException as exc:  # the request's own fault; an error reading the data is a 500
        return _json({"error": str(exc)}, 400) if route.startswith("api/") else _text(str(exc), 400)
