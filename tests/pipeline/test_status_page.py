"""status_page through functions-framework's HTTP app: HTML, JSON paging, escaping, the CSRF-safe form."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from edgetrain_pipeline import topics
from edgetrain_pipeline.envelope import PubSubEvent
from edgetrain_pipeline.usecases.start_training import start_training
from google.api_core import exceptions as gexc

from .apps import cloudevent_client, http_client
from .events import post, pubsub_event
from .fake_automl import evaluation_summary


def put_training(deps, n: int, **fields) -> dict:
    doc = {
        "trainingId": f"tr-{n:03d}",
        "dataset": "projects/p/locations/l/datasets/cards",
        "datasetId": "cards",
        "displayName": f"model_{n}",
        "modelType": "mobile-versatile-1",
        "state": "RUNNING",
        "progressPercent": 40,
        "trainBudgetMilliNodeHours": 24_000,
        "createdAt": datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=n),
    } | fields
    deps.store.update("trainings", doc["trainingId"], doc)
    return doc


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)


@pytest.mark.emulators
def test_page_shows_a_finished_training_with_labelled_metrics_and_a_link_to_its_view(deps):
    put_training(
        deps,
        1,
        state="SUCCEEDED",
        exportState="EXPORTED",
        trainCostMilliNodeHours=1_500,
        stopReason="MODEL_CONVERGED",
        evaluation=evaluation_summary(0.734),
        exportLocation="gs://bucket/model-export/cards/tr-001/tflite-1/",
    )

    response = http_client().get("/")

    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    row = html[html.index('id="training-tr-001"') :]
    for text in (
        "model_1",
        "SUCCEEDED",
        "EXPORTED",
        "24.0 /",
        "1.50",
        "MODEL_CONVERGED",
        "0.734",
        "<code>gs://bucket/model-export/cards/tr-001/tflite-1/</code>",  # whole, one click away
        'href="training/tr-001"',
    ):
        assert text in row
    assert "<th" in html and "mAP@0.5</th>" in html and "mAP@[.5:.95]</th>" in html
    assert "script-src 'nonce-" in response.headers["Content-Security-Policy"]


@pytest.mark.emulators
def test_all_firestore_text_is_escaped(deps):
    put_training(deps, 1, state="FAILED", error='<script>alert("x")</script>', displayName="<b>bold</b>")

    html = http_client().get("/").get_data(as_text=True)

    assert "<script>alert" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html and "&lt;b&gt;bold&lt;/b&gt;" in html


@pytest.mark.emulators
def test_datasets_and_trainings_show_the_backends_display_name_with_the_id_at_hand(deps):
    deps.backend.dataset_display_names["cards"] = "Playing <cards>"
    request = json.dumps({"schemaVersion": 1, "dataset": "cards"})
    assert start_training(deps, PubSubEvent(event_id="e1", text=request, attributes={})).status == "created"
    client = http_client()

    html = client.get("/", query_string={"dataset": "cards"}).get_data(as_text=True)
    assert "<h2>Trainings of Playing &lt;cards&gt; " in html
    datasets = html[html.index('id="datasets"') :]
    assert '<a href="?dataset=cards">Playing &lt;cards&gt;</a>' in datasets
    assert '<div class="muted">cards</div>' in datasets  # the id the form and the API take
    assert '<option value="cards">Playing &lt;cards&gt;</option>' in html
    row = html[html.index('class="training"') :]
    assert '<span class="dataset" title="cards">Playing &lt;cards&gt;</span>' in row
    (training,) = deps.store.query("trainings", "datasetId", "==", "cards")
    view = client.get(f"/training/{training['trainingId']}").get_data(as_text=True)
    assert '<span class="dataset" title="cards">Playing &lt;cards&gt;</span>' in view
    (shown,) = client.get("/api/datasets").json["datasets"]
    assert shown["datasetId"] == "cards" and shown["displayName"] == "Playing <cards>"

    deps.backend.dataset_display_names["cards"] = "cards"  # named as its ID: shown once
    start_training(deps, PubSubEvent(event_id="e2", text=request, attributes={}))
    datasets = client.get("/").get_data(as_text=True).split('id="datasets"')[1]
    assert '<a href="?dataset=cards">cards</a>' in datasets and 'class="muted">cards<' not in datasets


def dataset_row(html: str, dataset_id: str) -> str:
    """The overview's row of one dataset in its datasets table."""
    table = html[html.index('id="datasets"') : html.index("</table>", html.index('id="datasets"'))]
    start = table.index(f'<a href="?dataset={dataset_id}">')
    end = table.find("<tr>", start)
    return table[start:] if end < 0 else table[start:end]


