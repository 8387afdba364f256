"""DatasetService: CreateDataset, GetDataset, ListDatasets, DeleteDataset and ImportData, on the AutoML store.

A Vertex image dataset is an AutoML object-detection dataset (same id, same images and annotations);
ImportData converts Vertex's import files (import_files.py) and runs the AutoML import job on the result; the
converted files are removed once the import's operation is done (the job's scheduler does it), or at once
when no job will read them.
"""

from __future__ import annotations

from google.rpc import code_pb2

from .. import datasets as automl
from .. import names as automl_names
from .. import operations as automl_ops
from ..config import ServiceConfig
from ..errors import invalid_field
from ..importer import remove_copies
from ..protos import Dataset as AutoMlDataset
from ..protos import now
from ..protos import t as automl_t
from ..resource_labels import validate_labels
from ..store import Store
from . import import_files, names, operations
from .filters import listed_by_display_name
from .views import dataset_view

DATASET_FIELDS = {"display_name", "description", "metadata_schema_uri", "metadata", "labels"}
OUTPUT_ONLY = {"name", "create_time", "update_time", "etag", "data_item_count", "saved_queries"}


def only_fields(message, allowed: set[str], ignored: set[str], prefix: str) -> None:
    """Refuse any field of `message` this service would not honour (output-only ones are ignored)."""
    for descriptor, _ in message.ListFields():
        if descriptor.name not in allowed and descriptor.name not in ignored:
            raise invalid_field(f"{prefix}.{descriptor.name}", "is not supported by this service")


def create_dataset(store: Store, request):
    parent = automl_names.parse_location(request.parent)
    dataset = request.dataset
    only_fields(dataset, DATASET_FIELDS, OUTPUT_ONLY, "dataset")
    names.validate_display_name(dataset.display_name, "dataset.display_name")
    automl_names.validate_description(dataset.description, "dataset.description")
    validate_labels(dataset.labels, "dataset.labels")
    if dataset.metadata_schema_uri != names.IMAGE_DATASET_SCHEMA:
        raise invalid_field(
            "dataset.metadata_schema_uri",
            f"{dataset.metadata_schema_uri!r} is not served; use {names.IMAGE_DATASET_SCHEMA}",
        )
    if dataset.HasField("metadata") and dataset.metadata.WhichOneof("kind") != "null_value":
        fields = (
            dict(dataset.metadata.struct_value.fields) if dataset.metadata.HasField("struct_value") else None
        )
        if fields is None or set(fields) - {"dataItemSchemaUri"}:
            raise invalid_field("dataset.metadata", "must be empty or {dataItemSchemaUri} for image datasets")
    stored = AutoMlDataset(
        name=f"{parent}/datasets/{automl_names.new_id()}",
        display_name=dataset.display_name,
        description=dataset.description,
        create_time=now(),
        example_count=0,
        etag="1",
    )
    stored.image_object_detection_dataset_metadata.SetInParent()
    stored.labels.update(dataset.labels)
    with store.tx() as db:
        Store.put_resource(db, stored.name, automl.KIND, parent, stored.SerializeToString())
        inner = automl_ops.done_now(db, parent, stored.name, "create_dataset_details", stored)
        name = operations.record(db, stored.name, inner.name, "create_dataset")
    return operations.view(store, operations.find(store, name))


def get_dataset(store: Store, request):
    return dataset_view(automl.get_dataset(store, request.name))


def list_datasets(store: Store, request):
    items, token = listed_by_display_name(store, request, automl.KIND, AutoMlDataset)
    response = names.t("ListDatasetsResponse")(next_page_token=token)
    response.datasets.extend(dataset_view(d) for d in items)
    return response


def delete_dataset(store: Store, config: ServiceConfig, request):
    inner = automl.delete_dataset(store, config, automl_t("DeleteDatasetRequest")(name=request.name))
    with store.tx() as db:
        name = operations.record(db, request.name, inner.name, "delete")
    return operations.view(store, operations.find(store, name))


def import_data(store: Store, config: ServiceConfig, request):
    dataset = automl.get_dataset(store, request.name)
    if not request.import_configs:
        raise invalid_field("import_configs", "is required: give at least one import config")
    sources = []
    for number, config_item in enumerate(request.import_configs):
        where = f"import_configs[{number}]"
        if config_item.import_schema_uri != names.BOUNDING_BOX_IMPORT_SCHEMA:
            raise invalid_field(
                f"{where}.import_schema_uri",
                f"{config_item.import_schema_uri!r} is not served; use {names.BOUNDING_BOX_IMPORT_SCHEMA}",
            )
        for unserved in ("data_item_labels", "annotation_labels"):
            if getattr(config_item, unserved):
                raise invalid_field(f"{where}.{unserved}", "is not stored by this service; leave it empty")
        uris = list(config_item.gcs_source.uris)
        if not uris:
            raise invalid_field(f"{where}.gcs_source.uris", "is required: give at least one gs:// file")
        sources += [(uri, f"{where}.gcs_source.uris") for uri in uris]
    converted = import_files.convert(config, sources, automl_names.new_id())
    try:
        name = _queue_import(store, config, dataset.name, converted)
    except BaseException:  # no job will read the converted files
        remove_copies(config, converted.uris)
        raise
    return operations.view(store, operations.find(store, name))


def _queue_import(
    store: Store, config: ServiceConfig, dataset: str, converted: import_files.Converted
) -> str:
    """The Vertex operation of an import of the converted files: the AutoML import job, which removes them
    when it is done, or with no row to read, an operation that ends now, as AutoML's would (the files are
    removed at once: no job reads them)."""
    extra = {"failures": converted.failures, "refused": converted.refused, "sources": converted.sources}
    if converted.rows == 0:
        with store.tx() as db:
            inner = automl_ops.start(db, automl_names.location_of(dataset), dataset, "import_data_details")
            automl_ops.finish(
                db,
                inner.name,
                error=(code_pb2.INVALID_ARGUMENT, "No valid rows to import (see partial failures)."),
            )
            name = operations.record(db, dataset, inner.name, "import", **extra)
        remove_copies(config, converted.uris)
        return name
    automl_request = automl_t("ImportDataRequest")(name=dataset)
    automl_request.input_config.gcs_source.input_uris.extend(converted.uris)
    inner = automl.import_data(store, config, automl_request, remove_when_done=True)
    with store.tx() as db:
        return operations.record(db, dataset, inner.name, "import", **extra)
