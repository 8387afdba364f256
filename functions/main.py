"""Cloud Functions entry points of the edgetrain event pipeline (one source folder, one function each).

Each one decodes its trigger and calls one use case from edgetrain_pipeline.usecases; the Pub/Sub topics
that trigger them are listed in edgetrain_pipeline/topics.py. A Pub/Sub function that returns acknowledges
its message (also for malformed ones, which are recorded in Firestore); it raises only for transient failures
that outlived their retries, so that Pub/Sub redelivers.
"""

import functions_framework
from cloudevents.http import CloudEvent
from edgetrain_pipeline.deps import get_deps
from edgetrain_pipeline.handlers import handle_pubsub
from edgetrain_pipeline.status_page.app import handle_request
from edgetrain_pipeline.usecases.exports import export_and_notify as _export_and_notify
from edgetrain_pipeline.usecases.import_dataset import import_dataset as _import_dataset
from edgetrain_pipeline.usecases.poll_operations import poll_operations as _poll_operations
from edgetrain_pipeline.usecases.start_training import start_training as _start_training
from flask import Request, Response


@functions_framework.cloud_event
def start_training(cloud_event: CloudEvent) -> None:
    """Dataset imported (or a training requested) → at most one CreateModel per request."""
    handle_pubsub("start_training", _start_training, cloud_event)


@functions_framework.cloud_event
def poll_operations(cloud_event: CloudEvent) -> None:
    """Scheduler tick → Firestore status of every training, export and import (the payload is ignored)."""
    handle_pubsub("poll_operations", _poll_operations, cloud_event)


@functions_framework.cloud_event
def export_and_notify(cloud_event: CloudEvent) -> None:
    """Training finished → notify, or promote and export the model."""
    handle_pubsub("export_and_notify", _export_and_notify, cloud_event)


@functions_framework.cloud_event
def import_dataset(cloud_event: CloudEvent) -> None:
    """New labeled data (AutoML import CSVs) → ImportData."""
    handle_pubsub("import_dataset", _import_dataset, cloud_event)


@functions_framework.http
def status_page(request: Request) -> Response:
    """HTML status page, JSON API and the "Train new model" form."""
    return handle_request(get_deps(), request)
