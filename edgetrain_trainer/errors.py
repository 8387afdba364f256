"""One exception family for the trainer. Callers (CLI, service) map these to exit codes / API errors."""


class TrainerError(Exception):
    """Base class of every error the trainer raises on purpose."""


class InvalidArgumentError(TrainerError, ValueError):
    """A request field is out of range or unknown (model type, budget, format...). Message names the field."""


class DatasetError(TrainerError):
    """The dataset cannot be used at all (no usable rows, unreadable CSV). `errors` holds the row errors."""

    def __init__(self, message: str, errors: list | None = None):
        super().__init__(message)
        self.errors = list(errors or [])


class TrainingCancelled(TrainerError):
    """Training was cancelled through the cancel hook; nothing was written to the output directory."""


class WeightsError(TrainerError):
    """Pretrained weights cannot be used: their package is missing, the file is absent or fails its SHA-256
    check, or it does not fit the network. The message names the file and how to fix it."""


class FailedPreconditionError(TrainerError):
    """The request is valid but cannot be served in this installation (e.g. tf_js export without
    tensorflowjs). Maps to FAILED_PRECONDITION / HTTP 400."""