@pytest.mark.emulators
def test_a_dataset_is_listed_with_its_latest_import_from_its_first_import_on(deps):
    importer, poller, client = (
        cloudevent_client("import_dataset"),
        cloudevent_client("poll_operations"),
        http_client(),
    )

    def import_file(name: str) -> dict:
        request = {"schemaVersion": 1, "dataset": "fresh", "inputUris": [f"gs://b/{name}"], "requestId": name}
        assert post(importer, pubsub_event(request)).status_code == 200
        (record,) = [i for i in deps.store.query("imports", "datasetId", "==", "fresh") if i["key"] == name]
        return record

    first = import_file("first.csv")
    row = dataset_row(client.get("/").get_data(as_text=True), "fresh")
    assert f'href="imports?import={first["importId"]}">RUNNING 0%</a>' in row

    deps.backend.fail(first["operation"], "No valid rows to import (see partial failures).")
    assert post(poller, pubsub_event({})).status_code == 200
    row = dataset_row(client.get("/").get_data(as_text=True), "fresh")
    assert f'href="imports?import={first["importId"]}">FAILED</a>' in row
    assert '<div class="error">No valid rows to import (see partial failures).</div>' in row
    assert '<td class="num">0</td>' in row  # no training: the failed import made none
    shown = {d["datasetId"]: d for d in client.get("/api/datasets").json["datasets"]}["fresh"]
    assert shown["lastImport"]["importId"] == first["importId"] and shown["lastImport"]["state"] == "FAILED"
    assert shown["trainingCount"] == 0 and shown["activeTraining"] is None
    assert deps.store.query("trainings", "datasetId", "==", "fresh") == []

    second = import_file("second.csv")
    row = dataset_row(client.get("/").get_data(as_text=True), "fresh")
    assert f'href="imports?import={second["importId"]}">RUNNING 0%</a>' in row and "FAILED" not in row


@pytest.mark.emulators
def test_an_import_into_a_dataset_the_backend_does_not_know_makes_no_dataset_row(deps):
    importer, client = cloudevent_client("import_dataset"), http_client()
    known = {"schemaVersion": 1, "dataset": "flowers", "inputUris": ["gs://b/a.csv"], "requestId": "a"}
    assert post(importer, pubsub_event(known)).status_code == 200
    deps.backend.fail_next["import_data"] = gexc.NotFound("Dataset flowrs not found.")
    typo = {"schemaVersion": 1, "dataset": "flowrs", "inputUris": ["gs://b/b.csv"], "requestId": "b"}

    assert post(importer, pubsub_event(typo)).status_code == 200  # answered, not redelivered

    (failed,) = deps.store.query("imports", "datasetId", "==", "flowrs")
    assert failed["state"] == "FAILED" and failed["error"] == "ImportData rejected: Dataset flowrs not found."
    assert [d["datasetId"] for d in client.get("/api/datasets").json["datasets"]] == ["flowers"]
    assert "flowrs" not in client.get("/").get_data(as_text=True)
    assert "Dataset flowrs not found." in client.get("/imports").get_data(as_text=True)

    # a dataset with a training history keeps its document when the backend no longer knows it
    deps.store.update("datasets", "roses", {"datasetId": "roses", "championModel": "models/IOD1"})
    deps.backend.fail_next["import_data"] = gexc.NotFound("Dataset roses not found.")
    gone = {"schemaVersion": 1, "dataset": "roses", "inputUris": ["gs://b/c.csv"], "requestId": "c"}
    assert post(importer, pubsub_event(gone)).status_code == 200
    (failed,) = deps.store.query("imports", "datasetId", "==", "roses")
    assert deps.store.get("datasets", "roses")["lastImportId"] == failed["importId"]


@pytest.mark.emulators
def test_json_api_pages_trainings_newest_first(deps):
    for n in range(5):
        put_training(deps, n)
    client = http_client()

    pages, token = [], None
    while True:
        body = client.get(
            "/api/trainings", query_string={"pageSize": 2, **({"pageToken": token} if token else {})}
        ).json
        pages.append([t["trainingId"] for t in body["trainings"]])
        token = body["nextPageToken"]
        if token is None:
            break

    assert pages == [["tr-004", "tr-003"], ["tr-002", "tr-001"], ["tr-000"]]
    assert client.get("/api/datasets").json == {"datasets": []}  # trainings alone make no dataset documents


