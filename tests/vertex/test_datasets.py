"""DatasetService through the official client over gRPC: create, get, list, import (Vertex CSV and JSON
Lines, bad rows as partial failures naming the caller's file and line), refusals, delete."""

from __future__ import annotations

import json
import sqlite3

import pytest
from google.api_core import exceptions
from google.cloud import aiplatform_v1 as v1
from google.longrunning import operations_pb2
from PIL import Image

from edgetrain_service.filters import MAX_FILTER_CHARS
from edgetrain_service.vertex import names

from .conftest import PARENT, create_dataset, import_config, write_vertex_csv, write_vertex_jsonl


def test_dataset_is_created_imported_and_listed(clients, dataset):
    assert dataset.name.startswith(f"{PARENT}/datasets/")
    assert dataset.metadata_schema_uri == names.IMAGE_DATASET_SCHEMA
    assert dataset.data_item_count == 24  # 20 TRAIN + 4 TEST images of the cards subset
    assert dataset.display_name == "cards vertex"
    listed = clients.datasets.list_datasets(
        request={"parent": PARENT, "filter": 'display_name="cards vertex"'}
    )
    assert [d.name for d in listed] == [dataset.name]
    assert dataset.name not in {
        d.name
        for d in clients.datasets.list_datasets(
            request={"parent": PARENT, "filter": 'display_name!="cards vertex"'}
        )
    }


def test_a_dataset_of_another_kind_is_refused_naming_the_field(clients):
    tabular = "gs://google-cloud-aiplatform/schema/dataset/metadata/tabular_1.0.0.yaml"
    with pytest.raises(exceptions.InvalidArgument, match="dataset.metadata_schema_uri"):
        clients.datasets.create_dataset(
            parent=PARENT, dataset={"display_name": "t", "metadata_schema_uri": tabular}
        )


def test_dataset_labels_google_would_refuse_are_refused_naming_the_field(clients):
    dataset = {
        "display_name": "t",
        "metadata_schema_uri": names.IMAGE_DATASET_SCHEMA,
        "labels": {"team": "A B"},
    }
    with pytest.raises(exceptions.InvalidArgument, match="dataset.labels: value 'A B' of 'team'"):
        clients.datasets.create_dataset(parent=PARENT, dataset=dataset)


def test_list_options_the_service_cannot_apply_are_refused(clients):
    with pytest.raises(exceptions.InvalidArgument, match="order_by"):
        list(clients.datasets.list_datasets(request={"parent": PARENT, "order_by": "display_name"}))
    with pytest.raises(exceptions.InvalidArgument, match="filter"):
        list(
            clients.datasets.list_datasets(
                request={"parent": PARENT, "filter": 'display_name="a" OR display_name="b"'}
            )
        )


def test_a_filter_past_the_length_cap_is_refused_and_one_just_under_it_is_answered(clients, dataset):
    term = 'display_name="cards vertex"'
    padding = MAX_FILTER_CHARS - 2 * len(term) - len(" AND ")
    under = term + " " * padding + " AND " + term
    assert len(under) == MAX_FILTER_CHARS
    listed = clients.datasets.list_datasets(request={"parent": PARENT, "filter": under})
    assert [d.name for d in listed] == [dataset.name]
    over = term + " " * 10_000 + " AND " + term  # a long whitespace run once took time quadratic in it
    with pytest.raises(
        exceptions.InvalidArgument, match=f"filter: .*at most {MAX_FILTER_CHARS:,} characters"
    ):
        list(clients.datasets.list_datasets(request={"parent": PARENT, "filter": over}))


