"""Dataset use cases: Create, Get, List, Update, Delete, ImportData (queued) and GetAnnotationSpec."""

from __future__ import annotations

import shutil

from . import names, operations
from .config import ServiceConfig
from .errors import invalid_field
from .job_payloads import ImportJob
from .protos import AnnotationSpec, Dataset, Empty, lro, now, t
from .resource_labels import validate_labels
from .resources import apply_mask, bump_etag, check_etag, load, load_for_update, mask_paths, page
from .store import Store

KIND = "dataset"
SPEC_KIND = "annotation_spec"


def get_dataset(store: Store, name: str, field: str = "name") -> Dataset:
    names.parse_name(name, "datasets", field)
    return load(store, name, KIND, Dataset, "Dataset")


def create_dataset(store: Store, request) -> lro.Operation:
    parent = names.parse_location(request.parent)
    dataset = Dataset()
    dataset.CopyFrom(request.dataset)
    names.validate_display_name(dataset.display_name, "dataset.display_name")
    names.validate_description(dataset.description, "dataset.description")
    validate_labels(dataset.labels, "dataset.labels")
    if dataset.WhichOneof("dataset_metadata") != "image_object_detection_dataset_metadata":
        raise invalid_field(
            "dataset.image_object_detection_dataset_metadata",
            "is required: this service serves image object detection datasets only",
        )
    dataset.name = f"{parent}/datasets/{names.new_id()}"
    dataset.create_time.CopyFrom(now())
    dataset.example_count = 0
    dataset.etag = "1"
    with store.tx() as db:
        Store.put_resource(db, dataset.name, KIND, parent, dataset.SerializeToString())
        return operations.done_now(db, parent, dataset.name, "create_dataset_details", dataset)


def list_datasets(store: Store, request):
    parent = names.parse_location(request.parent)
    flt = request.filter.strip()
    if flt and flt.replace(" ", "") not in ("image_object_detection_dataset_metadata:*",):
        raise invalid_field(
            "filter", f"{flt!r} is not supported; use image_object_detection_dataset_metadata:*"
        )
    items, token = page(store, KIND, parent, Dataset, request.page_size, request.page_token)
    response = t("ListDatasetsResponse")(next_page_token=token)
    response.datasets.extend(items)
    return response


def update_dataset(store: Store, request) -> Dataset:
    name = request.dataset.name
    names.parse_name(name, "datasets", "dataset.name")
    paths = mask_paths(request.update_mask, {"display_name", "description", "labels"}, "display_name")
    with store.tx() as db:
        current = load_for_update(db, name, KIND, Dataset, "Dataset")
        check_etag(request.dataset.etag, current.etag, "dataset")
        apply_mask(current, request.dataset, paths, "dataset")
        bump_etag(current)
        Store.put_resource(db, name, KIND, names.location_of(name), current.SerializeToString())
    return current


def delete_dataset(store: Store, config: ServiceConfig, request) -> lro.Operation:
    dataset = get_dataset(store, request.name)
    dataset_id = names.parse_name(dataset.name, "datasets").id
    with store.tx() as db:
        operations.refuse_if_busy(db, dataset.name, "Dataset")  # an import writing it, a training reading it
        db.execute("DELETE FROM resources WHERE name=? OR name LIKE ?", (dataset.name, dataset.name + "/%"))
        op = operations.done_now(db, names.location_of(dataset.name), dataset.name, "delete_details", Empty())
    shutil.rmtree(config.dataset_dir(dataset_id), ignore_errors=True)
    return op


def import_data(
    store: Store, config: ServiceConfig, request, remove_when_done: bool = False
) -> lro.Operation:
    """Queue an import of AutoML CSV files; rows are checked by the import job (errors per row).
    `remove_when_done`: the files are the service's own copies, deleted once the operation is done."""
    dataset = get_dataset(store, request.name)
    uris = list(request.input_config.gcs_source.input_uris)
    if not uris:
        raise invalid_field("input_config.gcs_source.input_uris", "is required: give at least one CSV")
    for uri in uris:
        path = config.readable_file(uri, "input_config.gcs_source.input_uris")
        if not remove_when_done:  # the caller's files, not the service's own copies
            config.outside_work_bucket(path, uri, "input_config.gcs_source.input_uris")
    parent = names.location_of(dataset.name)
    with store.tx() as db:
        op = operations.start(db, parent, dataset.name, "import_data_details")
        Store.insert_job(db, op.name, ImportJob(dataset.name, uris, remove_when_done))
    return op


def get_annotation_spec(store: Store, request) -> AnnotationSpec:
    names.parse_name(request.name, "datasets", sub_collection="annotationSpecs")
    return load(store, request.name, SPEC_KIND, AnnotationSpec, "Annotation spec")


def annotation_specs(store: Store, dataset_name: str) -> dict[str, AnnotationSpec]:
    """The dataset's labels by display name."""
    rows = store.list_resources(SPEC_KIND, dataset_name)
    specs = [AnnotationSpec.FromString(row["proto"]) for row in rows]
    return {spec.display_name: spec for spec in specs}
