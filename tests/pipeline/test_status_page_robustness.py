"""status_page with a long history, odd documents and hostile requests: every page stays usable, a request's
own fault is a 400 and nothing else is, and what it cannot do right now is a 503 in seconds."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from edgetrain_pipeline import deps as deps_module
from edgetrain_pipeline import topics
from edgetrain_pipeline.config import get_env
from edgetrain_pipeline.pubsub_publisher import PubSubPublisher
from google.api_core import retry as gretry
from google.cloud import firestore, pubsub_v1

from edgetrain.localstack.processes import free_port

from .apps import http_client
from .fake_automl import evaluation_summary
from .test_status_page import csrf_token, put_training

pytestmark = pytest.mark.emulators

START = datetime(2026, 11, 1, tzinfo=UTC)


def put_import(deps, n: int, rows: int = 0, **fields) -> str:
    import_id = f"imp-{n:03d}"
    failures = [
        f"Error in gs://b/data.csv line {line}: cannot fetch image x{line}.jpg" for line in range(rows)
    ]
    doc = {
        "datasetId": "cards",
        "state": "SUCCEEDED",
        "inputUris": ["gs://b/data.csv"],
        "partialFailures": failures,
        "rowsRejected": rows,
        "rowsKeptSplit": 0,
        "createdAt": START + timedelta(minutes=n),
    } | fields
    deps.store.update("imports", import_id, doc)
    return import_id


def put_trainings(deps, states: list[str]) -> None:
    """Trainings tr-000… oldest first, with the given states; the succeeded ones have a model."""
    batch = deps.store.client.batch()
    for n, state in enumerate(states):
        doc = {"trainingId": f"tr-{n:03d}", "datasetId": "cards", "displayName": f"model_{n}", "state": state}
        doc |= {"createdAt": START + timedelta(minutes=n), "evaluation": evaluation_summary(0.5)}
        if state == "SUCCEEDED":
            doc["model"] = f"projects/p/locations/l/models/m{n}"
        batch.set(deps.store.collection("trainings").document(doc["trainingId"]), doc)
        if n % 100 == 99:
            batch.commit()
            batch = deps.store.client.batch()
    batch.commit()


@pytest.mark.parametrize(
    "states",
    [
        ["FAILED" if n % 3 == 0 else "SUCCEEDED" for n in range(160)],
        ["SUCCEEDED"] * 60 + ["NO_MODEL"] * 230,  # succeeded without a model: the newest page offers none
    ],
    ids=["mixed", "past-a-page"],
)
def test_try_an_image_offers_the_newest_fifty_trained_models_of_a_long_history(deps, states):
    """It read every successful training whole (with its curves) and sorted them in memory: a few hundred
    trainings took the function past its memory and its time."""
    put_trainings(deps, ["SUCCEEDED" if state == "NO_MODEL" else state for state in states])
    for n in (n for n, state in enumerate(states) if state == "NO_MODEL"):
        deps.store.update("trainings", f"tr-{n:03d}", {"model": None})

    html = http_client().get("/try").get_data(as_text=True)

    offered = re.findall(r'<option value="(tr-\d+)"', html)
    with_model = [f"tr-{n:03d}" for n in reversed(range(len(states))) if states[n] == "SUCCEEDED"]
    assert offered == with_model[:50]


def test_the_overview_names_each_champion_by_its_training(deps):
    """Read by the training ID the dataset records; by model for a dataset recorded before it did."""
    put_trainings(deps, ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED"])
    deps.store.update("trainings", "tr-002", {"displayName": None})
    champions = {"cards": ("m0", "tr-000"), "dogs": ("m1", None), "cats": ("m2", "tr-002")}
    for dataset, (model, training_id) in champions.items():
        fields = {"displayName": dataset, "championModel": f"projects/p/locations/l/models/{model}"}
        deps.store.update(
            "datasets", dataset, fields | ({"championTrainingId": training_id} if training_id else {})
        )

    datasets = {d["datasetId"]: d for d in http_client().get("/api/datasets").get_json()["datasets"]}

    assert {name: d["championName"] for name, d in datasets.items()} == {
        "cards": "model_0",
        "dogs": "model_1",
        "cats": "m2",  # a champion without a display name: its model's ID
    }


def test_the_overview_links_a_dataset_to_its_latest_import_shown_whole_and_the_list_pages(deps):
    """/imports listed the 50 newest imports with every reported row (up to 1,000 each) and no way on;
    the overview linked a dataset to an anchor on it that an older import did not have."""
    for n in range(25):
        put_import(deps, n, rows=30)
    deps.store.update("datasets", "cards", {"displayName": "cards", "lastImportId": "imp-000"})
    client = http_client()

    overview = client.get("/").get_data(as_text=True)
    assert 'href="imports?import=imp-000"' in overview
    single = client.get("/imports?import=imp-000").get_data(as_text=True)
    assert single.count('class="rejected-row"') == 30 and 'id="import-imp-000"' in single
    assert client.get("/imports?import=imp-999").status_code == 404

    first = client.get("/imports").get_data(as_text=True)
    shown = re.findall(r'id="import-(imp-\d+)"', first)
    assert shown == [f"imp-{n:03d}" for n in range(24, 4, -1)]  # STATUS_PAGE_SIZE, newest first
    assert first.count('class="rejected-row"') == 20 * 20
    assert '10 more: <a href="imports?import=imp-024">' in first
    token = re.search(r'id="next-page" href="imports\?pageToken=([^"]+)"', first).group(1)
    second = client.get(f"/imports?pageToken={token}").get_data(as_text=True)
    assert re.findall(r'id="import-(imp-\d+)"', second) == [f"imp-{n:03d}" for n in range(4, -1, -1)]
    assert 'id="next-page"' not in second


def test_a_diverged_training_keeps_its_learning_curve_and_the_api_stays_json(deps):
    """One NaN loss made the SVG polyline unreadable (the whole line vanished); the API wrote a bare NaN."""
    points = [{"stage": "fine-tune", "loss": loss, "valMap50": 0.5} for loss in (1.0, 0.8, float("nan"), 0.4)]
    put_training(
        deps,
        1,
        state="FAILED",
        trainingCurve={"points": points},
        evaluation={"meanAveragePrecisionAt50": float("nan")},
    )
    client = http_client()

    view = client.get("/training/tr-001").get_data(as_text=True)
    loss_line = re.search(r'<polyline class="loss"[^>]*points="([^"]*)"', view).group(1)
    assert len(loss_line.split()) == 3 and "nan" not in loss_line  # the three finite points

    body = client.get("/api/trainings").get_data(as_text=True)
    (training,) = json.loads(body, parse_constant=lambda token: pytest.fail(f"not JSON: {token}"))[
        "trainings"
    ]
    assert training["meanAveragePrecisionAt50"] is None


ODD_TRAININGS = {
    "budget as text": {"trainBudgetMilliNodeHours": "24000", "trainCostMilliNodeHours": "1500"},
    "metric as text": {"state": "SUCCEEDED", "evaluation": {"meanAveragePrecisionAt50": "0.7"}},
    "curve without its IoU": {
        "evaluation": {"curves": [{"meanAveragePrecision": 0.5}, {"iouThreshold": "n/a"}]}
    },
    "evaluation as text": {"evaluation": "pending"},
    "progress as text": {"progressPercent": "abc"},
    "progress past 100": {"progressPercent": 250},
    "model as a number": {"model": 12345},
    "no trainingId field": {"trainingId": firestore.DELETE_FIELD},
    "uneven PR curve": {
        "evaluation": {
            "perLabel": [
                {"label": "a", "ap50": "0.8", "curve50": {"confidence": [0.9, 0.5], "recall": [0.1]}}
            ]
        }
    },
    "loss as text": {"trainingCurve": {"points": [{"loss": "1.0"}, {"loss": 0.5}]}},
    "comparison without a figure": {"comparison": {"labels": [{"label": "a", "championAp50": 0.5}]}},
    "comparison of odd fields": {"comparison": {"labels": 5, "championModel": 7, "championTrainingId": [1]}},
    "exports as text": {"exports": "gs://b/x"},
    "exports.tflite as text": {"exports": {"tflite": "gs://b/x"}},
    "export location as a number": {"exportLocation": 5},
    "export location as a map": {"exportLocation": {"a": 1}},
    "export location not in a bucket": {"exportLocation": "/srv/model-export/<b>"},
    "budget past a float's seconds": {"trainBudgetMilliNodeHours": 1e308},
}


@pytest.mark.parametrize("fields", ODD_TRAININGS.values(), ids=ODD_TRAININGS.keys())
def test_a_training_document_of_an_odd_shape_leaves_every_page_working(deps, fields):
    """One such document (an older version's, a hand edit) answered / or its view with a 500, or with a
    JSON 400 blaming the request, for everyone."""
    put_training(deps, 1)
    put_training(deps, 2)
    deps.store.update("trainings", "tr-002", fields)
    client = http_client()

    for path in (
        "/",
        "/?fragment=trainings",
        "/training/tr-002",
        "/training/tr-002?inline=1",
        "/api/trainings",
        "/try",
    ):
        response = client.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[-2000:])
    assert client.get("/sample/tr-002/sample-0.jpg").status_code == 404  # no gs:// package: no such picture
    overview = client.get("/").get_data(as_text=True)
    assert 'href="training/tr-001"' in overview and 'href="training/tr-002"' in overview
    eta = re.search(r'<span id="eta">([^<]*)</span>', client.get("/training/tr-002").get_data(as_text=True))
    assert eta is None or not eta.group(1).startswith("-")  # an ETA, when shown, is never negative


def test_odd_dataset_and_import_documents_leave_every_page_working(deps):
    deps.store.update(
        "datasets", "cards", {"championValue": "0.9", "championModel": 7, "lastImportId": "a/b"}
    )
    deps.store.update("datasets", "dogs", {"displayName": None, "lastImportId": 5})
    put_import(
        deps, 1, partialFailures=["Error in gs://b/x.csv line 2: bad label", 42], inputUris="gs://b/x.csv"
    )
    put_import(deps, 2, partialFailures="Error in gs://b/x.csv line 3: bad box")
    huge_line = f"Error in gs://b/x.csv line {'9' * 5000}: bad"  # past int()'s 4,300 digits
    put_import(deps, 3, partialFailures=[huge_line], rowsRejected=firestore.DELETE_FIELD)
    deps.store.update("datasets", "cats", {"lastImportId": "imp-003"})  # its rows are counted for /
    client = http_client()

    for path in ("/", "/api/datasets", "/imports", "/imports?import=imp-001", "/imports?import=imp-003"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[-2000:])
    imports = client.get("/imports").get_data(as_text=True)
    # imp-001's string in a list and imp-003's row, named by no line; not imp-002's one row per character
    assert imports.count('class="rejected-row"') == 2
    assert "<code>g</code>" not in imports  # inputUris as one string: one file, not a file per character


def test_requests_the_page_cannot_serve_get_a_clear_status(deps):
    put_training(deps, 1)
    client = http_client()

    assert client.get("/api/trainings?pageToken=tr-999").status_code == 400  # not a token it gave
    deps.store.collection("trainings").document("odd").set({"state": "FAILED"})  # no createdAt
    assert client.get("/api/trainings?pageToken=odd").status_code == 400
    assert client.get(f"/api/trainings?dataset={'d' * 2000}").status_code == 400
    wrong = client.get("/?pageToken=tr-999")
    assert wrong.status_code == 400 and wrong.mimetype == "text/plain"
    typo = client.get("/api/training")
    assert typo.status_code == 404 and "api/trainings" in typo.get_json()["error"]
    head = client.head("/")
    assert head.status_code == 200 and head.get_data() == b""
    put = client.put("/")
    assert put.status_code == 405 and put.headers["Allow"] == "GET, HEAD"


def test_every_answer_tells_the_browser_not_to_sniff_its_type(deps):
    """Only rendered pages said so; the JSON and text answers echo stored or requested text as well."""
    put_training(deps, 1, exportLocation="<b>not a bucket</b>")
    client = http_client()

    paths = ("/", "/api/trainings", "/api/<b>", "/?pageToken=tr-999", "/sample/tr-001/sample-0.jpg")
    answers = {path: client.get(path) for path in paths}

    assert {path: r.headers.get("X-Content-Type-Options") for path, r in answers.items()} == dict.fromkeys(
        paths, "nosniff"
    )
    assert [r.status_code for r in answers.values()] == [200, 200, 404, 400, 404]


@pytest.mark.parametrize("path", ["/train", "/try"])
def test_a_csrf_token_with_non_ascii_characters_is_refused_like_any_wrong_one(deps, path):
    """hmac.compare_digest raised TypeError on it: a 500 any site could cause with a cross-site form."""
    client = http_client()
    client.get("/")

    response = client.post(path, data={"csrf": "é", "dataset": "cards", "optimizeFor": "best-tradeoff"})

    assert response.status_code == 403


def test_the_same_form_posted_again_asks_for_the_same_training_and_an_edited_one_for_another(deps):
    """After a 503 a person posts the form again: one training, not two. After going back and changing it:
    a second one."""
    client = http_client()
    html = client.get("/").get_data(as_text=True)
    form_id = re.search(r'name="formId" value="([0-9a-f]{32})"', html).group(1)
    form = {"csrf": csrf_token(html), "dataset": "cards", "optimizeFor": "best-tradeoff", "formId": form_id}

    for data in (form, form, form | {"optimizeFor": "faster-predictions"}, form | {"formId": "<x>"}):
        assert client.post("/train", data=data).status_code == 303

    sent = [m["requestId"] for m in deps.publisher.on(topics.TOPIC_DATASET_IMPORTED)]
    assert all(re.fullmatch(r"manual-[0-9a-f]{32}", request_id) for request_id in sent)
    assert sent[0] == sent[1] and len(set(sent)) == 3


def test_the_form_with_pubsub_out_of_reach_answers_503_within_seconds(deps, pipeline_env):
    """It waited the publisher's 60 s (the function's whole timeout), then answered a 500."""
    pipeline_env.setenv("PUBSUB_EMULATOR_HOST", f"127.0.0.1:{free_port()}")  # nothing listens there
    pipeline_env.setenv("RETRY_DEADLINE_S", "3")
    get_env.cache_clear()
    settings = get_env()
    # the client's own retries of the message (20 s, past the 15 s asserted) end, not minutes into later tests
    options = pubsub_v1.types.PublisherOptions(retry=gretry.Retry(timeout=20), timeout=20)
    publisher = PubSubPublisher(settings, pubsub_v1.PublisherClient(publisher_options=options))
    deps_module.set_deps(deps_module.Deps(settings, deps.store, deps.backend, publisher))
    client = http_client()
    html = client.get("/").get_data(as_text=True)

    started = time.monotonic()
    response = client.post(
        "/train", data={"csrf": csrf_token(html), "dataset": "cards", "optimizeFor": "best-tradeoff"}
    )

    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "Posting the same form again is safe" in response.get_data(as_text=True)
    assert time.monotonic() - started < 15