def test_csv_and_jsonl_import_keep_good_rows_and_report_bad_ones_by_file_and_line(clients, service):
    dataset = create_dataset(clients, "mixed import")
    csv_uri = write_vertex_csv(
        service.storage_root,
        "mixed_csv",
        [
            "nonsense,gs://test-bucket/mixed_csv/images/x.jpg",  # line 25: unknown ML_USE
            "training,gs://test-bucket/mixed_csv/missing.jpg,ace,0.1,0.1,,,0.5,0.5,,",  # line 26: no image
            "training,images/relative.jpg,ace,0.1,0.1,,,0.5,0.5,,",  # line 27: not gs://
            'training,"gs://test-bucket/mixed_csv/images/x.jpg,ace,0.1,0.1,,,0.5,0.5,,',  # 28: open quote
            "training,gs://test-bucket/mixed_csv/images/extra.jpg,ace,0.1,0.1,,,0.5,0.5,,",  # 29: good
        ],
    )
    # line 29's picture, new to the dataset: the open quote on line 28 swallowed it
    Image.new("RGB", (64, 48), (20, 90, 200)).save(
        service.storage_root / "test-bucket/mixed_csv/images/extra.jpg"
    )
    jsonl_uri = write_vertex_jsonl(
        service.storage_root,
        "mixed_jsonl",
        [
            "{not json",  # line 9
            json.dumps(
                {"imageGcsUri": "gs://test-bucket/mixed_jsonl/images/a.jpg", "colour": "red"}
            ),  # line 10
            json.dumps(
                {
                    "imageGcsUri": "gs://test-bucket/mixed_jsonl/images/a.jpg",
                    "boundingBoxAnnotations": [
                        {
                            "displayName": "ace",
                            "xMin": 0.1,
                            "yMin": 0.1,
                            "xMax": 0.5,
                            "yMax": 0.5,
                            "annotationResourceLabels": 5,
                        }
                    ],
                }
            ),  # line 11
            json.dumps(  # line 12: U+2028 inside a string is JSON; it was split into two broken lines
                {
                    "imageGcsUri": "gs://test-bucket/mixed_jsonl/images/a.jpg",
                    "boundingBoxAnnotations": [
                        {"displayName": "ace\u2028x", "xMin": 0.1, "yMin": 0.1, "xMax": 0.5, "yMax": 0.5}
                    ],
                },
                ensure_ascii=False,
            ),
        ],
    )
    op = clients.datasets.import_data(name=dataset.name, import_configs=[import_config(csv_uri, jsonl_uri)])
    op.result(timeout=300)
    failures = [status.message for status in op.metadata.generic_metadata.partial_failures]
    assert failures[0] == (
        f"Error in {csv_uri} line 25: ML_USE 'nonsense' must be training, validation or test "
        "(or leave the column out)"
    )
    assert failures[1].startswith(f"Error in {csv_uri} line 27: the image must be a gs:// URI")
    assert failures[2] == f"Error in {csv_uri} line 28: a quote is not closed on its line"
    assert failures[3].startswith(f"Error in {jsonl_uri} line 9: not JSON")
    assert failures[4].startswith(f"Error in {jsonl_uri} line 10: 'colour' is not stored")
    assert failures[5] == (
        f"Error in {jsonl_uri} line 11: boundingBoxAnnotations[0].annotationResourceLabels must be an object"
    )
    assert failures[6].startswith(
        f"Error in {csv_uri} line 26: cannot fetch image gs://test-bucket/mixed_csv/missing"
    )
    assert failures[7].startswith(f"Error in {jsonl_uri} line 12: LABEL 'ace\\u2028x' must be")
    assert len(failures) == 8
    # the 8 JSONL images are among the 24 CSV ones (the first of each split): stored once; and line 29's
    assert clients.datasets.get_dataset(name=dataset.name).data_item_count == 25
    jsonl_only = create_dataset(clients, "jsonl import")
    clients.datasets.import_data(name=jsonl_only.name, import_configs=[import_config(jsonl_uri)]).result(
        timeout=300
    )
    assert clients.datasets.get_dataset(name=jsonl_only.name).data_item_count == 8


