"""Exceptions the tap raises; each message says what failed, where, and what to do."""

from __future__ import annotations

import errno

#: Errors of a write to a disk without room: full, over quota, or past a file size limit.
NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class TapBackstoryError(Exception):
    """Base class: an error the tap reports to the user and ends the run with."""


class ApiError(TapBackstoryError):
    """The API answered with an error status that is not worth retrying."""

    def __init__(
        self, what: str, status: int, server_message: str, retry_after: float | None = None
    ) -> None:
        self.what = what
        self.status = status
        self.server_message = server_message
        self.retry_after = retry_after
        super().__init__(f"{what} failed: HTTP {status}: {server_message}")


class ConfigurationError(TapBackstoryError):
    """A setting cannot work as given (found out only when it is used, e.g. a host name
    that does not resolve)."""


class AuthenticationError(TapBackstoryError):
    """The token endpoint refused the credentials."""


class RetriesExhaustedError(TapBackstoryError):
    """A transient failure persisted beyond the configured tries or retry time."""


class ExportJobError(TapBackstoryError):
    """An export job ended badly (Failed, Canceled, timed out or an unknown state)."""


class JobEndedError(ExportJobError):
    """A job ended Failed or Canceled; a new job for its window may succeed."""

    def __init__(self, message: str, job_id: str, state: str) -> None:
        self.job_id = job_id
        self.state = state
        super().__init__(message)


class JobCreationUnknownError(TapBackstoryError):
    """A job creation's answer was lost: the API may or may not have created the job."""


class JobMismatchError(TapBackstoryError):
    """The API answered about another job than the one asked about."""


class JobLimitError(TapBackstoryError):
    """The API refused a new job for now: the org's running and queued
    job slots (``jobs.model.MAX_RUNNING_JOBS``, ``MAX_QUEUED_JOBS``) are taken."""


class WindowTooLargeError(TapBackstoryError):
    """The API refused a job because its date range is too long."""


class DataFormatError(TapBackstoryError):
    """A fragment's content could not be typed as the schema says."""


class UnreadableDataError(DataFormatError):
    """A fragment is not valid JSON/CSV/gzip: damaged in transit (worth a new download) or bad."""


class DiskSpaceError(TapBackstoryError):
    """A folder the tap writes to (the temp folder, the BATCH root) is full, or the spool
    reached ``max_spool_bytes``."""


class OutputError(TapBackstoryError):
    """The Singer messages could not be written: the target stopped reading, or stdout is
    a file on a full disk."""
