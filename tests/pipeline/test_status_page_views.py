"""The status page's views through functions-framework's HTTP app on the Firestore emulator, with the exported
package's diagnostics as the trainer writes them (edgetrain_trainer.diagnostics) in a local bucket folder."""

from __future__ import annotations

import base64
import io
import json
import re
import socket
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from edgetrain_pipeline.automl_gateway import AutoMlGateway
from edgetrain_pipeline.import_rows import ReportedRow, parse_row
from markupsafe import escape
from PIL import Image

from edgetrain_service.predict import UNKNOWN_FORMAT
from edgetrain_trainer.data.dataset import Example
from edgetrain_trainer.data.rows import Box
from edgetrain_trainer.diagnostics import write_diagnostics

from .apps import http_client

EXPORT = "gs://exports/model-export/cards/tflite-1"
LABELS = ["ace", "king"]


def label(name: str, ap50: float) -> dict:
    """A perLabel entry as the pipeline stores it (contract: evaluation.perLabel)."""
    return {
        "label": name,
        "annotationSpecId": name,
        "ap50": ap50,
        "ap5095": ap50 / 2,
        "boxes": 7,
        "curve50": {"confidence": [0.1, 0.5, 0.9], "recall": [0.9, 0.6, 0.2], "precision": [0.3, 0.7, 1.0]},
    }


def put_trained(deps, tmp_path: Path) -> None:
    deps.settings = replace(deps.settings, storage_local_root=str(tmp_path / "gcs"))
    package = tmp_path / "gcs" / "exports" / "model-export" / "cards" / "tflite-1"
    examples, predictions = [], []
    for i in range(4):
        path = tmp_path / f"card{i}.png"
        Image.new("RGB", (64, 48), (40 * i, 90, 90)).save(path)
        box = Box("ace", 0.1, 0.2, 0.5, 0.6, 0)
        examples.append(Example(path, path.name, "TEST", "TEST", (box,), 64, 48))
        found = np.array([[0.2, 0.1, 0.6, 0.5]]) if i % 2 else np.zeros((0, 4))
        predictions.append((found, np.zeros(len(found)), np.full(len(found), 0.8)))
    write_diagnostics(package / "diagnostics", examples, LABELS, predictions)
    start = datetime.now(UTC) - timedelta(minutes=10)
    deps.store.update(
        "trainings",
        "tr-view",
        {
            "trainingId": "tr-view",
            "datasetId": "cards",
            "displayName": "cards_view",
            "modelType": "mobile-versatile-1",
            "state": "SUCCEEDED",
            "exportState": "EXPORTED",
            "progressPercent": 100,
            "trainBudgetMilliNodeHours": 1_000,
            "model": "projects/p/locations/us-central1/models/IOD42",
            "exports": {"tflite": {"state": "SUCCEEDED", "location": EXPORT}},
            "evaluation": {"perLabel": [label("ace", 0.8), label("king", 0.4)], "imageCount": 4},
            "trainingCurve": {
                "points": [
                    {"stage": "head", "epoch": 1, "loss": 2.0, "valMap50": 0.1},
                    {"stage": "head", "epoch": 2, "loss": 1.0, "valMap50": 0.3},
                ]
            },
            "createdAt": start,
            "finishedAt": start + timedelta(minutes=5),
        },
    )


def cells(html: str, css_class: str) -> list[str]:
    return re.findall(rf'class="num {css_class}">([^<]*)<', html)


@pytest.mark.emulators
def test_the_evaluation_view_shows_labels_at_the_threshold_confusion_samples_and_the_curve(deps, tmp_path):
    put_trained(deps, tmp_path)
    client = http_client()

    default = client.get("/training/tr-view").get_data(as_text=True)
    strict = client.get("/training/tr-view?threshold=0.95").get_data(as_text=True)

    assert (
        cells(default, "precision-at") == ["0.700", "0.700"] and cells(default, "recall-at") == ["0.600"] * 2
    )
    assert cells(strict, "precision-at") == ["1.000", "1.000"] and cells(strict, "recall-at") == ["0.200"] * 2
    assert default.count('class="marker"') == 2 and 'class="val-map"' in default and 'class="loss"' in default
    # confusion: 2 aces found, 2 missed (background column); nothing else predicted
    confusion = default[default.index('id="confusion"') :]
    assert re.search(
        r"<th>ace</th><td class=\"num diag\">2</td><td class=\"num\">0</td><td class=\"num\">2</td>",
        confusion,
    )
    assert default.count('src="../sample/tr-view/sample-') == 4  # 2 worst + 2 best of 4 images
    assert 'elapsed <span id="elapsed">5 min 00 s</span>' in default


@pytest.mark.emulators
def test_sample_pictures_come_from_the_exported_package_and_nothing_else(deps, tmp_path):
    put_trained(deps, tmp_path)
    client = http_client()

    picture = client.get("/sample/tr-view/sample-0.jpg")
    with Image.open(io.BytesIO(picture.data)) as image:
        assert picture.mimetype == "image/jpeg" and image.size == (64, 48)
    assert client.get("/sample/tr-view/diagnostics.json").status_code == 404
    assert client.get("/sample/tr-view/sample-99.jpg").status_code == 404
    assert client.get("/sample/tr-missing/sample-0.jpg").status_code == 404
    assert client.get("/training/").status_code == 200  # no id: the overview


