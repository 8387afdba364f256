"""Outbound retries, declared once: transient errors only, exponential backoff, one deadline."""

from __future__ import annotations

from google.api_core import exceptions as gexc
from google.api_core import retry as gretry

# Aborted: Firestore transaction contention. The rest: AC's if_transient_error plus DeadlineExceeded.
TRANSIENT_ERRORS = (
    gexc.ServiceUnavailable,
    gexc.InternalServerError,
    gexc.TooManyRequests,
    gexc.DeadlineExceeded,
    gexc.Aborted,
    ConnectionError,
)
is_transient = gretry.if_exception_type(*TRANSIENT_ERRORS)


def transient_retry(deadline_s: float) -> gretry.Retry:
    """Retry transient errors for up to deadline_s, then raise RetryError from the last one."""
    return gretry.Retry(predicate=is_transient, initial=0.2, maximum=5.0, multiplier=2.0, timeout=deadline_s)


def is_retry_exhausted(exc: BaseException) -> bool:
    """True for the errors a transient_retry gives up with (or a transient error raised without retry)."""
    return isinstance(exc, gexc.RetryError) or (isinstance(exc, Exception) and is_transient(exc))
