"""An import's record and the imports view, through the real chain: the real Firestore emulator, the real
self-hosted AutoML service behind the pipeline's own AutoML gateway, the use cases called as their functions
would be. A second import asks another split for an image the first put in TEST: that row is imported with
its split kept, which the record counts and the page lists apart from the rejected row."""

from __future__ import annotations

import csv
import json
import re
import shutil
import time
from pathlib import Path

import pytest
from edgetrain_pipeline import import_records, topics
from edgetrain_pipeline.deps import Deps
from edgetrain_pipeline.envelope import PubSubEvent
from edgetrain_pipeline.usecases.import_dataset import import_dataset
from edgetrain_pipeline.usecases.poll_operations import poll_operations
from edgetrain_pipeline.usecases.start_training import start_training

from .apps import http_client
from .live import BUCKET, SAMPLE, automl_deps

pytestmark = pytest.mark.emulators
service_process = pytest.importorskip("edgetrain_service.process")

STEP_TIMEOUT_S = 120
IMAGES = ["BloodImage_00000.jpg", "BloodImage_00001.jpg", "BloodImage_00004.jpg", "BloodImage_00007.jpg"]


def _event(payload: dict, event_id: str) -> PubSubEvent:
    return PubSubEvent(event_id=event_id, text=json.dumps(payload), attributes={})


def _write_csv(storage_root: Path, name: str, rows: list[tuple[str, str]]) -> str:
    """An AutoML CSV of one box per (split, image) row, the images copied from the BCCD sample."""
    folder = storage_root / BUCKET / name
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for split, image in rows:
        if (SAMPLE / "images" / image).exists():
            shutil.copy(SAMPLE / "images" / image, folder / image)
        lines.append(
            [split, f"gs://{BUCKET}/{name}/{image}", "RBC", "0.1", "0.1", "", "", "0.5", "0.5", "", ""]
        )
    with (folder / "import.csv").open("w", newline="") as out:
        csv.writer(out).writerows(lines)
    return f"gs://{BUCKET}/{name}/import.csv"


def _import(deps: Deps, dataset: str, uri: str, request_id: str) -> dict:
    """One import through import_dataset → poll_operations → start_training (the dataset-imported event,
    whose training the policy skips); the import's record."""
    payload = {"schemaVersion": 1, "dataset": dataset, "inputUris": [uri], "requestId": request_id}
    import_dataset(deps, _event(payload, f"import-{request_id}"))
    import_id = import_records.import_id_for(request_id)
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while deps.store.get("imports", import_id)["state"] == "RUNNING":
        assert time.monotonic() < deadline, f"timed out waiting for import {request_id}"
        poll_operations(deps)
        time.sleep(1)
    (announced,) = [
        m for m in deps.publisher.on(topics.TOPIC_DATASET_IMPORTED) if import_id in m["requestId"]
    ]
    assert start_training(deps, _event(announced, f"imported-{request_id}")).status == "skipped"
    return deps.store.get("imports", import_id)


@pytest.fixture
def live(firestore_emulator, tmp_path):
    with (
        service_process.ServiceProcess(data_dir=tmp_path / "service", workers=1) as service,
        # the imports announce themselves, and no training starts
        automl_deps(firestore_emulator.host, service, MIN_NEW_EXAMPLES="1000") as deps,
    ):
        yield deps, Path(service.storage_root)


def test_a_row_whose_image_keeps_its_split_is_counted_and_shown_as_kept_not_rejected(live):
    deps, storage = live
    dataset = deps.backend.create_dataset("import_counts")
    a, b, c, d = IMAGES
    first = _import(
        deps, dataset, _write_csv(storage, "first", [("TRAIN", a), ("TEST", b), ("TEST", c)]), "one"
    )
    second_uri = _write_csv(storage, "second", [("TRAIN", b), ("TRAIN", "missing.jpg"), ("TRAIN", d)])
    second = _import(deps, dataset, second_uri, "two")

    assert (first["rowsRejected"], first["rowsKeptSplit"], first["exampleCountAfter"]) == (0, 0, 3)
    assert (second["rowsRejected"], second["rowsKeptSplit"], second["exampleCountAfter"]) == (1, 1, 4)
    assert second["state"] == "SUCCEEDED"

    html = http_client().get("/imports").get_data(as_text=True)
    newest = html[
        html.index(f'id="import-{second["importId"]}"') : html.index(f'id="import-{first["importId"]}"')
    ]
    kept = newest[newest.index('<table class="kept-rows">') :]
    rejected = newest[
        newest.index('<table class="rejected-rows">') : newest.index('<table class="kept-rows">')
    ]
    assert re.search(r'class="num line">1</td>\s*<td class="reason">image already in TEST; kept there<', kept)
    assert re.search(r'class="num line">2</td>\s*<td class="reason">[^<]*not a file', rejected)
    assert "kept there" not in rejected and second_uri in kept
    counts = {
        css: re.search(rf'class="num {css}">([^<]*)<', newest).group(1)
        for css in ("rejected-count", "kept-count", "example-count")
    }
    assert counts == {"rejected-count": "1", "kept-count": "1", "example-count": "4"}