@pytest.mark.emulators
def test_the_view_saved_as_one_file_carries_its_sample_pictures_inside(deps, tmp_path):
    put_trained(deps, tmp_path)
    client = http_client()

    saved = client.get("/training/tr-view?inline=1").get_data(as_text=True)

    inline = re.findall(r'src="data:image/jpeg;base64,([^"]+)" alt', saved)
    assert len(inline) == 4 and "../sample/" not in saved
    served = {client.get(f"/sample/tr-view/sample-{i}.jpg").data for i in range(4)}
    assert {base64.b64decode(data) for data in inline} == served
    assert 'class="num precision-at">0.700<' in saved  # the rest of the view as the page shows it


@pytest.mark.emulators
def test_a_missing_training_is_a_404_page(deps):
    response = http_client().get("/training/tr-nope")
    assert response.status_code == 404 and "No training tr-nope." in response.get_data(as_text=True)


@pytest.mark.emulators
def test_imports_are_listed_newest_first_with_their_counts_and_rows(deps):
    kept = "Error in gs://b/a.csv line 9: image already in TEST; kept there"
    records = [
        {"partialFailures": ["Error in gs://b/a.csv line 7: LABEL: is empty", kept], "exampleCountAfter": 12},
        {"partialFailures": []},
        {"state": "RUNNING"},  # nothing reported yet
    ]
    for n, record in enumerate(records):
        deps.store.update(
            "imports",
            f"im-{n}",
            {
                "importId": f"im-{n}",
                "datasetId": "cards",
                "state": "SUCCEEDED",
                "inputUris": [f"gs://b/import-{n}.csv"],
                "createdAt": datetime(2026, 12, 1, tzinfo=UTC) + timedelta(hours=n),
            }
            | record,
        )

    html = http_client().get("/imports").get_data(as_text=True)

    assert html.index('id="import-im-2"') < html.index('id="import-im-1"') < html.index('id="import-im-0"')
    assert cells(html, "rejected-count") == ["—", "0", "1"]
    assert cells(html, "kept-count") == ["—", "0", "1"]
    assert cells(html, "example-count") == ["—", "—", "12"]
    rejected = html[html.index('<table class="rejected-rows">') : html.index('<table class="kept-rows">')]
    kept_table = html[html.index('<table class="kept-rows">') :]
    assert re.search(r'class="num line">7</td>\s*<td class="reason">LABEL: is empty</td>', rejected)
    assert "kept there" not in rejected
    assert re.search(
        r'class="num line">9</td>\s*<td class="reason">image already in TEST; kept there</td>', kept_table
    )


def test_a_reported_row_is_read_as_rejected_unless_its_image_kept_its_split():
    assert parse_row("Error in gs://b/x y.csv line 12: bad: box") == ReportedRow(
        "gs://b/x y.csv", 12, "bad: box", False
    )
    assert parse_row("quota") == ReportedRow(None, None, "quota", False)
    huge = f"Error in gs://b/x.csv line {'9' * 5000}: bad"  # past int()'s 4,300 digits: no row named
    assert parse_row(huge) == ReportedRow(None, None, huge, False)
    assert parse_row("Error in gs://b/a.csv line 3: image already in VALIDATION; kept there").kept_split
    assert not parse_row(
        "Error in gs://b/a.csv line 3: image already in VALIDATION; kept there, twice"
    ).kept_split


@pytest.mark.emulators
def test_trying_an_image_needs_the_csrf_token_and_refuses_a_file_over_the_limit(deps, tmp_path):
    put_trained(deps, tmp_path)
    deps.settings = replace(deps.settings, predict_max_bytes=2048)
    client = http_client()
    page = client.get("/try").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
    assert '<option value="tr-view"' in page

    forged = client.post("/try", data={"training": "tr-view", "image": (io.BytesIO(b"x"), "a.jpg")})
    too_big = client.post(
        "/try", data={"csrf": token, "training": "tr-view", "image": (io.BytesIO(b"x" * 100_000), "a.jpg")}
    )
    no_model = client.post("/try", data={"csrf": token, "training": "", "image": (io.BytesIO(b"x"), "a.jpg")})

    assert forged.status_code == 403
    assert too_big.status_code == 413 and "larger than 0.00195312 MiB" in too_big.get_data(as_text=True)
    assert no_model.status_code == 400 and "choose one of the trained models" in no_model.get_data(
        as_text=True
    )