def test_jsonl_values_holding_a_line_break_are_refused_on_their_own_line(clients, service):
    """The converted CSV holds one record per line: a line break in a value once moved every later row's
    line, and past the last row broke the operation for good (500 on every read of it)."""
    dataset = create_dataset(clients, "line breaks")
    uri = write_vertex_jsonl(service.storage_root, "breaks")  # lines 1-8: good
    path = service.storage_root / uri[len("gs://") :]
    image = f"gs://test-bucket/breaks/images/{sorted((path.parent / 'images').iterdir())[0].name}"
    box = {"displayName": "ace", "xMin": 0.1, "yMin": 0.1, "xMax": 0.5, "yMax": 0.5}
    lines = [
        {"imageGcsUri": image + "\n", "boundingBoxAnnotations": [box]},  # line 9
        {"imageGcsUri": image, "boundingBoxAnnotations": [{**box, "displayName": "bad\nlabel"}]},  # 10
        {"imageGcsUri": image, "boundingBoxAnnotations": [{**box, "xMin": "0.1\r"}]},  # 11
        {"imageGcsUri": image, "boundingBoxAnnotations": [{**box, "xMin": 0.9}]},  # 12: the job refuses it
        {"imageGcsUri": image, "boundingBoxAnnotations": [{**box, "displayName": "tab\tlabel"}]},  # 13
    ]
    with open(path, "a") as handle:
        handle.writelines(json.dumps(line) + "\n" for line in lines)
    op = clients.datasets.import_data(name=dataset.name, import_configs=[import_config(uri)])
    op.result(timeout=300)
    failures = [status.message for status in op.metadata.generic_metadata.partial_failures]
    box_value = f"Error in {uri} line {{}}: boundingBoxAnnotations[0].{{}} holds a control character"
    assert failures[:4] == [
        f"Error in {uri} line 9: imageGcsUri {image + chr(10)!r} holds a control character",
        box_value.format(10, "displayName 'bad\\nlabel'"),
        box_value.format(11, "xMin '0.1\\r'"),
        box_value.format(13, "displayName 'tab\\tlabel'"),
    ]
    assert failures[4].startswith(f"Error in {uri} line 12: X_MIN")
    assert len(failures) == 5
    listed = clients.datasets.list_operations(operations_pb2.ListOperationsRequest(name=dataset.name))
    assert op.operation.name in {listed_op.name for listed_op in listed.operations}
    assert clients.datasets.get_dataset(name=dataset.name).data_item_count == 8


def test_an_import_with_no_good_row_fails_with_the_reasons(clients, service):
    dataset = create_dataset(clients, "bad import")
    folder = service.storage_root / "test-bucket" / "bad_only"
    folder.mkdir(parents=True)
    (folder / "bad.csv").write_text("sometimes,gs://test-bucket/bad_only/a.jpg\n")
    op = clients.datasets.import_data(
        name=dataset.name, import_configs=[import_config("gs://test-bucket/bad_only/bad.csv")]
    )
    with pytest.raises(exceptions.GoogleAPICallError, match="No valid rows"):
        op.result(timeout=60)
    [failure] = op.metadata.generic_metadata.partial_failures
    assert "line 1: ML_USE 'sometimes'" in failure.message
    assert clients.datasets.get_dataset(name=dataset.name).data_item_count == 0


def _import_failing(clients, service, folder_name: str, lines: list[str]):
    """ImportData of a Vertex CSV of `lines` into a new dataset, which fails: (the operation, its partial
    failures' messages)."""
    dataset = create_dataset(clients, folder_name)
    folder = service.storage_root / "test-bucket" / folder_name
    folder.mkdir(parents=True)
    (folder / "bad.csv").write_text("".join(lines))
    op = clients.datasets.import_data(
        name=dataset.name, import_configs=[import_config(f"gs://test-bucket/{folder_name}/bad.csv")]
    )
    with pytest.raises(exceptions.GoogleAPICallError):
        op.result(timeout=60)
    return op, [status.message for status in op.metadata.generic_metadata.partial_failures]


