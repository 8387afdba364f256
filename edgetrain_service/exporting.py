"""The ExportModel job (in a worker process): write the model in the requested format into AutoML's
model-export/iod/<format>-<display name>-<timestamp>/ folder under the storage root."""

from __future__ import annotations

import shutil
from pathlib import Path

from . import artifacts, names, operations
from .config import ServiceConfig
from .errors import FailedPrecondition, InvalidArgument
from .job_payloads import ExportJob
from .models import refuse_object_in_the_way
from .protos import Empty
from .store import Store


def run_export(store: Store, config: ServiceConfig, op_name: str, job: ExportJob) -> None:
    from edgetrain_trainer.errors import FailedPreconditionError, InvalidArgumentError
    from edgetrain_trainer.export.package import export_model
    from edgetrain_trainer.export.staging import remove_with_partials

    row = store.get_operation(op_name)
    if row is None or row["done"]:  # finished already (only a finished operation can be deleted)
        return
    result = artifacts.read_result(config, names.parse_name(job.model, "models").id)
    dest = Path(job.dest)
    refuse_object_in_the_way(config, dest)  # one may have appeared since the request
    remove_with_partials(dest)  # a re-run after a crash starts from an empty folder
    if job.format == "tflite":
        # The package that was trained and evaluated, byte for byte (not a re-quantized copy).
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(result["package_dir"], dest)
    else:
        try:
            export_model(result["model_dir"], job.format, dest)
        except FailedPreconditionError as error:
            raise FailedPrecondition(str(error)) from error
        except InvalidArgumentError as error:
            raise InvalidArgument(str(error)) from error
    with store.tx() as db:
        operations.finish(db, op_name, response=Empty())