@pytest.mark.emulators
def test_trying_an_image_with_the_backend_out_of_reach_answers_503_within_seconds(deps, tmp_path):
    """Predict retried for RETRY_DEADLINE_S (60 s here and by default: the status function's timeout)."""
    put_trained(deps, tmp_path)
    with socket.socket() as probe:  # a port nothing listens on: every call is refused
        probe.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{probe.getsockname()[1]}"
    deps.backend = AutoMlGateway(replace(deps.settings, automl_endpoint=closed))
    client = http_client()
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get("/try").get_data(as_text=True)).group(1)
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 90, 90)).save(picture, format="PNG")

    started = time.monotonic()
    upload = (io.BytesIO(picture.getvalue()), "a.png")
    response = client.post("/try", data={"csrf": token, "training": "tr-view", "image": upload})

    assert time.monotonic() - started < 20
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert "Temporarily unavailable, try again in a minute" in response.get_data(as_text=True)


def test_the_eta_of_a_running_training_is_the_share_left_capped_by_the_budget():
    from edgetrain_pipeline.status_page.model_view import duration, timing

    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    running = {
        "state": "RUNNING",
        "createdAt": now - timedelta(minutes=10),
        "trainBudgetMilliNodeHours": 1_000,
    }

    quarter = timing(running | {"progressPercent": 25}, now)
    early = timing(running | {"progressPercent": 5}, now)  # progress alone would say 190 min
    done = timing(running | {"state": "SUCCEEDED", "finishedAt": now - timedelta(minutes=4)}, now)

    assert quarter == {"elapsedS": 600.0, "budgetS": 3600.0, "etaS": 1800.0}
    assert early["etaS"] == 3000.0
    assert done == {"elapsedS": 360.0, "budgetS": 3600.0, "etaS": None}
    assert [duration(s) for s in (None, 59, 250, 3900)] == ["—", "59 s", "4 min 10 s", "1 h 05 min"]


SAMPLE = {"file": "sample-0.jpg", "image": "gs://b/card0.png", "kind": "worst", "score": 0.5}
ODD_DIAGNOSTICS = {
    "not JSON": "{half an obj",
    "not a map": [1],
    "nested too deep": "[" * 100_000 + "]" * 100_000,
    "confusion without labels": {"confusion": [[1]]},
    "labels as a number": {"confusion": [[1]], "labels": 5},
    "confusion as text": {"confusion": "abc", "labels": ["ace"]},
    "samples as text": {"samples": "abc"},
    "box missing": {"samples": [SAMPLE | {"truth": [{"label": "ace"}]}]},
    "box short": {"samples": [SAMPLE | {"truth": [{"label": "ace", "box": [0.1]}]}]},
    "score as text": {"samples": [SAMPLE | {"score": "high"}]},
    "box score as text": {
        "samples": [SAMPLE | {"predicted": [{"label": "ace", "box": [0, 0, 1, 1], "score": "x"}]}]
    },
}


@pytest.mark.emulators
@pytest.mark.parametrize("content", ODD_DIAGNOSTICS.values(), ids=ODD_DIAGNOSTICS.keys())
def test_a_diagnostics_object_unreadable_or_of_another_shape_leaves_the_rest_of_the_view(
    deps, tmp_path, content
):
    """Valid JSON of another shape than the trainer writes answered the view with a 500."""
    put_trained(deps, tmp_path)
    diagnostics = tmp_path / "gcs" / "exports" / "model-export" / "cards" / "tflite-1" / "diagnostics"
    (diagnostics / "diagnostics.json").write_text(
        content if isinstance(content, str) else json.dumps(content)
    )

    response = http_client().get("/training/tr-view")

    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="no-confusion"' in html and 'id="no-samples"' in html
    assert cells(html, "precision-at") == ["0.700", "0.700"]


@pytest.mark.emulators
def test_a_tried_image_comes_back_with_the_boxes_drawn_and_an_unreadable_one_with_the_reason(deps, tmp_path):
    put_trained(deps, tmp_path)
    client = http_client()
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get("/try").get_data(as_text=True)).group(1)

    def post(data: bytes, name: str):
        form = {"csrf": token, "training": "tr-view", "threshold": "0.4", "image": (io.BytesIO(data), name)}
        return client.post("/try", data=form, content_type="multipart/form-data")

    found = post(b"\xff\xd8 a picture", "card.jpg")
    refused = post(b"not an image at all", "notes.jpg")
    marked_up = post(b"<svg/>", "drawing.jpg")

    html = found.get_data(as_text=True)
    assert found.status_code == 200 and "1 boxes from cards_view in card.jpg" in html
    assert (
        'x="10.0%" y="20.0%" width="40.0%" height="40.0%"' in html and 'src="data:image/jpeg;base64,' in html
    )
    assert deps.backend.calls[-2][1:] == ("projects/p/locations/us-central1/models/IOD42", 0.4)
    assert refused.status_code == 400
    assert f"notes.jpg: {escape(UNKNOWN_FORMAT)}</p>" in refused.get_data(as_text=True)
    assert marked_up.status_code == 400
    assert (
        "drawing.jpg: &lt;b&gt;not&lt;/b&gt; an image &amp; not &lt;script&gt;alert(1)&lt;/script&gt;</p>"
        in marked_up.get_data(as_text=True)
    )