def test_partial_failures_stop_at_twenty_and_count_the_rest(clients, service):
    lines = [f"often,gs://test-bucket/many_bad/{n}.jpg\n" for n in range(25)]
    _, failures = _import_failing(clients, service, "many_bad", lines)
    assert len(failures) == 20
    assert "line 19: ML_USE 'often'" in failures[18]
    assert failures[19].startswith("... and 6 more rows were rejected")


def test_an_import_of_many_bad_rows_keeps_only_the_failures_it_reports(clients, service):
    lines = [f"often,gs://test-bucket/thousands_bad/{n}.jpg\n" for n in range(3000)]
    lines.append("training,gs://test-bucket/thousands_bad/missing.jpg,ace,0.1,0.1,,,0.5,0.5,,\n")  # the job's
    op, failures = _import_failing(clients, service, "thousands_bad", lines)
    assert len(failures) == 20
    assert "line 19: ML_USE 'often'" in failures[18]
    assert failures[19].startswith("... and 2982 more rows were rejected")
    # the operation's record keeps what it reports and a count, not 3,000 reasons read back on every poll
    with sqlite3.connect(service.data_dir / "service.sqlite3") as db:
        [size] = db.execute(
            "SELECT length(proto) FROM resources WHERE name=? AND kind='vertex_operation'",
            (op.operation.name,),
        ).fetchone()
    assert size < 20_000


@pytest.mark.parametrize(
    ("config", "field"),
    [
        (
            {
                "import_schema_uri": "gs://google-cloud-aiplatform/schema/dataset/ioformat/image_classification_single_label_io_format_1.0.0.yaml"
            },
            "import_configs[0].import_schema_uri",
        ),
        ({"data_item_labels": {"team": "a"}}, "import_configs[0].data_item_labels"),
        (
            {"gcs_source": {"uris": ["gs://test-bucket/vcards/import.txt"]}},
            "import_configs[0].gcs_source.uris",
        ),
    ],
)
def test_unserved_import_fields_are_refused_naming_the_field(clients, dataset, config, field):
    request = {**import_config("gs://test-bucket/vcards/vertex.csv"), **config}
    with pytest.raises(exceptions.InvalidArgument, match=field.replace("[", r"\[").replace("]", r"\]")):
        clients.datasets.import_data(name=dataset.name, import_configs=[request])


def test_delete_dataset(clients):
    dataset = create_dataset(clients, "to delete")
    op = clients.datasets.delete_dataset(name=dataset.name)
    op.result(timeout=30)
    assert op.operation.name.startswith(f"{dataset.name}/operations/")
    assert isinstance(op.metadata, v1.DeleteOperationMetadata)
    with pytest.raises(exceptions.NotFound):
        clients.datasets.get_dataset(name=dataset.name)


def test_methods_not_served_answer_unimplemented(clients, dataset):
    with pytest.raises(exceptions.MethodNotImplemented):
        list(clients.datasets.list_data_items(parent=dataset.name))
    with pytest.raises(exceptions.MethodNotImplemented):
        clients.models.upload_model(parent=PARENT, model={"display_name": "x"}).result(timeout=10)


@pytest.mark.parametrize("form", ["file", "path"])
def test_import_files_are_gs_uris_as_in_vertex(clients, service, dataset, form):
    """Found by probing: a file:// URI or a local path inside the storage root was imported; Vertex reads
    gcsSource.uris from Cloud Storage only."""
    written = write_vertex_csv(service.storage_root, "vcards")  # gs://BUCKET/vcards/vertex.csv
    local = service.storage_root / written.removeprefix("gs://")
    uri = local.as_uri() if form == "file" else str(local)
    with pytest.raises(exceptions.InvalidArgument, match=r"import_configs\[0\].gcs_source.uris.*gs://"):
        clients.datasets.import_data(name=dataset.name, import_configs=[import_config(uri)])