@pytest.mark.emulators
@pytest.mark.parametrize(
    ("page_size", "error"),
    [
        ("0", "pageSize: 0 must be 1 or more"),
        ("-5", "pageSize: -5 must be 1 or more"),
        ("two", "pageSize: 'two' is not a whole number"),
    ],
)
def test_json_api_answers_a_bad_page_size_with_a_400(deps, page_size, error):
    put_training(deps, 0)
    response = http_client().get("/api/trainings", query_string={"pageSize": page_size})
    assert (response.status_code, response.json) == (400, {"error": error})


@pytest.mark.emulators
@pytest.mark.parametrize(
    "bad_id", ["__tr__", ".", "..", "x" * 1501], ids=["reserved", "dot", "dot-dot", "over-1500-bytes"]
)
def test_ids_that_cannot_name_a_firestore_document_are_a_400_or_404_not_a_500(deps, bad_id):
    """Found by probing: Firestore answers these IDs with INVALID_ARGUMENT, which the pages let through."""
    put_training(deps, 0)
    client = http_client()
    for path in ("/", "/api/trainings"):
        response = client.get(path, query_string={"pageToken": bad_id})
        assert response.status_code == 400
        assert "pageToken: not a token this page returned" in response.get_data(as_text=True)
    assert client.get(f"/training/{bad_id}").status_code == 404
    assert client.get(f"/sample/{bad_id}/0.jpg").status_code == 404
    assert client.get("/training/tr-000").status_code == 200


@pytest.mark.emulators
def test_form_publishes_a_training_request(deps):
    client = http_client()
    token = csrf_token(client.get("/").get_data(as_text=True))

    response = client.post(
        "/train",
        data={
            "csrf": token,
            "dataset": "cards",
            "displayName": "cards_fast",
            "optimizeFor": "faster-predictions",
            "budgetNodeHours": "2",
        },
    )

    assert response.status_code == 303
    (message,) = deps.publisher.on(topics.TOPIC_DATASET_IMPORTED)
    assert message["modelType"] == "mobile-low-latency-1" and message["trainBudgetMilliNodeHours"] == 2_000
    assert message["displayName"] == "cards_fast" and message["source"] == "manual"
    assert response.headers["Location"].endswith(f"?requested={message['requestId']}")


@pytest.mark.emulators
def test_form_post_without_the_csrf_token_is_refused(deps):
    client = http_client()
    client.get("/")  # has the cookie, but a cross-site form cannot know the token

    response = client.post(
        "/train", data={"csrf": "0" * 64, "dataset": "cards", "optimizeFor": "best-tradeoff"}
    )

    assert response.status_code == 403 and deps.publisher.messages == []


@pytest.mark.emulators
def test_invalid_form_is_shown_again_with_an_escaped_error(deps):
    client = http_client()
    token = csrf_token(client.get("/").get_data(as_text=True))

    response = client.post(
        "/train",
        data={
            "csrf": token,
            "dataset": "cards",
            "displayName": "<i>x</i>",
            "optimizeFor": "best-tradeoff",
            "budgetNodeHours": "24",
        },
    )

    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "<i>x</i>" not in html
    assert "displayName: up to 32 ASCII letters, digits or underscores, starting with a letter" in html
    assert deps.publisher.messages == []


@pytest.mark.emulators
def test_fragment_holds_only_the_trainings_table(deps):
    put_training(deps, 7)

    html = http_client().get("/?fragment=trainings").get_data(as_text=True)

    assert 'id="training-tr-007"' in html and "<form" not in html


@pytest.mark.emulators
@pytest.mark.parametrize("budget", ["inf", "-inf", "nan", "1e400", "1e306", "0.5", "101"])
def test_a_budget_outside_1_to_100_node_hours_is_shown_again_with_the_form(deps, budget):
    """1e306 node hours overflowed the rounding to milli node hours (a 500)."""
    client = http_client()
    token = csrf_token(client.get("/").get_data(as_text=True))
    form = {"csrf": token, "dataset": "cards", "optimizeFor": "best-tradeoff", "budgetNodeHours": budget}

    response = client.post("/train", data=form)

    html = response.get_data(as_text=True)
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert f"node hour budget: {budget} is not from 1 to 100 node hours" in html and 'name="csrf"' in html
    assert deps.publisher.messages == []


@pytest.mark.emulators
@pytest.mark.parametrize(("proto", "secure"), [("https", True), ("http", False), (None, False)])
def test_the_csrf_cookie_is_secure_behind_the_https_proxy(deps, proto, secure):
    headers = {"X-Forwarded-Proto": proto} if proto else {}

    cookie = http_client().get("/", headers=headers).headers["Set-Cookie"]

    assert cookie.startswith("edgetrain_csrf=") and ("; Secure" in cookie) == secure
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
