"""One exception family for the local stack. The runner turns these into a message and exit code 1."""


class LocalStackError(Exception):
    """Base class of every error the local stack raises on purpose."""


class ProcessStartError(LocalStackError):
    """A child process (emulator, function, service) exited or never got ready. Message has its log tail."""


class EmulatorNotInstalledError(LocalStackError):
    """The emulator's launcher is not where the Google Cloud CLI Debian packages put it."""


class PipelineFailedError(LocalStackError):
    """The sample run ended without an exported model (notification says why)."""
